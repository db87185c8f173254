"""The Graphite metric provider: one `measure()` = one request to Graphite's render API.

Follows Argo's `metricproviders/graphite` (graphite.go, api.go):

* ``graphite: {address, query}``. `query` is the render API's *query string*, not a bare target:
  ``target=summarize(app.requests.count,'5min','avg')&from=-5min``. All whitespace is removed first (so a
  multi-line YAML block works), then the pairs are re-encoded with ``format=json`` set, keys sorted, and sent as
  ``GET <address>/render?<pairs>`` (the address' own path is kept: ``http://host/graphite`` →
  ``/graphite/render``). Without ``from``/``until`` Graphite answers about the last 24 hours up to now.
* The answer is a JSON list of series ``[{"target": …, "datapoints": [[value, timestamp], …]}, …]``. Only the
  first series counts. Its non-null values, in order, are the result: a list of floats (``result[0]``,
  ``10.000000 in result``), the value string ``[10.000000,2.500000]`` (Go's ``%f``). A value may be a number
  or a numeric string. No series, or a first series without data points, is an Error measurement
  ``no values found``; one whose points are all null gives the empty list ``[]``.
* A status of 400 or more is an Error measurement ``error response: <body>``. Argo's client waits 10 s
  (`TIMEOUT_SECONDS`); so does this one, counting the wait for an admission (`throttling`) too.
* Argo has no authentication for Graphite. User and password written in the address
  (``http://user:pass@graphite``) are sent as basic auth and never shown in a message.

Replay (``at``, `rollouts analyze --at`): the render API can be asked about a past window. The request gets
``now=<at>`` (graphite-web ≥ 1.0 resolves relative times against it), and ``from``/``until`` that are
relative to now (``-5min``, ``now-1h``, ``now``, left out) are rewritten as absolute epoch seconds counted
back from `at`, so a Graphite-compatible server that ignores ``now`` (carbonapi, …) answers about the same
window. A query that already sets ``now`` is sent unchanged.

The end of the module holds what the three vendor providers (this one, `influxdb`, `wavefront`) share: the
HTTP exchange under an admission and one deadline (`VendorProvider`), the Retry-After note of an error, and
the scrubbing of secrets out of a measurement.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote_plus, unquote_plus, urlsplit, urlunsplit

from yarl import URL

from analysis.models import Measurement, Metric
from analysis.providers.base import BaseProvider, error_measurement, off_loop, value_measurement
from analysis.providers.credentials import Credentials
from analysis.providers.throttling import LimiterRegistry
from analysis.providers.vendor import (
    MAX_BODY,
    Answer,
    ExchangeFailed,
    HttpVendorProvider,
    display_address,
    excerpt,
    retry_note,
    scrub,
)

__all__ = [
    "TIMEOUT_SECONDS",
    "Answer",
    "ExchangeFailed",
    "GraphiteAnswerError",
    "GraphiteProvider",
    "GraphiteQueryError",
    "VendorProvider",
    "display_address",
    "excerpt",
    "render_pairs",
    "retry_note",
    "scrub",
    "shape_render",
]

TIMEOUT_SECONDS = 10.0
"""Argo's Graphite client: `http.Client{Timeout: 10s}`."""
_DEFAULT_FROM = timedelta(days=1)  # graphite-web: `from` left out = 24 hours before now
_SPACE = re.compile(r"[\t\n\f\r ]+")  # Go's `\s` (api.go sanitizeQuery)
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_UNITS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86400),
    **dict.fromkeys(("w", "week", "weeks"), 7 * 86400),
    **dict.fromkeys(("mon", "month", "months"), 30 * 86400),
    **dict.fromkeys(("y", "year", "years"), 365 * 86400),
}
_RELATIVE = re.compile(r"(?:now)?(?:([+-])((?:\d+[a-z]+)+))?")
_OFFSET_PART = re.compile(r"(\d+)([a-z]+)")
_GO_FLOAT = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?|inf|infinity|nan)", re.IGNORECASE)
_GO_INT = re.compile(r"[+-]?\d+")


class GraphiteQueryError(ValueError):
    """A `query` that is not a usable render API query string."""


class GraphiteAnswerError(ValueError):
    """A render API answer that gives no result; the message is the Error measurement's."""


