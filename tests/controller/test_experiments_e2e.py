"""Experiments end to end: the whole controller (the `Manager`: Rollout, Experiment and AnalysisRun reconcilers,
informers, queues) on the sandbox, with the analyses measured against a real Prometheus holding the seed's
services (a healthy `api-server-canary`). The same success-rate query is judged against a threshold the data meets
and against one it cannot meet: one Experiment succeeds and one fails, and a canary's experiment step goes on to
its next step in one case and aborts the rollout in the other (docs/semantics/experiments.md)."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from rollouts.kube.client import KubeClient
from rollouts.kube.resources import ANALYSIS_TEMPLATES, EXPERIMENTS, ROLLOUTS
from rollouts.sandbox import Sandbox
from tests.controller.driving import running_controller
from tests.controller.test_experiment_step import rollout
from tests.controller.test_experiments import experiment
from tests.fixtures.prometheus import PrometheusServer

NS = "default"


def template(name: str, threshold: float, url: str) -> dict[str, Any]:
    """The canary's success rate over 5 minutes, `threshold` or better, measured once."""
    query = (
        'sum(rate(http_requests_total{service="api-server-canary",status=~"2.."}[5m])) / '
        'sum(rate(http_requests_total{service="api-server-canary"}[5m]))'
    )
    metric = {
        "name": "success-rate",
        "count": 1,
        "successCondition": f"result[0] >= {threshold}",
        "provider": {"prometheus": {"address": url, "query": query}},
    }
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate", "metadata": {"name": name},
            "spec": {"metrics": [metric]}}  # fmt: skip


pytestmark = pytest.mark.sandbox(pod_ready_delay=0.05)


@pytest.fixture
async def controller(async_sandbox: Sandbox, prometheus: PrometheusServer) -> AsyncIterator[KubeClient]:
    async with running_controller(async_sandbox.url) as client:
        for name, threshold in (("good", 0.9), ("impossible", 1.5)):
            await client.create(ANALYSIS_TEMPLATES, template(name, threshold, prometheus.url), NS)
        yield client


async def until(
    client: KubeClient, resource: Any, name: str, cond: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    status: dict[str, Any] = {}
    try:
        async with asyncio.timeout(30):
            while True:
                status = (await client.get(resource, name, NS)).get("status") or {}
                if cond(status):
                    return status
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"{name}: not reached; status {json.dumps(status)[:800]}") from None


def analyses(template_name: str) -> list[dict[str, Any]]:
    return [{"name": "success-rate", "templateName": template_name, "requiredForCompletion": True}]


@pytest.mark.parametrize(("template_name", "phase"), [("good", "Successful"), ("impossible", "Failed")])
async def test_an_experiment_judged_by_prometheus(
    controller: KubeClient, template_name: str, phase: str
) -> None:
    body = experiment(analyses=analyses(template_name))
    del body["spec"]["duration"]  # it ends with its required analysis
    await controller.create(EXPERIMENTS, body, NS)
    status = await until(
        controller, EXPERIMENTS, "compare", lambda s: s.get("phase") in ("Successful", "Failed", "Error")
    )
    assert status["phase"] == phase, status
    (run,) = status["analysisRuns"]
    assert run["phase"] == phase and run["analysisRun"] == "compare-success-rate"
    if phase == "Failed":
        assert (
            status["message"] == 'Metric "success-rate" assessed Failed due to failed (1) > failureLimit (0)'
        )


@pytest.mark.parametrize(("template_name", "outcome"), [("good", "next-step"), ("impossible", "aborted")])
async def test_a_canary_experiment_step_judged_by_prometheus(
    controller: KubeClient, template_name: str, outcome: str
) -> None:
    step = {
        "experiment": {
            "templates": [
                {"name": "baseline", "specRef": "stable", "replicas": 1},
                {"name": "canary", "specRef": "canary", "replicas": 1},
            ],
            "analyses": analyses(template_name),
        }
    }
    body = rollout({"setWeight": 25}, step, {"pause": {}})
    body["metadata"]["namespace"] = NS
    await controller.create(ROLLOUTS, copy.deepcopy(body), NS)
    await until(
        controller, ROLLOUTS, "shop", lambda s: s.get("phase") == "Healthy" and bool(s.get("stableRS"))
    )
    image = {"spec": {"template": {"spec": {"containers": [{"name": "shop", "image": "shop:2"}]}}}}
    await controller.patch(ROLLOUTS, "shop", image, NS)
    if outcome == "next-step":
        status = await until(controller, ROLLOUTS, "shop", lambda s: s.get("currentStepIndex") == 2)
        assert status["phase"] == "Paused"
        (ex,) = (await controller.list(EXPERIMENTS, NS)).items
        assert ex["status"]["phase"] == "Successful"
    else:
        status = await until(controller, ROLLOUTS, "shop", lambda s: s.get("phase") == "Degraded")
        assert status["message"] == (
            "RolloutAborted: Rollout aborted update to revision 2: Experiment analysis phase is error/failed: "
            'Metric "success-rate" assessed Failed due to failed (1) > failureLimit (0)'
        )
