"""The Datadog provider against a loopback server speaking Datadog's v1 ``/api/v1/query`` and v2
``/api/v2/query/scalar`` wire formats, with credentials from fake Secrets and the environment."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from analysis.assess import evaluate_measurement
from analysis.models import AnalysisPhase, Metric
from analysis.providers.base import MetricProvider
from analysis.providers.datadog import (
    MAX_GROUPS_IN_METADATA,
    SECRET_NAME,
    DatadogProvider,
    go_json,
    parse_datadog,
)
from analysis.providers.throttling import TENANT, LimiterRegistry
from tests.analysis.fakes_datadog_newrelic import Secrets, Vendor, serve
from tests.fixtures.argo_sources import ARGO_ROLLOUTS, ARGO_ROLLOUTS_COMMIT, Source, argo_file

API_KEY = "dd-api-0123456789abcdef"
APP_KEY = "dd-app-fedcba9876543210"
AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
EPOCH = 1714564800  # AT


@pytest.fixture
async def vendor() -> AsyncIterator[Vendor]:
    async with serve() as server:
        yield server


@pytest.fixture
def secrets(vendor: Vendor) -> Secrets:
    return Secrets(
        {("argo-rollouts", "datadog"): {"address": vendor.url, "api-key": API_KEY, "app-key": APP_KEY}}
    )


@pytest.fixture
async def provider(secrets: Secrets) -> AsyncIterator[DatadogProvider]:
    p = DatadogProvider(limiters=LimiterRegistry(), credentials=secrets.credentials())
    yield p
    await p.aclose()


def metric(condition: str | None = None, **datadog: Any) -> Metric:
    spec: dict[str, Any] = {"name": "error-rate", "provider": {"datadog": datadog}}
    if condition:
        spec["successCondition"] = condition
    return Metric.model_validate(spec)


def v1(*points: list[Any]) -> dict[str, Any]:
    return {
        "status": "ok",
        "res_type": "time_series",
        "series": [{"metric": "requests.error.rate", "pointlist": list(points), "scope": "service:web"}],
        "from_date": 1714564500000,
        "to_date": 1714564800000,
    }


def number(*values: Any, name: str = "a") -> dict[str, Any]:
    return {"name": name, "type": "number", "values": list(values), "meta": {"unit": None}}


def group(*labels: list[str], name: str = "resource_name") -> dict[str, Any]:
    return {"name": name, "type": "group", "values": list(labels)}


def v2(*columns: dict[str, Any]) -> dict[str, Any]:
    return {"data": {"type": "scalar_response", "attributes": {"columns": list(columns)}}}


def no_key_in(*texts: str | None) -> None:
    for text in texts:
        assert API_KEY not in (text or "") and APP_KEY not in (text or "")


# --- requests ---------------------------------------------------------------------------------------------


async def test_v1_request_is_argo_s_get(provider: DatadogProvider, vendor: Vendor) -> None:
    vendor.answer(v1([1714564740000, 0.5]))
    m = await provider.measure(metric(query="sum:requests.error.rate{service:web} by {host}"), at=AT)
    assert m.phase is None and m.value == "0.5" and m.result == 0.5
    (seen,) = vendor.seen
    assert (seen.method, seen.path) == ("GET", "/api/v1/query")
    assert seen.query == {
        "from": str(EPOCH - 300),
        "to": str(EPOCH),
        "query": "sum:requests.error.rate{service:web} by {host}",
    }
    assert seen.headers["DD-API-KEY"] == API_KEY
    assert seen.headers["DD-APPLICATION-KEY"] == APP_KEY
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.body == b""


async def test_live_window_ends_now(provider: DatadogProvider, vendor: Vendor) -> None:
    vendor.answer(v1([1, 2]))
    before = int(time.time())
    await provider.measure(metric(query="q", interval="1m"))
    to = int(vendor.seen[0].query["to"])
    assert before <= to <= int(time.time()) + 1
    assert int(vendor.seen[0].query["from"]) == to - 60


@pytest.mark.parametrize(
    ("datadog", "queries", "formulas", "aggregator", "interval"),
    [
        pytest.param(
            {"apiVersion": "v2", "query": "avg:cpu{*}"},
            [("query", "avg:cpu{*}")],
            [],
            "last",
            300,
            id="single-query-named-query-default-aggregator",
        ),
        pytest.param(
            {
                "apiVersion": "v2",
                "interval": "10m",
                "aggregator": "sum",
                "queries": {"b": "sum:requests{*}.as_count()", "a": "sum:errors{*}.as_count()"},
                "formula": "a / b * 100",
            },
            [("a", "sum:errors{*}.as_count()"), ("b", "sum:requests{*}.as_count()")],
            [{"formula": "a / b * 100"}],
            "sum",
            600,
            id="queries-formula-aggregator",
        ),
    ],
)
async def test_v2_request_is_argo_s_scalar_post(
    provider: DatadogProvider,
    vendor: Vendor,
    datadog: dict[str, Any],
    queries: list[tuple[str, str]],
    formulas: list[dict[str, str]],
    aggregator: str,
    interval: int,
) -> None:
    vendor.answer(v2(number(0.25)))
    m = await provider.measure(metric(**datadog), at=AT)
    assert m.value == "0.25" and m.result == 0.25
    (seen,) = vendor.seen
    assert (seen.method, seen.path, seen.query) == ("POST", "/api/v2/query/scalar", {})
    assert seen.headers["DD-API-KEY"] == API_KEY and seen.headers["DD-APPLICATION-KEY"] == APP_KEY
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.json() == {
        "data": {
            "type": "scalar_request",
            "attributes": {
                "from": (EPOCH - interval) * 1000,
                "to": EPOCH * 1000,
                "queries": [
                    {"aggregator": aggregator, "data_source": "metrics", "name": n, "query": q}
                    for n, q in queries
                ],
                "formulas": formulas,
            },
        }
    }


# --- results ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "result", "value"),
    [
        pytest.param(v1([1, 0.1], [2, 0.0042]), 0.0042, "0.0042", id="last-point"),
        pytest.param(v1([1, 3], [2, 10]), 10.0, "10", id="integer-value"),
        pytest.param(v1([1, 1e-7]), 1e-7, "0.0000001", id="go-f-format"),
        pytest.param(v1([1, 0.5], [2, None]), 0.5, "0.5", id="trailing-null-skipped"),
        pytest.param(v1([1, None], [2, None]), None, '[{"pointlist":[[1,null],[2,null]]}]', id="all-null"),
        pytest.param(v1(), None, '[{"pointlist":[]}]', id="series-without-points"),
        pytest.param({"status": "ok", "series": []}, None, "[]", id="no-series"),
        pytest.param({"status": "ok"}, None, "null", id="series-missing"),
    ],
)
async def test_v1_results(
    provider: DatadogProvider, vendor: Vendor, body: Any, result: float | None, value: str
) -> None:
    vendor.answer(body)
    m = await provider.measure(metric(query="q"))
    assert (m.phase, m.message) == (None, None)
    assert m.has_result and m.result == result and m.value == value


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(v1([1, 2, 3]), "Datapoint does not have 2 values", id="three-values"),
        pytest.param(v1([1, "0.5"]), 'Could not parse JSON body: data point [1,"0.5"] is not', id="string"),
        pytest.param(
            '{"series": [{"pointlist": [[1, NaN]]}]}', "Could not parse JSON body: NaN is not", id="nan"
        ),
        pytest.param("<html>bad gateway</html>", "Could not parse JSON body: Expecting value", id="not-json"),
        pytest.param(
            {"status": "error", "error": "Rate limit of 300 requests in 3600 seconds reached"},
            "There were errors in your query: Rate limit of 300",
            id="status-error",
        ),
        pytest.param(
            {"series": {"a": 1}}, "Could not parse JSON body: series is not a list", id="series-object"
        ),
    ],
)
async def test_v1_bad_answers_are_errors(
    provider: DatadogProvider, vendor: Vendor, body: Any, message: str
) -> None:
    vendor.answer(body)
    m = await provider.measure(metric(query="q"))
    assert m.phase is AnalysisPhase.ERROR
    assert message in (m.message or "")


@pytest.mark.parametrize(
    ("body", "result", "value", "metadata"),
    [
        pytest.param(v2(number(0.01)), 0.01, "0.01", None, id="scalar"),
        pytest.param(v2(number(None, 2.5)), 2.5, "2.5", None, id="null-skipped"),
        pytest.param(
            v2({"name": "a", "values": [7]}, number(8, name="b")), 7.0, "7", None, id="legacy-untyped-first"
        ),
        pytest.param(v2(number(None)), None, "[]", None, id="only-null"),
        pytest.param(v2(), None, "[]", None, id="no-columns"),
        pytest.param({"data": {"attributes": {}}}, None, "[]", None, id="no-attributes"),
        pytest.param(
            v2(group(["GET /a"]), number(0.2)),
            [0.2],
            "[0.2]",
            {"groups": '[{"name":"GET /a","value":0.2}]'},
            id="grouped-one-is-a-list",
        ),
        pytest.param(
            v2(
                group(["prod"], ["prod"], ["dev"], name="env"),
                group(["a"], ["b"], ["c"]),
                number(1, None, 0.5),
            ),
            [1.0, 0.5],
            "[1,0.5]",
            {"groups": '[{"name":"prod,a","value":1},{"name":"dev,c","value":0.5}]'},
            id="two-tags-joined",
        ),
    ],
)
async def test_v2_results(
    provider: DatadogProvider,
    vendor: Vendor,
    body: Any,
    result: Any,
    value: str,
    metadata: dict[str, str] | None,
) -> None:
    vendor.answer(body)
    m = await provider.measure(metric(apiVersion="v2", query="q"))
    assert (m.phase, m.message) == (None, None)
    assert m.result == result and m.value == value and m.metadata == metadata


async def test_v2_many_groups_keep_both_extremes(provider: DatadogProvider, vendor: Vendor) -> None:
    vendor.answer(v2(group(*[[f"r{i}"] for i in range(150)]), number(*[float(i) for i in range(150)])))
    m = await provider.measure(metric(apiVersion="v2", query="q"))
    assert isinstance(m.result, list) and len(m.result) == 150
    assert m.metadata is not None and m.metadata["groups_truncated"] == "true"
    import json

    names = [g["name"] for g in json.loads(m.metadata["groups"])]
    assert (
        len(names) == 100
        and names[0] == "r0"
        and names[49] == "r49"
        and names[50] == "r100"
        and names[-1] == "r149"
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(
            {"data": {"errors": "Error parsing query: unexpected token"}},
            "There were errors in your query: Error parsing query: unexpected token",
            id="data-errors",
        ),
        pytest.param(
            {"data": None, "errors": "Query timed out"},
            "There were errors in your query: Query timed out",
            id="top-level-errors",
        ),
        pytest.param(
            v2(number("0.5")), 'could not parse numeric value "\\"0.5\\"" in column "a"', id="string-value"
        ),
        pytest.param(v2(number(True)), "could not parse numeric value", id="bool-value"),
        pytest.param(
            v2(group(["a"], []), number(1, 2)), "could not parse group label at index 1", id="empty-label"
        ),
        pytest.param(
            v2(group(["a"]), number(1, 2)), "could not parse group label at index 1", id="missing-label"
        ),
        pytest.param('{"data": {"attributes": {"columns": [{"values": [NaN]}]}}}', "NaN is not", id="nan"),
    ],
)
async def test_v2_bad_answers_are_errors(
    provider: DatadogProvider, vendor: Vendor, body: Any, message: str
) -> None:
    vendor.answer(body)
    m = await provider.measure(metric(apiVersion="v2", query="q"))
    assert m.phase is AnalysisPhase.ERROR
    assert message in (m.message or "")


@pytest.mark.parametrize(
    ("condition", "body", "phase"),
    [
        pytest.param("default(result, 0) < 0.05", v2(), AnalysisPhase.SUCCESSFUL, id="default-of-no-data"),
        pytest.param("result < 0.05", v2(), AnalysisPhase.ERROR, id="bare-no-data"),
        pytest.param("result < 0.05", v2(number(0.01)), AnalysisPhase.SUCCESSFUL, id="scalar"),
        pytest.param(
            "max(result) < 0.05", v2(group(["a"], ["b"]), number(0.01, 0.2)), AnalysisPhase.FAILED, id="max"
        ),
    ],
)
async def test_conditions_read_the_result(
    provider: DatadogProvider, vendor: Vendor, condition: str, body: Any, phase: AnalysisPhase
) -> None:
    vendor.answer(body)
    spec = metric(condition, apiVersion="v2", query="q")
    m = await provider.measure(spec)
    assert evaluate_measurement(spec, m.result)[0] is phase


# --- HTTP failures ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "headers", "message"),
    [
        pytest.param(401, {}, "received authentication error response code: 401", id="401"),
        pytest.param(403, {}, "received authentication error response code: 403", id="403"),
        pytest.param(429, {"Retry-After": "17"}, "received non 2xx response code: 429", id="429"),
        pytest.param(500, {}, "received non 2xx response code: 500", id="500"),
        pytest.param(202, {}, "received non 2xx response code: 202", id="202-is-not-200"),
    ],
)
@pytest.mark.parametrize("version", ["v1", "v2"])
async def test_statuses_are_errors(
    provider: DatadogProvider,
    vendor: Vendor,
    status: int,
    headers: dict[str, str],
    message: str,
    version: str,
) -> None:
    vendor.answer({"errors": ["Forbidden"]}, status=status, headers=headers)
    m = await provider.measure(metric(apiVersion=version, query="q"))
    assert m.phase is AnalysisPhase.ERROR
    assert (m.message or "").startswith(message)
    assert '{"errors": ["Forbidden"]}' in (m.message or "")
    assert ("(Retry-After: 17)" in (m.message or "")) is (status == 429)


@pytest.mark.parametrize("status", [401, 403, 500])
async def test_echoed_keys_are_redacted(provider: DatadogProvider, vendor: Vendor, status: int) -> None:
    vendor.echo_headers(status)
    m = await provider.measure(metric(query="q"))
    assert m.phase is AnalysisPhase.ERROR and "DD-API-KEY: *****" in (m.message or "")
    no_key_in(m.message, m.value)


async def test_slow_server_times_out_at_request_timeout(provider: DatadogProvider, vendor: Vendor) -> None:
    vendor.slow(3, v1([1, 1]))
    started = time.monotonic()
    m = await provider.measure(metric(query="q", requestTimeout="200ms"))
    assert time.monotonic() - started < 2
    assert m.phase is AnalysisPhase.ERROR
    assert "timed out after 0.2s" in (m.message or "")


async def test_huge_body_is_refused(provider: DatadogProvider, vendor: Vendor) -> None:
    vendor.huge(11 * 1024 * 1024)
    m = await provider.measure(metric(query="q"))
    assert m.phase is AnalysisPhase.ERROR and "larger than 10 MiB" in (m.message or "")


async def test_connection_refused_is_an_error(vendor: Vendor) -> None:
    secrets = Secrets(
        {
            ("argo-rollouts", "datadog"): {
                "address": "http://127.0.0.1:9",
                "api-key": API_KEY,
                "app-key": APP_KEY,
            }
        }
    )
    p = DatadogProvider(limiters=LimiterRegistry(), credentials=secrets.credentials())
    try:
        m = await p.measure(metric(query="q"))
    finally:
        await p.aclose()
    assert m.phase is AnalysisPhase.ERROR and "Datadog request to http://127.0.0.1:9/api/v1/query failed" in (
        m.message or ""
    )


# --- the template -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("datadog", "message"),
    [
        pytest.param(
            {}, "Must have either a query or queries. Please review the Analysis Template.", id="nothing"
        ),
        pytest.param(
            {"apiVersion": "v2", "query": "a", "queries": {"a": "x"}},
            "Cannot have both a query and queries. Please review the Analysis Template.",
            id="both",
        ),
        pytest.param(
            {"queries": {"a": "x"}},
            "Query is empty. API Version v1 only supports using the query parameter in your Analysis Template.",
            id="v1-queries",
        ),
        pytest.param(
            {"apiVersion": "v2", "query": "a", "formula": "a"},
            "Formula are only valid when queries are set. Please review the Analysis Template.",
            id="formula-without-queries",
        ),
        pytest.param(
            {"apiVersion": "v2", "queries": {"a": "x", "b": "y"}},
            "When multiple queries are provided you must include a formula.",
            id="queries-without-formula",
        ),
        pytest.param(
            {"query": "a", "aggregator": "sum"},
            "Aggregator is not supported in v1. Please review the Analysis Template.",
            id="v1-aggregator",
        ),
        pytest.param(
            {"apiVersion": "v2", "query": "a", "aggregator": "median"},
            "datadog.aggregator must be one of avg, min",
            id="unknown-aggregator",
        ),
        pytest.param({"apiVersion": "v3", "query": "a"}, "datadog.apiVersion must be v1 or v2", id="v3"),
        pytest.param(
            {"query": "a", "requestTimeout": "soon"},
            'Could not parse the request timeout: time: invalid duration "soon". Please review',
            id="bad-timeout",
        ),
        pytest.param(
            {"query": "a", "requestTimeout": "0s"},
            "Request timeout must be a positive duration (e.g. 30s). Please review the Analysis Template.",
            id="zero-timeout",
        ),
        pytest.param(
            {"query": "a", "interval": "5"}, 'datadog.interval "5" is not a duration', id="bad-interval"
        ),
        pytest.param(
            {"query": "a", "interval": "500ms"}, "datadog.interval must be a positive", id="short-interval"
        ),
        pytest.param({"query": 5}, "datadog.query must be a string, got 5", id="query-number"),
        pytest.param(
            {"apiVersion": "v2", "queries": ["a"]}, "datadog.queries must map query names", id="queries-list"
        ),
    ],
)
async def test_template_errors(
    provider: DatadogProvider, vendor: Vendor, datadog: dict[str, Any], message: str
) -> None:
    m = await provider.measure(metric(**datadog))
    assert m.phase is AnalysisPhase.ERROR
    assert (m.message or "").startswith(message)
    assert vendor.seen == []


def test_parse_defaults() -> None:
    parsed = parse_datadog({"query": "q"})
    assert (parsed.api_version, parsed.interval, parsed.timeout, parsed.aggregator) == (
        "v1",
        300,
        10.0,
        "last",
    )


# --- credentials ------------------------------------------------------------------------------------------


async def measure_with(
    secrets: Secrets,
    vendor: Vendor,
    environ: dict[str, str] | None = None,
    *,
    cluster: bool = True,
    tenant: str = "",
    **datadog: Any,
) -> tuple[Any, Secrets]:
    vendor.answer(v1([1, 0.5]))
    p = DatadogProvider(limiters=LimiterRegistry(), credentials=secrets.credentials(environ, cluster=cluster))
    token = TENANT.set(tenant)
    try:
        m = await p.measure(metric(query="q", **datadog))
    finally:
        TENANT.reset(token)
        await p.aclose()
    return m, secrets


def keys(vendor: Vendor, api: str = API_KEY, app: str = APP_KEY) -> dict[str, str]:
    return {"address": vendor.url, "api-key": api, "app-key": app}


@pytest.mark.parametrize(
    ("store", "environ", "ref", "tenant", "reads"),
    [
        pytest.param(
            {("argo-rollouts", "datadog")}, {}, None, "", [("argo-rollouts", "datadog")], id="default-secret"
        ),
        pytest.param(
            {("argo-rollouts", "mine")},
            {},
            {"name": "mine"},
            "apps",
            [("argo-rollouts", "mine")],
            id="secret-ref-controller-namespace",
        ),
        pytest.param(
            {("apps", "mine")},
            {},
            {"name": "mine", "namespaced": True},
            "apps",
            [("apps", "mine")],
            id="secret-ref-namespaced",
        ),
        pytest.param(
            {("argo-rollouts", "datadog")},
            {"DD_API_KEY": API_KEY, "DD_APP_KEY": APP_KEY, "DD_ADDRESS": "{url}"},
            None,
            "",
            [],
            id="environment-before-default-secret",
        ),
    ],
)
async def test_where_credentials_come_from(
    vendor: Vendor,
    store: set[tuple[str, str]],
    environ: dict[str, str],
    ref: dict[str, Any] | None,
    tenant: str,
    reads: list[tuple[str, str]],
) -> None:
    secrets = Secrets({where: keys(vendor) for where in store})
    env = {k: v.replace("{url}", vendor.url) for k, v in environ.items()}
    extra: dict[str, Any] = {"secretRef": ref} if ref else {}
    m, _ = await measure_with(secrets, vendor, env, tenant=tenant, **extra)
    assert (m.phase, m.value) == (None, "0.5")
    assert secrets.reads == reads
    assert vendor.seen[0].headers["DD-API-KEY"] == API_KEY


async def test_secret_ref_does_not_fall_back(vendor: Vendor) -> None:
    secrets = Secrets({("argo-rollouts", "datadog"): keys(vendor)})
    m, _ = await measure_with(
        secrets, vendor, {"DD_API_KEY": "x", "DD_APP_KEY": "y"}, secretRef={"name": "absent"}
    )
    assert m.phase is AnalysisPhase.ERROR
    assert m.message == (
        "failed to find the credentials for datadog metrics provider: looked in the Secret "
        "argo-rollouts/absent, which does not exist"
    )
    assert vendor.seen == []


@pytest.mark.parametrize(
    ("store", "environ", "ref", "cluster", "message"),
    [
        pytest.param(
            {},
            {},
            None,
            True,
            "failed to find the credentials for datadog metrics provider: looked in the environment (DD_API_KEY, "
            "DD_APP_KEY) and the Secret argo-rollouts/datadog, which does not exist",
            id="no-secret",
        ),
        pytest.param(
            {("argo-rollouts", "datadog"): {"api-key": API_KEY}},
            {"DD_API_KEY": API_KEY},
            None,
            True,
            "failed to find the credentials for datadog metrics provider: looked in the environment (DD_API_KEY, "
            "DD_APP_KEY) and the Secret argo-rollouts/datadog, which has no app-key",
            id="secret-without-app-key",
        ),
        pytest.param(
            {},
            {},
            {"namespaced": True},
            True,
            "secret name is required for namespaced credentials",
            id="ref-no-name",
        ),
        pytest.param(
            {},
            {"DD_API_KEY": API_KEY},
            None,
            False,
            "failed to find the credentials for datadog metrics provider: looked in the environment (DD_API_KEY, "
            "DD_APP_KEY)",
            id="no-cluster-no-app-key",
        ),
    ],
)
async def test_missing_credentials(
    vendor: Vendor,
    store: dict[tuple[str, str], dict[str, str]],
    environ: dict[str, str],
    ref: dict[str, Any] | None,
    cluster: bool,
    message: str,
) -> None:
    extra: dict[str, Any] = {"secretRef": ref} if ref else {}
    m, _ = await measure_with(Secrets(store), vendor, environ, cluster=cluster, **extra)
    assert (m.phase, m.message) == (AnalysisPhase.ERROR, message)
    no_key_in(m.message)
    assert vendor.seen == []


async def test_unreadable_secret(vendor: Vendor) -> None:
    m, _ = await measure_with(Secrets(broken=True), vendor)
    assert m.phase is AnalysisPhase.ERROR
    assert m.message == 'secrets "datadog" is forbidden: cannot get resource "secrets" in argo-rollouts'


@pytest.mark.parametrize("ref", [None, {"name": "mine"}])
async def test_without_a_cluster_the_environment_answers(vendor: Vendor, ref: dict[str, Any] | None) -> None:
    env = {"DD_API_KEY": API_KEY, "DD_APP_KEY": APP_KEY, "DD_ADDRESS": vendor.url + "/"}
    extra: dict[str, Any] = {"secretRef": ref} if ref else {}
    m, _ = await measure_with(Secrets(), vendor, env, cluster=False, **extra)
    assert (m.phase, m.value) == (None, "0.5")
    assert vendor.seen[0].path == "/api/v1/query"


async def test_default_address_is_datadog_s(vendor: Vendor) -> None:
    secrets = Secrets(
        {("argo-rollouts", "datadog"): {"api-key": API_KEY, "app-key": APP_KEY, "address": "ftp://x"}}
    )
    m, _ = await measure_with(secrets, vendor)
    assert m.message == 'Datadog address "ftp://x" is not a http(s) URL'
    provider = DatadogProvider(
        limiters=LimiterRegistry(),
        credentials=Secrets(
            {("argo-rollouts", "datadog"): {"api-key": API_KEY, "app-key": APP_KEY}}
        ).credentials(),
    )
    found = await provider.keys({"query": "q"})
    assert found.address == "https://api.datadoghq.com"


def test_go_json() -> None:
    assert go_json({"b": [1.0, 2.5e21], "a": "<&>"}) == '{"a":"\\u003c\\u0026\\u003e","b":[1,2.5e+21]}'


def test_is_a_metric_provider(provider: DatadogProvider) -> None:
    assert isinstance(provider, MetricProvider)
    assert (provider.kind, provider.metadata(metric(query="q"))) == ("datadog", None)


def test_module_doctests() -> None:
    import doctest

    import analysis.providers.datadog

    assert doctest.testmod(analysis.providers.datadog).failed == 0


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        pytest.param(SECRET_NAME, "DatadogTokensSecretName", id="secret"),
        pytest.param("api-key", "DatadogApiKey", id="api-key"),
        pytest.param("app-key", "DatadogAppKey", id="app-key"),
        pytest.param("address", "DatadogAddress", id="address"),
        pytest.param(MAX_GROUPS_IN_METADATA, "maxGroupsInMetadata", id="groups-cap"),
    ],
)
def test_names_are_argo_s(ours: str | int, theirs: str) -> None:
    text = argo_file(Source(ARGO_ROLLOUTS, "metricproviders/datadog/datadog.go", ARGO_ROLLOUTS_COMMIT))
    found = re.search(rf"\b{theirs}\s*=\s*(\"[^\"]*\"|\d+)", text)
    assert found is not None
    assert found.group(1).strip('"') == str(ours)


def test_deeply_nested_answer_is_not_json() -> None:
    """Python's decoder gives up on deep nesting with a RecursionError: it is a body that is not JSON (a
    ValueError every caller turns into an Error measurement), not an exception out of `measure`."""
    from analysis.providers.datadog import strict_json

    with pytest.raises(ValueError, match="nested too deeply"):
        strict_json(b"[" * 100_000 + b"]" * 100_000)
