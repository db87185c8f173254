"""The AnalysisRun reconciler against the sandbox (real client) and a real Prometheus with backfilled data.

Measurement times come from an injected clock the test advances to the next due time (docs/semantics/analysis.md#analysis-scheduling), so intervals are
not slept through; Prometheus answers the un-timed ("now") queries from data that extends into the future.
"""

from __future__ import annotations

import asyncio
import base64
import copy
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from analysis.providers.registry import ProviderOptions, Providers
from rollouts.controller.analyzing import AnalysisRunReconciler, ttl_deadline, ttl_exceeded
from rollouts.kube import KubeClient, settings_for_url
from rollouts.kube.resources import ANALYSIS_RUNS, JOBS, SECRETS
from rollouts.sandbox.running import Sandbox
from tests.fixtures.prometheus import HEALTHY, PrometheusFactory, degrading

NS = "production"
SUCCESS_RATE = {
    "name": "success-rate",
    "interval": "60s",
    "successCondition": "result[0] >= 0.99",
    "failureLimit": 3,
    "provider": {
        "prometheus": {
            "query": 'sum(rate(http_requests_total{service="{{args.service-name}}",status=~"2.."}[5m])) / '
            'sum(rate(http_requests_total{service="{{args.service-name}}"}[5m]))'
        }
    },
}


@dataclass
class ManualTime:
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Env:
    sandbox: Sandbox
    client: KubeClient
    time: ManualTime
    reconciler: AnalysisRunReconciler


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    async with Sandbox(pod_ready_delay=0.0, job_duration=0.05) as sandbox:
        client = KubeClient(settings_for_url(sandbox.url))
        time = ManualTime()
        providers = Providers(ProviderOptions(rate=None))
        reconciler = AnalysisRunReconciler(client, providers=providers, clock=time, job_poll_seconds=0.5)
        try:
            yield Env(sandbox, client, time, reconciler)
        finally:
            await reconciler.close()
            await client.close()


def run_body(name: str, metrics: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"metrics": metrics, **spec}}


def prometheus_metric(url: str, **changes: Any) -> dict[str, Any]:
    metric = copy.deepcopy(SUCCESS_RATE)
    metric["provider"]["prometheus"]["address"] = url
    metric.update(changes)
    return metric


async def run_until_done(env: Env, name: str, limit: int = 60) -> dict[str, Any]:
    """Reconcile, jumping the clock to each requested wake-up, until the run completes."""
    for _ in range(limit):
        wait = await env.reconciler.reconcile((NS, name))
        run = await env.client.get(ANALYSIS_RUNS, name, NS)
        if (run.get("status") or {}).get("phase") in ("Successful", "Failed", "Error", "Inconclusive"):
            return run
        env.time.now += timedelta(seconds=wait or 0.5)
        await asyncio.sleep(0.02)  # simulated Jobs finish in real time
    raise AssertionError(f"run {name} did not complete: {run.get('status')}")


async def test_healthy_prometheus_metric_succeeds(env: Env, prometheus_factory: PrometheusFactory) -> None:
    """docs/semantics/analysis.md#metric-status step 6: count reached with no failure → Successful; docs/semantics/analysis.md#prometheus-results value strings."""
    url = prometheus_factory(HEALTHY).url
    args = [{"name": "service-name", "value": "api-server-canary"}]
    await env.client.create(
        ANALYSIS_RUNS, run_body("ok", [prometheus_metric(url, count=3, interval="1s")], args=args), NS
    )
    run = await run_until_done(env, "ok")
    status = run["status"]
    assert status["phase"] == "Successful"
    (result,) = status["metricResults"]
    assert (result["count"], result["successful"], result["failed"]) == (3, 3, 0)
    assert [m["value"] for m in result["measurements"]] == ["[0.995]"] * 3
    assert result["metadata"]["ResolvedPrometheusQuery"].count("api-server-canary") == 2
    assert status["startedAt"] and status["completedAt"]


