"""The New Relic provider against a loopback server speaking NerdGraph (``POST /graphql``, an NRQL query in
``actor { account(id) { nrql(query, timeout) { results } } }``), with credentials from fake Secrets."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from analysis.assess import evaluate_measurement
from analysis.models import AnalysisPhase, Metric
from analysis.providers.base import MetricProvider
from analysis.providers.newrelic import (
    DEFAULT_PROFILE,
    DEFAULT_TIMEOUT,
    NERDGRAPH_URLS,
    NRQL_QUERY,
    RESOLVED_QUERY,
    NewRelicConfigError,
    NewRelicProvider,
    NrqlReplayError,
    _nerdgraph_url,
    replay_nrql,
)
from analysis.providers.throttling import LimiterRegistry
from tests.analysis.fakes_datadog_newrelic import Secrets, Vendor, serve
from tests.fixtures.argo_sources import ARGO_ROLLOUTS, ARGO_ROLLOUTS_COMMIT, Source, argo_file

API_KEY = "NRAK-0123456789ABCDEFGHIJKLMNOPQ"
ACCOUNT = "1234567"
QUERY = "FROM Transaction SELECT percentage(count(*), WHERE httpResponseCode != 500) AS successRate"
AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
AT_MS = 1714564800000


@pytest.fixture
async def vendor() -> AsyncIterator[Vendor]:
    async with serve() as server:
        yield server


def profile(vendor: Vendor, **extra: str) -> dict[str, str]:
    return {
        "personal-api-key": API_KEY,
        "account-id": ACCOUNT,
        "base-url-nerdgraph": vendor.url + "/graphql",
        **extra,
    }


@pytest.fixture
def secrets(vendor: Vendor) -> Secrets:
    return Secrets({("argo-rollouts", "newrelic"): profile(vendor)})


@pytest.fixture
async def provider(secrets: Secrets) -> AsyncIterator[NewRelicProvider]:
    p = NewRelicProvider(limiters=LimiterRegistry(), credentials=secrets.credentials())
    yield p
    await p.aclose()


def metric(condition: str | None = None, **new_relic: Any) -> Metric:
    spec: dict[str, Any] = {"name": "success-rate", "provider": {"newRelic": {"query": QUERY, **new_relic}}}
    if condition:
        spec["successCondition"] = condition
    return Metric.model_validate(spec)


def nrql(results: Any) -> dict[str, Any]:
    return {"data": {"actor": {"account": {"nrql": {"results": results}}}}}


def graphql_errors(*messages: str, data: Any = None) -> dict[str, Any]:
    return {
        "data": data,
        "errors": [
            {
                "message": m,
                "path": ["actor", "account", "nrql"],
                "extensions": {"errorClass": "INVALID_INPUT"},
            }
            for m in messages
        ],
    }


# --- requests ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("nrql_timeout", "sent"), [pytest.param(None, 5, id="default-5"), pytest.param(30, 30, id="30")]
)
async def test_request_is_a_nerdgraph_post(
    provider: NewRelicProvider, vendor: Vendor, nrql_timeout: int | None, sent: int
) -> None:
    vendor.answer(nrql([{"successRate": 97.5}]))
    extra: dict[str, Any] = {"timeout": nrql_timeout} if nrql_timeout is not None else {}
    m = await provider.measure(metric(**extra))
    assert (m.phase, m.value, m.result) == (None, '{"successRate":97.5}', {"successRate": 97.5})
    (seen,) = vendor.seen
    assert (seen.method, seen.path, seen.query) == ("POST", "/graphql", {})
    assert seen.headers["API-Key"] == API_KEY
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.json() == {
        "query": NRQL_QUERY,
        "variables": {"accountId": int(ACCOUNT), "query": QUERY, "timeout": sent},
    }


def test_graphql_document_asks_for_nrql_results() -> None:
    flat = " ".join(NRQL_QUERY.split())
    for part in ("$query: Nrql!", "$accountId: Int!", "$timeout: Seconds!", "account(id: $accountId)"):
        assert part in flat
    assert "nrql(query: $query, timeout: $timeout) { results }" in flat


def test_metadata_is_the_resolved_query(provider: NewRelicProvider) -> None:
    assert provider.metadata(metric()) == {RESOLVED_QUERY: QUERY}


# --- results ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("results", "result", "value"),
    [
        pytest.param(
            [{"successRate": 0.97}], {"successRate": 0.97}, '{"successRate":0.97}', id="one-row-is-a-map"
        ),
        pytest.param(
            [{"average.duration": 0.2, "count": 100.0}],
            {"average.duration": 0.2, "count": 100.0},
            '{"average.duration":0.2,"count":100}',
            id="go-json-keys-sorted",
        ),
        pytest.param(
            [{"facet": "a", "x": 1}, {"facet": "b", "x": 2}],
            [{"facet": "a", "x": 1}, {"facet": "b", "x": 2}],
            '[{"facet":"a","x":1},{"facet":"b","x":2}]',
            id="facets-are-a-list",
        ),
        pytest.param(
            [{"average.duration": None}], {"average.duration": None}, '{"average.duration":null}', id="null"
        ),
    ],
)
async def test_results(
    provider: NewRelicProvider, vendor: Vendor, results: Any, result: Any, value: str
) -> None:
    vendor.answer(nrql(results))
    m = await provider.measure(metric())
    assert (m.phase, m.message) == (None, None)
    assert m.result == result and m.value == value


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(nrql([]), "no results returned from NRQL query", id="no-rows"),
        pytest.param(nrql([{}]), "no results returned from NRQL query", id="one-empty-row"),
        pytest.param(nrql(None), "no results returned from NRQL query", id="null-results"),
        pytest.param(
            {"data": {"actor": {"account": None}}}, "no results returned from NRQL query", id="no-account"
        ),
        pytest.param(nrql([1, 2]), "NRQL results are not a list of objects: [1,2]", id="not-maps"),
        pytest.param(
            graphql_errors("NRQL Syntax Error: Error at line 1 position 5", "second problem"),
            "NRQL Syntax Error: Error at line 1 position 5, second problem",
            id="graphql-errors-joined",
        ),
        pytest.param(
            graphql_errors("Account 1234567 not found", data={"actor": {"account": None}}),
            "Account 1234567 not found",
            id="errors-with-partial-data",
        ),
        pytest.param({"errors": [{}]}, "NerdGraph answered with errors: [{}]", id="errors-without-message"),
        pytest.param(
            '{"data": {"actor": {"account": {"nrql": {"results": [{"x": NaN}]}}}}}', "NaN is not", id="nan"
        ),
        pytest.param("<html>oops</html>", "NerdGraph answer is not JSON", id="not-json"),
    ],
)
async def test_bad_answers_are_errors(
    provider: NewRelicProvider, vendor: Vendor, body: Any, message: str
) -> None:
    vendor.answer(body)
    m = await provider.measure(metric())
    assert m.phase is AnalysisPhase.ERROR
    assert message in (m.message or "")


@pytest.mark.parametrize(
    ("condition", "results", "phase"),
    [
        pytest.param("result.successRate >= 95", [{"successRate": 97.5}], AnalysisPhase.SUCCESSFUL, id="dot"),
        pytest.param(
            "result['average.duration'] < 0.5", [{"average.duration": 0.7}], AnalysisPhase.FAILED, id="index"
        ),
        pytest.param("result[1].x < 5", [{"x": 1}, {"x": 9}], AnalysisPhase.FAILED, id="list"),
        pytest.param("all(result, {.x < 5})", [{"x": 1}, {"x": 2}], AnalysisPhase.SUCCESSFUL, id="all"),
    ],
)
async def test_conditions_read_the_result(
    provider: NewRelicProvider, vendor: Vendor, condition: str, results: Any, phase: AnalysisPhase
) -> None:
    vendor.answer(nrql(results))
    spec = metric(condition)
    m = await provider.measure(spec)
    assert evaluate_measurement(spec, m.result)[0] is phase


# --- HTTP failures ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "headers", "message"),
    [
        pytest.param(
            401,
            {"errors": [{"message": "Invalid API key", "extensions": {"error_code": "BAD_API_KEY"}}]},
            {},
            "NerdGraph returned 401 Unauthorized: Invalid API key",
            id="401",
        ),
        pytest.param(403, "forbidden", {}, "NerdGraph returned 403 Forbidden: forbidden", id="403"),
        pytest.param(
            429,
            {"errors": [{"message": "Too many requests"}]},
            {"Retry-After": "30"},
            "NerdGraph returned 429 Too Many Requests: Too many requests (Retry-After: 30)",
            id="429",
        ),
        pytest.param(503, "", {}, "NerdGraph returned 503 Service Unavailable", id="503-empty"),
    ],
)
async def test_statuses_are_errors(
    provider: NewRelicProvider, vendor: Vendor, status: int, body: Any, headers: dict[str, str], message: str
) -> None:
    vendor.answer(body, status=status, headers=headers)
    m = await provider.measure(metric())
    assert (m.phase, m.message) == (AnalysisPhase.ERROR, message)


@pytest.mark.parametrize("status", [200, 401, 500])
async def test_echoed_key_is_redacted(provider: NewRelicProvider, vendor: Vendor, status: int) -> None:
    vendor.echo_headers(status)
    m = await provider.measure(metric())
    assert m.phase is AnalysisPhase.ERROR
    assert "API-Key: *****" in (m.message or "")
    assert API_KEY not in (m.message or "") and API_KEY not in (m.value or "")


async def test_key_echoed_in_results_is_redacted(provider: NewRelicProvider, vendor: Vendor) -> None:
    vendor.answer(nrql([{"facet": API_KEY, "x": 1}, {"facet": "b", "x": 2}]))
    m = await provider.measure(metric())
    assert m.phase is None and API_KEY not in (m.value or "") and API_KEY not in str(m.result)


async def test_slow_server_times_out(provider: NewRelicProvider, vendor: Vendor) -> None:
    provider.grace = 0.2
    vendor.slow(3, nrql([{"x": 1}]))
    started = time.monotonic()
    m = await provider.measure(metric(timeout=0))
    assert time.monotonic() - started < 2
    assert m.phase is AnalysisPhase.ERROR
    assert (m.message or "").startswith(f"NerdGraph request to {vendor.url}/graphql timed out after 0.2s")


async def test_huge_body_is_refused(provider: NewRelicProvider, vendor: Vendor) -> None:
    vendor.huge(11 * 1024 * 1024)
    m = await provider.measure(metric())
    assert (m.phase, m.message) == (AnalysisPhase.ERROR, "NerdGraph response is larger than 10 MiB")


# --- the template and the account --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("new_relic", "message"),
    [
        pytest.param({"query": ""}, "newRelic.query is required", id="no-query"),
        pytest.param({"timeout": -1}, "timeout value needs to be a positive value", id="negative-timeout"),
        pytest.param(
            {"timeout": "10"}, 'newRelic.timeout must be a whole number of seconds, got "10"', id="text"
        ),
        pytest.param(
            {"profile": 3}, "newRelic.profile must be the name of a Secret, got 3", id="profile-number"
        ),
    ],
)
async def test_template_errors(
    provider: NewRelicProvider, vendor: Vendor, new_relic: dict[str, Any], message: str
) -> None:
    m = await provider.measure(metric(**new_relic))
    assert m.phase is AnalysisPhase.ERROR and (m.message or "").startswith(message)
    assert vendor.seen == []


async def measure_with(
    secrets: Secrets, environ: dict[str, str] | None = None, *, cluster: bool = True, **new_relic: Any
) -> Any:
    p = NewRelicProvider(
        limiters=LimiterRegistry(), credentials=secrets.credentials(environ, cluster=cluster)
    )
    try:
        return await p.measure(metric(**new_relic))
    finally:
        await p.aclose()


async def test_profile_names_the_secret(vendor: Vendor) -> None:
    vendor.answer(nrql([{"x": 1}]))
    secrets = Secrets({("argo-rollouts", "team-b"): profile(vendor, **{"account-id": "42"})})
    m = await measure_with(secrets, profile="team-b")
    assert m.phase is None
    assert secrets.reads == [("argo-rollouts", "team-b")]
    assert vendor.seen[0].json()["variables"]["accountId"] == 42


async def test_environment_url_stands_in_for_the_region(vendor: Vendor) -> None:
    vendor.answer(nrql([{"x": 1}]))
    secrets = Secrets({("argo-rollouts", "newrelic"): {"personal-api-key": API_KEY, "account-id": ACCOUNT}})
    m = await measure_with(secrets, {"NEW_RELIC_NERDGRAPH_BASE_URL": vendor.url + "/proxy/graphql"})
    assert m.phase is None and vendor.seen[0].path == "/proxy/graphql"


async def test_without_a_cluster_the_environment_answers(vendor: Vendor) -> None:
    vendor.answer(nrql([{"x": 1}]))
    env = {
        "NEW_RELIC_API_KEY": API_KEY,
        "NEW_RELIC_ACCOUNT_ID": ACCOUNT,
        "NEW_RELIC_NERDGRAPH_BASE_URL": vendor.url + "/graphql",
    }
    m = await measure_with(Secrets(), env, cluster=False, profile="ignored")
    assert m.phase is None and vendor.seen[0].headers["API-Key"] == API_KEY


@pytest.mark.parametrize(
    ("store", "environ", "cluster", "message"),
    [
        pytest.param(
            {},
            {},
            True,
            'secrets "newrelic" not found: the Secret argo-rollouts/newrelic holds personal-api-key and account-id',
            id="missing-secret",
        ),
        pytest.param(
            {("argo-rollouts", "newrelic"): {"personal-api-key": API_KEY}},
            {},
            True,
            "account ID or personal API key not found: the Secret argo-rollouts/newrelic needs personal-api-key "
            "and account-id",
            id="no-account-id",
        ),
        pytest.param(
            {("argo-rollouts", "newrelic"): {"personal-api-key": API_KEY, "account-id": "12a"}},
            {},
            True,
            'could not parse account ID: strconv.Atoi: parsing "12a": invalid syntax',
            id="bad-account-id",
        ),
        pytest.param(
            {
                ("argo-rollouts", "newrelic"): {
                    "personal-api-key": API_KEY,
                    "account-id": "1",
                    "region": "mars",
                }
            },
            {},
            True,
            'unknown New Relic region "mars": use us or eu',
            id="unknown-region",
        ),
        pytest.param(
            {},
            {"NEW_RELIC_API_KEY": API_KEY},
            False,
            "account ID or personal API key not found: without a cluster they are read from NEW_RELIC_API_KEY and "
            "NEW_RELIC_ACCOUNT_ID",
            id="no-cluster-no-account",
        ),
    ],
)
async def test_missing_account(
    vendor: Vendor,
    store: dict[tuple[str, str], dict[str, str]],
    environ: dict[str, str],
    cluster: bool,
    message: str,
) -> None:
    m = await measure_with(Secrets(store), environ, cluster=cluster)
    assert (m.phase, m.message) == (AnalysisPhase.ERROR, message)
    assert API_KEY not in (m.message or "")
    assert vendor.seen == []


async def test_unreadable_secret() -> None:
    m = await measure_with(Secrets(broken=True))
    assert (m.phase, m.message) == (
        AnalysisPhase.ERROR,
        'secrets "newrelic" is forbidden: cannot get resource "secrets" in argo-rollouts',
    )


@pytest.mark.parametrize(
    ("region", "base", "environ", "url"),
    [
        pytest.param(None, None, None, "https://api.newrelic.com/graphql", id="default-us"),
        pytest.param("EU", None, None, NERDGRAPH_URLS["eu"], id="eu"),
        pytest.param("eu", None, "https://proxy/graphql", "https://proxy/graphql", id="environment"),
        pytest.param(
            "eu", "https://mine/graphql", "https://proxy/graphql", "https://mine/graphql", id="secret-wins"
        ),
    ],
)
def test_nerdgraph_url(region: str | None, base: str | None, environ: str | None, url: str) -> None:
    assert _nerdgraph_url(region, base, environ) == url


def test_nerdgraph_url_must_be_http() -> None:
    with pytest.raises(NewRelicConfigError, match="is not a http"):
        _nerdgraph_url(None, "ftp://x", None)


# --- replay -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "replayed"),
    [
        pytest.param(
            "SELECT count(*) FROM T",
            f"SELECT count(*) FROM T SINCE {AT_MS - 3600000} UNTIL {AT_MS}",
            id="none",
        ),
        pytest.param(
            "SELECT count(*) FROM T since 30 MINUTES AGO",
            f"SELECT count(*) FROM T since {AT_MS - 1800000} UNTIL {AT_MS}",
            id="relative-since",
        ),
        pytest.param(
            "SELECT count(*) FROM T SINCE 2 hours ago UNTIL 1 hour ago TIMESERIES",
            f"SELECT count(*) FROM T SINCE {AT_MS - 7200000} UNTIL {AT_MS - 3600000} TIMESERIES",
            id="relative-both",
        ),
        pytest.param(
            "SELECT count(*) FROM T SINCE 1 day ago UNTIL now",
            f"SELECT count(*) FROM T SINCE {AT_MS - 86400000} UNTIL {AT_MS}",
            id="until-now",
        ),
        pytest.param(
            "SELECT count(*) FROM T SINCE 1714000000000 UNTIL '2024-05-01 10:00:00'",
            "SELECT count(*) FROM T SINCE 1714000000000 UNTIL '2024-05-01 10:00:00'",
            id="absolute-kept",
        ),
        pytest.param(
            "SELECT count(*) FROM T WHERE `since` = 'until now' -- since forever\n",
            f"SELECT count(*) FROM T WHERE `since` = 'until now' -- since forever\nSINCE {AT_MS - 3600000} UNTIL {AT_MS}",
            id="strings-and-comments",
        ),
        pytest.param(
            "SELECT count(*) FROM T SINCE 1 week ago COMPARE WITH 1 week ago;",
            f"SELECT count(*) FROM T SINCE {AT_MS - 604800000} COMPARE WITH 1 week ago UNTIL {AT_MS}",
            id="compare-with-untouched",
        ),
    ],
)
def test_replay_nrql(query: str, replayed: str) -> None:
    assert replay_nrql(query, AT) == replayed


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("SELECT count(*) FROM T SINCE today", id="today"),
        pytest.param("SELECT count(*) FROM T SINCE last week", id="last-week"),
        pytest.param("SELECT count(*) FROM T SINCE 3 months ago", id="months"),
    ],
)
def test_replay_nrql_refuses_other_windows(query: str) -> None:
    with pytest.raises(NrqlReplayError, match="cannot be replayed"):
        replay_nrql(query, AT)


async def test_replay_sends_the_moved_window(provider: NewRelicProvider, vendor: Vendor) -> None:
    vendor.answer(nrql([{"successRate": 99}]))
    m = await provider.measure(metric(), at=AT)
    assert m.phase is None
    assert vendor.seen[0].json()["variables"]["query"] == f"{QUERY} SINCE {AT_MS - 3600000} UNTIL {AT_MS}"


async def test_replay_of_a_fixed_window_is_an_error(provider: NewRelicProvider, vendor: Vendor) -> None:
    m = await provider.measure(metric(query="SELECT count(*) FROM T SINCE yesterday"), at=AT)
    assert m.phase is AnalysisPhase.ERROR
    assert (m.message or "").startswith("the NRQL query cannot be replayed at 2024-05-01T12:00:00+00:00")
    assert vendor.seen == []


async def test_now_is_not_a_replay(provider: NewRelicProvider, vendor: Vendor) -> None:
    vendor.answer(nrql([{"x": 1}]))
    m = await provider.measure(
        metric(query="SELECT count(*) FROM T SINCE today"), at=datetime.now(UTC) - timedelta(seconds=5)
    )
    assert m.phase is None
    assert vendor.seen[0].json()["variables"]["query"] == "SELECT count(*) FROM T SINCE today"


def test_is_a_metric_provider(provider: NewRelicProvider) -> None:
    assert isinstance(provider, MetricProvider) and provider.kind == "newRelic"


def test_module_doctests() -> None:
    import doctest

    import analysis.providers.newrelic

    assert doctest.testmod(analysis.providers.newrelic).failed == 0


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        pytest.param(DEFAULT_PROFILE, "DefaultNewRelicProfileSecretName", id="profile"),
        pytest.param(DEFAULT_TIMEOUT, "defaultNrqlTimeout", id="timeout"),
        pytest.param(RESOLVED_QUERY, "resolvedNewRelicQuery", id="metadata-key"),
    ],
)
def test_names_are_argo_s(ours: str | int, theirs: str) -> None:
    text = argo_file(Source(ARGO_ROLLOUTS, "metricproviders/newrelic/newrelic.go", ARGO_ROLLOUTS_COMMIT))
    found = re.search(rf"\b{theirs}\s*=\s*(\"[^\"]*\"|\d+)", text)
    assert found is not None
    assert found.group(1).strip('"') == str(ours)
