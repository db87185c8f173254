"""The SkyWalking provider against a loopback aiohttp server speaking SkyWalking's GraphQL over HTTP.

Each test asserts the request Argo's client (machinebox/graphql, JSON mode) would send — POST /graphql, its
headers, the query and the `$duration` variable — and answers with the shapes an OAP server gives: `data`,
`data: null`, `errors`, a gateway's 429 or 5xx, no answer at all.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

import pytest
from aiohttp import web

from analysis.models import AnalysisPhase, AnalysisRunSpec, Metric
from analysis.providers.skywalking import SkyWalkingProvider, go_json, graphql_duration
from analysis.runner import reconcile_run
from tests.fixtures.prometheus import unused_url

P = AnalysisPhase
T0 = datetime(2026, 3, 1, 9, 0, 42, tzinfo=UTC)

APDEX_QUERY = """query queryData($duration: Duration!) {
  service_apdex: readMetricsValues(
    condition: { name: "service_apdex", entity: { scope: Service, serviceName: "api", normal: true } },
    duration: $duration) {
      label values { values { value } }
    }
}"""

APDEX_DATA = {
    "service_apdex": {
        "label": None,
        "values": {"values": [{"value": 9950}, {"value": 9990}, {"value": 10000}]},
    }
}


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


Answer = Callable[[], web.StreamResponse]


@dataclass
class OAP:
    """A SkyWalking OAP's GraphQL endpoint: records each request, answers with the next queued answer."""

    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    delay: float = 0.0

    def answer(self, payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.answers.append(lambda: web.json_response(payload, status=status, headers=headers))

    def answer_text(self, text: str, status: int, headers: dict[str, str] | None = None) -> None:
        self.answers.append(lambda: web.Response(text=text, status=status, headers=headers))


@pytest.fixture
async def oap() -> AsyncIterator[OAP]:
    backend = OAP()

    async def graphql(request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        backend.seen.append(
            Seen(request.method, request.path, dict(request.query), dict(request.headers), json.loads(raw))
        )
        if backend.delay:
            await asyncio.sleep(backend.delay)
        return backend.answers.pop(0)() if backend.answers else web.json_response({"data": APDEX_DATA})

    app = web.Application()
    app.router.add_route("*", "/graphql", graphql)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    backend.url = f"http://127.0.0.1:{port}"
    yield backend
    await runner.cleanup()


@pytest.fixture
async def provider() -> AsyncIterator[SkyWalkingProvider]:
    p = SkyWalkingProvider(zone=UTC, clock=lambda: T0)
    yield p
    await p.aclose()


def metric(address: str, **config: Any) -> Metric:
    body = {"address": address, "query": APDEX_QUERY, "interval": "5m", **config}
    return Metric.model_validate({"name": "apdex", "provider": {"skywalking": body}})


async def test_request_is_argos_graphql_post(oap: OAP, provider: SkyWalkingProvider) -> None:
    m = await provider.measure(metric(oap.url))
    assert m.phase is None and m.has_result
    [seen] = oap.seen
    assert (seen.method, seen.path, seen.query) == ("POST", "/graphql", {})
    assert seen.headers["Content-Type"] == "application/json; charset=utf-8"
    assert seen.headers["Accept"] == "application/json; charset=utf-8"
    assert seen.body == {
        "query": APDEX_QUERY,
        "variables": {"duration": {"start": "2026-03-01 0855", "end": "2026-03-01 0900", "step": "MINUTE"}},
    }


@pytest.mark.parametrize(
    ("interval", "zone", "start", "end"),
    [
        pytest.param("5m", UTC, "2026-03-01 0855", "2026-03-01 0900", id="5m-utc"),
        pytest.param("3m", UTC, "2026-03-01 0857", "2026-03-01 0900", id="docs-3m"),
        pytest.param("90s", UTC, "2026-03-01 0859", "2026-03-01 0900", id="90s-truncated-to-minutes"),
        pytest.param("1h", UTC, "2026-03-01 0800", "2026-03-01 0900", id="1h"),
        pytest.param("24h", UTC, "2026-02-28 0900", "2026-03-01 0900", id="a-day-back"),
        pytest.param(
            "5m", timezone(timedelta(hours=2)), "2026-03-01 1055", "2026-03-01 1100", id="local-zone-plus-2"
        ),
    ],
)
async def test_duration_window(oap: OAP, interval: str, zone: tzinfo, start: str, end: str) -> None:
    provider = SkyWalkingProvider(zone=zone, clock=lambda: T0)
    try:
        await provider.measure(metric(oap.url, interval=interval))
    finally:
        await provider.aclose()
    assert oap.seen[0].body["variables"]["duration"] == {"start": start, "end": end, "step": "MINUTE"}


async def test_replay_asks_about_the_window_before_at(oap: OAP, provider: SkyWalkingProvider) -> None:
    at = datetime(2025, 12, 24, 18, 30, 5, tzinfo=UTC)
    await provider.measure(metric(oap.url, interval="10m"), at=at)
    assert oap.seen[0].body["variables"]["duration"] == {
        "start": "2025-12-24 1820",
        "end": "2025-12-24 1830",
        "step": "MINUTE",
    }


async def test_address_trailing_slash(oap: OAP, provider: SkyWalkingProvider) -> None:
    await provider.measure(metric(oap.url + "/"))
    assert oap.seen[0].path == "/graphql"


async def test_result_is_data_as_go_decodes_it(oap: OAP, provider: SkyWalkingProvider) -> None:
    m = await provider.measure(metric(oap.url))
    assert m.result == {
        "service_apdex": {
            "label": None,
            "values": {"values": [{"value": 9950.0}, {"value": 9990.0}, {"value": 10000.0}]},
        }
    }
    assert all(isinstance(v["value"], float) for v in m.result["service_apdex"]["values"]["values"])
    assert m.value == (
        '{"service_apdex":{"label":null,"values":{"values":[{"value":9950},{"value":9990},{"value":10000}]}}}'
    )


@pytest.mark.parametrize(
    ("data", "value"),
    [
        pytest.param({"b": 1, "a": 0.5}, '{"a":0.5,"b":1}', id="keys-sorted"),
        pytest.param({"x": "<b>&"}, '{"x":"\\u003cb\\u003e\\u0026"}', id="html-escaped"),
        pytest.param({"tiny": 1e-7, "big": 1e21}, '{"big":1e+21,"tiny":1e-7}', id="go-exponents"),
        pytest.param({"n": 0.00001}, '{"n":0.00001}', id="plain-small"),
        pytest.param([{"count": 10}], '[{"count":10}]', id="list"),
        pytest.param({}, "{}", id="empty-object"),
        pytest.param({"s": "é"}, '{"s":"é"}', id="utf8-kept"),
    ],
)
async def test_value_is_go_json(oap: OAP, provider: SkyWalkingProvider, data: Any, value: str) -> None:
    oap.answer({"data": data})
    m = await provider.measure(metric(oap.url))
    assert m.value == value
    assert go_json(data) == value


@pytest.mark.parametrize(
    ("condition", "phase"),
    [
        pytest.param(
            "all(result.service_apdex.values.values, {asFloat(.value) >= 9900})", P.SUCCESSFUL, id="docs"
        ),
        pytest.param("all(result.service_apdex.values.values, {.value >= 9995})", P.FAILED, id="below"),
        pytest.param("len(result.service_apdex.values.values) == 3", P.SUCCESSFUL, id="len"),
    ],
)
async def test_conditions_through_the_runner(
    oap: OAP, provider: SkyWalkingProvider, condition: str, phase: AnalysisPhase
) -> None:
    """The docs' template: the runner evaluates successCondition on the GraphQL `data`."""
    spec = AnalysisRunSpec.model_validate(
        {
            "metrics": [
                {
                    "name": "apdex",
                    "successCondition": condition,
                    "provider": {"skywalking": {"address": oap.url, "query": APDEX_QUERY, "interval": "3m"}},
                }
            ]
        }
    )
    step = await reconcile_run(spec, {"skywalking": provider}, T0)
    result = step.status.metric_result("apdex")
    assert result is not None and result.measurements[0].phase is phase
    assert step.status.phase is phase


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        pytest.param(
            lambda o: o.answer({"data": None}), "no results returned from SkyWalking query", id="data-null"
        ),
        pytest.param(lambda o: o.answer({}), "no results returned from SkyWalking query", id="no-data"),
        pytest.param(
            lambda o: o.answer({"errors": [{"message": "Field 'nope' in type 'Query' is undefined"}]}),
            "graphql: Field 'nope' in type 'Query' is undefined",
            id="graphql-errors",
        ),
        pytest.param(
            lambda o: o.answer(
                {"data": {"x": 1}, "errors": [{"message": "first", "path": ["x"]}, {"message": "second"}]}
            ),
            "graphql: first",
            id="errors-with-data-first-error",
        ),
        pytest.param(
            lambda o: o.answer({"data": None, "errors": [{"message": "boom"}]}, status=500),
            "graphql: boom",
            id="500-with-errors",
        ),
        pytest.param(
            lambda o: o.answer_text("slow down", 429, {"Retry-After": "30"}),
            "graphql: server returned a non-200 status code: 429 (Retry-After: 30s)",
            id="429-retry-after",
        ),
        pytest.param(
            lambda o: o.answer_text("<html>bad gateway</html>", 502),
            "graphql: server returned a non-200 status code: 502",
            id="502-html",
        ),
        pytest.param(
            lambda o: o.answer({"message": "overloaded"}, status=503, headers={"Retry-After": "5"}),
            "graphql: server returned a non-200 status code: 503 (Retry-After: 5s)",
            id="503-json-without-data",
        ),
        pytest.param(lambda o: o.answer_text("not json", 200), "decoding response: ", id="200-not-json"),
        pytest.param(
            lambda o: o.answer_text('{"data": {"x": 1e400}}', 200),
            "decoding response: json: cannot unmarshal number 1e400 into Go value of type float64",
            id="number-out-of-range",
        ),
        pytest.param(
            lambda o: o.answer_text('{"data": {"x": NaN}}', 200),
            "decoding response: invalid character 'N'",
            id="nan-is-not-json",
        ),
        pytest.param(
            lambda o: o.answer([1, 2]), "decoding response: json: cannot unmarshal array", id="200-array"
        ),
    ],
)
async def test_failed_answers_are_errors(
    oap: OAP, provider: SkyWalkingProvider, answer: Callable[[OAP], None], message: str
) -> None:
    answer(oap)
    m = await provider.measure(metric(oap.url))
    assert m.phase is P.ERROR
    assert m.message is not None and m.message.startswith(message), m.message
    assert not m.has_result