async def test_degraded_metric_fails_at_the_fourth_failure(
    env: Env, prometheus_factory: PrometheusFactory
) -> None:
    """docs/semantics/analysis.md#metric-status: failureLimit 3 → Failed on the 4th failed measurement, with Argo's run message (docs/semantics/analysis.md#run-status)."""
    url = prometheus_factory(degrading(-timedelta(minutes=30))).url
    args = [{"name": "service-name", "value": "api-server-canary"}]
    await env.client.create(ANALYSIS_RUNS, run_body("bad", [prometheus_metric(url)], args=args), NS)
    run = await run_until_done(env, "bad")
    status = run["status"]
    assert status["phase"] == "Failed"
    assert status["message"] == 'Metric "success-rate" assessed Failed due to failed (4) > failureLimit (3)'
    assert status["metricResults"][0]["failed"] == 4


async def test_terminate_and_ttl(env: Env, prometheus_factory: PrometheusFactory) -> None:
    """spec.terminate ends an indefinite run Successful (docs/semantics/analysis.md#run-status); ttlStrategy then deletes it (docs/semantics/analysis.md#analysis-scheduling)."""
    url = prometheus_factory(HEALTHY).url
    args = [{"name": "service-name", "value": "api-server-canary"}]
    body = run_body(
        "forever", [prometheus_metric(url, interval="1s")], args=args, ttlStrategy={"secondsAfterSuccess": 30}
    )
    await env.client.create(ANALYSIS_RUNS, body, NS)
    for _ in range(2):
        wait = await env.reconciler.reconcile((NS, "forever"))
        assert wait is not None and wait > 0
        env.time.now += timedelta(seconds=wait)
    running = await env.client.get(ANALYSIS_RUNS, "forever", NS)
    assert running["status"]["phase"] == "Running"
    await env.client.patch(ANALYSIS_RUNS, "forever", {"spec": {"terminate": True}}, NS)
    run = await run_until_done(env, "forever")
    assert (run["status"]["phase"], run["status"]["message"]) == ("Successful", "Run Terminated")
    deadline = ttl_deadline(run)
    assert deadline is not None
    wait = await env.reconciler.reconcile((NS, "forever"))
    assert wait is not None and 0 < wait <= 31
    # 30 s after completion the TTL has not strictly passed: the run stays (analysis/analysis.go).
    completed = datetime.fromisoformat(run["status"]["completedAt"].replace("Z", "+00:00"))
    env.time.now = completed + timedelta(seconds=30.5)
    wait = await env.reconciler.reconcile((NS, "forever"))
    assert wait is not None and 0 < wait <= 0.5
    assert (await env.client.get_or_none(ANALYSIS_RUNS, "forever", NS)) is not None
    env.time.now = deadline
    assert await env.reconciler.reconcile((NS, "forever")) is None
    assert (await env.client.get_or_none(ANALYSIS_RUNS, "forever", NS)) is None


async def test_secret_args_are_read_from_secrets(env: Env, prometheus_factory: PrometheusFactory) -> None:
    """docs/semantics/analysis.md#analysis-args: valueFrom.secretKeyRef resolved from the run's namespace; a missing secret fails the run."""
    url = prometheus_factory(HEALTHY).url
    secret = {"metadata": {"name": "svc"}, "data": {"name": base64.b64encode(b"api-server-canary").decode()}}
    await env.client.create(SECRETS, secret, NS)
    ref = {"name": "service-name", "valueFrom": {"secretKeyRef": {"name": "svc", "key": "name"}}}
    await env.client.create(
        ANALYSIS_RUNS, run_body("secret", [prometheus_metric(url, count=3, interval="1s")], args=[ref]), NS
    )
    run = await run_until_done(env, "secret")
    assert run["status"]["phase"] == "Successful"
    assert "api-server-canary" not in str(run["status"].get("message", ""))

    missing = {"name": "service-name", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "name"}}}
    await env.client.create(
        ANALYSIS_RUNS,
        run_body("missing", [prometheus_metric(url, count=3, interval="1s")], args=[missing]),
        NS,
    )
    run = await run_until_done(env, "missing")
    assert run["status"]["phase"] == "Error"
    assert 'secrets "nope" not found' in run["status"]["message"]


