"""Tenant isolation of the metric providers: a slow backend cannot hold the workers everybody shares.

The hostile side is a loopback server that answers a byte at a time (`tests/fixtures/slow_backends.py`); the
healthy side is a real Prometheus over backfilled data. What is checked, with real sockets and threads:

* the measurement's deadline stops the read itself: the client drops the connection and the query thread is
  free again (a provider with ONE thread measures the healthy Prometheus right after);
* one namespace's metrics never hold more than its cap of connections to the slow backend; its surplus
  measurements are refused with a sentence naming the cap, and the waits and refusals are reported;
* another namespace measuring a healthy Prometheus meanwhile gets every measurement, Successful (its
  latency is printed: `pytest -s`).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from analysis.models import AnalysisPhase, AnalysisRun, Metric
from analysis.providers.prometheus import PrometheusProvider
from analysis.providers.registry import ProviderOptions, Providers
from analysis.providers.web import WebProvider
from analysis.runner import reconcile_run
from tests.fixtures.prometheus import PER_REQUEST, PrometheusServer
from tests.fixtures.slow_backends import TrickleServer

pytestmark = pytest.mark.prometheus

WAIT = 30.0  # bound on waiting for a condition: a broken isolation fails the test instead of hanging it
HEALTHY_QUERY = 'sum(rate(http_requests_total{service="api-server-canary",status=~"2.."}[5m])) / sum(rate(http_requests_total{service="api-server-canary"}[5m]))'


def prometheus_metric(name: str, address: str, timeout: int, query: str = "up") -> dict[str, Any]:
    return {
        "name": name,
        "successCondition": "result[0] >= 0.99",
        "provider": {"prometheus": {"address": address, "query": query, "timeout": timeout}},
    }


def analysis_run(namespace: str, metrics: list[dict[str, Any]]) -> AnalysisRun:
    return AnalysisRun.model_validate(
        {"metadata": {"name": "run", "namespace": namespace}, "spec": {"metrics": metrics}}
    )


@pytest.mark.parametrize("trickle_headers", [False, True], ids=["body-trickles", "headers-trickle"])
async def test_the_deadline_stops_the_read_and_frees_the_thread(
    prometheus: PrometheusServer, trickle_server: Callable[..., TrickleServer], trickle_headers: bool
) -> None:
    slow = trickle_server(interval=0.2, trickle_headers=trickle_headers)
    provider = PrometheusProvider(
        environ={}, max_workers=1, governance=PER_REQUEST
    )  # one thread: a stuck one blocks everything
    try:
        slow_metric = Metric.model_validate(prometheus_metric("slow", slow.url, timeout=1))
        measured = await provider.measure(slow_metric)
        assert measured.phase is AnalysisPhase.ERROR
        assert measured.message == f"prometheus query failed at {slow.url}: timed out after 1s"
        # The client really stopped reading: the server sees the connection dropped (it would otherwise be
        # trickling for 100,000 × 0.2 s)…
        assert await asyncio.to_thread(slow.wait_dropped, 1, WAIT)
        # …and the only query thread is free for the next query.
        healthy = Metric.model_validate(
            prometheus_metric("ok", prometheus.url, timeout=10, query=HEALTHY_QUERY)
        )
        answer = await provider.measure(healthy)
        assert (answer.phase, answer.value) == (None, "[0.995]"), answer
    finally:
        provider.close()


@pytest.mark.parametrize("trickle_headers", [False, True], ids=["body-trickles", "headers-trickle"])
async def test_the_web_deadline_stops_a_trickling_answer(
    trickle_server: Callable[..., TrickleServer], trickle_headers: bool
) -> None:
    slow = trickle_server(interval=0.2, trickle_headers=trickle_headers)
    provider = WebProvider()
    try:
        metric = Metric.model_validate(
            {"name": "w", "provider": {"web": {"url": slow.url, "timeoutSeconds": 1}}}
        )
        measured = await provider.measure(metric)
    finally:
        await provider.aclose()
    assert measured.phase is AnalysisPhase.ERROR
    assert measured.message == f"web metric request to {slow.url} timed out after 1s"
    assert await asyncio.to_thread(slow.wait_dropped, 1, WAIT)


async def test_a_slow_tenant_does_not_starve_another(
    prometheus: PrometheusServer, trickle_server: Callable[..., TrickleServer]
) -> None:
    """Finding: an AnalysisRun with 16 metrics on a byte-a-second endpoint stalled every other query."""
    slow = trickle_server(interval=1.0)
    events: list[tuple[str, str, str]] = []
    options = ProviderOptions(
        governance=PER_REQUEST,
        rate=None,
        concurrency=16,
        namespace_concurrency=4,
        workers=8,
        observer=lambda *e: events.append(e),
    )
    attacker = analysis_run(
        "team-a", [prometheus_metric(f"slow-{i}", slow.url, timeout=2) for i in range(16)]
    )
    victim = analysis_run(
        "team-b", [prometheus_metric("success-rate", prometheus.url, timeout=30, query=HEALTHY_QUERY)]
    )
    attack_results: list[Any] = []
    stop = asyncio.Event()
    async with Providers(options) as providers:

        async def attack() -> None:
            while not stop.is_set():
                step = await reconcile_run(attacker, providers, datetime.now(UTC))
                attack_results.append(step)

        attacking = asyncio.create_task(attack())
        try:
            assert await asyncio.to_thread(slow.wait_accepted, 4, WAIT)  # the attack holds its share
            latencies: list[float] = []
            for _ in range(20):
                started = time.perf_counter()
                step = await reconcile_run(victim, providers, datetime.now(UTC))
                latencies.append(time.perf_counter() - started)
                (result,) = step.status.metric_results or []
                (measurement,) = result.measurements
                assert measurement.phase is AnalysisPhase.SUCCESSFUL, measurement
                assert measurement.value == "[0.995]"
        finally:
            stop.set()
            await attacking
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(
        f"\nteam-b during the attack: {len(latencies)} measurements, p50 {statistics.median(latencies) * 1000:.1f} ms, "
        f"p99 {p99 * 1000:.1f} ms; team-a's slow backend saw at most {slow.peak_open} connections at once"
    )
    assert slow.peak_open <= 4  # never more than team-a's share
    assert ("waited", "namespace", "team-a") in events
    assert ("refused", "namespace", "team-a") in events
    assert not [e for e in events if e[2] == "team-b"]
    messages = {
        m.message for step in attack_results for r in step.status.metric_results or [] for m in r.measurements
    }
    assert f"prometheus query failed at {slow.url}: timed out after 2s" in messages
    refused = [m for m in messages if m and m.startswith("not measured:")]
    assert refused and "namespace 'team-a' already has 4 queries in flight" in refused[0]


async def test_the_backend_cap_refuses_what_does_not_fit_in_time(
    trickle_server: Callable[..., TrickleServer],
) -> None:
    slow = trickle_server(interval=1.0)
    events: list[tuple[str, str, str]] = []
    options = ProviderOptions(
        governance=PER_REQUEST,
        rate=None,
        concurrency=2,
        namespace_concurrency=None,
        observer=lambda *e: events.append(e),
    )
    # The first two metrics take the backend's two slots and hold them for their 3 s timeout; the three others,
    # with a 1 s timeout, wait for a slot that cannot free in time: refused, 2 s before any slot frees (a margin
    # no scheduling delay on a loaded machine eats; with equal timeouts a slot freed in the same instant as a
    # waiter's deadline made the outcome timing).
    metrics = [prometheus_metric(f"slow-{i}", slow.url, timeout=3 if i < 2 else 1) for i in range(5)]
    run = analysis_run("team-a", metrics)
    async with Providers(options) as providers:
        step = await reconcile_run(run, providers, datetime.now(UTC))
    messages = [r.measurements[0].message for r in step.status.metric_results or []]
    timed_out = f"prometheus query failed at {slow.url}: timed out after 3s"
    refused = (
        "not measured: 2 queries towards this backend are already in flight (the per-backend cap) and none "
        "finished within the metric's 1s timeout"
    )
    assert messages == [timed_out, timed_out, refused, refused, refused], messages
    assert slow.peak_open <= 2
    assert events.count(("refused", "backend", "team-a")) == messages.count(refused)
