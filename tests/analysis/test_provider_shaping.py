"""Pure parts of the providers: docs/semantics/analysis.md#prometheus-results response shaping, Go float formatting, rangeQuery time expressions,
and the throttling primitives (window arithmetic, one limiter per address, the concurrency cap)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.providers.shaping import (
    ResponseError,
    UnsupportedResult,
    format_sample_value,
    format_warnings,
    shape_response,
)
from analysis.providers.throttling import Limiter, LimiterRegistry, ThrottleConfig, _window, address_key
from analysis.providers.timeexpr import TimeExpressionError, evaluate_time


def ok(kind: str | None, result: Any) -> dict[str, Any]:
    return {"status": "success", "data": {"resultType": kind, "result": result}}


@pytest.mark.parametrize(
    ("body", "result", "value"),
    [
        pytest.param(ok("scalar", [1, "10"]), 10.0, "10", id="scalar-int"),
        pytest.param(ok("scalar", [1, "NaN"]), math.nan, "NaN", id="scalar-nan"),
        pytest.param(ok("scalar", [1, "+Inf"]), math.inf, "+Inf", id="scalar-inf"),
        pytest.param(ok("vector", []), [], "[]", id="vector-empty"),
        pytest.param(
            ok(
                "vector",
                [{"metric": {"b": "1"}, "value": [1, "0.97"]}, {"metric": {"a": "1"}, "value": [1, "0.95"]}],
            ),
            [0.97, 0.95],
            "[0.97,0.95]",
            id="vector-response-order-labels-dropped",
        ),
        pytest.param(
            ok("matrix", [{"values": [[1, "11"], [2, "12"]]}, {"values": [[1, "13"], [2, "14"]]}]),
            [11.0, 12.0, 13.0, 14.0],
            "[11,12,13,14]",
            id="matrix-flattened",
        ),
        pytest.param(ok("matrix", []), [], "[]", id="matrix-empty"),
    ],
)
def test_shape_response_b3(body: dict[str, Any], result: Any, value: str) -> None:
    got, text = shape_response(body)
    assert text == value
    if isinstance(result, list):
        assert got == result
    else:
        assert got == pytest.approx(result, nan_ok=True)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(ok("string", [1, "hello"]), id="string"),
        pytest.param(ok(None, None), id="no-type"),
        pytest.param(ok("streams", []), id="loki-streams"),
    ],
)
def test_unsupported_types(body: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedResult, match=r"^Prometheus metric type not supported$"):
        shape_response(body)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(
            {"status": "error", "errorType": "bad_data", "error": "parse error"},
            "bad_data: parse error",
            id="api-error",
        ),
        pytest.param("text", "not a JSON object", id="string-body"),
        pytest.param({"status": "success"}, "no data", id="no-data"),
        pytest.param(ok("vector", {"x": 1}), "not a list", id="vector-not-list"),
        pytest.param(ok("vector", [{"value": [1]}]), "malformed sample", id="short-sample"),
        pytest.param(ok("vector", [{"value": [1, None]}]), "malformed sample value", id="null-sample"),
        pytest.param(
            ok("matrix", [{"value": [1, "1"]}]), "malformed matrix series", id="matrix-without-values"
        ),
    ],
)
def test_malformed_answers(body: Any, message: str) -> None:
    with pytest.raises(ResponseError, match=message):
        shape_response(body)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=12,
)


@settings(deadline=None)  # an invariant, not a timing: a loaded CI machine must not fail it
@given(st.dictionaries(st.sampled_from(["status", "data", "resultType", "result", "warnings"]), json_values))
def test_any_document_is_shaped_or_refused_never_crashes(body: dict[str, Any]) -> None:
    """Garbage from a backend is a ResponseError (→ Error measurement), never another exception."""
    for candidate in (body, {"status": "success", "data": body}):
        with contextlib.suppress(ResponseError):
            shape_response(candidate)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param(10.0, "10", id="integral"),
        pytest.param(0.995, "0.995", id="fraction"),
        pytest.param(-0.0, "-0", id="negative-zero"),
        pytest.param(0.9500000000000001, "0.9500000000000001", id="float-noise-kept"),
        pytest.param(1e21, "1000000000000000000000", id="no-exponent-large"),
        pytest.param(1.5e-7, "0.00000015", id="no-exponent-small"),
        pytest.param(math.nan, "NaN", id="nan"),
        pytest.param(math.inf, "+Inf", id="plus-inf"),
        pytest.param(-math.inf, "-Inf", id="minus-inf"),
    ],
)
def test_format_sample_value_like_go(value: float, text: str) -> None:
    assert format_sample_value(value) == text


@settings(deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_format_sample_value_round_trips(value: float) -> None:
    text = format_sample_value(value)
    assert "e" not in text and "E" not in text
    assert float(text) == value


def test_warnings_are_quoted_and_joined() -> None:
    assert format_warnings(["w1", "w2"]) == '"w1", "w2"'


NOW = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        pytest.param("now()", NOW, id="now"),
        pytest.param('now() - duration("5m")', NOW - timedelta(minutes=5), id="minus-duration"),
        pytest.param('now() - duration("1h30m")', NOW - timedelta(minutes=90), id="compound-duration"),
        pytest.param('date("2024-01-01T00:00:00Z")', datetime(2024, 1, 1, tzinfo=UTC), id="date"),
        pytest.param(
            'date("2024-01-01T00:00:00Z") + duration("1h")',
            datetime(2024, 1, 1, 1, tzinfo=UTC),
            id="date-plus",
        ),
    ],
)
def test_range_query_times(expression: str, expected: datetime) -> None:
    assert evaluate_time(expression, NOW) == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        pytest.param('duration("5m")', "expected time.Time, but got time.Duration", id="duration-alone"),
        pytest.param("1", "expected time.Time, but got int", id="int"),
        pytest.param('"now"', "expected time.Time, but got string", id="string"),
        pytest.param("now", "expected time.Time, but got func", id="bare-name"),
        pytest.param("yesterday()", "Function 'yesterday' not defined", id="unknown-function"),
        pytest.param('now() - duration("5d")', 'unknown unit "d"', id="bad-duration"),
        pytest.param("now().__class__", "not available", id="no-attribute-access"),
        pytest.param("", "empty", id="empty"),
    ],
)
def test_range_query_time_errors(expression: str, message: str) -> None:
    with pytest.raises(TimeExpressionError, match=message):
        evaluate_time(expression, NOW)


@pytest.mark.parametrize(
    ("rate", "window"),
    [
        pytest.param(50, (50, 1.0), id="integer"),
        pytest.param(0.5, (1, 2.0), id="half"),
        pytest.param(2.5, (5, 2.0), id="fraction"),
        pytest.param(1000, (1000, 1.0), id="large"),
    ],
)
def test_rate_as_a_window(rate: float, window: tuple[int, float]) -> None:
    assert _window(rate) == window


@pytest.mark.parametrize(
    ("a", "b"),
    [
        pytest.param("http://prom:9090", "HTTP://PROM:9090/", id="case-and-slash"),
        pytest.param("http://prom:9090/api", "http://prom:9090/other", id="path-ignored"),
    ],
)
def test_one_limiter_per_backend_address(a: str, b: str) -> None:
    registry = LimiterRegistry()
    assert address_key(a) == address_key(b)
    assert registry.get(a) is registry.get(b)
    assert registry.get(a) is not registry.get("http://other:9090")


@pytest.mark.parametrize(
    "config", [pytest.param({"rate": 0}, id="zero-rate"), pytest.param({"concurrency": 0}, id="no-slot")]
)
def test_throttle_config_rejects_nonsense(config: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must be"):
        ThrottleConfig(**config)


async def test_concurrency_cap_is_enforced() -> None:
    limiter = Limiter(ThrottleConfig(rate=None, concurrency=3))
    in_flight = peak = 0
    release = asyncio.Event()

    async def one() -> None:
        nonlocal in_flight, peak
        async with limiter.slot():
            in_flight += 1
            peak = max(peak, in_flight)
            await release.wait()
            in_flight -= 1

    tasks = [asyncio.create_task(one()) for _ in range(10)]
    for _ in range(5):
        await asyncio.sleep(0)
    assert peak == 3
    release.set()
    await asyncio.gather(*tasks)
    assert limiter.requests == 10 and in_flight == 0


def test_warnings_json_escaping() -> None:
    assert json.loads("[" + format_warnings(['a "b"', "c"]) + "]") == ['a "b"', "c"]