async def test_non_200_with_data_is_read_as_argo_reads_it(oap: OAP, provider: SkyWalkingProvider) -> None:
    """machinebox/graphql looks at the status only when the body does not decode."""
    oap.answer({"data": {"count": 10}}, status=206)
    m = await provider.measure(metric(oap.url))
    assert m.phase is None and m.result == {"count": 10.0} and m.value == '{"count":10}'


@pytest.mark.parametrize(
    ("config", "message"),
    [
        pytest.param({"interval": None}, 'skywalking.interval: time: invalid duration ""', id="no-interval"),
        pytest.param({"interval": "5 minutes"}, "skywalking.interval: time: ", id="bad-interval"),
        pytest.param({"address": ""}, "skywalking.address is not a http(s) URL: ''", id="no-address"),
        pytest.param({"address": "oap:12800"}, "skywalking.address is not a http(s) URL", id="no-scheme"),
        pytest.param({"query": ""}, "skywalking.query is required", id="no-query"),
        pytest.param({"query": 3}, "skywalking.query must be a string, got 3", id="query-not-string"),
        pytest.param(
            {"step": "HOUR"}, "skywalking.step is not a field of the skywalking provider", id="unknown"
        ),
    ],
)
async def test_configuration_errors_name_the_field(
    oap: OAP, provider: SkyWalkingProvider, config: dict[str, Any], message: str
) -> None:
    body: dict[str, Any] = {"address": oap.url, "query": APDEX_QUERY, "interval": "5m", **config}
    body = {k: v for k, v in body.items() if v is not None}
    m = await provider.measure(Metric.model_validate({"name": "x", "provider": {"skywalking": body}}))
    assert m.phase is P.ERROR and m.message is not None and m.message.startswith(message), m.message
    assert oap.seen == []


