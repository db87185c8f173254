"""The Graphite provider against a loopback aiohttp server speaking the render API (`/render?…&format=json`)."""

from __future__ import annotations

import asyncio
import doctest
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import pytest
from aiohttp import web

import analysis.providers.graphite
from analysis.assess import evaluate_measurement
from analysis.models import AnalysisPhase, Metric
from analysis.providers.credentials import Credentials
from analysis.providers.graphite import TIMEOUT_SECONDS as GRAPHITE_TIMEOUT
from analysis.providers.graphite import GraphiteProvider, render_pairs
from analysis.providers.throttling import LimiterRegistry, ThrottleConfig
from tests.fixtures.argo_sources import ARGO_ROLLOUTS, ARGO_ROLLOUTS_COMMIT, Source, argo_file
from tests.fixtures.prometheus import unused_url

Reply = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Seen:
    method: str
    path: str
    raw_query: str
    headers: dict[str, str]


@dataclass
class Graphite:
    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    reply: Reply | None = None

    def answer(self, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> None:
        async def reply(request: web.Request) -> web.StreamResponse:
            text = body if isinstance(body, str) else json.dumps(body)
            return web.Response(status=status, text=text, content_type="application/json", headers=headers)

        self.reply = reply


def series(*points: list[Any], target: str = "sumSeries(app.http.*.*.count)") -> dict[str, Any]:
    return {"target": target, "datapoints": list(points), "tags": {"name": target}}


@pytest.fixture
async def graphite() -> AsyncIterator[Graphite]:
    backend = Graphite()
    backend.answer([series([100, 1621348430])])

    async def handle(request: web.Request) -> web.StreamResponse:
        backend.seen.append(
            Seen(request.method, request.path, request.raw_path.partition("?")[2], dict(request.headers))
        )
        assert backend.reply is not None
        return await backend.reply(request)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    backend.url = f"http://127.0.0.1:{port}"
    yield backend
    await runner.cleanup()


@pytest.fixture
async def provider() -> AsyncIterator[GraphiteProvider]:
    p = GraphiteProvider(limiters=LimiterRegistry(), credentials=Credentials(environ={}))
    yield p
    await p.aclose()


def metric(
    address: Any, query: Any = "target=sumSeries(app.http.*.*.count)&from=-2min", **extra: Any
) -> Metric:
    return Metric.model_validate(
        {"name": "success-rate", **extra, "provider": {"graphite": {"address": address, "query": query}}}
    )


async def test_request_is_argos_render_call(graphite: Graphite, provider: GraphiteProvider) -> None:
    query = (
        "\n  target=summarize(\n    sumSeries(app.{a,b}.count),\n    '5min',\n    'avg'\n  )&from=-2min \t\n"
    )
    m = await provider.measure(metric(graphite.url, query))
    assert (m.phase, m.value, m.result) == (None, "[100.000000]", [100.0])
    seen = graphite.seen[-1]
    assert (seen.method, seen.path) == ("GET", "/render")
    # whitespace removed, format=json set, keys sorted and escaped as Go's url.Values.Encode does
    assert seen.raw_query == (
        "format=json&from=-2min&target=summarize%28sumSeries%28app.%7Ba%2Cb%7D.count%29%2C%275min%27%2C%27avg%27%29"
    )
    assert "Authorization" not in seen.headers


async def test_address_path_is_kept(graphite: Graphite, provider: GraphiteProvider) -> None:
    await provider.measure(metric(f"{graphite.url}/graphite/", "target=a&format=png"))
    seen = graphite.seen[-1]
    assert seen.path == "/graphite/render"
    assert parse_qsl(seen.raw_query) == [
        ("format", "json"),
        ("target", "a"),
    ]  # the query's own format replaced


@pytest.mark.parametrize(
    ("body", "value", "result"),
    [
        pytest.param([series([100, 1621348430])], "[100.000000]", [100.0], id="one-point"),
        pytest.param(
            [series([None, 1], [2.5, 2], [None, 3], [0.125, 4])],
            "[2.500000,0.125000]",
            [2.5, 0.125],
            id="nulls-skipped",
        ),
        pytest.param([series([None, 1], [None, 2])], "[]", [], id="all-null-is-empty-list"),
        pytest.param(
            [series(["10.5", "1621348430"])], "[10.500000]", [10.5], id="string-value-and-timestamp"
        ),
        pytest.param(
            [series([1, 1]), series([2, 1], target="b")], "[1.000000]", [1.0], id="first-series-only"
        ),
        pytest.param([series([1, 1.6])], "[1.000000]", [1.0], id="float-timestamp"),
        pytest.param('[{"target": "a", "datapoints": [[NaN, 1]]}]', "[NaN]", "nan", id="nan-literal"),
    ],
)
async def test_values(
    graphite: Graphite, provider: GraphiteProvider, body: Any, value: str, result: Any
) -> None:
    graphite.answer(body)
    m = await provider.measure(metric(graphite.url))
    assert m.phase is None and m.has_result and m.value == value
    if result == "nan":
        assert len(m.result) == 1 and m.result[0] != m.result[0]
    else:
        assert m.result == result


@pytest.mark.parametrize(
    ("status", "body", "headers", "message"),
    [
        pytest.param(200, [], None, "no values found", id="empty-list"),
        pytest.param(200, [series()], None, "no values found", id="no-datapoints"),
        pytest.param(
            200, [{"target": "a", "datapoints": None}], None, "no values found", id="null-datapoints"
        ),
        pytest.param(400, "foo", None, "error response: foo", id="400"),
        pytest.param(500, "bar", None, "error response: bar", id="500"),
        pytest.param(401, "Unauthorized", None, "error response: Unauthorized", id="401"),
        pytest.param(
            429,
            "slow down",
            {"Retry-After": "7"},
            "error response: slow down (Retry-After: 7)",
            id="429-retry-after",
        ),
        pytest.param(200, "invalid JSON", None, "Graphite answer is not JSON", id="not-json"),
        pytest.param(200, {"error": "x"}, None, "Graphite answer is not a list of series", id="object"),
        pytest.param(200, [series([10])], None, "error unmarshaling data point: [10]", id="one-item-point"),
        pytest.param(
            200, [series([100, "f"])], None, 'strconv.ParseInt: parsing "f": invalid syntax', id="bad-time"
        ),
        pytest.param(
            200, [series(["x", 1])], None, 'strconv.ParseFloat: parsing "x": invalid syntax', id="bad-str"
        ),
        pytest.param(200, [series([[], 1621348420])], None, "error unmarshaling value: []", id="list-value"),
        pytest.param(200, [series([True, 1])], None, "error unmarshaling value: true", id="bool-value"),
    ],
)
async def test_errors(
    graphite: Graphite,
    provider: GraphiteProvider,
    status: int,
    body: Any,
    headers: dict[str, str] | None,
    message: str,
) -> None:
    graphite.answer(body, status, headers)
    m = await provider.measure(metric(graphite.url))
    assert m.phase == AnalysisPhase.ERROR and not m.has_result
    assert m.message is not None and m.message.startswith(message), m.message


@pytest.mark.parametrize(
    ("address", "query", "message"),
    [
        pytest.param("", None, "Graphite address  is not a valid URL", id="empty-address"),
        pytest.param(":::", None, "Graphite address ::: is not a valid URL", id="garbage-address"),
        pytest.param("ftp://graphite", None, "Graphite address ftp://graphite is not a valid URL", id="ftp"),
        pytest.param(None, None, "Graphite address <nil> is not a valid URL", id="missing-address"),
        pytest.param("http://g", "", "graphite.query is required", id="empty-query"),
        pytest.param("http://g", "target=a#b", "Graphite query contains '#'", id="fragment"),
        pytest.param(
            "http://g",
            "target=sum(a)%zz&from=-2min",
            "Graphite query has an invalid URL escape '%zz'",
            id="bad-escape",
        ),
    ],
)
async def test_configuration_errors(
    provider: GraphiteProvider, address: Any, query: str | None, message: str
) -> None:
    config: dict[str, Any] = {"query": "target=a" if query is None else query}
    if address is not None:
        config["address"] = address
    m = await provider.measure(Metric.model_validate({"name": "m", "provider": {"graphite": config}}))
    assert m.phase == AnalysisPhase.ERROR and m.message is not None and m.message.startswith(message), (
        m.message
    )


async def test_timeout(graphite: Graphite, provider: GraphiteProvider) -> None:
    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(5)
        return web.json_response([])

    graphite.reply = slow
    provider.timeout = 0.3
    m = await provider.measure(metric(graphite.url))
    assert m.phase == AnalysisPhase.ERROR
    assert m.message == f"Graphite request to {graphite.url} timed out after 0.3s"


async def test_huge_body_is_refused(graphite: Graphite, provider: GraphiteProvider) -> None:
    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        chunk = b"[" + b"1," * (1024 * 1024)
        for _ in range(6):  # 12 MiB
            await response.write(chunk)
        await response.write_eof()
        return response

    graphite.reply = huge
    m = await provider.measure(metric(graphite.url))
    assert (
        m.phase == AnalysisPhase.ERROR
        and m.message == f"Graphite response from {graphite.url} is larger than 10 MiB"
    )


async def test_connection_refused_hides_the_password(provider: GraphiteProvider) -> None:
    address = unused_url().replace("http://", "http://reader:s3cret-pw@")
    m = await provider.measure(metric(address))
    assert m.phase == AnalysisPhase.ERROR and m.message is not None
    assert "failed" in m.message and "reader:*****@" in m.message and "s3cret-pw" not in m.message


async def test_user_in_address_is_basic_auth(graphite: Graphite, provider: GraphiteProvider) -> None:
    graphite.answer("denied for reader:s3cret-pw", 403)
    address = graphite.url.replace("http://", "http://reader:s3cret-pw@")
    m = await provider.measure(metric(address))
    assert graphite.seen[-1].headers["Authorization"].startswith("Basic ")
    assert m.message == "error response: denied for reader:*****"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param(
            "target=a&from=-5min",
            {"from": "1704066900", "until": "1704067200", "now": "1704067200"},
            id="relative-from",
        ),
        pytest.param(
            "target=a",
            {"from": str(1704067200 - 86400), "until": "1704067200", "now": "1704067200"},
            id="defaults",
        ),
        pytest.param(
            "target=a&from=now-1h30min&until=-10min",
            {"from": str(1704067200 - 5400), "until": str(1704067200 - 600), "now": "1704067200"},
            id="now-offset",
        ),
        pytest.param(
            "target=a&from=20231231&until=midnight",
            {"from": "20231231", "until": "midnight", "now": "1704067200"},
            id="absolute-kept-server-resolves-now",
        ),
        pytest.param(
            "target=a&from=-5min&now=1600000000", {"from": "-5min", "now": "1600000000"}, id="query-sets-now"
        ),
    ],
)
async def test_replay_asks_about_the_past_window(
    graphite: Graphite, provider: GraphiteProvider, query: str, expected: dict[str, str]
) -> None:
    at = datetime(2024, 1, 1, tzinfo=UTC)
    m = await provider.measure(metric(graphite.url, query), at=at)
    assert m.phase is None
    sent = dict(parse_qsl(graphite.seen[-1].raw_query))
    assert sent == {"target": "a", "format": "json", **expected}


