"""The SkyWalking metric provider: one `measure()` = one GraphQL query to a SkyWalking OAP server.

Sits at the edge of the analysis pipeline like the web provider: the runner hands it a metric with
arguments substituted, it returns a `Measurement` with the value string and the result attached, and
`assess` evaluates the conditions. It follows Argo's `metricproviders/skywalking/skywalking.go` and the
GraphQL client Argo uses (github.com/machinebox/graphql v0.2.2, JSON mode):

* ``skywalking: {address, query, interval}``; the request is ``POST <address>/graphql`` with the body
  ``{"query": <query>, "variables": {"duration": {"start", "end", "step": "MINUTE"}}}`` and the headers
  ``Content-Type`` and ``Accept: application/json; charset=utf-8``;
* ``end`` is now and ``start`` is now − ``interval``, both written ``2006-01-02 1504`` (minute precision) in
  the process's local time zone, as Go's ``time.Now().Format`` writes them (a container runs in UTC);
  ``interval`` is a Go duration and is required, as in Argo (``time: invalid duration ""`` otherwise);
* a replayed measurement (``at``) asks about the window ending at ``at``: SkyWalking keeps its history,
  so the answer is the past's;
* the result the conditions see is the response's ``data`` as Go decodes it (objects, lists, every number a
  float64); ``measurement.value`` is it marshalled as Go marshals it (sorted keys, ``<>&`` escaped);
* no ``data`` (absent or null) is an Error, ``no results returned from SkyWalking query``; a response with
  ``errors`` is an Error naming the first (``graphql: <message>``), data or not; a body that is not JSON
  is ``graphql: server returned a non-200 status code: 503`` (or ``decoding response: …`` with a 200);
* the request has 30 s (Argo's ``defaultQueryTimeout``), counting the wait for the namespace's and the
  backend's slots (`throttling`).

Beyond Argo: a non-200 answer whose JSON has neither ``data`` nor ``errors`` is said as a non-200 answer
(with its ``Retry-After``, if any) instead of ``no results``; unknown keys under ``skywalking`` and a
missing address or query are Error measurements naming the field.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from analysis.durations import DurationError, parse_go_duration
from analysis.models import Measurement, Metric
from analysis.providers.base import BaseProvider, PooledSession, error_measurement, short_cause
from analysis.providers.throttling import LimiterRegistry

__all__ = [
    "DEFAULT_SKYWALKING_TIMEOUT_SECONDS",
    "SkyWalkingConfig",
    "SkyWalkingProvider",
    "go_decode",
    "go_json",
    "graphql_duration",
    "parse_skywalking",
    "retry_after",
]

DEFAULT_SKYWALKING_TIMEOUT_SECONDS = 30.0
"""Argo's `defaultQueryTimeout`."""
_MAX_BODY = 10 * 1024 * 1024
_DURATION_FORMAT = "%Y-%m-%d %H%M"  # Go's "2006-01-02 1504"
_JSON_UTF8 = "application/json; charset=utf-8"
_FIELDS = ("address", "query", "interval")


class SkyWalkingConfigError(ValueError):
    """A `skywalking` section that cannot be queried; the message names the field."""


@dataclass(frozen=True)
class SkyWalkingConfig:
    """`metric.provider.skywalking`, checked: the GraphQL endpoint, the query and the window length."""

    address: str
    query: str
    interval: timedelta

    @property
    def endpoint(self) -> str:
        return self.address + "/graphql"


def parse_skywalking(raw: Any) -> SkyWalkingConfig:
    """The `skywalking` object of a metric, checked; `SkyWalkingConfigError` names the field at fault."""
    if not isinstance(raw, dict):
        raise SkyWalkingConfigError("skywalking must be an object with address, query and interval")
    unknown = sorted(k for k in raw if k not in _FIELDS)
    if unknown:
        raise SkyWalkingConfigError(
            f"skywalking.{unknown[0]} is not a field of the skywalking provider (fields: {', '.join(_FIELDS)})"
        )
    for key in _FIELDS:
        value = raw.get(key)
        if value is not None and not isinstance(value, str):
            raise SkyWalkingConfigError(f"skywalking.{key} must be a string, got {json.dumps(value)}")
    address = str(raw.get("address") or "").strip().rstrip("/")
    parts = urlsplit(address)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SkyWalkingConfigError(f"skywalking.address is not a http(s) URL: {address!r}")
    query = str(raw.get("query") or "")
    if not query.strip():
        raise SkyWalkingConfigError("skywalking.query is required")
    try:
        interval = parse_go_duration(str(raw.get("interval") or ""))
    except DurationError as e:
        raise SkyWalkingConfigError(f"skywalking.interval: {e}") from None
    return SkyWalkingConfig(address, query, interval)


