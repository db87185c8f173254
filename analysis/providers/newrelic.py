"""The New Relic metric provider: one `measure()` = one NRQL query through NerdGraph, New Relic's GraphQL API.

Follows Argo's `metricproviders/newrelic/newrelic.go` (and the newrelic-client-go it uses), the
`NewRelicMetric` fields of `analysis_types.go` and `docs/analysis/newrelic.md`:

* ``newRelic: {query, profile, timeout}``: `query` is NRQL; `profile` names the Secret holding the account
  (default ``newrelic``), read in the controller's namespace; `timeout` is the NRQL timeout in seconds
  (default 5; negative is an Error ``timeout value needs to be a positive value``).
* The Secret: ``personal-api-key`` and ``account-id`` (required: ``account ID or personal API key not
  found``; an account id that is not an integer: ``could not parse account ID: …``), ``region`` (``us``, the
  default, ``eu``, ``staging``, ``local``), ``base-url-nerdgraph`` (the whole NerdGraph URL, for a proxy;
  ``base-url-rest`` is accepted and unused: the provider only talks to NerdGraph). As in the Go client, the
  environment variable ``NEW_RELIC_NERDGRAPH_BASE_URL`` replaces the region's URL when the Secret has no
  ``base-url-nerdgraph``.
* The request: ``POST <nerdgraph URL>`` (``https://api.newrelic.com/graphql``, EU
  ``https://api.eu.newrelic.com/graphql``) with the header ``API-Key: <personal key>`` and ``{"query":
  "query($query: Nrql!, $accountId: Int!, $timeout: Seconds!) {actor {account(id: $accountId) {nrql(query:
  $query, timeout: $timeout) {results}}}}", "variables": {"accountId", "query", "timeout"}}``.
* The result is ``data.actor.account.nrql.results``, a list of maps: one row → the map itself
  (``result.successRate >= 0.95``, ``result['average.duration']``), several (``FACET``, ``TIMESERIES``) → the
  list (``result[0].x``, ``all(result, {.x < 1})``); the value string is the JSON Go writes (keys sorted,
  ``{"successRate":0.97}``). No row, or one empty row, is an Error ``no results returned from NRQL query``.
* NerdGraph's ``errors`` (it answers 200 with them) are an Error measurement of their messages joined by
  ``, ``; a status other than 2xx is an Error ``NerdGraph returned 401 Unauthorized: <body>``, with the
  GraphQL messages when there are some and `` (Retry-After: N)`` when the server says when to come back.
* The metric result's metadata is ``ResolvedNewRelicQuery``: the query after argument substitution.

Without a cluster (`rollouts analyze`: `Credentials` has no Secret lookup) the account is read from
``NEW_RELIC_API_KEY``, ``NEW_RELIC_ACCOUNT_ID``, ``NEW_RELIC_REGION`` and ``NEW_RELIC_NERDGRAPH_BASE_URL``
(the names New Relic's own CLI and client read), for every profile.

Replay (``at``): NRQL can be asked about a past window. A query without ``SINCE`` gets ``SINCE <at - 1h>``
(NRQL's default window is the last hour) and one without ``UNTIL`` gets ``UNTIL <at>`` (epoch milliseconds);
a relative ``SINCE/UNTIL <n> <seconds|minutes|hours|days|weeks> ago`` or ``UNTIL now`` is counted back from
`at`; an absolute one (epoch, a quoted date) is kept. Any other time clause (``SINCE today``, ``SINCE last
week``, ``3 months ago``) cannot be moved: the measurement is an Error saying so. An `at` within a minute of now
sends the query unchanged.

Where this differs from Argo: the Go client retries 429 and 5xx answers up to three times within one
measurement; here one measurement is one request (the metric's interval and `consecutiveErrorLimit` decide
what happens next). The HTTP exchange is bounded by the NRQL timeout plus `GRACE_SECONDS` (the Go client
waits up to 60 s). The personal key never appears in a message, value or metadata (`scrub`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from yarl import URL

from analysis.models import Measurement, Metric
from analysis.providers.base import BaseProvider, error_measurement, off_loop, value_measurement
from analysis.providers.credentials import Credentials, CredentialsError
from analysis.providers.datadog import go_json, strict_json
from analysis.providers.throttling import LimiterRegistry
from analysis.providers.vendor import ExchangeFailed, HttpVendorProvider, excerpt, retry_note, scrub

__all__ = [
    "DEFAULT_PROFILE",
    "DEFAULT_TIMEOUT",
    "ENV_ACCOUNT_ID",
    "ENV_API_KEY",
    "ENV_NERDGRAPH_URL",
    "ENV_REGION",
    "GRACE_SECONDS",
    "NERDGRAPH_URLS",
    "NRQL_QUERY",
    "RESOLVED_QUERY",
    "NewRelicAnswerError",
    "NewRelicConfigError",
    "NewRelicProvider",
    "NrqlReplayError",
    "replay_nrql",
    "shape_results",
]

DEFAULT_PROFILE = "newrelic"
"""Argo's DefaultNewRelicProfileSecretName: the Secret read when the metric names no `profile`."""
DEFAULT_TIMEOUT = 5
"""Argo's defaultNrqlTimeout, seconds."""
GRACE_SECONDS = 5.0
"""How much longer than the NRQL timeout the HTTP exchange may take (NerdGraph answers a timed-out query)."""
RESOLVED_QUERY = "ResolvedNewRelicQuery"
ENV_API_KEY, ENV_ACCOUNT_ID = "NEW_RELIC_API_KEY", "NEW_RELIC_ACCOUNT_ID"
ENV_REGION, ENV_NERDGRAPH_URL = "NEW_RELIC_REGION", "NEW_RELIC_NERDGRAPH_BASE_URL"
NERDGRAPH_URLS = {
    "us": "https://api.newrelic.com/graphql",
    "eu": "https://api.eu.newrelic.com/graphql",
    "staging": "https://staging-api.newrelic.com/graphql",
    "local": "http://localhost:3000/graphql",
}
NRQL_QUERY = (
    "query($query: Nrql!, $accountId: Int!, $timeout: Seconds!) "
    "{ actor { account(id: $accountId) { nrql(query: $query, timeout: $timeout) { results } } } }"
)
"""The GraphQL document sent: the NRQL results of one account, with a query timeout."""
_NOW_TOLERANCE = timedelta(seconds=60)
_HOUR_MS = 3_600_000


