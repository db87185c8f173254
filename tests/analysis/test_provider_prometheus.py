"""The Prometheus provider against a real `prometheus` over backfilled data (docs/semantics/analysis.md#prometheus-results).

Every backend misbehaviour (down, slow, 400, garbage, unsupported type) must give an Error measurement with
the cause in its message: never an exception, never a value.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from analysis.models import AnalysisPhase, Measurement, Metric
from analysis.providers.prometheus import ADDRESS_ENV, PrometheusProvider
from analysis.providers.throttling import LimiterRegistry, ThrottleConfig
from tests.fixtures.prometheus import (
    HEALTHY_PHASE,
    PER_REQUEST,
    HttpStub,
    PrometheusFactory,
    PrometheusServer,
    degrading,
    prometheus_request_count,
    self_signed_certificate,
    serve_stub,
    unused_url,
)

pytestmark = pytest.mark.prometheus

SUCCESS_RATE = 'sum(rate(http_requests_total{service="%s",status=~"2.."}[5m])) / sum(rate(http_requests_total{service="%s"}[5m]))'


def success_rate(service: str) -> str:
    return SUCCESS_RATE % (service, service)


P99 = 'histogram_quantile(0.99, sum(rate(http_request_duration_seconds_bucket{service="%s"}[5m])) by (le)) * 1000'


def metric(query: str, address: str | None = None, **prometheus: Any) -> Metric:
    config: dict[str, Any] = {"query": query, **prometheus}
    if address is not None:
        config["address"] = address
    return Metric.model_validate({"name": "m", "provider": {"prometheus": config}})


@pytest.fixture
async def provider() -> AsyncIterator[PrometheusProvider]:
    p = PrometheusProvider(environ={}, governance=PER_REQUEST)
    yield p
    p.close()


def assert_error(measurement: Measurement, *fragments: str) -> None:
    assert measurement.phase is AnalysisPhase.ERROR, measurement
    assert measurement.value is None
    assert not measurement.has_result
    for fragment in fragments:
        assert fragment in (measurement.message or ""), measurement.message


# --- shapes from a real Prometheus (docs/semantics/analysis.md#prometheus-results) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "value", "result"),
    [
        pytest.param(success_rate("api-server-canary"), "[0.995]", [0.995], id="vector-success-rate"),
        pytest.param(P99 % "api-server-canary", None, [HEALTHY_PHASE.p99_ms], id="vector-p99-interpolated"),
        pytest.param(success_rate("api-server-unknown"), "[]", [], id="empty-vector"),
        pytest.param(success_rate("api-server-idle"), "[NaN]", [math.nan], id="nan-0-over-0"),
        pytest.param("vector(1)/0", "[+Inf]", [math.inf], id="plus-inf"),
        pytest.param("vector(-1)/0", "[-Inf]", [-math.inf], id="minus-inf"),
        pytest.param("scalar(vector(10))", "10", 10.0, id="scalar-integral"),
        pytest.param(
            'scalar(sum(http_requests_total{service="nope"}))', "NaN", math.nan, id="scalar-of-empty"
        ),
        pytest.param(
            'sort_desc(sum by (status) (http_requests_total{service="api-server-canary"}))',
            None,
            "descending",
            id="vector-keeps-response-order",
        ),
    ],
)
async def test_instant_query_shapes(
    prometheus: PrometheusServer, provider: PrometheusProvider, query: str, value: str | None, result: Any
) -> None:
    at = prometheus.anchor - timedelta(minutes=30)
    m = await provider.measure(metric(query, prometheus.url), at=at)
    assert (
        m.phase is None and m.message is None
    )  # the provider measures; assess decides (docs/semantics/analysis.md#measurement-assessment)
    assert m.has_result
    if result == "descending":
        assert len(m.result) == 2 and m.result[0] > m.result[1]
        assert m.value == "[" + ",".join(f"{v:g}" for v in m.result) + "]"
        return
    if value is not None:
        assert m.value == value
    if isinstance(result, list):
        assert len(m.result) == len(result)
        for got, want in zip(m.result, result, strict=True):
            assert got == pytest.approx(want, nan_ok=True)
    else:
        assert m.result == pytest.approx(result, nan_ok=True)


async def test_untimed_query_sees_now(prometheus: PrometheusServer, provider: PrometheusProvider) -> None:
    m = await provider.measure(metric(success_rate("api-server-canary"), prometheus.url))
    assert (m.value, m.result) == ("[0.995]", [0.995])


async def test_at_evaluates_in_the_past(
    prometheus_factory: PrometheusFactory, provider: PrometheusProvider
) -> None:
    server = prometheus_factory(degrading(timedelta(minutes=-20)))
    query = metric(success_rate("api-server-canary"), server.url)
    before = await provider.measure(query, at=server.anchor - timedelta(minutes=25))
    after = await provider.measure(query, at=server.anchor - timedelta(minutes=10))
    assert before.result == [0.995]
    assert after.result == [0.5]


async def test_range_query_flattens_series(
    prometheus: PrometheusServer, provider: PrometheusProvider
) -> None:
    at = prometheus.anchor - timedelta(minutes=30)
    rq = {"start": 'now() - duration("2m")', "end": "now()", "step": "1m"}
    m = await provider.measure(
        metric(success_rate("api-server-canary"), prometheus.url, rangeQuery=rq), at=at
    )
    assert (m.value, m.result) == ("[0.995,0.995,0.995]", [0.995] * 3)
    two = metric('http_requests_total{service="api-server-canary"}', prometheus.url, rangeQuery=rq)
    m = await provider.measure(two, at=at)
    assert len(m.result) == 6  # 2 series x 3 steps, series order then time order
    assert m.result[0] < m.result[1] < m.result[2] and m.result[3] < m.result[4] < m.result[5]


@pytest.mark.parametrize(
    ("range_query", "message"),
    [
        pytest.param(
            {"start": 'now() - duration("5x")', "end": "now()", "step": "1m"},
            'failed to parse rangeQuery.start as time: time: unknown unit "x" in duration "5x"',
            id="start-bad-duration",
        ),
        pytest.param(
            {"start": "now()", "end": "1", "step": "1m"},
            "failed to parse rangeQuery.end as time: expected time.Time, but got int",
            id="end-not-a-time",
        ),
        pytest.param(
            {"start": "now(", "end": "now()", "step": "1m"},
            "failed to parse rangeQuery.start as time: syntax error",
            id="start-syntax",
        ),
        pytest.param(
            {"start": "then()", "end": "now()", "step": "1m"},
            "failed to parse rangeQuery.start as time: ",
            id="start-unknown-function",
        ),
        pytest.param(
            {"start": "now()", "end": "now()", "step": "fast"},
            'failed to parse rangeQuery.step as duration: time: invalid duration "fast"',
            id="step-bad",
        ),
    ],
)
async def test_range_query_parse_errors(
    provider: PrometheusProvider, range_query: dict[str, str], message: str
) -> None:
    # No backend is contacted: the address does not even listen.
    m = await provider.measure(metric("up", unused_url(), rangeQuery=range_query))
    assert_error(m, message)


# --- backend misbehaviour -----------------------------------------------------------------------------


async def test_bad_promql_is_an_error_quoting_prometheus(
    prometheus: PrometheusServer, provider: PrometheusProvider
) -> None:
    m = await provider.measure(metric("sum(rate(http_requests_total[5m]", prometheus.url))
    # Argo's wording: the Go client's `<errorType>: <error>` for a 400 with an error body (client_golang
    # api/prometheus/v1/api.go, apiClientImpl.Do), nothing before it.
    assert_error(m, "parse error")
    assert (m.message or "").startswith("bad_data: ")


async def test_string_result_is_unsupported(
    prometheus: PrometheusServer, provider: PrometheusProvider
) -> None:
    m = await provider.measure(metric('"hello"', prometheus.url))
    assert_error(m)
    assert m.message == "Prometheus metric type not supported"


async def test_prometheus_down(provider: PrometheusProvider) -> None:
    address = unused_url()
    m = await provider.measure(metric("up", address))
    assert_error(m, address, "Connection refused")


async def test_slow_prometheus_times_out(
    provider: PrometheusProvider, slow_http_server: Callable[[float], str]
) -> None:
    url = slow_http_server(30)
    started = time.monotonic()
    m = await provider.measure(metric("up", url, timeout=1))
    assert_error(m, "timed out after 1s")
    assert time.monotonic() - started < 10  # bounded by the metric's timeout, not the server's delay


@pytest.mark.parametrize(
    ("stub", "fragments"),
    [
        pytest.param(
            HttpStub(body=b"<html>hello</html>", content_type="text/html"), ("not JSON", "<html>"), id="html"
        ),
        pytest.param(HttpStub(body=b""), ("not JSON", "(empty body)"), id="empty-body"),
        pytest.param(
            HttpStub(
                body=b'{"status":"success","data":{"resultType":"scalar","result":[0,"1"]}}', status=400
            ),
            ("bad_response: inconsistent body for response code",),
            id="400-with-success-body",
        ),
    ],
)
async def test_garbage_answers_are_errors_worded_as_argo(
    provider: PrometheusProvider,
    http_stub: Callable[[HttpStub], str],
    stub: HttpStub,
    fragments: tuple[str, ...],
) -> None:
    m = await provider.measure(metric("up", http_stub(stub)))
    assert_error(m, *fragments)
    assert (m.message or "").startswith("bad_response: ")


@pytest.mark.parametrize(
    ("stub", "message"),
    [
        # client_golang api/prometheus/v1/api.go (v1.24, Argo's): only 400 and 422 bodies are read as API
        # errors; any other status is `errorTypeAndMsgFor` (we add the body in parentheses).
        pytest.param(
            HttpStub(status=503, body=b"overloaded"),
            "server_error: server error: 503 (response body: overloaded)",
            id="503-text",
        ),
        pytest.param(
            HttpStub(status=503, body=b'{"status":"error","errorType":"unavailable","error":"x"}'),
            'server_error: server error: 503 (response body: {"status":"error","errorType":"unavailable","error":"x"})',
            id="503-error-body-is-not-read",
        ),
        pytest.param(HttpStub(status=404, body=b""), "client_error: client error: 404", id="404-empty"),
        pytest.param(
            HttpStub(
                status=422, body=b'{"status":"error","errorType":"execution","error":"too many samples"}'
            ),
            "execution: too many samples",
            id="422-api-error",
        ),
        pytest.param(
            HttpStub(
                status=400, body=b'{"status":"error","errorType":"bad_data","error":"invalid parameter"}'
            ),
            "bad_data: invalid parameter",
            id="400-api-error",
        ),
    ],
)
async def test_error_answers_use_argos_wording(
    provider: PrometheusProvider, http_stub: Callable[[HttpStub], str], stub: HttpStub, message: str
) -> None:
    m = await provider.measure(metric("up", http_stub(stub)))
    assert_error(m)
    assert m.message == message


@pytest.mark.parametrize(
    ("stub", "fragments"),
    [
        pytest.param(HttpStub(body=b'{"status":"success"}'), ("no data",), id="no-data"),
        pytest.param(
            HttpStub(
                body=b'{"status":"success","data":{"resultType":"vector","result":[{"value":[1,"x"]}]}}'
            ),
            ("malformed sample value",),
            id="non-numeric-sample",
        ),
        pytest.param(HttpStub(body=b"[1,2]"), ("not a JSON object",), id="json-array"),
    ],
)
async def test_garbage_answers_are_errors(
    provider: PrometheusProvider,
    http_stub: Callable[[HttpStub], str],
    stub: HttpStub,
    fragments: tuple[str, ...],
) -> None:
    m = await provider.measure(metric("up", http_stub(stub)))
    assert_error(m, *fragments)


async def test_warnings_are_kept_in_metadata(
    provider: PrometheusProvider, http_stub: Callable[[HttpStub], str]
) -> None:
    body = {
        "status": "success",
        "warnings": ["w1", 'say "hi"'],
        "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "0.5"]}]},
    }
    m = await provider.measure(metric("up", http_stub(HttpStub(body=json.dumps(body).encode()))))
    assert m.value == "[0.5]"
    assert m.metadata == {"warnings": '"w1", "say \\"hi\\""'}


# --- configuration (docs/semantics/analysis.md#prometheus-provider) -----------------------------------------------------------------------------


async def test_headers_basic_auth_and_time_reach_the_backend(
    provider: PrometheusProvider, http_stub: Callable[[HttpStub], str]
) -> None:
    stub = HttpStub()
    url = http_stub(stub)
    m = metric(
        "up",
        url,
        headers=[{"key": "X-Scope-OrgID", "value": "team-a"}],
        authentication={"basicAuth": {"username": "u", "password": "p"}},
    )
    result = await provider.measure(m, at=datetime.fromtimestamp(1700000000.5, UTC))
    assert (result.value, result.result) == ("1", 1.0)
    method, path, headers, _ = stub.requests[0]
    assert method == "GET" and path.startswith("/api/v1/query?") and "time=1700000000.500" in path
    assert headers["X-Scope-OrgID"] == "team-a"
    assert headers["Authorization"] == "Basic dTpw"


@pytest.mark.parametrize(
    ("config", "encoding"),
    [
        pytest.param({}, "identity", id="instant-answer-uncompressed"),
        pytest.param({"headers": [{"key": "Accept-Encoding", "value": "br"}]}, "br", id="metric-header-wins"),
        pytest.param(
            {"rangeQuery": {"start": 'now() - duration("2m")', "end": "now()", "step": "1m"}},
            "gzip",
            id="range-query-keeps-gzip",
        ),
    ],
)
async def test_accept_encoding(
    provider: PrometheusProvider,
    http_stub: Callable[[HttpStub], str],
    config: dict[str, Any],
    encoding: str,
) -> None:
    """Instant answers are tiny: gzip only costs CPU on both sides, so they are asked for uncompressed."""
    stub = HttpStub()
    m = metric("up", http_stub(stub), **config)
    for _ in range(2):  # the second query reuses the prepared request
        await provider.measure(m)
    assert len(stub.requests) == 2
    for _, _, headers, _ in stub.requests:
        assert encoding in headers["Accept-Encoding"]


@pytest.mark.parametrize(
    ("config", "environ", "message"),
    [
        pytest.param({}, {}, "prometheus address is not configured", id="no-address"),
        pytest.param(
            {"address": "prometheus:9090"}, {}, "prometheus address is not is url format", id="not-a-url"
        ),
        pytest.param(
            {"address": "http://x:1", "timeout": -1},
            {},
            "prometheus timeout should not be negative",
            id="neg-timeout",
        ),
        pytest.param(
            {"address": "http://x:1", "authentication": {"basicAuth": {"username": "u"}}},
            {},
            "missing mandatory parameter in metric for basic auth setup: password",
            id="basic-auth-no-password",
        ),
        pytest.param(
            {"address": "http://x:1", "authentication": {"basicAuth": {"password": "p"}}},
            {},
            "missing mandatory parameter in metric for basic auth setup: username",
            id="basic-auth-no-username",
        ),
    ],
)
async def test_configuration_errors(config: dict[str, Any], environ: dict[str, str], message: str) -> None:
    p = PrometheusProvider(environ=environ)
    try:
        m = await p.measure(metric("up", **config))
    finally:
        p.close()
    assert_error(m, message)


async def test_address_from_environment_and_override(prometheus: PrometheusServer) -> None:
    from_env = PrometheusProvider(environ={ADDRESS_ENV: prometheus.url})
    override = PrometheusProvider(environ={}, address_override=prometheus.url)
    try:
        assert (await from_env.measure(metric("vector(1)"))).value == "[1]"
        assert (await override.measure(metric("vector(2)", "http://prometheus.invalid:9090"))).value == "[2]"
    finally:
        from_env.close()
        override.close()


def test_metadata_is_the_resolved_query(provider: PrometheusProvider) -> None:
    assert provider.metadata(metric("up{a='b'}")) == {"ResolvedPrometheusQuery": "up{a='b'}"}


# --- throttling at the Prometheus side ----------------------------------------------------------------


async def test_rate_limit_is_never_exceeded(prometheus_factory: PrometheusFactory) -> None:
    # A fresh scenario instance = a Prometheus of its own, so the request counter is ours alone.
    server = prometheus_factory(degrading(timedelta(hours=5)))
    limiters = LimiterRegistry(ThrottleConfig(rate=20, concurrency=4))
    first = PrometheusProvider(limiters=limiters, governance=PER_REQUEST)
    second = PrometheusProvider(limiters=limiters, governance=PER_REQUEST)
    before = prometheus_request_count(server.url)
    stamps: list[float] = []

    async def one(p: PrometheusProvider) -> None:
        m = await p.measure(metric("vector(1)", server.url))
        assert m.value == "[1]"
        stamps.append(time.monotonic())

    try:
        await asyncio.gather(*(one(first if i % 2 else second) for i in range(30)))
    finally:
        first.close()
        second.close()
    assert prometheus_request_count(server.url) - before == 30  # no retries, no extra calls
    assert limiters.requests() == {server.url: 30}
    stamps.sort()
    # Completions lag admissions, so allow the 4 in flight on top of the 20 admitted per second.
    assert max(sum(1 for t in stamps if s <= t < s + 1.0) for s in stamps) <= 20 + 4


async def test_insecure_skips_certificate_verification(provider: PrometheusProvider, tmp_path: Path) -> None:
    tls = self_signed_certificate(tmp_path)
    if tls is None:
        pytest.skip("openssl is not installed: cannot make a self-signed certificate")
    with serve_stub(HttpStub(), tls=tls) as url:
        assert url.startswith("https://")
        verified = await provider.measure(metric("up", url))
        assert_error(verified, "CERTIFICATE_VERIFY_FAILED")
        insecure = await provider.measure(metric("up", url, insecure=True))
        assert (insecure.value, insecure.result) == ("1", 1.0)
