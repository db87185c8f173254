"""The InfluxDB provider against a loopback aiohttp server speaking InfluxDB's v2 query API (annotated CSV)."""

from __future__ import annotations

import asyncio
import doctest
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web

import analysis.providers.influxdb
from analysis.models import AnalysisPhase, Metric
from analysis.providers.credentials import Credentials, CredentialsError
from analysis.providers.influxdb import TIMEOUT_SECONDS as INFLUX_TIMEOUT
from analysis.providers.influxdb import InfluxdbProvider, flux_values, go_sprint
from analysis.providers.throttling import LimiterRegistry
from tests.fixtures.argo_sources import ARGO_ROLLOUTS, ARGO_ROLLOUTS_COMMIT, Source, argo_file
from tests.fixtures.prometheus import unused_url

TOKEN = "tok-S3cr3t/value+with=chars"
Reply = Callable[[web.Request], Awaitable[web.StreamResponse]]

HEADER = (
    "#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,double,string,string\r\n"
    "#group,false,false,true,true,false,false,true,true\r\n"
    "#default,_result,,,,,,,\r\n"
    ",result,table,_start,_stop,_time,_value,_field,_measurement\r\n"
)


def rows(*values: str) -> str:
    """An annotated-CSV answer of one table whose `_value`s (doubles) are `values`."""
    lines = [
        f",,0,2024-01-01T00:00:00Z,2024-01-01T00:15:00Z,2024-01-01T00:0{i}:00Z,{v},rate,errors\r\n"
        for i, v in enumerate(values)
    ]
    return HEADER + "".join(lines) + "\r\n"


def table(datatype: str, *cells: str, default: str = "") -> str:
    """A minimal annotated-CSV table with a `_value` column of `datatype`."""
    head = f"#datatype,string,long,{datatype}\r\n#group,false,false,false\r\n#default,_result,,{default}\r\n"
    return head + ",result,table,_value\r\n" + "".join(f",,0,{c}\r\n" for c in cells) + "\r\n"


ERROR_TABLE = (
    "#datatype,string,string\r\n#group,true,true\r\n#default,,\r\n,error,reference\r\n"
    ',"failed to execute query: runtime error @4:6-4:52: filter: type conflict: int != string",897\r\n\r\n'
)


@dataclass
class Seen:
    method: str
    path: str
    raw_query: str
    headers: dict[str, str]
    body: Any


@dataclass
class Influx:
    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    reply: Reply | None = None

    def answer(
        self,
        text: str,
        status: int = 200,
        content_type: str = "text/csv",
        headers: dict[str, str] | None = None,
        gzip: bool = False,
    ) -> None:
        async def reply(request: web.Request) -> web.StreamResponse:
            response = web.Response(status=status, text=text, content_type=content_type, headers=headers)
            if gzip:
                response.enable_compression()
            return response

        self.reply = reply