class NewRelicConfigError(ValueError):
    """A `newRelic` block or account that cannot be queried; the message is the Error measurement's."""


class NewRelicAnswerError(ValueError):
    """A NerdGraph answer that gives no result; the message is the Error measurement's."""


class NrqlReplayError(ValueError):
    """A query whose time window cannot be moved to a past instant."""


@dataclass(frozen=True)
class _Account:
    url: str
    api_key: str
    account_id: int


def _config(raw: Any) -> tuple[str, str, int]:
    """(query, profile Secret, timeout seconds) of a ``provider.newRelic`` object."""
    if not isinstance(raw, Mapping):
        raise NewRelicConfigError(f"provider.newRelic must be an object, got {go_json(raw)}")
    query = raw.get("query")
    if not isinstance(query, str) or not query.strip():
        raise NewRelicConfigError("newRelic.query is required: an NRQL query, e.g. FROM Transaction SELECT …")
    profile = raw.get("profile")
    if profile is not None and not isinstance(profile, str):
        raise NewRelicConfigError(f"newRelic.profile must be the name of a Secret, got {go_json(profile)}")
    timeout = raw.get("timeout")
    if timeout is None:
        timeout = DEFAULT_TIMEOUT
    if isinstance(timeout, bool) or not isinstance(timeout, int):
        raise NewRelicConfigError(
            f"newRelic.timeout must be a whole number of seconds, got {go_json(timeout)}"
        )
    if timeout < 0:
        raise NewRelicConfigError("timeout value needs to be a positive value")
    return query, profile or DEFAULT_PROFILE, timeout


def _nerdgraph_url(region: str | None, base: str | None, environ_base: str | None) -> str:
    if base:
        url = base
    else:
        name = (region or "us").strip().lower()
        if name not in NERDGRAPH_URLS:
            raise NewRelicConfigError(f"unknown New Relic region {json.dumps(region)}: use us or eu")
        url = environ_base or NERDGRAPH_URLS[name]
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise NewRelicConfigError(f"NerdGraph URL {json.dumps(url)} is not a http(s) URL")
    return url


def _account_id(text: str) -> int:
    if not re.fullmatch(r"[+-]?\d+", text.strip() if text else text):
        raise NewRelicConfigError(
            f'could not parse account ID: strconv.Atoi: parsing "{text}": invalid syntax'
        )
    return int(text)


def shape_results(results: Any) -> tuple[Any, str]:
    """`(result, value string)` of NRQL results (Argo's processResponse): one row → the map, several → the list.

    >>> shape_results([{"successRate": 0.97}])
    ({'successRate': 0.97}, '{"successRate":0.97}')
    """
    if results is None:
        results = []
    if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
        raise NewRelicAnswerError(f"NRQL results are not a list of objects: {excerpt(go_json(results))}")
    if not results or (len(results) == 1 and not results[0]):
        raise NewRelicAnswerError("no results returned from NRQL query")
    shaped: Any = results[0] if len(results) == 1 else results
    return shaped, go_json(shaped)


# --- replay: moving the query's window -------------------------------------------------------------------

