"""The web metric provider: one `measure()` = one HTTP request whose JSON answer is the metric's result.

Sits at the edge of the analysis pipeline, like the Prometheus provider: the runner hands it a metric with
arguments substituted, it returns a `Measurement` with the value string and the parsed result attached, and
`assess` evaluates the conditions. It follows Argo's `metricproviders/webmetric`:

* `method` GET (default), POST or PUT; `headers`; `body` (a string) or `jsonBody` (any JSON, sent with
  `Content-Type: application/json`); `timeoutSeconds` (default 10); `insecure` skips TLS verification;
* an endpoint can only be asked about now: a measurement requested at a past instant (a replay) is an
  Error measurement rather than today's answer passed off as the past's;
* a non-2xx status is an Error measurement (`received non 2xx response code: 503`);
* the body must be JSON; `jsonPath` (kubectl style, `{$.data.ok}`, default `{$}`) picks the value;
* the result is the JSON value itself — number, bool, string, list or object — so `result == "ok"` and
  `result > 0.9` both work; `measurement.value` is the string itself for a string, else compact JSON.

Requests go through one aiohttp session per event loop (at most `connections` at once), after an admission
by the namespace's and the backend's caps (`throttling`); the metric's timeout bounds the wait for those and
the whole exchange.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from jsonpath_ng.ext import parse as parse_jsonpath  # type: ignore[import-untyped,attr-defined]

from analysis.models import Measurement, Metric, WebMetric
from analysis.providers.base import BaseProvider, PooledSession, error_measurement, off_loop
from analysis.providers.throttling import LimiterRegistry
from analysis.wire import format_time

__all__ = ["DEFAULT_WEB_TIMEOUT_SECONDS", "JsonPathError", "WebProvider", "compile_json_path", "value_string"]

DEFAULT_WEB_TIMEOUT_SECONDS = 10
_MAX_BODY = 10 * 1024 * 1024
_NOW_TOLERANCE_SECONDS = 60.0


class JsonPathError(ValueError):
    """A `jsonPath` that does not parse."""


_PATHS: dict[str, Any] = {}


def compile_json_path(expression: str | None) -> Any:
    """Parse a kubectl-style JSONPath (`{$.a.b}`, `{.a.b}`, `$.a[0]`) once; cached per expression."""
    text = (expression or "{$}").strip()
    compiled = _PATHS.get(text)
    if compiled is not None:
        return compiled
    inner = text[1:-1].strip() if text.startswith("{") and text.endswith("}") else text
    if inner.startswith("."):
        inner = "$" + inner
    if not inner:
        inner = "$"
    try:
        compiled = parse_jsonpath(inner)
    except Exception as e:  # JsonPathParserError, and bare Exceptions for some inputs
        raise JsonPathError(f"invalid jsonPath {expression!r}: {e}") from None
    if len(_PATHS) < 1024:
        _PATHS[text] = compiled
    return compiled


def value_string(value: Any) -> str:
    """The measurement value: a string as is, anything else as compact JSON (`true`, `0.95`, `{"a":1}`)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def pick(body: Any, expression: str | None) -> Any:
    """The value `expression` selects in `body`: one match → it, several → the list of them.

    Raises `LookupError` when nothing matches.
    """
    matches = compile_json_path(expression).find(body)
    if not matches:
        raise LookupError(f"{expression or '{$}'} is not found in the response")
    if len(matches) == 1:
        return matches[0].value
    return [m.value for m in matches]


