"""Backend governance (analysis/providers/governance.py): identical queries from many runs reach Prometheus once
per window, credentials never share an answer, and a backend that keeps failing is short-circuited (its
measurements fail at once, saying so) until a probe finds it answering again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from analysis.models import AnalysisPhase, Metric
from analysis.providers.governance import Breakers, GovernanceConfig
from analysis.providers.prometheus import PrometheusProvider
from analysis.providers.throttling import TENANT
from tests.fixtures.prometheus import HttpStub, PrometheusServer, prometheus_request_count, unused_url

pytestmark = pytest.mark.prometheus

QUERY = 'sum(rate(http_requests_total{service="api-server-canary"}[5m]))'


def metric(address: str, query: str = QUERY, **prometheus: Any) -> Metric:
    return Metric.model_validate(
        {"name": "m", "provider": {"prometheus": {"address": address, "query": query, **prometheus}}}
    )


class Seen:
    def __init__(self) -> None:
        self.coalesced: list[str] = []
        self.transitions: list[tuple[str, str]] = []

    def on_coalesced(self, backend: str) -> None:
        self.coalesced.append(backend)

    def on_breaker(self, backend: str, state: str) -> None:
        self.transitions.append((backend, state))


@pytest.fixture
def seen() -> Seen:
    return Seen()


@pytest.fixture
async def governed(seen: Seen) -> AsyncIterator[Callable[..., PrometheusProvider]]:
    made: list[PrometheusProvider] = []

    def make(**config: Any) -> PrometheusProvider:
        provider = PrometheusProvider(environ={}, governance=GovernanceConfig(**config), observer=seen)
        made.append(provider)
        return provider

    yield make
    for p in made:
        p.close()


async def test_identical_live_queries_reach_prometheus_once_per_window(
    prometheus: PrometheusServer, governed: Callable[..., PrometheusProvider], seen: Seen
) -> None:
    provider = governed(coalesce_window=5.0)
    # the start of a window, so that the 200 asks fall in one
    await asyncio.sleep(5.0 - time.time() % 5.0 + 0.05)
    before = prometheus_request_count(prometheus.url)

    async def ask(tenant: str) -> Any:
        TENANT.set(tenant)
        return await provider.measure(metric(prometheus.url))

    results = await asyncio.gather(*(ask(f"team-{i % 7}") for i in range(200)))
    after = prometheus_request_count(prometheus.url)
    assert after - before == 1
    assert {r.value for r in results} == {results[0].value} and results[0].phase is None
    assert len(seen.coalesced) == 199 and set(seen.coalesced) == {prometheus.url}
    # another query, or other credentials, are other requests
    await provider.measure(metric(prometheus.url, QUERY + " * 2"))
    await provider.measure(metric(prometheus.url, headers=[{"key": "Authorization", "value": "Bearer b"}]))
    assert prometheus_request_count(prometheus.url) - after == 2


async def test_after_its_window_a_query_is_asked_again(
    prometheus: PrometheusServer, governed: Callable[..., PrometheusProvider]
) -> None:
    provider = governed(coalesce_window=0.2)
    before = prometheus_request_count(prometheus.url)
    await provider.measure(metric(prometheus.url))
    await asyncio.sleep(0.25)
    await provider.measure(metric(prometheus.url))
    assert prometheus_request_count(prometheus.url) - before == 2


async def test_queries_at_different_instants_are_not_merged(
    prometheus: PrometheusServer, governed: Callable[..., PrometheusProvider]
) -> None:
    provider = governed(coalesce_window=60.0)
    before = prometheus_request_count(prometheus.url)
    a, b = prometheus.anchor, prometheus.anchor.replace(minute=(prometheus.anchor.minute + 1) % 60)
    await asyncio.gather(
        provider.measure(metric(prometheus.url), at=a), provider.measure(metric(prometheus.url), at=b)
    )
    await provider.measure(metric(prometheus.url), at=a)  # the same instant again: the answer is shared
    assert prometheus_request_count(prometheus.url) - before == 2


async def test_a_backend_that_keeps_failing_is_short_circuited_then_probed(
    http_stub: Callable[[HttpStub], str], governed: Callable[..., PrometheusProvider], seen: Seen
) -> None:
    stub = HttpStub(status=503, body=b"overloaded")
    url = http_stub(stub)
    provider = governed(coalesce_window=0, breaker_failures=3, breaker_cooldown=0.5)
    failures = [await provider.measure(metric(url)) for _ in range(3)]
    assert all(m.phase == AnalysisPhase.ERROR and "server_error" in (m.message or "") for m in failures)
    assert len(stub.requests) == 3
    # open: the next ones fail at once, without a request
    start = time.monotonic()
    fast = [await provider.measure(metric(url)) for _ in range(20)]
    assert time.monotonic() - start < 0.5 and len(stub.requests) == 3
    message = fast[0].message or ""
    assert fast[0].phase == AnalysisPhase.ERROR
    assert message.startswith(f"prometheus query failed at {url}: 3 consecutive failures (last: server_error")
    assert (
        "the backend is treated as unavailable and measurements fail at once until it is tried again in"
        in message
    )
    # after the cooldown one probe goes; the backend still fails: open again
    await asyncio.sleep(0.6)
    await provider.measure(metric(url))
    assert len(stub.requests) == 4
    assert (await provider.measure(metric(url))).message == message.replace("3 consecutive", "4 consecutive")
    # it recovers: the next probe closes the breaker
    stub.status = 200
    stub.body = (
        b'{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[0,"0.99"]}]}}'
    )
    await asyncio.sleep(0.6)
    recovered = await provider.measure(metric(url))
    assert (recovered.phase, recovered.value) == (None, "[0.99]")
    assert [state for _, state in seen.transitions] == ["open", "half-open", "open", "half-open", "closed"]


async def test_the_querys_own_mistakes_do_not_open_the_breaker(
    prometheus: PrometheusServer, governed: Callable[..., PrometheusProvider], seen: Seen
) -> None:
    """A 400 (bad PromQL from one namespace) must not cut every namespace off a healthy backend."""
    provider = governed(coalesce_window=0, breaker_failures=2)
    for _ in range(5):
        bad = await provider.measure(metric(prometheus.url, "sum(rate(x[5m]"))
        assert (bad.message or "").startswith("bad_data: ")
    good = await provider.measure(metric(prometheus.url))
    assert good.phase is None and seen.transitions == []


async def test_a_backend_that_is_down_opens_its_breaker_only(
    prometheus: PrometheusServer, governed: Callable[..., PrometheusProvider]
) -> None:
    provider = governed(coalesce_window=0, breaker_failures=2)
    down = unused_url()
    for _ in range(3):
        await provider.measure(metric(down))
    assert provider.breakers.state(down) == "open"
    assert provider.breakers.state(prometheus.url) == "closed"
    assert (await provider.measure(metric(prometheus.url))).phase is None


def test_successes_between_failures_keep_it_closed() -> None:
    breakers = Breakers(failures=3, cooldown=1.0)
    for _ in range(10):
        breakers.failed("b", "timed out")
        breakers.failed("b", "timed out")
        breakers.succeeded("b")
    assert breakers.state("b") == "closed" and breakers.refusal("b") is None


def test_only_one_probe_at_a_time() -> None:
    now = [0.0]
    breakers = Breakers(failures=1, cooldown=10.0, monotonic=lambda: now[0])
    breakers.failed("b", "connection refused")
    assert breakers.refusal("b") is not None
    now[0] = 11.0
    assert breakers.refusal("b") is None  # the probe
    assert "once the probe in flight answers" in (breakers.refusal("b") or "")


def test_a_probe_that_never_reached_the_backend_does_not_block_the_next() -> None:
    """The half-open probe refused by this process's own caps, or cancelled, says nothing about the backend: the
    next request is the probe (it used to stay 'in flight' for ever)."""
    now = [0.0]
    breakers = Breakers(failures=1, cooldown=10.0, monotonic=lambda: now[0])
    breakers.failed("b", "connection refused")
    now[0] = 11.0
    assert breakers.refusal("b") is None  # the probe
    breakers.abandoned("b")
    assert breakers.refusal("b") is None  # the next one probes
    breakers.succeeded("b")
    assert breakers.state("b") == "closed"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"coalesce_window": -1}, "coalesce window must not be negative"),
        ({"breaker_failures": -1}, "breaker failures must not be negative"),
        ({"breaker_cooldown": 0}, "breaker cooldown must be positive"),
    ],
)
def test_bad_settings(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GovernanceConfig(**config)