_TOKEN = re.compile(
    r"""(?P<skip>'(?:[^'\\]|\\.|'')*'|`[^`]*`|"(?:[^"\\]|\\.)*"|--[^\n]*|//[^\n]*|/\*.*?\*/)"""
    r"""|(?P<word>\b(?:SINCE|UNTIL)\b)""",
    re.IGNORECASE | re.DOTALL,
)
_UNIT_MS = {
    "second": 1000,
    "minute": 60_000,
    "hour": _HOUR_MS,
    "day": 24 * _HOUR_MS,
    "week": 7 * 24 * _HOUR_MS,
}
_RELATIVE = re.compile(r"\s+(\d+)\s+(second|minute|hour|day|week)s?\s+ago\b", re.IGNORECASE)
_NOW = re.compile(r"\s+now\b", re.IGNORECASE)
_ABSOLUTE = re.compile(
    r"\s+(?:\d+\b(?!\s*(?:second|minute|hour|day|week|month|quarter|year)s?\b)|'(?:[^'\\]|\\.|'')*')",
    re.IGNORECASE,
)
_CLAUSE_TEXT = re.compile(r"\s+(\S+(?:\s+\S+){0,2})")


def replay_nrql(query: str, at: datetime) -> str:
    """`query` asking about the window that ended at `at` (see the module docstring).

    >>> at = datetime(2024, 1, 1, tzinfo=UTC)
    >>> replay_nrql("FROM Transaction SELECT count(*) SINCE 5 minutes ago", at)
    'FROM Transaction SELECT count(*) SINCE 1704066900000 UNTIL 1704067200000'
    >>> replay_nrql("SELECT count(*) FROM Transaction WHERE name = 'since x'", at)
    "SELECT count(*) FROM Transaction WHERE name = 'since x' SINCE 1704063600000 UNTIL 1704067200000"
    """
    moment = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    end = int(moment.timestamp() * 1000)
    pieces: list[str] = []
    position = 0
    found: set[str] = set()
    for token in _TOKEN.finditer(query):
        word = token.group("word")
        if word is None:
            continue
        keyword = word.upper()
        found.add(keyword)
        rest = token.end()
        relative = _RELATIVE.match(query, rest)
        if relative is not None:
            millis = int(relative.group(1)) * _UNIT_MS[relative.group(2).lower()]
            pieces.append(query[position:rest] + f" {end - millis}")
            position = relative.end()
            continue
        now = _NOW.match(query, rest)
        if now is not None:
            pieces.append(query[position:rest] + f" {end}")
            position = now.end()
            continue
        if _ABSOLUTE.match(query, rest) is not None:
            continue
        shown = _CLAUSE_TEXT.match(query, rest)
        clause = f"{word} {shown.group(1)}" if shown else word
        raise NrqlReplayError(
            f"the NRQL query cannot be replayed at {moment.isoformat()}: its time clause {json.dumps(clause)} "
            "is not relative to now in seconds to weeks (`SINCE 30 minutes ago`) nor absolute"
        )
    text = "".join(pieces) + query[position:]
    added = []
    if "SINCE" not in found:
        added.append(f"SINCE {end - _HOUR_MS}")
    if "UNTIL" not in found:
        added.append(f"UNTIL {end}")
    if not added:
        return text
    text = text.rstrip().rstrip(";").rstrip()
    separator = "\n" if _has_line_comment(text) else " "
    return text + separator + " ".join(added)


def _has_line_comment(text: str) -> bool:
    """The query has a ``--`` or ``//`` comment, which would swallow a clause added on its line."""
    return any((t.group("skip") or "")[:2] in ("--", "//") for t in _TOKEN.finditer(text))


