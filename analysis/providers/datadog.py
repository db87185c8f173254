"""The Datadog metric provider: one `measure()` = one query of Datadog's metrics API, v1 or v2.

Follows Argo's `metricproviders/datadog` (datadog.go, finders.go) and the `DatadogMetric` fields of
`analysis_types.go`:

* ``datadog: {apiVersion, query | queries + formula, aggregator, interval, requestTimeout, secretRef}``.
  `apiVersion` is ``v1`` (the default) or ``v2``; `interval` (a Go duration, default ``5m``) is the window
  asked about, ending now; `requestTimeout` (default ``10s``) bounds the whole exchange, the wait for an
  admission (`throttling`) included. The template is checked as Argo's validateIncomingProps does, with its
  sentences: a query or queries but not both, v1 takes only `query` and no `aggregator`, a formula needs
  queries, several queries need a formula; `aggregator` is one of `AGGREGATORS` (v2 only, default ``last``).
* v1: ``GET <address>/api/v1/query?from=<now-interval>&query=<query>&to=<now>`` (epoch seconds). The result is
  the value of the *last* point of the *first* series, a float; value string as Go's ``FormatFloat(v, 'f',
  -1)`` (``0.0042``). No series, or a first series without points, is no data: the result is None (so
  ``default(result, 0) < 0.05`` works, and a bare ``result < 0.05`` is an Error measurement saying the
  result is nil), the value the JSON of the series (``[]``).
* v2: ``POST <address>/api/v2/query/scalar`` with ``{"data": {"type": "scalar_request", "attributes": {"from",
  "to" (epoch ms), "queries": [{"data_source": "metrics", "name", "query", "aggregator"}], "formulas":
  [{"formula"}]}}}``; a single `query` is sent as the query named ``query``. The result is read from the first
  number column: null entries (no data for that group) are skipped; an ungrouped query gives a float, a
  grouped one (``by {tag}``, a ``group`` column in the answer) always a list of floats, value ``[1,2.5]``,
  with the metadata ``groups`` = JSON ``[{"name": "<tags joined by ,>", "value": v}]`` (at most 100: the 50
  lowest and 50 highest values, then ``groups_truncated: "true"``). Nothing left is no data (None, ``[]``).
  An ``errors`` string in the answer is an Error measurement ``There were errors in your query: …``.
* Status 401/403: ``received authentication error response code: 401 <body>``; anything else but 200:
  ``received non 2xx response code: 429 <body>``, with `` (Retry-After: N)`` when the server says when.
* Headers ``DD-API-KEY``, ``DD-APPLICATION-KEY``, ``Content-Type: application/json``.

Credentials, in Argo's order (finders.go): with ``secretRef.name``, only that Secret — in the controller's
namespace, or the AnalysisRun's with ``secretRef.namespaced: true`` (a namespaced ref without a name is an
Error); without it, the environment (``DD_API_KEY``, ``DD_APP_KEY``, ``DD_ADDRESS``) and then the Secret
``datadog`` of the controller's namespace. A Secret holds ``api-key``, ``app-key`` and optionally ``address``
(default ``https://api.datadoghq.com``). Without a cluster (`rollouts analyze`) a ``secretRef`` falls back to
the environment too. The keys never appear in a message, value or metadata (`scrub`).

Replay (``at``): the window ends at `at` instead of now, so a past instant gets the answer it had then.

Where this differs from Argo: a point whose value is null (Datadog's gap marker, which Go decodes as 0) is
skipped — the last point *with a value* is the result, none is no data; a 200 answer carrying ``"status":
"error"``/``"error"`` (v1) or a top-level ``errors`` (v2, where Datadog puts it; Argo reads only
``data.errors``) is an Error measurement rather than no data; a non-positive `interval` is refused; a
trailing ``/`` of the address is dropped; `NaN`/`Infinity` literals are not JSON, as in Go.

The end of the module holds what this provider and `newrelic` share: the HTTP exchange under an admission and
one deadline (`HttpVendorProvider`), Go-style JSON and float text, and the scrubbing of secrets.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus, urlsplit

from yarl import URL

from analysis.durations import DurationError, parse_go_duration_ns
from analysis.models import Measurement, Metric
from analysis.providers.base import BaseProvider, error_measurement, off_loop, value_measurement
from analysis.providers.credentials import Credentials, CredentialsError
from analysis.providers.shaping import format_sample_value
from analysis.providers.throttling import TENANT, LimiterRegistry
from analysis.providers.vendor import (
    MAX_BODY,
    Answer,
    ExchangeFailed,
    HttpVendorProvider,
    excerpt,
    retry_note,
    scrub,
)

__all__ = [
    "AGGREGATORS",
    "DEFAULT_ADDRESS",
    "DEFAULT_INTERVAL",
    "DEFAULT_REQUEST_TIMEOUT",
    "ENV_ADDRESS",
    "ENV_API_KEY",
    "ENV_APP_KEY",
    "MAX_GROUPS_IN_METADATA",
    "SECRET_NAME",
    "Answer",
    "DatadogAnswerError",
    "DatadogConfigError",
    "DatadogProvider",
    "DatadogQuery",
    "ExchangeFailed",
    "HttpVendorProvider",
    "excerpt",
    "go_float",
    "go_json",
    "parse_datadog",
    "retry_note",
    "scrub",
    "shape_v1",
    "shape_v2",
    "strict_json",
]

DEFAULT_ADDRESS = "https://api.datadoghq.com"
SECRET_NAME = "datadog"
"""Argo's DatadogTokensSecretName, in the controller's namespace."""
ENV_API_KEY, ENV_APP_KEY, ENV_ADDRESS = "DD_API_KEY", "DD_APP_KEY", "DD_ADDRESS"
"""Argo's envVariablesFinder: ``DD_`` + the Secret's key upper-cased, ``-`` → ``_``."""
DEFAULT_INTERVAL = "5m"
DEFAULT_REQUEST_TIMEOUT = "10s"
AGGREGATORS = ("avg", "min", "max", "sum", "last", "percentile", "mean", "l2norm", "area")
MAX_GROUPS_IN_METADATA = 100
_V1_PATH = "/api/v1/query"
_V2_PATH = "/api/v2/query/scalar"
_NS = 1_000_000_000


class DatadogConfigError(ValueError):
    """A `datadog` block that cannot be queried; the message is the Error measurement's."""