async def test_timeout(oap: OAP) -> None:
    oap.delay = 5
    provider = SkyWalkingProvider(zone=UTC, clock=lambda: T0, timeout=0.3)
    try:
        m = await provider.measure(metric(oap.url))
    finally:
        await provider.aclose()
    assert m.phase is P.ERROR
    assert m.message == f'Post "{oap.url}/graphql": context deadline exceeded (no answer within 0.3s)'


async def test_connection_refused(provider: SkyWalkingProvider) -> None:
    url = unused_url()
    m = await provider.measure(metric(url))
    assert m.phase is P.ERROR and m.message is not None and m.message.startswith(f'Post "{url}/graphql": ')


async def test_resume_terminate_and_metadata_are_argos_no_ops(provider: SkyWalkingProvider) -> None:
    from analysis.models import Measurement

    in_flight = Measurement(phase=P.RUNNING, started_at=T0)
    m = metric("http://oap:12800")
    assert await provider.resume(m, in_flight) is in_flight
    assert await provider.terminate(m, in_flight) is in_flight
    assert provider.metadata(m) is None
    assert provider.kind == "skywalking"


def test_graphql_duration_naive_is_utc() -> None:
    assert graphql_duration(datetime(2026, 1, 2, 3, 4), timedelta(minutes=1), UTC) == {
        "start": "2026-01-02 0303",
        "end": "2026-01-02 0304",
        "step": "MINUTE",
    }


async def test_answer_is_decoded_off_the_event_loop(
    oap: OAP, provider: SkyWalkingProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Up to 10 MiB chosen by the metric's own server takes seconds to decode and marshal: never on the loop
    that serves every other namespace."""
    import threading

    import analysis.providers.skywalking as skywalking

    decoded_in: list[int] = []
    decode = skywalking.go_decode

    def recording(content: bytes | str) -> Any:
        decoded_in.append(threading.get_ident())
        return decode(content)

    monkeypatch.setattr(skywalking, "go_decode", recording)
    m = await provider.measure(metric(oap.url))
    assert m.result == APDEX_DATA
    assert decoded_in and threading.get_ident() not in decoded_in


async def test_deeply_nested_answer_is_an_error(oap: OAP, provider: SkyWalkingProvider) -> None:
    oap.answer_text('{"data": ' + "[" * 100_000 + "]" * 100_000 + "}", 200)
    m = await provider.measure(metric(oap.url))
    assert m.phase is P.ERROR
    assert m.message == "decoding response: the JSON is nested too deeply"