class WebProvider(PooledSession, BaseProvider):
    """`provider.web` metrics. One instance per event loop; share `limiters` with the other providers."""

    kind = "web"

    def __init__(self, *, limiters: LimiterRegistry | None = None, connections: int | None = None) -> None:
        self.limiters = limiters or LimiterRegistry()
        self.connections = connections or max(1, self.limiters.default.concurrency) * 4
        self._session: aiohttp.ClientSession | None = None

    async def measure(self, metric: Metric, *, at: datetime | None = None) -> Measurement:
        config = metric.provider.web
        if config is None:
            return error_measurement(f"metric '{metric.name}' has no web provider")
        if at is not None and abs((datetime.now(UTC) - at).total_seconds()) > _NOW_TOLERANCE_SECONDS:
            # An HTTP endpoint can only be asked about now: a replayed instant would get today's answer.
            return error_measurement(
                f"web metric '{metric.name}' can only be measured now, not at {format_time(at)}"
            )
        try:
            method, data, headers, timeout = _request_parts(config)
            compile_json_path(config.json_path)
        except (ValueError, TypeError) as e:
            return error_measurement(str(e))
        admission = self.limiters.admit(config.url)
        try:
            # One deadline over the whole measurement: the namespace's and the backend's slots, then the
            # exchange with a body that trickles (aiohttp's `total` covers connecting and reading too).
            async with (
                asyncio.timeout(timeout),
                admission,
                self._client().request(
                    method,
                    config.url,
                    data=data,
                    headers=headers,
                    ssl=not config.insecure,
                    timeout=aiohttp.ClientTimeout(total=timeout),
                ) as response,
            ):
                raw = await _read_body(response.content)
                status = response.status
        except TimeoutError:
            if admission.waiting_for is not None:
                self.limiters.observe("refused", admission.waiting_for, admission.tenant)
                return error_measurement(admission.describe_refusal(timeout))
            return error_measurement(f"web metric request to {config.url} timed out after {timeout:g}s")
        except aiohttp.ClientError as e:
            return error_measurement(f"web metric request to {config.url} failed: {e or type(e).__name__}")
        except Exception as e:  # a library bug must not take the run down
            return error_measurement(f"web metric request to {config.url} failed: {type(e).__name__}: {e}")
        if not 200 <= status < 300:
            return error_measurement(f"received non 2xx response code: {status}")
        if len(raw) > _MAX_BODY:
            return error_measurement(
                f"web metric response from {config.url} is larger than {_MAX_BODY // (1024 * 1024)} MiB"
            )
        try:
            body = await off_loop(json.loads, raw)
        except (ValueError, RecursionError) as e:
            excerpt = raw[:200].decode(errors="replace")
            return error_measurement(
                f"Could not parse JSON body: {e}: {json.dumps(excerpt, ensure_ascii=False)}"
            )
        try:
            value = pick(body, config.json_path)
        except Exception as e:  # LookupError when nothing matches; jsonpath-ng's own errors otherwise
            return error_measurement(f"Could not find JSONPath in body: {e}")
        return Measurement(value=value_string(value)).with_result(value)


async def _read_body(content: aiohttp.StreamReader) -> bytes:
    """The body up to `_MAX_BODY` + 1 bytes (one more than allowed tells a body that is too large).

    `StreamReader.read(n)` returns what has arrived, not n bytes: a body in several packets needs a loop."""
    chunks: list[bytes] = []
    size = 0
    while size <= _MAX_BODY:
        chunk = await content.read(_MAX_BODY + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _request_parts(config: WebMetric) -> tuple[str, bytes | None, dict[str, str], float]:
    """Method, body, headers and timeout of the request; ValueError for an unusable configuration."""
    parts = urlsplit(config.url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"web metric url is not a http(s) URL: {config.url!r}")
    method = (config.method or "GET").upper()
    if method not in ("GET", "POST", "PUT"):
        raise ValueError(f"web metric method {config.method!r} is not supported (GET, POST or PUT)")
    headers = {h.key: h.value for h in config.headers or ()}
    data: bytes | None = None
    if config.body is not None and config.json_body is not None:
        raise ValueError("web metric: use either body or jsonBody, not both")
    if config.body is not None or config.json_body is not None:
        if method == "GET":
            raise ValueError("web metric: body and jsonBody are only sent with POST or PUT")
        if config.json_body is not None:
            data = json.dumps(config.json_body).encode()
            if not any(k.lower() == "content-type" for k in headers):
                headers["Content-Type"] = "application/json"
        else:
            data = (config.body or "").encode()
    timeout: float = DEFAULT_WEB_TIMEOUT_SECONDS
    if config.timeout_seconds is not None:
        if config.timeout_seconds < 0:
            raise ValueError("web metric timeoutSeconds should not be negative")
        if config.timeout_seconds > 0:
            timeout = config.timeout_seconds
    return method, data, headers, timeout