def test_render_pairs_keeps_repeated_targets_in_order() -> None:
    pairs = render_pairs("target=b&target=a&from=-1h&maxDataPoints=1")
    assert pairs == [
        ("format", "json"),
        ("from", "-1h"),
        ("maxDataPoints", "1"),
        ("target", "b"),
        ("target", "a"),
    ]


@pytest.mark.parametrize(
    ("condition", "phase"),
    [
        pytest.param("10.000000 in result", AnalysisPhase.SUCCESSFUL, id="in"),
        pytest.param("result[0] >= 90.000000", AnalysisPhase.FAILED, id="index"),
    ],
)
async def test_conditions_read_the_list(
    graphite: Graphite, provider: GraphiteProvider, condition: str, phase: AnalysisPhase
) -> None:
    graphite.answer([series([10, 1])])
    m = await provider.measure(metric(graphite.url, successCondition=condition))
    assert evaluate_measurement(metric(graphite.url, successCondition=condition), m.result)[0] == phase


async def test_backend_cap_refuses_when_the_deadline_passes(graphite: Graphite) -> None:
    release = asyncio.Event()

    async def held(request: web.Request) -> web.StreamResponse:
        await release.wait()
        return web.json_response([series([1, 1])])

    graphite.reply = held
    limiters = LimiterRegistry(ThrottleConfig(rate=None, concurrency=1))
    patient = GraphiteProvider(limiters=limiters, credentials=Credentials(environ={}))
    hasty = GraphiteProvider(limiters=limiters, credentials=Credentials(environ={}))
    hasty.timeout = 0.3
    try:
        first = asyncio.create_task(patient.measure(metric(graphite.url)))
        await asyncio.sleep(0.1)
        second = await hasty.measure(metric(graphite.url))
        release.set()
        assert (await first).value == "[1.000000]"
    finally:
        await patient.aclose()
        await hasty.aclose()
    assert second.phase == AnalysisPhase.ERROR and second.message is not None
    assert second.message.startswith("not measured: 1 queries towards this backend are already in flight")
    assert len(graphite.seen) == 1


