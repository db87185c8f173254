"""The Wavefront provider against a loopback aiohttp server speaking Wavefront's chart API (`/api/v2/chart/api`)."""

from __future__ import annotations

import asyncio
import doctest
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import pytest
from aiohttp import web

import analysis.providers.wavefront
from analysis.models import AnalysisPhase, AnalysisRunSpec, Metric
from analysis.providers.credentials import Credentials, CredentialsError
from analysis.providers.throttling import LimiterRegistry
from analysis.providers.wavefront import WavefrontProvider, chart_params, chart_url
from analysis.runner import VirtualClock, run_to_completion
from tests.fixtures.argo_sources import ARGO_ROLLOUTS, ARGO_ROLLOUTS_COMMIT, Source, argo_file
from tests.fixtures.prometheus import unused_url

TOKEN = "wf-0f1e2d3c-S3cr3t-token"
AT = datetime(2024, 1, 1, tzinfo=UTC)
T = 1704067200  # AT in epoch seconds
Reply = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Seen:
    method: str
    path: str
    raw_query: str
    headers: dict[str, str]


@dataclass
class Wavefront:
    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    reply: Reply | None = None

    def answer(self, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> None:
        async def reply(request: web.Request) -> web.StreamResponse:
            text = body if isinstance(body, str) else json.dumps(body)
            return web.Response(status=status, text=text, content_type="application/json", headers=headers)

        self.reply = reply


def chart(*series: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A chart API answer (QueryResult): `timeseries` plus the usual companions."""
    return {
        "name": "q",
        "query": "q",
        "granularity": 1,
        "stats": {"points": 1},
        "timeseries": list(series),
        **extra,
    }


def ts(*points: list[Any], label: str = "istio.requestcount.count") -> dict[str, Any]:
    return {"label": label, "host": "web-1", "tags": {"env": "prod"}, "data": list(points)}


@pytest.fixture
async def wavefront() -> AsyncIterator[Wavefront]:
    backend = Wavefront()
    backend.answer(chart(ts([T, 0.97])))

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


class Secrets:
    """A fake Secret store: (namespace, name) → data; records every lookup."""

    def __init__(
        self, store: Mapping[tuple[str, str], Mapping[str, str]] | None = None, fail: bool = False
    ) -> None:
        self.store = dict(store or {})
        self.fail = fail
        self.asked: list[tuple[str, str]] = []

    async def __call__(self, name: str, namespace: str) -> Mapping[str, str] | None:
        self.asked.append((namespace, name))
        if self.fail:
            raise CredentialsError(f"the Secret {namespace}/{name} could not be read: secrets is forbidden")
        return self.store.get((namespace, name))


def tokens(*addresses: str) -> tuple[Credentials, Secrets]:
    data = {address: TOKEN for address in addresses} | {"other.wavefront.com": "another-token"}
    secrets = Secrets({("argo-rollouts", "wavefront-api-tokens"): data})
    return Credentials(lookup=secrets, namespace="argo-rollouts", environ={}), secrets


@pytest.fixture
async def make() -> AsyncIterator[Callable[[Credentials], WavefrontProvider]]:
    made: list[WavefrontProvider] = []

    def build(credentials: Credentials) -> WavefrontProvider:
        provider = WavefrontProvider(limiters=LimiterRegistry(), credentials=credentials)
        made.append(provider)
        return provider

    yield build
    for provider in made:
        await provider.aclose()


QUERY = 'sum(rate(5m, ts("istio.requestcount.count", response_code!=500 and destination_service="web")))'


def metric(address: Any, query: Any = QUERY) -> Metric:
    return Metric.model_validate(
        {"name": "success-rate", "provider": {"wavefront": {"address": address, "query": query}}}
    )


def assert_no_token(*texts: str | None) -> None:
    for text in texts:
        assert TOKEN not in (text or "") and "S3cr3t" not in (text or "")


async def test_request_is_argos_chart_call(
    wavefront: Wavefront, make: Callable[[Credentials], WavefrontProvider]
) -> None:
    credentials, secrets = tokens(wavefront.url)
    m = await make(credentials).measure(metric(wavefront.url), at=AT)
    assert (m.phase, m.value, m.result) == (None, "0.97", 0.97)
    assert m.metadata == {"timestamps": str(T), "drift": "0"}
    assert secrets.asked == [("argo-rollouts", "wavefront-api-tokens")]
    seen = wavefront.seen[-1]
    assert (seen.method, seen.path) == ("GET", "/api/v2/chart/api")
    assert seen.headers["Authorization"] == f"Bearer {TOKEN}"
    assert seen.headers["Accept"] == "application/json"
    millis = str(T * 1000)
    assert seen.raw_query == (
        f"autoEvents=false&e={millis}&g=s&i=true&includeObsoleteMetrics=false&listmode=false&p=1"
        "&q=sum%28rate%285m%2C+ts%28%22istio.requestcount.count%22%2C+response_code%21%3D500+and+"
        f"destination_service%3D%22web%22%29%29%29&s={millis}&strict=false"
    )


async def test_live_window_is_now(
    wavefront: Wavefront, make: Callable[[Credentials], WavefrontProvider]
) -> None:
    credentials, _ = tokens(wavefront.url)
    before = int(datetime.now(UTC).timestamp())
    await make(credentials).measure(metric(wavefront.url))
    after = int(datetime.now(UTC).timestamp())
    sent = dict(parse_qsl(wavefront.seen[-1].raw_query))
    assert sent["s"] == sent["e"] and before * 1000 <= int(sent["s"]) <= after * 1000
    assert int(sent["s"]) % 1000 == 0  # whole seconds, as Argo's startTime.Unix()*1000


def test_https_is_the_default_scheme() -> None:
    url = chart_url("example.wavefront.com", chart_params("ts(cpu)", AT))
    assert str(url).startswith("https://example.wavefront.com/api/v2/chart/api?autoEvents=false&e=")


@pytest.mark.parametrize(
    ("body", "value", "result", "metadata"),
    [
        pytest.param(chart(ts([T, 0.5])), "0.50", 0.5, {"timestamps": str(T), "drift": "0"}, id="one-series"),
        pytest.param(
            chart(ts([T - 60, 1.0], [T + 10, 2.0], [T - 10, 3.0])),
            "2.00",
            2.0,
            {"timestamps": str(T + 10), "drift": "10"},
            id="closest-first-on-tie",
        ),
        pytest.param(
            chart(ts([T - 30, 4.256], [T + 90, 1.0])),
            "4.26",
            4.256,
            {"timestamps": str(T - 30), "drift": "-30"},
            id="point-before",
        ),
        pytest.param(
            chart(ts([T - 5, None], [T - 20, 7.0])),
            "7.00",
            7.0,
            {"timestamps": str(T - 20), "drift": "-20"},
            id="null-value-skipped",
        ),
        pytest.param(
            chart(ts([T, 0.1], label="a"), ts([T - 3, 0.25], label="b")),
            "[0.10,0.25]",
            [0.1, 0.25],
            {"timestamps": f"[{T},{T - 3}]", "drift": "[0,-3]"},
            id="two-series",
        ),
        pytest.param(
            chart(ts([T, 1.0]), warnings="query was slow"),
            "1.00",
            1.0,
            {"warnings": "query was slow", "timestamps": str(T), "drift": "0"},
            id="warnings",
        ),
    ],
)
async def test_values(
    wavefront: Wavefront,
    make: Callable[[Credentials], WavefrontProvider],
    body: Any,
    value: str,
    result: Any,
    metadata: dict[str, str],
) -> None:
    wavefront.answer(body)
    credentials, _ = tokens(wavefront.url)
    m = await make(credentials).measure(metric(wavefront.url), at=AT)
    assert (m.phase, m.value, m.result, m.metadata) == (None, value, result, metadata)


@pytest.mark.parametrize(
    ("status", "body", "headers", "message"),
    [
        pytest.param(200, chart(), None, "No TimeSeries found in response from Wavefront", id="no-series"),
        pytest.param(200, {}, None, "No TimeSeries found in response from Wavefront", id="empty-object"),
        pytest.param(
            200,
            {"errorType": "QuerySyntaxError", "errorMessage": "Unknown function: sun"},
            None,
            "No TimeSeries found in response from Wavefront: QuerySyntaxError: Unknown function: sun",
            id="error-fields",
        ),
        pytest.param(
            200,
            chart(ts(label="a")),
            None,
            'Wavefront timeseries "a" has no data point with a value',
            id="no-points",
        ),
        pytest.param(
            200, chart(ts([T])), None, "malformed Wavefront data point [1704067200]", id="short-point"
        ),
        pytest.param(200, "<html>", None, "Wavefront answer is not JSON", id="not-json"),
        pytest.param(200, [1, 2], None, "Wavefront answer is not an object", id="list"),
        pytest.param(
            401,
            {"message": "unauthorized", "code": 401},
            None,
            'server returned 401 Unauthorized: {"message": "unauthorized", "code": 401}',
            id="401",
        ),
        pytest.param(
            400,
            {"status": {"result": "ERROR", "message": "Syntax error", "code": 400}},
            None,
            "server returned 400 Bad Request: ",
            id="400",
        ),
        pytest.param(
            429,
            "",
            {"Retry-After": "12"},
            "server returned 429 Too Many Requests (Retry-After: 12)",
            id="429",
        ),
        pytest.param(503, "down", None, "server returned 503 Service Unavailable: down", id="503"),
    ],
)
async def test_errors(
    wavefront: Wavefront,
    make: Callable[[Credentials], WavefrontProvider],
    status: int,
    body: Any,
    headers: dict[str, str] | None,
    message: str,
) -> None:
    wavefront.answer(body, status, headers)
    credentials, _ = tokens(wavefront.url)
    m = await make(credentials).measure(metric(wavefront.url), at=AT)
    assert m.phase == AnalysisPhase.ERROR and not m.has_result
    assert m.message is not None and m.message.startswith(message), m.message


async def test_warnings_kept_on_error(
    wavefront: Wavefront, make: Callable[[Credentials], WavefrontProvider]
) -> None:
    wavefront.answer(chart(warnings="metric not found"))
    credentials, _ = tokens(wavefront.url)
    m = await make(credentials).measure(metric(wavefront.url))
    assert m.phase == AnalysisPhase.ERROR and m.metadata == {"warnings": "metric not found"}


async def test_token_echoed_by_the_server_is_redacted(
    wavefront: Wavefront, make: Callable[[Credentials], WavefrontProvider]
) -> None:
    wavefront.answer(f"bad token Bearer {TOKEN}", 403)
    credentials, _ = tokens(wavefront.url)
    m = await make(credentials).measure(metric(wavefront.url))
    assert m.message == "server returned 403 Forbidden: bad token Bearer *****"


async def test_token_in_warnings_is_redacted(
    wavefront: Wavefront, make: Callable[[Credentials], WavefrontProvider]
) -> None:
    wavefront.answer(chart(ts([T, 1.0]), warnings=f"token {TOKEN} expires soon"))
    credentials, _ = tokens(wavefront.url)
    m = await make(credentials).measure(metric(wavefront.url), at=AT)
    assert (
        m.value == "1.00" and m.metadata is not None and m.metadata["warnings"] == "token ***** expires soon"
    )


@pytest.mark.parametrize(
    ("store", "fail", "message"),
    [
        pytest.param(
            {},
            False,
            'secrets "wavefront-api-tokens" not found: the Secret argo-rollouts/wavefront-api-tokens holds',
            id="no-secret",
        ),
        pytest.param(
            {("argo-rollouts", "wavefront-api-tokens"): {"other.wavefront.com": TOKEN}},
            False,
            "API token not found: the Secret argo-rollouts/wavefront-api-tokens has no key 'example.wavefront.com'",
            id="no-key",
        ),
        pytest.param(
            {},
            True,
            "the Secret argo-rollouts/wavefront-api-tokens could not be read: secrets is forbidden",
            id="unreadable",
        ),
    ],
)
async def test_secret_problems(
    make: Callable[[Credentials], WavefrontProvider],
    store: dict[tuple[str, str], dict[str, str]],
    fail: bool,
    message: str,
) -> None:
    credentials = Credentials(lookup=Secrets(store, fail), namespace="argo-rollouts", environ={})
    m = await make(credentials).measure(metric("example.wavefront.com"))
    assert m.phase == AnalysisPhase.ERROR and m.message is not None and m.message.startswith(message), (
        m.message
    )
    assert_no_token(m.message)


async def test_token_from_the_environment_without_a_cluster(
    wavefront: Wavefront, make: Callable[[Credentials], WavefrontProvider]
) -> None:
    m = await make(Credentials(environ={"WAVEFRONT_TOKEN": TOKEN})).measure(metric(wavefront.url), at=AT)
    assert m.value == "0.97" and wavefront.seen[-1].headers["Authorization"] == f"Bearer {TOKEN}"


async def test_environment_missing(make: Callable[[Credentials], WavefrontProvider]) -> None:
    m = await make(Credentials(environ={})).measure(metric("example.wavefront.com"))
    assert m.message == "API token not found: without a cluster it is read from WAVEFRONT_TOKEN"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        pytest.param({"query": "ts(a)"}, "wavefront.address is required", id="no-address"),
        pytest.param({"address": "wf.example.com"}, "wavefront.query is required", id="no-query"),
        pytest.param(
            {"address": "ftp://wf", "query": "q"}, "Wavefront address 'ftp://wf' is not a host name", id="ftp"
        ),
    ],
)
async def test_configuration_errors(
    make: Callable[[Credentials], WavefrontProvider], config: dict[str, Any], message: str
) -> None:
    m = await make(Credentials(environ={"WAVEFRONT_TOKEN": TOKEN})).measure(
        Metric.model_validate({"name": "m", "provider": {"wavefront": config}})
    )
    assert m.phase == AnalysisPhase.ERROR and m.message is not None and m.message.startswith(message)


async def test_timeout(wavefront: Wavefront, make: Callable[[Credentials], WavefrontProvider]) -> None:
    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(5)
        return web.json_response({})

    wavefront.reply = slow
    credentials, _ = tokens(wavefront.url)
    provider = make(credentials)
    provider.timeout = 0.3
    m = await provider.measure(metric(wavefront.url))
    assert m.message == f"Wavefront request to {wavefront.url} timed out after 0.3s"


async def test_huge_body_is_refused(
    wavefront: Wavefront, make: Callable[[Credentials], WavefrontProvider]
) -> None:
    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b'{"timeseries": [{"data": [')
        point = f"[{T}, 1.0],".encode()
        for _ in range(12):
            await response.write(point * (1024 * 1024 // len(point) + 1))
        await response.write_eof()
        return response

    wavefront.reply = huge
    credentials, _ = tokens(wavefront.url)
    m = await make(credentials).measure(metric(wavefront.url))
    assert m.message == f"Wavefront response from {wavefront.url} is larger than 10 MiB"


async def test_connection_refused(make: Callable[[Credentials], WavefrontProvider]) -> None:
    address = unused_url()
    credentials, _ = tokens(address)
    m = await make(credentials).measure(metric(address))
    assert m.phase == AnalysisPhase.ERROR and m.message is not None
    assert m.message.startswith(f"Wavefront request to {address} failed: ")
    assert_no_token(m.message)


WAVEFRONT_GO = Source(ARGO_ROLLOUTS, "metricproviders/wavefront/wavefront.go", ARGO_ROLLOUTS_COMMIT)


@pytest.mark.parametrize(
    "fragment",
    [
        pytest.param('WavefrontTokensSecretName = "wavefront-api-tokens"', id="secret"),
        pytest.param("StartTime:               strconv.FormatInt(startTime.Unix()*1000, 10)", id="start-ms"),
        pytest.param("EndTime:                 strconv.FormatInt(startTime.Unix()*1000, 10)", id="end-ms"),
        pytest.param('MaxPoints:               "1"', id="one-point"),
        pytest.param('Granularity:             "s"', id="seconds"),
        pytest.param("SeriesOutsideTimeWindow: true", id="outside-window"),
        pytest.param('fmt.Sprintf("%.2f", value)', id="value-format"),
        pytest.param('newMeasurement.Metadata["drift"]', id="drift"),
        pytest.param('fmt.Errorf("No TimeSeries found in response from Wavefront")', id="no-series"),
        pytest.param('errors.New("API token not found")', id="no-token"),
    ],
)
def test_semantics_match_argos_source(fragment: str) -> None:
    assert fragment in argo_file(WAVEFRONT_GO)


def test_module_doctests() -> None:
    result = doctest.testmod(analysis.providers.wavefront)
    assert result.attempted >= 1 and result.failed == 0


async def test_replayed_run_asks_about_each_instant(
    wavefront: Wavefront, make: Callable[[Credentials], WavefrontProvider]
) -> None:
    """`rollouts analyze --at`: the runner's virtual clock hands each measurement's instant to the provider."""

    async def at_instant(request: web.Request) -> web.StreamResponse:
        start = int(request.query["s"]) // 1000
        rate = 0.99 if start - T < 120 else 0.5  # degrades from the third minute
        return web.json_response(chart(ts([start - 2, rate], [start - 62, 1.0])))

    wavefront.reply = at_instant
    credentials, _ = tokens(wavefront.url)
    spec = AnalysisRunSpec.model_validate(
        {
            "metrics": [
                {
                    "name": "success-rate",
                    "interval": "1m",
                    "count": 4,
                    "successCondition": "result >= 0.95",
                    "provider": {"wavefront": {"address": wavefront.url, "query": QUERY}},
                }
            ]
        }
    )
    status = await run_to_completion(spec, {"wavefront": make(credentials)}, VirtualClock(AT))
    starts = [int(dict(parse_qsl(s.raw_query))["s"]) // 1000 - T for s in wavefront.seen]
    assert starts == [0, 60, 120]  # failureLimit 0: the first failure ends the run
    (result,) = status.metric_results or []
    assert [m.value for m in result.measurements] == ["0.99", "0.99", "0.50"]
    assert [m.phase for m in result.measurements] == [AnalysisPhase.SUCCESSFUL] * 2 + [AnalysisPhase.FAILED]
    assert [(m.metadata or {}).get("drift") for m in result.measurements] == ["-2"] * 3
    assert status.phase == AnalysisPhase.FAILED