class NewRelicProvider(BaseProvider):
    """`provider.newRelic` metrics. One instance per event loop; share `limiters` with the other providers."""

    kind = "newRelic"
    label = "New Relic"
    grace = GRACE_SECONDS

    def __init__(self, *, limiters: LimiterRegistry, credentials: Credentials, connections: int = 8) -> None:
        self._http = HttpVendorProvider(limiters=limiters, credentials=credentials, connections=connections)
        self.limiters = limiters
        self.credentials = credentials

    async def aclose(self) -> None:
        await self._http.aclose()

    def metadata(self, metric: Metric) -> dict[str, str] | None:
        raw = metric.provider.new_relic
        query = raw.get("query") if isinstance(raw, Mapping) else None
        return {RESOLVED_QUERY: query} if isinstance(query, str) and query else None

    async def measure(self, metric: Metric, *, at: datetime | None = None) -> Measurement:
        raw = metric.provider.new_relic
        if raw is None:
            return error_measurement(f"metric '{metric.name}' has no newRelic provider")
        try:
            query, profile, timeout = _config(raw)
        except NewRelicConfigError as e:
            return error_measurement(str(e))
        if at is not None and abs(datetime.now(UTC) - _utc(at)) > _NOW_TOLERANCE:
            try:
                query = replay_nrql(query, at)
            except NrqlReplayError as e:
                return error_measurement(str(e))
        try:
            account = await self.account(profile)
        except (CredentialsError, NewRelicConfigError) as e:
            return error_measurement(str(e))
        measurement = await self._query(account, query, timeout)
        return scrub(measurement, [account.api_key])

    async def account(self, profile: str) -> _Account:
        """The NerdGraph URL, key and account id of `profile`. Raises `CredentialsError` (the Secret cannot be
        read) or `NewRelicConfigError`."""
        credentials = self.credentials
        if credentials.lookup is None:
            api, account = credentials.env(ENV_API_KEY), credentials.env(ENV_ACCOUNT_ID)
            if not api or not account:
                raise NewRelicConfigError(
                    f"account ID or personal API key not found: without a cluster they are read from "
                    f"{ENV_API_KEY} and {ENV_ACCOUNT_ID}"
                )
            url = _nerdgraph_url(credentials.env(ENV_REGION), None, credentials.env(ENV_NERDGRAPH_URL))
            return _Account(url, api, _account_id(account))
        data = await credentials.secret(profile)
        where = f"{credentials.namespace}/{profile}"
        if data is None:
            raise NewRelicConfigError(
                f'secrets "{profile}" not found: the Secret {where} holds personal-api-key and account-id'
            )
        api, account = data.get("personal-api-key") or "", data.get("account-id") or ""
        if not api or not account:
            raise NewRelicConfigError(
                f"account ID or personal API key not found: the Secret {where} needs personal-api-key and account-id"
            )
        url = _nerdgraph_url(
            data.get("region"), data.get("base-url-nerdgraph") or None, credentials.env(ENV_NERDGRAPH_URL)
        )
        return _Account(url, api, _account_id(account))

    async def _query(self, account: _Account, query: str, nrql_timeout: int) -> Measurement:
        document = {
            "query": NRQL_QUERY,
            "variables": {"accountId": account.account_id, "query": query, "timeout": nrql_timeout},
        }
        headers = {
            "API-Key": account.api_key,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        parts = urlsplit(account.url)
        try:
            answer = await self._http.exchange(
                "POST",
                URL(account.url),
                address=f"{parts.scheme}://{parts.netloc}",
                headers=headers,
                data=json.dumps(document, separators=(",", ":")).encode(),
                seconds=nrql_timeout + self.grace,
                label="NerdGraph",
            )
        except ExchangeFailed as e:
            return error_measurement(str(e))
        if answer.too_large:
            return error_measurement("NerdGraph response is larger than 10 MiB")
        try:
            body: Any = await off_loop(strict_json, answer.body)
        except ValueError as e:
            body, problem = None, f"NerdGraph answer is not JSON: {e}: {excerpt(answer.text(), 200)}"
        else:
            problem = ""
        errors = _graphql_errors(body)
        if not 200 <= answer.status < 300:
            status = f"{answer.status} {answer.reason}".strip()
            said = errors or excerpt(answer.text())
            return error_measurement(
                f"NerdGraph returned {status}" + (f": {said}" if said else "") + retry_note(answer)
            )
        if problem:
            return error_measurement(problem)
        if errors:
            return error_measurement(errors)
        try:
            results = _results(body)
            result, value = shape_results(results)
        except NewRelicAnswerError as e:
            return error_measurement(str(e))
        return value_measurement(value).with_result(result)


def _graphql_errors(body: Any) -> str:
    """The messages of a GraphQL answer's ``errors``, joined by ``, `` (the Go client's GraphQLErrorResponse)."""
    if not isinstance(body, dict):
        return ""
    errors = body.get("errors")
    if not errors:
        return ""
    if not isinstance(errors, list):
        return f"NerdGraph answered with errors: {excerpt(go_json(errors))}"
    messages = [e["message"] for e in errors if isinstance(e, dict) and isinstance(e.get("message"), str)]
    messages = [m for m in messages if m]
    if not messages:
        return f"NerdGraph answered with errors: {excerpt(go_json(errors))}"
    return excerpt(", ".join(messages), 1000)


def _results(body: Any) -> Any:
    node = body
    for key in ("data", "actor", "account", "nrql"):
        if node is None:
            return None
        if not isinstance(node, dict):
            raise NewRelicAnswerError(f"NerdGraph answer has no {key}: {excerpt(go_json(body))}")
        node = node.get(key)
    if node is None:
        return None
    if not isinstance(node, dict):
        raise NewRelicAnswerError(f"NerdGraph answer has no nrql results: {excerpt(go_json(body))}")
    return node.get("results")


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