@pytest.fixture
async def influx() -> AsyncIterator[Influx]:
    backend = Influx()
    backend.answer(rows("0.005", "0.01"))

    async def handle(request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        backend.seen.append(
            Seen(
                request.method,
                request.path,
                request.raw_path.partition("?")[2],
                dict(request.headers),
                json.loads(raw) if raw else None,
            )
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


def secret(address: str, **extra: str) -> dict[str, str]:
    return {"address": address, "authToken": TOKEN, "org": "my org", **extra}


@pytest.fixture
async def make() -> AsyncIterator[Callable[[Credentials], InfluxdbProvider]]:
    made: list[InfluxdbProvider] = []

    def build(credentials: Credentials) -> InfluxdbProvider:
        provider = InfluxdbProvider(limiters=LimiterRegistry(), credentials=credentials)
        made.append(provider)
        return provider

    yield build
    for provider in made:
        await provider.aclose()


def metric(query: Any = 'from(bucket: "app") |> range(start: -15m)', **config: Any) -> Metric:
    return Metric.model_validate({"name": "error-rate", "provider": {"influxdb": {"query": query, **config}}})


def in_cluster(address: str, profile: str = "influxdb", **extra: str) -> tuple[Credentials, Secrets]:
    secrets = Secrets({("argo-rollouts", profile): secret(address, **extra)})
    return Credentials(lookup=secrets, namespace="argo-rollouts", environ={}), secrets


def assert_no_token(*texts: str | None) -> None:
    for text in texts:
        assert TOKEN not in (text or "")
        assert "S3cr3t" not in (text or "")


async def test_request_is_the_go_clients_query(
    influx: Influx, make: Callable[[Credentials], InfluxdbProvider]
) -> None:
    credentials, secrets = in_cluster(influx.url)
    m = await make(credentials).measure(metric())
    assert (m.phase, m.value, m.result) == (None, "[0.005 0.01]", [0.005, 0.01])
    assert secrets.asked == [("argo-rollouts", "influxdb")]
    seen = influx.seen[-1]
    assert (seen.method, seen.path, seen.raw_query) == ("POST", "/api/v2/query", "org=my+org")
    assert seen.headers["Authorization"] == f"Token {TOKEN}"
    assert seen.headers["Content-Type"] == "application/json"
    assert "gzip" in seen.headers["Accept-Encoding"]
    assert seen.body == {
        "dialect": {"annotations": ["datatype", "group", "default"], "delimiter": ",", "header": True},
        "query": 'from(bucket: "app") |> range(start: -15m)',
        "type": "flux",
    }


async def test_profile_names_the_secret(
    influx: Influx, make: Callable[[Credentials], InfluxdbProvider]
) -> None:
    credentials, secrets = in_cluster(influx.url, profile="my-influxdb-secret")
    m = await make(credentials).measure(metric(profile="my-influxdb-secret"))
    assert m.value == "[0.005 0.01]" and secrets.asked == [("argo-rollouts", "my-influxdb-secret")]


async def test_address_path_is_resolved_like_the_go_client(
    influx: Influx, make: Callable[[Credentials], InfluxdbProvider]
) -> None:
    credentials, _ = in_cluster(f"{influx.url}/influx/")
    await make(credentials).measure(metric())
    assert influx.seen[-1].path == "/influx/api/v2/query"


async def test_gzip_answer(influx: Influx, make: Callable[[Credentials], InfluxdbProvider]) -> None:
    influx.answer(rows(*(str(i) for i in range(5))) * 50, gzip=True)
    credentials, _ = in_cluster(influx.url)
    m = await make(credentials).measure(metric())
    assert m.phase is None and len(m.result) == 250


@pytest.mark.parametrize(
    ("body", "value", "result"),
    [
        pytest.param(rows("0.5"), "[0.5]", [0.5], id="double"),
        pytest.param(table("long", "12", "-3"), "[12 -3]", [12, -3], id="long"),
        pytest.param(
            table("unsignedLong", "18446744073709551615"), "[18446744073709551615]", [2**64 - 1], id="ulong"
        ),
        pytest.param(
            table("boolean", "true", "false", "TRUE"), "[true false true]", [True, False, True], id="bool"
        ),
        pytest.param(table("string", "ok", '"a,b"'), "[ok a,b]", ["ok", "a,b"], id="string"),
        pytest.param(
            table("double", "", "1e6", "1234567.5"),
            "[<nil> 1e+06 1.2345675e+06]",
            [None, 1e6, 1234567.5],
            id="null-and-big",
        ),
        pytest.param(table("double", "", default="0.25"), "[0.25]", [0.25], id="default-fills-empty"),
        pytest.param(table("double", "NaN"), "[NaN]", "nan", id="nan"),
        pytest.param(
            table("duration", "1h30m"), "[1h30m0s]", [timedelta(hours=1, minutes=30)], id="duration"
        ),
        pytest.param(
            table("dateTime:RFC3339", "2024-01-01T10:00:00Z"),
            "[2024-01-01 10:00:00 +0000 UTC]",
            [datetime(2024, 1, 1, 10, tzinfo=UTC)],
            id="datetime",
        ),
        pytest.param(rows("0.1") + table("long", "7"), "[0.1 7]", [0.1, 7], id="two-tables"),
        pytest.param(
            "#datatype,string,long,double\r\n#group,false,false,false\r\n#default,_result,,\r\n"
            ",result,table,_other\r\n,,0,1\r\n",
            "[<nil>]",
            [None],
            id="no-value-column",
        ),
    ],
)
async def test_values(
    influx: Influx, make: Callable[[Credentials], InfluxdbProvider], body: str, value: str, result: Any
) -> None:
    influx.answer(body)
    credentials, _ = in_cluster(influx.url)
    m = await make(credentials).measure(metric())
    assert m.phase is None and m.value == value, m.message
    if result == "nan":
        assert m.result[0] != m.result[0]
    else:
        assert m.result == result


@pytest.mark.parametrize(
    ("status", "body", "content_type", "headers", "message"),
    [
        pytest.param(200, "", "text/csv", None, "no results returned from flux query", id="empty"),
        pytest.param(200, "\r\n", "text/csv", None, "no results returned from flux query", id="blank-line"),
        pytest.param(
            200, HEADER + "\r\n", "text/csv", None, "no results returned from flux query", id="no-rows"
        ),
        pytest.param(
            200,
            ERROR_TABLE,
            "text/csv",
            None,
            "failed to execute query: runtime error @4:6-4:52: filter: type conflict: int != string,897",
            id="error-table",
        ),
        pytest.param(
            200,
            '{"not": "csv", "at": "all"}',
            "text/csv",
            None,
            "parsing error, annotations not found",
            id="not-csv",
        ),
        pytest.param(
            200,
            "#group,false\r\n,_value\r\n,1\r\n",
            "text/csv",
            None,
            "parsing error, datatype annotation not found",
            id="no-datatype",
        ),
        pytest.param(
            200,
            table("double", "abc"),
            "text/csv",
            None,
            "_value: cannot read 'abc' as double",
            id="bad-double",
        ),
        pytest.param(
            400,
            json.dumps(
                {"code": "invalid", "message": "compilation failed: error @1:1-1:4: undefined identifier foo"}
            ),
            "application/json",
            None,
            "invalid: compilation failed: error @1:1-1:4: undefined identifier foo",
            id="400-json",
        ),
        pytest.param(
            401,
            json.dumps({"code": "unauthorized", "message": "unauthorized access"}),
            "application/json",
            None,
            "unauthorized: unauthorized access",
            id="401",
        ),
        pytest.param(
            429,
            "",
            "application/json",
            {"Retry-After": "30"},
            "too many requests: exceeded rate limit (Retry-After: 30)",
            id="429-retry-after",
        ),
        pytest.param(
            503, "", "application/json", None, "unavailable: service temporarily unavailable", id="503"
        ),
        pytest.param(502, "bad gateway", "text/plain", None, "502 Bad Gateway: bad gateway", id="502-text"),
        pytest.param(
            500,
            json.dumps({"code": "internal error", "message": "panic"}),
            "application/json",
            None,
            "internal error: panic",
            id="500-json",
        ),
    ],
)
async def test_errors(
    influx: Influx,
    make: Callable[[Credentials], InfluxdbProvider],
    status: int,
    body: str,
    content_type: str,
    headers: dict[str, str] | None,
    message: str,
) -> None:
    influx.answer(body, status, content_type, headers)
    credentials, _ = in_cluster(influx.url)
    m = await make(credentials).measure(metric())
    assert m.phase == AnalysisPhase.ERROR and not m.has_result
    assert m.message is not None and m.message.startswith(message), m.message


async def test_token_echoed_by_the_server_is_redacted(
    influx: Influx, make: Callable[[Credentials], InfluxdbProvider]
) -> None:
    influx.answer(
        json.dumps({"code": "unauthorized", "message": f"token {TOKEN} ({json.dumps(TOKEN)}) is not valid"}),
        401,
        "application/json",
    )
    credentials, _ = in_cluster(influx.url)
    m = await make(credentials).measure(metric())
    assert m.phase == AnalysisPhase.ERROR and m.message is not None and "*****" in m.message
    assert_no_token(m.message, m.value)


async def test_token_in_a_result_is_redacted(
    influx: Influx, make: Callable[[Credentials], InfluxdbProvider]
) -> None:
    influx.answer(table("string", TOKEN))
    credentials, _ = in_cluster(influx.url)
    m = await make(credentials).measure(metric())
    assert m.result == ["*****"] and m.value == "[*****]"


@pytest.mark.parametrize(
    ("store", "fail", "message"),
    [
        pytest.param(
            {}, False, 'secrets "influxdb" not found: the Secret argo-rollouts/influxdb holds', id="no-secret"
        ),
        pytest.param(
            {("argo-rollouts", "influxdb"): {"address": "http://x", "org": "o"}},
            False,
            "authToken, org, or address not found in the Secret argo-rollouts/influxdb",
            id="no-token",
        ),
        pytest.param(
            {("argo-rollouts", "influxdb"): {"authToken": TOKEN, "org": "o"}},
            False,
            "authToken, org, or address not found in the Secret argo-rollouts/influxdb",
            id="no-address",
        ),
        pytest.param(
            {("argo-rollouts", "influxdb"): {"authToken": TOKEN, "org": "o", "address": "influx:8086"}},
            False,
            "InfluxDB address influx:8086 is not a http(s) URL",
            id="address-without-scheme",
        ),
        pytest.param(
            {},
            True,
            "the Secret argo-rollouts/influxdb could not be read: secrets is forbidden",
            id="unreadable",
        ),
    ],
)
async def test_secret_problems(
    make: Callable[[Credentials], InfluxdbProvider],
    store: dict[tuple[str, str], dict[str, str]],
    fail: bool,
    message: str,
) -> None:
    credentials = Credentials(lookup=Secrets(store, fail), namespace="argo-rollouts", environ={})
    m = await make(credentials).measure(metric())
    assert m.phase == AnalysisPhase.ERROR and m.message is not None and m.message.startswith(message), (
        m.message
    )
    assert_no_token(m.message)


@pytest.mark.parametrize(
    "names",
    [
        pytest.param(("INFLUXDB_ADDRESS", "INFLUXDB_TOKEN", "INFLUXDB_ORG"), id="influxdb-names"),
        pytest.param(("INFLUX_HOST", "INFLUX_TOKEN", "INFLUX_ORG"), id="influx-cli-names"),
    ],
)
async def test_environment_without_a_cluster(
    influx: Influx, make: Callable[[Credentials], InfluxdbProvider], names: tuple[str, str, str]
) -> None:
    environ = dict(zip(names, (influx.url, TOKEN, "my org"), strict=True))
    m = await make(Credentials(environ=environ)).measure(metric(profile="ignored-without-a-cluster"))
    assert m.value == "[0.005 0.01]"
    assert influx.seen[-1].headers["Authorization"] == f"Token {TOKEN}"


async def test_environment_missing(make: Callable[[Credentials], InfluxdbProvider]) -> None:
    m = await make(Credentials(environ={"INFLUXDB_TOKEN": TOKEN})).measure(metric())
    assert m.phase == AnalysisPhase.ERROR
    assert m.message == (
        "authToken, org, or address not found: without a cluster the InfluxDB connection comes from the "
        "environment (INFLUXDB_ADDRESS, INFLUXDB_TOKEN and INFLUXDB_ORG)"
    )


@pytest.mark.parametrize(
    ("config", "message"),
    [
        pytest.param({"query": ""}, "influxdb.query is required", id="no-query"),
        pytest.param(
            {"query": "x", "profile": 3}, "influxdb.profile must be the name of a Secret", id="bad-profile"
        ),
    ],
)
async def test_configuration_errors(
    make: Callable[[Credentials], InfluxdbProvider], config: dict[str, Any], message: str
) -> None:
    m = await make(Credentials(environ={})).measure(
        Metric.model_validate({"name": "m", "provider": {"influxdb": config}})
    )
    assert m.phase == AnalysisPhase.ERROR and m.message is not None and m.message.startswith(message)


@pytest.mark.parametrize(
    ("at", "now"),
    [
        pytest.param(datetime(2024, 1, 1, tzinfo=UTC), "2024-01-01T00:00:00Z", id="whole-second"),
        pytest.param(
            datetime(2024, 1, 1, 0, 0, 1, 250000, tzinfo=UTC), "2024-01-01T00:00:01.25Z", id="fraction"
        ),
    ],
)
async def test_replay_sets_now(
    influx: Influx, make: Callable[[Credentials], InfluxdbProvider], at: datetime, now: str
) -> None:
    credentials, _ = in_cluster(influx.url)
    m = await make(credentials).measure(metric(), at=at)
    assert m.phase is None
    assert influx.seen[-1].body["now"] == now


async def test_timeout(influx: Influx, make: Callable[[Credentials], InfluxdbProvider]) -> None:
    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(5)
        return web.Response(text="")

    influx.reply = slow
    credentials, _ = in_cluster(influx.url)
    provider = make(credentials)
    provider.timeout = 0.3
    m = await provider.measure(metric())
    assert m.message == f"InfluxDB request to {influx.url} timed out after 0.3s"


async def test_huge_body_is_refused(influx: Influx, make: Callable[[Credentials], InfluxdbProvider]) -> None:
    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/csv"})
        await response.prepare(request)
        await response.write(HEADER.encode())
        line = b",,0,2024-01-01T00:00:00Z,2024-01-01T00:15:00Z,2024-01-01T00:00:00Z,0.5,rate,errors\r\n"
        for _ in range(12):
            await response.write(line * (1024 * 1024 // len(line) + 1))
        await response.write_eof()
        return response

    influx.reply = huge
    credentials, _ = in_cluster(influx.url)
    m = await make(credentials).measure(metric())
    assert m.message == f"InfluxDB response from {influx.url} is larger than 10 MiB"


async def test_connection_refused(make: Callable[[Credentials], InfluxdbProvider]) -> None:
    address = unused_url()
    credentials, _ = in_cluster(address)
    m = await make(credentials).measure(metric())
    assert m.phase == AnalysisPhase.ERROR and m.message is not None
    assert m.message.startswith(f"InfluxDB request to {address} failed: ")
    assert_no_token(m.message)


def test_flux_values_state_machine() -> None:
    text = table("long", "1", "2") + table("string", "x")
    assert flux_values(text) == [1, 2, "x"]
    with pytest.raises(ValueError, match="row has different number of columns than the table: 2 vs 3"):
        flux_values(table("long", "1") + ",,0\r\n")


@pytest.mark.parametrize(
    ("values", "text"),
    [
        pytest.param(
            [0.1, 100000.0, 123456.0, 1234567.0, 1e-4, 1e-5],
            "[0.1 100000 123456 1.234567e+06 0.0001 1e-05]",
            id="floats",
        ),
        pytest.param([float("inf"), -float("inf"), -0.0], "[+Inf -Inf -0]", id="specials"),
        pytest.param([], "[]", id="empty"),
    ],
)
def test_go_sprint(values: list[Any], text: str) -> None:
    assert go_sprint(values) == text


INFLUXDB_GO = Source(ARGO_ROLLOUTS, "metricproviders/influxdb/influxdb.go", ARGO_ROLLOUTS_COMMIT)


@pytest.mark.parametrize(
    "fragment",
    [
        pytest.param('DefaultInfluxdbTokensSecretName = "influxdb"', id="secret"),
        pytest.param('influxdbToken                   = "authToken"', id="token-key"),
        pytest.param('influxdbOrg                     = "org"', id="org-key"),
        pytest.param('influxdbAddress                 = "address"', id="address-key"),
        pytest.param("defaultQueryTimeout             = 30 * time.Second", id="timeout-30s"),
        pytest.param("res = append(res, result.Record().Value())", id="every-value"),
        pytest.param('fmt.Errorf("no results returned from flux query")', id="no-results"),
        pytest.param('errors.New("authToken, org, or address not found")', id="missing"),
        pytest.param("return fmt.Sprint(res), status, err", id="value-format"),
    ],
)
def test_semantics_match_argos_source(fragment: str) -> None:
    assert fragment in argo_file(INFLUXDB_GO)
    assert INFLUX_TIMEOUT == 30


def test_module_doctests() -> None:
    result = doctest.testmod(analysis.providers.influxdb)
    assert result.attempted >= 2 and result.failed == 0


async def test_answer_is_read_off_the_event_loop(
    influx: Influx, make: Callable[[Credentials], InfluxdbProvider], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A million records (10 MiB of CSV from the Secret's server) take seconds to read and print: never on
    the loop that serves every other namespace."""
    import threading

    read_in: list[int] = []
    read = analysis.providers.influxdb.flux_values

    def recording(text: str) -> list[Any]:
        read_in.append(threading.get_ident())
        return read(text)

    monkeypatch.setattr(analysis.providers.influxdb, "flux_values", recording)
    influx.answer(rows("0.5"))
    credentials, _ = in_cluster(influx.url)
    m = await make(credentials).measure(metric())
    assert m.result == [0.5]
    assert read_in and threading.get_ident() not in read_in
