"""Fairness between namespaces in the controller's AnalysisRun queue (rollouts.controller.queueing).

The manager runs in-process with its real AnalysisRun reconciler against the sandbox. Team A's nine runs
measure an HTTP endpoint that does not answer until the test lets it; team B's run measures a healthy one.
Before the queue was fair, team A's runs took every analysis worker (each waiting on its hanging query) and
team B's run waited behind them in one FIFO until team A's queries timed out. Now team A holds at most its
share of the workers (`--analysis-namespace-workers`, a third by default) and team B's run completes while
team A's queries are all still hanging: an ordering, not a timing, so a loaded machine cannot fake it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from rollouts.controller.manager import ControllerConfig, Manager
from rollouts.kube.client import KubeClient
from rollouts.kube.resources import ANALYSIS_RUNS
from tests.fixtures.json_endpoint import JsonEndpoint


@pytest.fixture
def endpoints() -> Iterator[Callable[[bool], JsonEndpoint]]:
    made: list[JsonEndpoint] = []

    def make(hanging: bool) -> JsonEndpoint:
        made.append(JsonEndpoint(hanging=hanging))
        return made[-1]

    yield make
    for e in made:
        e.close()


def run(namespace: str, name: str, url: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "metrics": [
                {
                    "name": "ok",
                    "successCondition": "result.ok == true",
                    "provider": {"web": {"url": url, "jsonPath": "{$}", "timeoutSeconds": 60}},
                }
            ]
        },
    }


async def phase(kube: KubeClient, namespace: str, name: str) -> str:
    obj = await kube.get(ANALYSIS_RUNS, name, namespace=namespace)
    return str((obj.get("status") or {}).get("phase") or "")


async def test_a_namespace_with_hanging_queries_leaves_workers_to_the_others(
    kube: KubeClient, endpoints: Callable[[bool], JsonEndpoint]
) -> None:
    hanging, healthy = endpoints(True), endpoints(False)
    config = ControllerConfig(
        leader_elect=False, healthz_port=0, metrics_port=0, bind="127.0.0.1", analysis_workers=6
    )
    assert config.namespace_workers("AnalysisRuns") == 2  # a third of the workers
    manager = Manager(kube, config, registry=CollectorRegistry(), rollout_reconciler=None)
    for i in range(9):
        await kube.create(ANALYSIS_RUNS, run("team-a", f"slow-{i}", hanging.url))
    await manager.start()
    try:
        await asyncio.wait_for(manager.leading.wait(), 10)
        async with asyncio.timeout(30):
            while hanging.open < 2:  # noqa: ASYNC110 - driven by the manager's workers
                await asyncio.sleep(0.01)
        await kube.create(ANALYSIS_RUNS, run("team-b", "fast", healthy.url))
        async with asyncio.timeout(30):
            while await phase(kube, "team-b", "fast") != "Successful":  # noqa: ASYNC110 - polled over HTTP
                await asyncio.sleep(0.05)
        assert hanging.answered == 0  # team B finished while every query of team A was still hanging
        assert hanging.peak_open == 2  # team A never held more than its share of the workers
        assert manager.analysis_queue.busy("team-a") == 2
    finally:
        hanging.release.set()
        await manager.stop(grace=1)