async def test_measurement_retention_trims_history(env: Env, prometheus_factory: PrometheusFactory) -> None:
    """docs/semantics/analysis.md#analysis-scheduling: history trimmed to measurementRetention.limit; counters keep counting."""
    url = prometheus_factory(HEALTHY).url
    args = [{"name": "service-name", "value": "api-server-canary"}]
    body = run_body(
        "trim",
        [prometheus_metric(url, count=4, interval="1s")],
        args=args,
        measurementRetention=[{"metricName": "success-rate", "limit": 2}],
    )
    await env.client.create(ANALYSIS_RUNS, body, NS)
    run = await run_until_done(env, "trim")
    (result,) = run["status"]["metricResults"]
    assert (result["count"], len(result["measurements"])) == (4, 2)


@pytest.mark.parametrize(
    ("outcome", "phase"),
    [
        pytest.param("succeeded", "Successful", id="job-succeeds"),
        pytest.param("failed", "Failed", id="job-fails"),
    ],
)
async def test_job_metric(env: Env, outcome: str, phase: str) -> None:
    """The job provider: a batch/v1 Job per measurement; its outcome is the measurement's phase; deleted after."""
    job = {
        "metadata": {"annotations": {"sandbox.rollouts.io/job-outcome": outcome}},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "t", "image": "busybox"}]}
            },
        },
    }
    await env.client.create(ANALYSIS_RUNS, run_body("job", [{"name": "smoke", "provider": {"job": job}}]), NS)
    run = await run_until_done(env, "job")
    assert run["status"]["phase"] == phase
    (measurement,) = run["status"]["metricResults"][0]["measurements"]
    assert measurement["metadata"]["job-name"] == f"{run['metadata']['uid']}.smoke.1"
    assert (await env.client.list(JOBS, NS)) == []  # completed Jobs are deleted


async def test_invalid_run_is_an_error_not_a_crash(env: Env) -> None:
    """docs/semantics/analysis.md#metric-validation: a metric without provider → Error run with the validation message; the reconciler keeps going."""
    await env.client.create(ANALYSIS_RUNS, run_body("invalid", [{"name": "m", "provider": {}}]), NS)
    run = await run_until_done(env, "invalid")
    assert run["status"]["phase"] == "Error"
    assert "no provider specified" in run["status"]["message"]


@pytest.mark.parametrize(
    ("job", "phase"),
    [
        pytest.param(
            {"status": {"conditions": [{"type": "Complete", "status": "True"}]}}, "Successful", id="complete"
        ),
        pytest.param(
            {"status": {"conditions": [{"type": "Failed", "status": "True"}]}}, "Failed", id="failed"
        ),
        pytest.param(
            {"status": {"conditions": [{"type": "Failed", "status": "False"}]}}, "Running", id="not-yet"
        ),
        pytest.param({"spec": {"completions": 2}, "status": {"succeeded": 1}}, "Running", id="one-of-two"),
        pytest.param({"spec": {"completions": 2}, "status": {"succeeded": 2}}, "Successful", id="two-of-two"),
        pytest.param({"spec": {"backoffLimit": 1}, "status": {"failed": 2}}, "Failed", id="backoff-exceeded"),
        pytest.param({}, "Running", id="just-created"),
    ],
)
def test_job_phase(job: dict[str, Any], phase: str) -> None:
    from rollouts.controller.jobs import job_phase

    assert job_phase(job) == phase


@pytest.mark.parametrize(
    ("uid", "metric", "n", "expected"),
    [
        # Argo's metricproviders/job/job_test.go: the three naming cases, same uids and metric names.
        pytest.param(
            "34e4d823-4ba9-4afe-8775-6384561d7ef3",
            "web",
            1,
            "34e4d823-4ba9-4afe-8775-6384561d7ef3.web.1",
            id="fits",
        ),
        pytest.param(
            "5d610152-d78d-4af9-aa6a-81c227ea422c",
            "service-endpoint-reachable",
            1,
            "5d610152-d78d-4af9-aa6a-81c227ea422c.service-endpoint-reachab.1",
            id="cut-to-63",
        ),
        pytest.param(
            "a3f5c9b2-1d4e-4b8a-9f3e-2c7d8e6a4b1c",
            "this-is-a-very-long-metric-name-that-is-exactly-seventy-characters-long",
            12,
            "a3f5c9b2-1d4e-4b8a-9f3e-2c7d8e6a4b1c.this-is-a-very-long-met.12",
            id="long-metric-number-kept",
        ),
    ],
)
def test_job_names_fit_a_label_value(uid: str, metric: str, n: int, expected: str) -> None:
    """A Job's name is its pods' `job-name` label: at most 63 characters, the uid and number kept whole."""
    from rollouts.controller.jobs import job_name

    assert job_name(uid, metric, n) == expected
    assert len(expected) <= 63
    assert len(job_name(uid, metric, 10**6)) <= 63  # a later measurement number shortens the metric part more


