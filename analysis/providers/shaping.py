"""PURE: a Prometheus HTTP API answer → the `result` conditions see and the measurement's value string.

Sits right after the network call of the Prometheus provider and before assessment. It follows Argo's
`processResponse` (docs/semantics/analysis.md#prometheus-results) exactly:

| resultType | `result` for conditions | `value` string |
| --- | --- | --- |
| scalar | float | Go's SampleValue formatting: `10`, `0.95`, `NaN`, `+Inf` |
| vector | list of floats in response order (labels dropped) | `[v1,v2]` (no spaces); empty → `[]` |
| matrix | every series' samples flattened, series then time order | same `[...]` format |
| anything else | — | `UnsupportedResult("Prometheus metric type not supported")` |

The functions take the decoded JSON body of `/api/v1/query` or `/api/v1/query_range` and never do I/O, so the
controller's hot path pays only for a dict walk and float formatting.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

__all__ = [
    "PrometheusResult",
    "ResponseError",
    "UnsupportedResult",
    "api_error",
    "error_message",
    "format_sample_list",
    "format_sample_value",
    "format_warnings",
    "series_of",
    "shape_response",
    "warnings_of",
]

PrometheusResult = float | list[float]
"""What Argo hands to conditions: a float (scalar) or a list of floats (vector, matrix)."""


class ResponseError(ValueError):
    """The backend answered something that is not a Prometheus API success document."""


class UnsupportedResult(ResponseError):
    """A well-formed answer of a type Argo does not measure (string, or no result type)."""

    def __init__(self) -> None:
        super().__init__("Prometheus metric type not supported")


def format_sample_value(value: float) -> str:
    """Format like Prometheus' `SampleValue.String()` (Go `FormatFloat(v, 'f', -1, 64)`).

    >>> [format_sample_value(v) for v in (10.0, 0.95, float("nan"), float("inf"), -float("inf"), 1e21, 1e-7)]
    ['10', '0.95', 'NaN', '+Inf', '-Inf', '1000000000000000000000', '0.0000001']
    """
    text = repr(value)
    if "e" in text or "n" in text:  # exponent, nan, inf
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "+Inf" if value > 0 else "-Inf"
        text = format(Decimal(text), "f")
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return text
    return text[:-2] if text.endswith(".0") else text


def _sample(pair: Any) -> float:
    """One `[timestamp, "value"]` pair's value. Prometheus writes NaN/±Inf as strings, which float() reads."""
    if not isinstance(pair, list | tuple) or len(pair) != 2:
        raise ResponseError(f"malformed sample {pair!r}: expected [timestamp, value]")
    raw = pair[1]
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise ResponseError(f"malformed sample value {raw!r}")
    try:
        return float(raw)
    except ValueError:
        raise ResponseError(f"malformed sample value {raw!r}") from None


def format_sample_list(values: Sequence[float]) -> str:
    """A vector/matrix value string (docs/semantics/analysis.md#prometheus-results): ``[v1,v2]``, empty → ``[]``."""
    return "[" + ",".join(format_sample_value(v) for v in values) + "]"


def shape_response(body: Any) -> tuple[PrometheusResult, str]:
    """`(result, value string)` of a successful query answer (docs/semantics/analysis.md#prometheus-results).

    >>> shape_response({"status": "success", "data": {"resultType": "vector", "result": [
    ...     {"metric": {"a": "1"}, "value": [1, "0.95"]}, {"metric": {}, "value": [1, "NaN"]}]}})
    ([0.95, nan], '[0.95,NaN]')
    >>> shape_response({"status": "success", "data": {"resultType": "scalar", "result": [1, "+Inf"]}})
    (inf, '+Inf')

    Raises `ResponseError` for a malformed document, `UnsupportedResult` for string results.
    """
    if not isinstance(body, dict):
        raise ResponseError(f"response is not a JSON object: {_excerpt(body)}")
    if body.get("status") != "success":
        raise ResponseError(error_message(body))
    data = body.get("data")
    if not isinstance(data, dict):
        raise ResponseError(f"response has no data object: {_excerpt(body)}")
    kind = data.get("resultType")
    result = data.get("result")
    if kind == "vector":
        if not isinstance(result, list):
            raise ResponseError("vector result is not a list")
        values = []
        for series in result:
            if not isinstance(series, dict):
                raise ResponseError(f"malformed vector sample {series!r}")
            values.append(_sample(series.get("value")))
        return values, format_sample_list(values)
    if kind == "scalar":
        value = _sample(result)
        return value, format_sample_value(value)
    if kind == "matrix":
        if not isinstance(result, list):
            raise ResponseError("matrix result is not a list")
        values = []
        for series in result:
            pairs = series.get("values") if isinstance(series, dict) else None
            if not isinstance(pairs, list):
                raise ResponseError(f"malformed matrix series {series!r}")
            values.extend(_sample(pair) for pair in pairs)
        return values, format_sample_list(values)
    raise UnsupportedResult()