def render_pairs(query: str, at: datetime | None = None) -> list[tuple[str, str]]:
    """The render API parameters of `query` (Argo's sanitizeQuery + `url.Values.Encode`): whitespace removed,
    ``format=json`` set, sorted by key (values of one key keep their order); with `at`, the window moved to
    end at `at` (see the module docstring).

    >>> render_pairs("target=sumSeries(a.*)\\n  &from=-2min")
    [('format', 'json'), ('from', '-2min'), ('target', 'sumSeries(a.*)')]
    >>> render_pairs("target=a&from=-5min", datetime(2024, 1, 1, tzinfo=UTC))
    [('format', 'json'), ('from', '1704066900'), ('now', '1704067200'), ('target', 'a'), ('until', '1704067200')]
    """
    text = _SPACE.sub("", query)
    if "#" in text:
        raise GraphiteQueryError(
            "Graphite query contains '#', where a URL's query string ends: write it as %23"
        )
    pairs: list[tuple[str, str]] = []
    for part in text.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        bad = _BAD_ESCAPE.search(part)
        if bad:
            raise GraphiteQueryError(
                f"Graphite query has an invalid URL escape {part[bad.start() : bad.start() + 3]!r} in {part!r}"
            )
        pairs.append((unquote_plus(key), unquote_plus(value)))
    pairs = [(k, v) for k, v in pairs if k != "format"] + [("format", "json")]
    if at is not None and not any(k == "now" for k, _ in pairs):
        pairs = _replayed(pairs, at)
    return sorted(pairs, key=lambda kv: kv[0])


def _replayed(pairs: list[tuple[str, str]], at: datetime) -> list[tuple[str, str]]:
    """`pairs` asking about the window that ended at `at` rather than now."""
    instant = math.floor(_utc(at).timestamp())
    found = {k: v for k, v in pairs if k in ("from", "until")}
    out = [(k, v) for k, v in pairs if k not in ("from", "until")]
    defaults = {"from": f"-{int(_DEFAULT_FROM.total_seconds())}s", "until": "now"}
    for key in ("from", "until"):
        value = found.get(key, defaults[key])
        offset = _relative_seconds(value)
        out.append((key, value if offset is None else str(instant + offset)))
    out.append(("now", str(instant)))
    return out


def _relative_seconds(value: str) -> int | None:
    """Seconds from now of a Graphite time relative to now (``-5min``, ``now-1h30min``, ``now``, ``+1d``);
    None for anything else (an absolute time, ``midnight``, …), which the server resolves against ``now``.

    >>> [_relative_seconds(v) for v in ("-5min", "now-1h30min", "now", "-2weeks", "20240101", "-5minutes", "-3x")]
    [-300, -5400, 0, -1209600, None, -300, None]
    """
    text = value.strip().lower().replace("_", "").replace(",", "")
    found = _RELATIVE.fullmatch(text)
    if found is None or not text:
        return None
    sign, offsets = found.groups()
    if not offsets:
        return 0
    total = 0
    for number, unit in _OFFSET_PART.findall(offsets):
        if unit not in _UNITS:
            return None
        total += int(number) * _UNITS[unit]
    return -total if sign == "-" else total


def render_url(address: str, pairs: Sequence[tuple[str, str]]) -> URL:
    """``<address path>/render?<pairs>``, encoded as Go's `url.Values.Encode` does (space → ``+``)."""
    parts = urlsplit(address)
    path = parts.path.rstrip("/") + "/render"
    query = "&".join(f"{quote_plus(k, safe='')}={quote_plus(v, safe='')}" for k, v in pairs)
    return URL(urlunsplit((parts.scheme, parts.netloc, path, query, "")), encoded=True)


def shape_render(body: Any) -> tuple[list[float], str]:
    """`(result, value string)` of a render API JSON answer, as Argo's processResponse makes them.

    >>> shape_render([{"target": "a", "datapoints": [[1.5, 1], [None, 2], ["2", 3]]}, {"target": "b"}])
    ([1.5, 2.0], '[1.500000,2.000000]')
    """
    if not isinstance(body, list):
        raise GraphiteAnswerError(
            f"Graphite answer is not a list of series: {excerpt(json.dumps(body, allow_nan=True))}"
        )
    if not body:
        raise GraphiteAnswerError("no values found")
    first = body[0]
    if not isinstance(first, dict):
        raise GraphiteAnswerError(f"Graphite series is not an object: {excerpt(json.dumps(first))}")
    points = first.get("datapoints")
    if points is None:
        points = []
    if not isinstance(points, list):
        raise GraphiteAnswerError(f"Graphite datapoints is not a list: {excerpt(json.dumps(points))}")
    if not points:
        raise GraphiteAnswerError("no values found")
    values: list[float] = []
    for point in points:
        value = _point_value(point)
        if value is not None:
            values.append(value)
    return values, "[" + ",".join(_go_f(v) for v in values) + "]"