COMPLETED_AT = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("phase", "ttl", "elapsed", "exceeded"),
    [
        # Argo, analysis/analysis.go `isAnalysisRunTtlExceeded`: int32(seconds since completedAt) > ttl.
        pytest.param("Successful", {"secondsAfterCompletion": 10}, 10.0, False, id="equal-is-not-passed"),
        pytest.param("Successful", {"secondsAfterCompletion": 10}, 10.999, False, id="fraction-truncated"),
        pytest.param("Successful", {"secondsAfterCompletion": 10}, 11.0, True, id="strictly-passed"),
        pytest.param("Successful", {"secondsAfterCompletion": 0}, 0.5, False, id="zero-ttl-first-second"),
        pytest.param("Successful", {"secondsAfterCompletion": 0}, 1.0, True, id="zero-ttl-after-a-second"),
        pytest.param(
            "Successful", {"secondsAfterCompletion": 60, "secondsAfterSuccess": 5}, 6, True, id="success-wins"
        ),
        pytest.param(
            "Failed",
            {"secondsAfterCompletion": 60, "secondsAfterSuccess": 5},
            6,
            False,
            id="completion-fallback",
        ),
        pytest.param(
            "Failed", {"secondsAfterCompletion": 60, "secondsAfterFailure": 5}, 6, True, id="failure-wins"
        ),
        pytest.param("Error", {"secondsAfterFailure": 5}, 3600, False, id="error-uses-only-completion"),
        pytest.param(
            "Inconclusive",
            {"secondsAfterFailure": 5, "secondsAfterCompletion": 20},
            21,
            True,
            id="inconclusive",
        ),
        pytest.param("Successful", {"secondsAfterFailure": 7}, 3600, False, id="no-rule-for-success"),
        pytest.param("Successful", {}, 3600, False, id="no-ttl"),
        pytest.param("Running", {"secondsAfterCompletion": 1}, 3600, False, id="not-finished"),
        pytest.param("Successful", {"secondsAfterCompletion": "1"}, 3600, False, id="not-an-integer"),
    ],
)
def test_ttl_exceeded_as_argo(phase: str, ttl: dict[str, Any], elapsed: float, exceeded: bool) -> None:
    """docs/semantics/analysis.md#analysis-scheduling, Argo analysis/analysis.go: the success/failure TTL applies to Successful/Failed runs only, else
    secondsAfterCompletion; deleted once the whole seconds since completedAt STRICTLY exceed it; the deadline
    the reconciler waits for is the first instant that holds."""
    run = {"spec": {"ttlStrategy": ttl}, "status": {"phase": phase, "completedAt": "2026-11-26T07:00:00Z"}}
    now = COMPLETED_AT + timedelta(seconds=elapsed)
    assert ttl_exceeded(run, now) is exceeded
    deadline = ttl_deadline(run)
    if deadline is None:
        assert not exceeded and not ttl_exceeded(run, COMPLETED_AT + timedelta(days=365))
    else:
        assert ttl_exceeded(run, deadline) and not ttl_exceeded(run, deadline - timedelta(milliseconds=1))
        assert exceeded is (now >= deadline)


def test_ttl_without_completed_at_never_expires() -> None:
    run = {"spec": {"ttlStrategy": {"secondsAfterCompletion": 0}}, "status": {"phase": "Successful"}}
    assert ttl_deadline(run) is None
    assert not ttl_exceeded(run, COMPLETED_AT + timedelta(days=1))