def series_of(body: Any) -> tuple[list[list[float]], str]:
    """`(samples of each series, "<n> series")` of a successful answer, for a reader that needs the series apart
    (the judge): a matrix's series in order, each sample of a vector as a series of one, a scalar as one.

    >>> series_of({"status": "success", "data": {"resultType": "matrix", "result": [
    ...     {"metric": {}, "values": [[1, "1"], [2, "NaN"]]}, {"metric": {"a": "1"}, "values": [[1, "3"]]}]}})
    ([[1.0, nan], [3.0]], '2 series')
    """
    if (
        not isinstance(body, dict)
        or body.get("status") != "success"
        or not isinstance(body.get("data"), dict)
    ):
        shape_response(body)  # raises the same errors, worded the same
    data = body["data"]
    kind, result = data.get("resultType"), data.get("result")
    series: list[list[float]] = []
    if kind == "matrix" and isinstance(result, list):
        for item in result:
            pairs = item.get("values") if isinstance(item, dict) else None
            if not isinstance(pairs, list):
                raise ResponseError(f"malformed matrix series {item!r}")
            series.append([_sample(pair) for pair in pairs])
    elif kind == "vector" and isinstance(result, list):
        for item in result:
            if not isinstance(item, dict):
                raise ResponseError(f"malformed vector sample {item!r}")
            series.append([_sample(item.get("value"))])
    elif kind == "scalar":
        series.append([_sample(result)])
    else:
        shape_response(body)  # raises for what it does not read either
        raise UnsupportedResult()
    return series, f"{len(series)} series"


def warnings_of(body: Any) -> list[str]:
    """The `warnings` a Prometheus answer carries (possibly none)."""
    if isinstance(body, dict):
        warnings = body.get("warnings")
        if isinstance(warnings, list):
            return [str(w) for w in warnings]
    return []


def format_warnings(warnings: Sequence[str]) -> str:
    """Argo's `metadata.warnings` value: each warning quoted, joined by `, ` (e.g. `"w1", "w2"`)."""
    return ", ".join(json.dumps(w, ensure_ascii=False) for w in warnings)


def error_message(body: Any) -> str:
    """The message of an API error document (`{"status":"error","errorType":…,"error":…}`)."""
    if isinstance(body, dict) and body.get("status") == "error":
        kind = body.get("errorType")
        error = body.get("error")
        return f"{kind}: {error}" if kind else str(error)
    return f"unexpected response: {_excerpt(body)}"


def api_error(status: int, body: Any, raw: bytes) -> str:
    """The error of a failed answer, worded as Argo reports it: the Go client's `Error.Error()`
    (prometheus/client_golang api/prometheus/v1/api.go: `apiClientImpl.Do`, `errorTypeAndMsgFor`).

    >>> api_error(400, {"status": "error", "errorType": "bad_data", "error": "parse error"}, b"")
    'bad_data: parse error'
    >>> api_error(503, None, b"overloaded")
    'server_error: server error: 503 (response body: overloaded)'
    >>> api_error(404, None, b"")
    'client_error: client error: 404'
    """
    if status // 100 != 2 and status not in (400, 422):
        if status // 100 == 4:
            text = f"client_error: client error: {status}"
        elif status // 100 == 5:
            text = f"server_error: server error: {status}"
        else:
            text = f"bad_response: bad response code {status}"
        detail = " ".join(raw[:400].decode("utf-8", "replace").split())
        return f"{text} (response body: {detail[:200]})" if detail else text
    if isinstance(body, dict) and body.get("status") == "error":
        return error_message(body)
    if isinstance(body, dict) and body.get("status") == "success":
        return "bad_response: inconsistent body for response code"
    return f"bad_response: unexpected response: {_excerpt(body)}"


def _excerpt(body: Any, limit: int = 200) -> str:
    text = body if isinstance(body, str) else json.dumps(body, default=str)
    return text if len(text) <= limit else text[:limit] + "…"
