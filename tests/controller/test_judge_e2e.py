"""The statistical judge in the controller: the whole controller (`Manager`) on the sandbox runs AnalysisRuns
whose metric is `provider.plugin["rollouts/judge"]`, against a real Prometheus with noisy backfilled data
(tests/fixtures/prometheus.py `judge_scenario`): a canary like its baseline passes, a clearly worse one fails,
and the run's status carries the verdict object as the measurement's value."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from rollouts.kube.resources import ANALYSIS_RUNS
from rollouts.sandbox import Sandbox
from tests.controller.driving import running_controller
from tests.fixtures.prometheus import PrometheusFactory, judge_scenario

NS = "default"
ANCHOR = datetime.now(UTC).replace(second=0, microsecond=0)
RATE = 'sum(rate(judge_requests_total{service="%s",status="500"}[1m])) / sum(rate(judge_requests_total{service="%s"}[1m]))'

pytestmark = pytest.mark.sandbox(pod_ready_delay=0.05)


def run(name: str, canary: str, url: str) -> dict[str, Any]:
    metric = {
        "name": "error-rate-vs-baseline",
        "count": 1,
        "successCondition": 'result.verdict == "pass"',
        "failureCondition": 'result.verdict == "fail"',
        "provider": {
            "plugin": {
                "rollouts/judge": {
                    "prometheus": {"address": url},
                    "canary": RATE % (canary, canary),
                    "baseline": RATE % ("baseline", "baseline"),
                    "minEffect": 0.5,
                }
            }
        },
    }
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisRun",
        "metadata": {"name": name},
        "spec": {"metrics": [metric]},
    }


async def test_the_controller_runs_the_judge(
    async_sandbox: Sandbox, prometheus_factory: PrometheusFactory
) -> None:
    url = prometheus_factory(judge_scenario(ANCHOR)).url
    async with running_controller(async_sandbox.url) as client:
        await client.create(ANALYSIS_RUNS, run("good", "good-canary", url), NS)
        await client.create(ANALYSIS_RUNS, run("bad", "bad-canary", url), NS)
        phases: dict[str, dict[str, Any]] = {}
        async with asyncio.timeout(30):
            while len(phases) < 2:
                for name in ("good", "bad"):
                    status = (await client.get(ANALYSIS_RUNS, name, NS)).get("status") or {}
                    if status.get("phase") in ("Successful", "Failed", "Error", "Inconclusive"):
                        phases[name] = status
                await asyncio.sleep(0.1)
    assert (phases["good"]["phase"], phases["bad"]["phase"]) == ("Successful", "Failed"), phases
    (measurement,) = phases["bad"]["metricResults"][0]["measurements"]
    verdict = json.loads(measurement["value"])
    assert verdict["verdict"] == "fail" and verdict["canarySamples"] == 21
    assert phases["bad"]["message"] == (
        'Metric "error-rate-vs-baseline" assessed Failed due to failed (1) > failureLimit (0)'
    )
