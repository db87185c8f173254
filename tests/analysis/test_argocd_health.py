"""Argo CD's built-in AnalysisRun health check on the statuses our runner writes, measured on a real Prometheus.

The script is Argo CD's `resource_customizations/argoproj.io/AnalysisRun/health.lua` (read from the argo-cd
mirror at the pinned commit, run as Argo CD runs it: `tests.fixtures.argocd_health`). It maps the run's phase
and surfaces `status.message` when there is one: Pending/Running → Progressing "Analysis run is running",
Successful → Healthy, Failed and Error → Degraded, Inconclusive → **Unknown**, each with a default message
when the status has none. The runs below are the example `success-rate` template (examples/istio-canary)
reconciled by `analysis.runner` against the test suite's backfilled Prometheus, on a virtual clock inside
the data; the expected messages are Argo's (analysis/analysis.go `assessRunStatus`).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from analysis.args import build_run_spec
from analysis.models import AnalysisRunSpec, AnalysisRunStatus, AnalysisTemplate, Argument
from analysis.providers.registry import ProviderOptions, Providers
from analysis.runner import VirtualClock, reconcile_run, run_to_completion
from tests.fixtures.argocd_health import Health, LuaHealthCheck, builtin_cases, builtin_check
from tests.fixtures.prometheus import HEALTHY, PrometheusFactory, PrometheusServer

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "istio-canary" / "success-rate.yaml"


@pytest.fixture(scope="module")
def check() -> LuaHealthCheck:
    return builtin_check("AnalysisRun")


@pytest.mark.parametrize(("obj", "expected"), builtin_cases("AnalysisRun"))
def test_harness_reproduces_argo_cd_own_cases(
    check: LuaHealthCheck, obj: dict[str, Any], expected: Health
) -> None:
    assert check(obj) == expected


def run_spec(service: str, **metric: Any) -> AnalysisRunSpec:
    """The example template for `service`, with `metric`'s fields replacing the metric's own."""
    template = yaml.safe_load(EXAMPLE.read_text())
    template["spec"]["metrics"][0].update(metric)
    return build_run_spec(
        [AnalysisTemplate.model_validate(template)], args=[Argument(name="service-name", value=service)]
    )


def analysis_run(spec: AnalysisRunSpec, status: AnalysisRunStatus) -> dict[str, Any]:
    """The object as the controller stores it (what Argo CD reads)."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisRun",
        "metadata": {"name": "api-server-6d4f8b9c7-2", "namespace": "production", "generation": 1},
        "spec": spec.to_wire(),
        "status": status.to_wire(),
    }


@pytest.fixture
def server(prometheus_factory: PrometheusFactory) -> PrometheusServer:
    return prometheus_factory(HEALTHY)


@pytest.fixture
def refused_address() -> Iterator[str]:
    """A loopback port that is bound and never listens: every connection is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


async def completed(
    spec: AnalysisRunSpec, server: PrometheusServer, address: str | None = None
) -> AnalysisRunStatus:
    """The whole run on a virtual clock half an hour into the backfilled data."""
    async with Providers(ProviderOptions(prometheus_address=address or server.url, rate=None)) as providers:
        return await run_to_completion(spec, providers, VirtualClock(server.anchor - timedelta(minutes=30)))


@pytest.mark.prometheus
async def test_running(check: LuaHealthCheck, server: PrometheusServer) -> None:
    spec = run_spec("api-server-canary", count=3)
    async with Providers(ProviderOptions(prometheus_address=server.url, rate=None)) as providers:
        step = await reconcile_run(spec, providers, server.anchor - timedelta(minutes=30), replay=True)
    assert step.status.phase == "Running"
    assert check(analysis_run(spec, step.status)) == Health("Progressing", "Analysis run is running")


@pytest.mark.prometheus
async def test_successful(check: LuaHealthCheck, server: PrometheusServer) -> None:
    spec = run_spec("api-server-canary", count=3)
    status = await completed(spec, server)
    assert status.phase == "Successful"
    assert check(analysis_run(spec, status)) == Health("Healthy", "Analysis run completed successfully")


@pytest.mark.prometheus
async def test_terminated(check: LuaHealthCheck, server: PrometheusServer) -> None:
    """`kubectl rollouts terminate analysisrun`: Successful with Argo's "Run Terminated"."""
    spec = run_spec("api-server-canary")  # the example has no count: it runs until terminated
    now = server.anchor - timedelta(minutes=30)
    async with Providers(ProviderOptions(prometheus_address=server.url, rate=None)) as providers:
        first = await reconcile_run(spec, providers, now, replay=True)
        stopped = spec.model_copy(update={"terminate": True})
        step = await reconcile_run(
            stopped, providers, now + timedelta(seconds=5), status=first.status, replay=True
        )
    assert step.status.phase == "Successful"
    assert check(analysis_run(stopped, step.status)) == Health("Healthy", "Run Terminated")


@pytest.mark.prometheus
async def test_failed(check: LuaHealthCheck, server: PrometheusServer) -> None:
    """An idle service answers NaN, which fails `result[0] >= 0.99`: the 2nd failure passes failureLimit 1."""
    spec = run_spec("api-server-idle", count=3, failureLimit=1)
    status = await completed(spec, server)
    message = 'Metric "success-rate" assessed Failed due to failed (2) > failureLimit (1)'
    assert (status.phase, status.message) == ("Failed", message)
    assert check(analysis_run(spec, status)) == Health("Degraded", message)


@pytest.mark.prometheus
async def test_inconclusive(check: LuaHealthCheck, server: PrometheusServer) -> None:
    """NaN meets neither condition when there is a failure condition too: Inconclusive (Argo CD: Unknown)."""
    spec = run_spec("api-server-idle", count=3, failureCondition="result[0] < 0.5")
    status = await completed(spec, server)
    message = 'Metric "success-rate" assessed Inconclusive due to inconclusive (1) > inconclusiveLimit (0)'
    assert (status.phase, status.message) == ("Inconclusive", message)
    assert check(analysis_run(spec, status)) == Health("Unknown", message)


@pytest.mark.prometheus
async def test_error(check: LuaHealthCheck, server: PrometheusServer, refused_address: str) -> None:
    """Prometheus unreachable: five errors in a row pass consecutiveErrorLimit 4 (the default)."""
    spec = run_spec("api-server-canary", count=3)
    status = await completed(spec, server, refused_address)
    assert status.phase == "Error"
    assert status.message is not None
    assert status.message.startswith(
        'Metric "success-rate" assessed Error due to consecutiveErrors (5) > consecutiveErrorLimit (4): '
        '"Error Message: '
    )
    assert check(analysis_run(spec, status)) == Health("Degraded", status.message)