GRAPHITE_GO = Source(ARGO_ROLLOUTS, "metricproviders/graphite/graphite.go", ARGO_ROLLOUTS_COMMIT)
GRAPHITE_API_GO = Source(ARGO_ROLLOUTS, "metricproviders/graphite/api.go", ARGO_ROLLOUTS_COMMIT)


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        pytest.param(GRAPHITE_GO, "Timeout: time.Duration(10) * time.Second", id="timeout-10s"),
        pytest.param(GRAPHITE_GO, 'errors.New("no values found")', id="no-values"),
        pytest.param(GRAPHITE_GO, 'fmt.Sprintf("%f,", *dp.Value)', id="value-format"),
        pytest.param(GRAPHITE_GO, "is not a valid URL", id="address-message"),
        pytest.param(GRAPHITE_API_GO, 'q.Set("format", "json")', id="format-json"),
        pytest.param(GRAPHITE_API_GO, 'fmt.Errorf("error response: %s"', id="error-response"),
        pytest.param(GRAPHITE_API_GO, "return result[0].DataPoints, nil", id="first-series"),
        pytest.param(GRAPHITE_API_GO, 'spaceRegex.ReplaceAllLiteralString(q, "")', id="whitespace-removed"),
    ],
)
def test_semantics_match_argos_source(source: Source, fragment: str) -> None:
    assert fragment in argo_file(source)
    assert GRAPHITE_TIMEOUT == 10


def test_module_doctests() -> None:
    result = doctest.testmod(analysis.providers.graphite)
    assert result.attempted >= 4 and result.failed == 0