def _point_value(point: Any) -> float | None:
    """One ``[value, timestamp]`` pair's value (None for null), checked as api.go's UnmarshalJSON does."""
    if not isinstance(point, list) or len(point) != 2:
        raise GraphiteAnswerError(f"error unmarshaling data point: {_go_v(point)}")
    raw, stamp = point
    if isinstance(stamp, str):
        if not _GO_INT.fullmatch(stamp):
            raise GraphiteAnswerError(f'strconv.ParseInt: parsing "{stamp}": invalid syntax')
    elif stamp is not None and (isinstance(stamp, bool) or not isinstance(stamp, int | float)):
        raise GraphiteAnswerError(f"error unmarshaling timestamp: {_go_v(stamp)}")
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise GraphiteAnswerError(f"error unmarshaling value: {_go_v(raw)}")
    if isinstance(raw, str):
        if not _GO_FLOAT.fullmatch(raw):
            raise GraphiteAnswerError(f'strconv.ParseFloat: parsing "{raw}": invalid syntax')
        return float(raw)
    return float(raw)


def _go_f(value: float) -> str:
    """Go's ``%f``: six decimals; ``NaN``, ``+Inf``, ``-Inf``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:f}"


def _go_v(value: Any) -> str:
    """A decoded JSON value as Go's ``%v`` prints an `[]any` element: ``[10]``, ``map[a:1]``, ``<nil>``."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(_go_v(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_v(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class VendorProvider(BaseProvider):
    """An HTTP metric provider (Graphite, InfluxDB, Wavefront): its `timeout` and `label` over the shared
    exchange of `analysis.providers.vendor`."""

    timeout: float = TIMEOUT_SECONDS
    label: str = ""
    """The backend's name in messages (``Graphite``)."""

    def __init__(self, *, limiters: LimiterRegistry, credentials: Credentials, connections: int = 8) -> None:
        self._http = HttpVendorProvider(limiters=limiters, credentials=credentials, connections=connections)
        self.limiters = limiters
        self.credentials = credentials

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _exchange(
        self,
        method: str,
        url: URL,
        *,
        address: str,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
    ) -> Answer:
        """One request to `url` (admitted as `address`); raises `ExchangeFailed` when there is no answer."""
        return await self._http.exchange(
            method,
            url,
            address=address,
            headers=headers or {},
            data=data,
            seconds=self.timeout,
            label=self.label,
            shown=display_address(address),
        )

    def _too_large(self, address: str) -> Measurement:
        return error_measurement(
            f"{self.label} response from {display_address(address)} is larger than "
            f"{MAX_BODY // (1024 * 1024)} MiB"
        )


class GraphiteProvider(VendorProvider):
    """`provider.graphite` metrics. One instance per event loop; share `limiters` with the other providers."""

    kind = "graphite"
    label = "Graphite"

    async def _measure(self, metric: Metric, at: datetime | None) -> Measurement:
        config = metric.provider.graphite
        if config is None:
            return error_measurement(f"metric '{metric.name}' has no graphite provider")
        address = config.get("address")
        query = config.get("query")
        if not isinstance(address, str) or not _is_http_url(address):
            shown = display_address(address) if isinstance(address, str) else _go_v(address)
            return error_measurement(f"Graphite address {shown} is not a valid URL")
        if not isinstance(query, str) or not query.strip():
            return error_measurement("graphite.query is required: the render API query string, e.g. target=…")
        try:
            url = render_url(address, render_pairs(query, at))
        except GraphiteQueryError as e:
            return error_measurement(str(e))
        try:
            answer = await self._exchange("GET", url, address=address)
        except ExchangeFailed as e:
            return error_measurement(str(e))
        if answer.too_large:
            return self._too_large(address)
        if answer.status >= 400:
            return error_measurement(f"error response: {excerpt(answer.text())}{retry_note(answer)}")
        try:
            body = await off_loop(json.loads, answer.body)
        except (ValueError, RecursionError) as e:
            return error_measurement(f"Graphite answer is not JSON: {e}: {excerpt(answer.text(), 200)}")
        try:
            values, text = shape_render(body)
        except GraphiteAnswerError as e:
            return error_measurement(str(e))
        return value_measurement(text).with_result(values)

    async def measure(self, metric: Metric, *, at: datetime | None = None) -> Measurement:
        measurement = await self._measure(metric, at)
        config = metric.provider.graphite or {}
        address = config.get("address")
        password = urlsplit(address).password if isinstance(address, str) else None
        return scrub(measurement, [password]) if password else measurement


def _is_http_url(address: str) -> bool:
    parts = urlsplit(address)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