class DatadogAnswerError(ValueError):
    """A Datadog answer that gives no result; the message is the Error measurement's."""


@dataclass(frozen=True)
class DatadogQuery:
    """A checked `datadog` block."""

    api_version: str
    query: str | None
    queries: Mapping[str, str]
    formula: str | None
    aggregator: str
    interval: int
    """Seconds (Argo truncates the duration to whole seconds)."""
    timeout: float
    """Seconds."""
    secret_name: str | None
    namespaced: bool


def _string(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise DatadogConfigError(f"datadog.{key} must be a string, got {json.dumps(value)}")
    return value


def _duration_ns(raw: Mapping[str, Any], key: str, default: str) -> tuple[str, int]:
    text = _string(raw, key) or default
    try:
        return text, parse_go_duration_ns(text)
    except DurationError as e:
        raise DatadogConfigError(f"datadog.{key} {json.dumps(text)} is not a duration: {e}") from None


def parse_datadog(raw: Any) -> DatadogQuery:
    """Check a ``provider.datadog`` object (Argo's validateIncomingProps, sentences included).

    >>> parse_datadog({"query": "avg:cpu{*}"}).api_version
    'v1'
    >>> parse_datadog({"apiVersion": "v2", "queries": {"a": "x", "b": "y"}})
    Traceback (most recent call last):
    ...
    analysis.providers.datadog.DatadogConfigError: When multiple queries are provided you must include a formula.
    """
    if not isinstance(raw, Mapping):
        raise DatadogConfigError(f"provider.datadog must be an object, got {json.dumps(raw)}")
    version = _string(raw, "apiVersion") or "v1"
    if version not in ("v1", "v2"):
        raise DatadogConfigError(f"datadog.apiVersion must be v1 or v2, got {json.dumps(version)}")
    query = _string(raw, "query") or None
    queries_raw = raw.get("queries") or {}
    if not isinstance(queries_raw, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in queries_raw.items()
    ):
        raise DatadogConfigError("datadog.queries must map query names to query strings")
    queries: dict[str, str] = dict(queries_raw)
    formula = _string(raw, "formula") or None
    aggregator = _string(raw, "aggregator") or ""
    if query is None and not queries:
        raise DatadogConfigError("Must have either a query or queries. Please review the Analysis Template.")
    if query is not None and queries:
        raise DatadogConfigError("Cannot have both a query and queries. Please review the Analysis Template.")
    if version == "v1" and query is None:
        raise DatadogConfigError(
            "Query is empty. API Version v1 only supports using the query parameter in your Analysis Template."
        )
    if formula is not None and not queries:
        raise DatadogConfigError(
            "Formula are only valid when queries are set. Please review the Analysis Template."
        )
    if formula is None and len(queries) > 1:
        raise DatadogConfigError("When multiple queries are provided you must include a formula.")
    if version == "v1" and aggregator:
        raise DatadogConfigError("Aggregator is not supported in v1. Please review the Analysis Template.")
    if aggregator and aggregator not in AGGREGATORS:
        raise DatadogConfigError(
            f"datadog.aggregator must be one of {', '.join(AGGREGATORS)}, got {json.dumps(aggregator)}"
        )
    if "requestTimeout" in raw and raw["requestTimeout"] not in (None, ""):
        text = _string(raw, "requestTimeout") or ""
        try:
            timeout_ns = parse_go_duration_ns(text)
        except DurationError as e:
            raise DatadogConfigError(
                f"Could not parse the request timeout: {e}. Please review the Analysis Template."
            ) from None
        if timeout_ns <= 0:
            raise DatadogConfigError(
                "Request timeout must be a positive duration (e.g. 30s). Please review the Analysis Template."
            )
    else:
        timeout_ns = parse_go_duration_ns(DEFAULT_REQUEST_TIMEOUT)
    interval_text, interval_ns = _duration_ns(raw, "interval", DEFAULT_INTERVAL)
    if interval_ns // _NS <= 0:
        raise DatadogConfigError(
            f"datadog.interval must be a positive duration of at least 1s, got {json.dumps(interval_text)}"
        )
    ref = raw.get("secretRef") or {}
    if not isinstance(ref, Mapping):
        raise DatadogConfigError("datadog.secretRef must be an object {name, namespaced}")
    name = ref.get("name")
    namespaced = ref.get("namespaced", False)
    if name is not None and not isinstance(name, str):
        raise DatadogConfigError(f"datadog.secretRef.name must be a string, got {json.dumps(name)}")
    if not isinstance(namespaced, bool):
        raise DatadogConfigError(
            f"datadog.secretRef.namespaced must be true or false, got {json.dumps(namespaced)}"
        )
    return DatadogQuery(
        api_version=version,
        query=query,
        queries=queries,
        formula=formula,
        aggregator=aggregator or "last",
        interval=interval_ns // _NS,
        timeout=timeout_ns / _NS,
        secret_name=name or None,
        namespaced=namespaced,
    )


def v1_url(address: str, query: str, now: int, interval: int) -> URL:
    """``<address>/api/v1/query?from=…&query=…&to=…``, encoded as Go's `url.Values.Encode` (keys sorted)."""
    params = (("from", str(now - interval)), ("query", query), ("to", str(now)))
    encoded = "&".join(f"{k}={quote_plus(v, safe='')}" for k, v in params)
    return URL(f"{address}{_V1_PATH}?{encoded}", encoded=True)


def v2_body(config: DatadogQuery, now: int) -> dict[str, Any]:
    """The ``/api/v2/query/scalar`` request document (from/to in epoch milliseconds)."""
    queries = dict(config.queries) if config.queries else {"query": config.query or ""}
    return {
        "data": {
            "attributes": {
                "from": (now - config.interval) * 1000,
                "to": now * 1000,
                "queries": [
                    {"aggregator": config.aggregator, "data_source": "metrics", "name": name, "query": text}
                    for name, text in sorted(queries.items())
                ],
                "formulas": [{"formula": config.formula}] if config.formula else [],
            },
            "type": "scalar_request",
        }
    }


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def shape_v1(body: Any) -> tuple[float | None, str]:
    """`(result, value string)` of a v1 ``/query`` answer: the last point with a value of the first series.

    >>> shape_v1({"series": [{"pointlist": [[1, 0.5], [2, 0.25], [3, None]]}]})
    (0.25, '0.25')
    >>> shape_v1({"series": []})
    (None, '[]')
    """
    if not isinstance(body, dict):
        raise DatadogAnswerError(
            f"Could not parse JSON body: the answer is not an object: {excerpt(go_json(body))}"
        )
    said = body.get("error")
    if body.get("status") == "error" or (isinstance(said, str) and said):
        raise DatadogAnswerError(f"There were errors in your query: {excerpt(str(said or body))}")
    series = body.get("series")
    if series is not None and not isinstance(series, list):
        raise DatadogAnswerError(
            f"Could not parse JSON body: series is not a list: {excerpt(go_json(series))}"
        )
    points: Any = []
    if series:
        first = series[0]
        if not isinstance(first, dict):
            raise DatadogAnswerError(
                f"Could not parse JSON body: a series is not an object: {excerpt(go_json(first))}"
            )
        points = first.get("pointlist") or []
        if not isinstance(points, list):
            raise DatadogAnswerError(
                f"Could not parse JSON body: pointlist is not a list: {excerpt(go_json(points))}"
            )
    for point in reversed(points):
        if not isinstance(point, list) or not all(v is None or _number(v) for v in point):
            raise DatadogAnswerError(
                f"Could not parse JSON body: data point {excerpt(go_json(point))} is not a list of numbers"
            )
        if len(point) != 2:
            raise DatadogAnswerError("Datapoint does not have 2 values")
        if point[1] is not None:
            value = float(point[1])
            return value, go_float(value)
    return None, _empty_series(series)


def _empty_series(series: Any) -> str:
    """Argo's value of a query without data: the series as JSON (``null`` when there were none at all)."""
    if series is None:
        return "null"
    return go_json([{"pointlist": s.get("pointlist") if isinstance(s, dict) else None} for s in series])


@dataclass(frozen=True)
class V2Result:
    result: float | list[float] | None
    value: str
    metadata: dict[str, str] | None


def shape_v2(body: Any) -> V2Result:
    """The result of a v2 ``/query/scalar`` answer (Argo's extractValues and groupsMetadata).

    >>> shape_v2({"data": {"attributes": {"columns": [{"name": "a", "type": "number", "values": [None, 2.5]}]}}}).value
    '2.5'
    """
    if not isinstance(body, dict):
        raise DatadogAnswerError(
            f"Could not parse JSON body: the answer is not an object: {excerpt(go_json(body))}"
        )
    data = body.get("data")
    data = data if isinstance(data, dict) else {}
    for errors in (data.get("errors"), body.get("errors")):
        if errors:
            text = errors if isinstance(errors, str) else go_json(errors)
            raise DatadogAnswerError(f"There were errors in your query: {excerpt(text)}")
    attributes = data.get("attributes")
    columns = attributes.get("columns") if isinstance(attributes, dict) else None
    if columns is None:
        columns = []
    if not isinstance(columns, list) or not all(isinstance(c, dict) for c in columns):
        raise DatadogAnswerError(
            f"Could not parse JSON body: columns is not a list of objects: {excerpt(go_json(columns))}"
        )
    number: dict[str, Any] | None = None
    groups: list[dict[str, Any]] = []
    for column in columns:
        kind = column.get("type") or ""
        if number is None and kind in ("", "number"):
            number = column
        if kind == "group":
            groups.append(column)
    if number is None:
        return V2Result(None, "[]", None)
    raw_values = number.get("values") or []
    if not isinstance(raw_values, list):
        raise DatadogAnswerError(
            f"Could not parse JSON body: values is not a list: {excerpt(go_json(raw_values))}"
        )
    values: list[float] = []
    pairs: list[tuple[str, float]] = []
    for index, raw in enumerate(raw_values):
        if raw is None:
            continue
        if not _number(raw):
            name = number.get("name")
            raise DatadogAnswerError(
                f"could not parse numeric value {json.dumps(go_json(raw))} in column {json.dumps(str(name or ''))}"
            )
        value = float(raw)
        values.append(value)
        if groups:
            label = _group_label(groups, index)
            if label is None:
                raise DatadogAnswerError(f"could not parse group label at index {index}")
            pairs.append((label, value))
    if not values:
        return V2Result(None, "[]", None)
    if not groups:
        return V2Result(values[0], go_float(values[0]), None)
    text = "[" + ",".join(go_float(v) for v in values) + "]"
    return V2Result(values, text, _groups_metadata(pairs))


def _group_label(columns: Sequence[dict[str, Any]], index: int) -> str | None:
    parts: list[str] = []
    for column in columns:
        values = column.get("values")
        if not isinstance(values, list) or index >= len(values):
            return None
        tags = values[index]
        if not isinstance(tags, list) or not tags or not all(isinstance(t, str) for t in tags):
            return None
        parts.extend(tags)
    return ",".join(parts)


def _groups_metadata(pairs: list[tuple[str, float]]) -> dict[str, str]:
    metadata: dict[str, str] = {}
    if len(pairs) > MAX_GROUPS_IN_METADATA:
        ordered = sorted(pairs, key=lambda p: p[1])  # stable, as Go's SliceStable
        low = MAX_GROUPS_IN_METADATA // 2
        pairs = ordered[:low] + ordered[len(ordered) - (MAX_GROUPS_IN_METADATA - low) :]
        metadata["groups_truncated"] = "true"
    metadata["groups"] = (
        "[" + ",".join(f'{{"name":{go_json(n)},"value":{go_json(v)}}}' for n, v in pairs) + "]"
    )
    return dict(sorted(metadata.items()))


class _NoCredentials(Exception):
    """No usable API and application key; the message says where they were looked for."""


@dataclass(frozen=True)
class _Keys:
    address: str
    api_key: str
    app_key: str


class DatadogProvider(BaseProvider):
    """`provider.datadog` metrics. One instance per event loop; share `limiters` with the other providers."""

    kind = "datadog"
    label = "Datadog"

    def __init__(self, *, limiters: LimiterRegistry, credentials: Credentials, connections: int = 8) -> None:
        self._http = HttpVendorProvider(limiters=limiters, credentials=credentials, connections=connections)
        self.limiters = limiters
        self.credentials = credentials

    async def aclose(self) -> None:
        await self._http.aclose()

    async def measure(self, metric: Metric, *, at: datetime | None = None) -> Measurement:
        raw = metric.provider.datadog
        if raw is None:
            return error_measurement(f"metric '{metric.name}' has no datadog provider")
        try:
            keys = await self.keys(raw)
            config = parse_datadog(raw)
        except (CredentialsError, _NoCredentials, DatadogConfigError) as e:
            return error_measurement(str(e))
        measurement = await self._query(config, keys, at)
        return scrub(measurement, [keys.api_key, keys.app_key])

    async def keys(self, raw: Mapping[str, Any]) -> _Keys:
        """The address and keys, in Argo's order (see the module docstring). Raises `CredentialsError` (a
        Secret cannot be read) or `_NoCredentials`."""
        credentials = self.credentials
        ref = raw.get("secretRef") if isinstance(raw, Mapping) else None
        ref = ref if isinstance(ref, Mapping) else {}
        name = ref.get("name") if isinstance(ref.get("name"), str) else ""
        namespaced = ref.get("namespaced") is True
        if namespaced and not name:
            raise _NoCredentials("secret name is required for namespaced credentials")
        looked: list[str] = []
        if not name or credentials.lookup is None:
            api, app = credentials.env(ENV_API_KEY), credentials.env(ENV_APP_KEY)
            if api and app:
                return _Keys(_address(credentials.env(ENV_ADDRESS)), api, app)
            looked.append(f"the environment ({ENV_API_KEY}, {ENV_APP_KEY})")
        if credentials.lookup is not None:
            secret = name or SECRET_NAME
            namespace = (TENANT.get() or credentials.namespace) if namespaced else credentials.namespace
            data = await credentials.secret(secret, namespace)
            where = f"the Secret {namespace}/{secret}"
            if data is None:
                looked.append(f"{where}, which does not exist")
            else:
                api, app = data.get("api-key") or "", data.get("app-key") or ""
                if api and app:
                    return _Keys(_address(data.get("address")), api, app)
                missing = " and ".join(k for k, v in (("api-key", api), ("app-key", app)) if not v)
                looked.append(f"{where}, which has no {missing}")
        raise _NoCredentials(
            "failed to find the credentials for datadog metrics provider: looked in " + " and ".join(looked)
        )

    async def _query(self, config: DatadogQuery, keys: _Keys, at: datetime | None) -> Measurement:
        parts = urlsplit(keys.address)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return error_measurement(f"Datadog address {json.dumps(keys.address)} is not a http(s) URL")
        instant = at if at is not None else datetime.now(UTC)
        now = math.floor((instant if instant.tzinfo else instant.replace(tzinfo=UTC)).timestamp())
        headers = {
            "Content-Type": "application/json",
            "DD-API-KEY": keys.api_key,
            "DD-APPLICATION-KEY": keys.app_key,
        }
        data: bytes | None = None
        if config.api_version == "v1":
            method, url = "GET", v1_url(keys.address, config.query or "", now, config.interval)
        else:
            method, url = "POST", URL(keys.address + _V2_PATH)
            data = json.dumps(v2_body(config, now), separators=(",", ":")).encode()
        try:
            answer = await self._http.exchange(
                method,
                url,
                address=keys.address,
                headers=headers,
                data=data,
                seconds=config.timeout,
                label="Datadog",
            )
        except ExchangeFailed as e:
            return error_measurement(str(e))
        if answer.too_large:
            return error_measurement(f"Datadog response is larger than {MAX_BODY // (1024 * 1024)} MiB")
        if answer.status in (401, 403):
            return error_measurement(
                f"received authentication error response code: {answer.status} {excerpt(answer.text())}".rstrip()
            )
        if answer.status != 200:
            return error_measurement(
                f"received non 2xx response code: {answer.status} {excerpt(answer.text())}".rstrip()
                + retry_note(answer)
            )
        try:
            body = await off_loop(strict_json, answer.body)
        except ValueError as e:
            return error_measurement(f"Could not parse JSON body: {e}")
        try:
            if config.api_version == "v1":
                result, value = shape_v1(body)
                return value_measurement(value).with_result(result)
            shaped = shape_v2(body)
        except DatadogAnswerError as e:
            return error_measurement(str(e))
        measurement = value_measurement(shaped.value).with_result(shaped.result)
        if shaped.metadata:
            measurement.metadata = shaped.metadata
        return measurement


def _address(value: str | None) -> str:
    return (value or DEFAULT_ADDRESS).strip().rstrip("/")


# ---------------------------------------------------------------------------------------------------------
# Go's JSON, which the Datadog and New Relic providers share.


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def strict_json(body: bytes) -> Any:
    """JSON as Go reads it: ``NaN``/``Infinity`` are not values. Raises ValueError (nesting too deep for
    Python's decoder included, which it reports as a RecursionError)."""
    try:
        return json.loads(body, parse_constant=_no_constants)
    except RecursionError:
        raise ValueError("the JSON is nested too deeply") from None


def go_float(value: float) -> str:
    """Go's ``strconv.FormatFloat(v, 'f', -1, 64)``: ``0.5``, ``10``, ``NaN``, ``+Inf``."""
    return format_sample_value(value)


def go_json(value: Any) -> str:
    """`value` encoded as Go's `json.Marshal` encodes a decoded JSON value: compact, map keys sorted, floats
    in Go's shortest form (``1``, ``0.5``, ``1e-7``, ``1e+21``), ``<>&`` escaped.

    >>> go_json({"b": 1.0, "a": [0.5, None, "x<y"], "c": 1e-7})
    '{"a":[0.5,null,"x\\\\u003cy"],"b":1,"c":1e-7}'
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_json_float(value)
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{go_json(str(k))}:{go_json(v)}" for k, v in sorted(value.items())) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(go_json(v) for v in value) + "]"
    return go_json(str(value))


def _go_json_float(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        return go_float(value)  # Go refuses to encode these; say them rather than fail
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        mantissa, _, exponent = repr(value).partition("e")
        sign, digits = exponent[0], exponent[1:].lstrip("0") or "0"
        return f"{mantissa}e{sign}{digits}"
    return go_float(value)