def graphql_duration(end: datetime, interval: timedelta, zone: tzinfo | None = None) -> dict[str, str]:
    """The ``$duration`` variable Argo sends: ``{start: end − interval, end, step: "MINUTE"}`` written
    ``2006-01-02 1504`` in `zone` (None: the process's local zone, as Go's ``time.Now()``).

    >>> graphql_duration(datetime(2026, 3, 1, 9, 7, 59, tzinfo=UTC), timedelta(minutes=5), UTC)
    {'start': '2026-03-01 0902', 'end': '2026-03-01 0907', 'step': 'MINUTE'}
    """
    if end.tzinfo is None:
        end = end.replace(tzinfo=UTC)
    start = end - interval
    start, end = start.astimezone(zone), end.astimezone(zone)
    return {
        "start": start.strftime(_DURATION_FORMAT),
        "end": end.strftime(_DURATION_FORMAT),
        "step": "MINUTE",
    }


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date); None when absent or unreadable.

    >>> retry_after("30"), retry_after(None), retry_after("soon")
    (30.0, None, None)
    """
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _go_float(value: float) -> str:
    """A float64 as Go's encoding/json writes it: shortest digits, exponent form only below 1e-6 or from
    1e21 (``1e-7``, ``1e+21``), plain decimals otherwise (``0.00001``, ``9900``)."""
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    magnitude = abs(value)
    text = repr(value)
    if magnitude < 1e-6 or magnitude >= 1e21:
        mantissa, _, exponent = text.partition("e")
        sign = "-" if exponent.startswith("-") else "+"
        return f"{mantissa}e{sign}{exponent.lstrip('+-').lstrip('0') or '0'}"
    plain = format(Decimal(text), "f")
    if "." in plain:
        plain = plain.rstrip("0").rstrip(".")
    return plain


def go_json(value: Any) -> str:
    """`value` as Go's ``json.Marshal`` writes an ``any``: compact, object keys sorted, UTF-8 kept, ``<``, ``>``
    and ``&`` escaped, floats in Go's form.

    >>> go_json({"b": [1.0, 0.5], "a": "<x>"})
    '{"a":"\\\\u003cx\\\\u003e","b":[1,0.5]}'
    """
    parts: list[str] = []
    _marshal(value, parts)
    text = "".join(parts)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _marshal(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, float):
        out.append(_go_float(value))
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, dict):
        out.append("{")
        for i, key in enumerate(sorted(value)):
            if i:
                out.append(",")
            out.append(json.dumps(str(key), ensure_ascii=False))
            out.append(":")
            _marshal(value[key], out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _marshal(item, out)
        out.append("]")
    else:
        out.append(json.dumps(str(value), ensure_ascii=False))


def _go_number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"json: cannot unmarshal number {text} into Go value of type float64")
    return value


def go_decode(content: bytes | str) -> Any:
    """JSON decoded as Go decodes it into an ``any``: every number a float64 (one out of its range is an
    error, as in Go). Raises ValueError for a body that is not JSON."""
    try:
        return json.loads(content, parse_int=_go_number, parse_float=_go_number, parse_constant=_not_json)
    except RecursionError:  # Python's decoder has a nesting limit; said as a body that is not JSON
        raise ValueError("the JSON is nested too deeply") from None


def _not_json(text: str) -> Any:
    raise ValueError(f"invalid character {text[0]!r} looking for beginning of value")


def _first_error(errors: Any) -> str | None:
    """`graphql: <message>` of the first entry of a non-empty ``errors`` list (machinebox's graphErr)."""
    if not isinstance(errors, list) or not errors:
        return None
    first = errors[0]
    message = first.get("message") if isinstance(first, dict) else None
    return f"graphql: {message if isinstance(message, str) else ''}"


class SkyWalkingProvider(PooledSession, BaseProvider):
    """`provider.skywalking` metrics. One instance per event loop; share `limiters` with the other providers.

    `clock` is "now" for live measurements; `zone` the time zone the duration is written in (None: the
    process's local zone, as Argo's Go process); `timeout` bounds one query (Argo: 30 s)."""

    kind = "skywalking"

    def __init__(
        self,
        *,
        limiters: LimiterRegistry | None = None,
        connections: int = 8,
        timeout: float = DEFAULT_SKYWALKING_TIMEOUT_SECONDS,
        zone: tzinfo | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.limiters = limiters or LimiterRegistry()
        self.connections = max(1, connections)
        self.timeout = timeout
        self.zone = zone
        self.clock = clock
        self._session: aiohttp.ClientSession | None = None

    async def measure(self, metric: Metric, *, at: datetime | None = None) -> Measurement:
        raw = metric.provider.skywalking
        if raw is None:
            return error_measurement(f"metric '{metric.name}' has no skywalking provider")
        try:
            config = parse_skywalking(raw)
        except SkyWalkingConfigError as e:
            return error_measurement(str(e))
        variables = {"duration": graphql_duration(at or self.clock(), config.interval, self.zone)}
        # machinebox/graphql encodes with json.Encoder: compact, with a trailing newline.
        body = json.dumps({"query": config.query, "variables": variables}, separators=(",", ":")) + "\n"
        answer = await self._post(config.endpoint, body.encode())
        if isinstance(answer, str):
            return error_measurement(answer)
        status, headers, content = answer
        # Decoding and re-marshalling up to 10 MiB the metric's own server chose takes seconds of CPU: in a
        # worker thread, so the event loop keeps serving every other namespace meanwhile.
        return await asyncio.to_thread(_measurement, status, headers, content)

    async def _post(self, url: str, body: bytes) -> tuple[int, dict[str, str], bytes] | str:
        """(status, headers, body) of the exchange, or the sentence saying why there is none."""
        admission = self.limiters.admit(url)
        timeout = self.timeout
        try:
            async with (
                asyncio.timeout(timeout),
                admission,
                self._client().post(
                    url,
                    data=body,
                    headers={"Content-Type": _JSON_UTF8, "Accept": _JSON_UTF8},
                    timeout=aiohttp.ClientTimeout(total=timeout),
                ) as response,
            ):
                content = await _read_body(response.content)
                return response.status, dict(response.headers), content
        except TimeoutError:
            if admission.waiting_for is not None:
                self.limiters.observe("refused", admission.waiting_for, admission.tenant)
                return admission.describe_refusal(timeout)
            return f'Post "{url}": context deadline exceeded (no answer within {timeout:g}s)'
        except aiohttp.ClientError as e:
            return f'Post "{url}": {short_cause(e)}'
        except Exception as e:  # a library bug must not take the run down
            return f'Post "{url}": {type(e).__name__}: {e}'


def _measurement(status: int, headers: dict[str, str], content: bytes) -> Measurement:
    """The measurement of one GraphQL answer, read as machinebox/graphql and Argo's processResponse read it."""
    if len(content) > _MAX_BODY:
        return error_measurement(f"the SkyWalking answer is larger than {_MAX_BODY // (1024 * 1024)} MiB")
    non_200 = f"graphql: server returned a non-200 status code: {status}"
    wait = retry_after(headers.get("Retry-After"))
    if wait is not None and status != 200:
        non_200 += f" (Retry-After: {wait:g}s)"
    try:
        document = go_decode(content)
    except ValueError as e:
        return error_measurement(non_200 if status != 200 else f"decoding response: {e}")
    if not isinstance(document, dict):
        if status != 200:
            return error_measurement(non_200)
        kind = "array" if isinstance(document, list) else type(document).__name__
        return error_measurement(
            f"decoding response: json: cannot unmarshal {kind} into the GraphQL response"
        )
    error = _first_error(document.get("errors"))
    if error is not None:
        return error_measurement(error)
    data = document.get("data")
    if data is None:
        if status != 200 and "data" not in document:
            return error_measurement(non_200)
        return error_measurement("no results returned from SkyWalking query")
    return Measurement(value=go_json(data)).with_result(data)


async def _read_body(content: aiohttp.StreamReader) -> bytes:
    """The body up to `_MAX_BODY` + 1 bytes (one more than allowed tells a body that is too large)."""
    chunks: list[bytes] = []
    size = 0
    while size <= _MAX_BODY:
        chunk = await content.read(_MAX_BODY + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)
