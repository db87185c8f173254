"""Operand types, as expr-lang's checker (checker/checker.go, v1.17.8 used by Argo) and runtime decide them.

Argo compiles each condition against an environment holding the measurement's value, so the checker knows the
Go type of ``result`` (``[]float64`` for a Prometheus vector, ``float64`` for a scalar, the JSON value's type for
web) and of every function's output; incompatible operands are a compile error, i.e. an Error measurement.
Values whose type is only known at run time (``interface {}``: map values, elements of JSON arrays) compare
unequal instead, and order or add only when their kinds allow it (vm/runtime's Equal/Less/Add).
"""

from __future__ import annotations

from typing import Any

import pytest

from analysis.assess import evaluate_measurement
from analysis.conditions import ConditionError, check_syntax, evaluate_condition
from analysis.models import AnalysisPhase, Metric


@pytest.mark.parametrize(
    ("expr", "result", "message"),
    [
        # == and != (checker: ComparableTo)
        pytest.param('asFloat(result) == "1.1"', "1.1", "invalid operation: == (mismatched types float64 and string)",
                     id="asFloat-vs-string"),
        pytest.param('result == "1"', 1.0, "invalid operation: == (mismatched types float64 and string)", id="scalar"),
        pytest.param('result[0] == "x"', [1.0], "invalid operation: == (mismatched types float64 and string)",
                     id="vector-element"),
        pytest.param("result != true", 1.0, "invalid operation: != (mismatched types float64 and bool)", id="bool"),
        pytest.param('result == 1', "1", "invalid operation: == (mismatched types string and int)", id="web-string"),
        pytest.param("len(result) == '0'", [], "invalid operation: == (mismatched types int and string)", id="len"),
        pytest.param('result is "x"', 1.0, "invalid operation: == (mismatched types float64 and string)",
                     id="python-is"),
        # ordering
        pytest.param('result > "a"', 1.0, "invalid operation: > (mismatched types float64 and string)", id="gt"),
        pytest.param("result < true", 1.0, "invalid operation: < (mismatched types float64 and bool)", id="lt-bool"),
        pytest.param("result >= 1", None, "invalid operation: >= (mismatched types <nil> and int)", id="nil"),
        pytest.param("result <= [1]", [1.0], "invalid operation: <= (mismatched types []float64 and []interface {})",
                     id="arrays-do-not-order"),
        pytest.param('duration("1h") > 5', None,
                     "invalid operation: > (mismatched types time.Duration and int)", id="duration-vs-int"),
        # arithmetic
        pytest.param('"a" + 1 == "a1"', None, "invalid operation: + (mismatched types string and int)", id="plus"),
        pytest.param("result + result == []", [1.0],
                     "invalid operation: + (mismatched types []float64 and []float64)", id="arrays-do-not-add"),
        pytest.param("7 % 2.0 == 1", None, "invalid operation: % (mismatched types int and float64)", id="mod-float"),
        pytest.param("-result < 0", "x", "invalid operation: - (mismatched type string)", id="negate-string"),
        # booleans
        pytest.param("result && true", 1.0, "invalid operation: && (mismatched types float64 and bool)", id="and"),
        pytest.param("len(result) or true", [1.0], "invalid operation: || (mismatched types int and bool)",
                     id="python-or"),
        pytest.param("!result", 1.0, "invalid operation: ! (mismatched type float64)", id="not"),
        pytest.param("result ? true : false", 1.0, "non-bool expression (type float64) used as condition",
                     id="ternary-test"),
        # predicates, membership, string operators, ranges
        pytest.param('all(result, # == "x")', [1.0], "invalid operation: == (mismatched types float64 and string)",
                     id="predicate-element"),
        pytest.param("all(result, #)", [1.0], "predicate should return boolean (got float64)", id="predicate-out"),
        pytest.param("all(result, # > 0)", 1.0, "builtin all takes only array (got float64)", id="predicate-in"),
        pytest.param('"x" in result', [1.0], "cannot use string as type float64 in array", id="in-array"),
        pytest.param("1 in result", {"a": 1}, "cannot use int as type string in map key", id="in-map"),
        pytest.param('"a" in result', "abc", "invalid operation: in (mismatched types string and string)",
                     id="in-string"),
        pytest.param("result contains 1", "abc", "invalid operation: contains (mismatched types string and int)",
                     id="contains"),
        pytest.param('1..result == []', "x", "invalid operation: .. (mismatched types int and string)", id="range"),
    ],
)  # fmt: skip
def test_mismatched_types_are_errors(expr: str, result: Any, message: str) -> None:
    with pytest.raises(ConditionError) as err:
        evaluate_condition(expr, result)
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("expr", "result", "expected"),
    [
        pytest.param("result == 1", 1.0, True, id="int-vs-float-is-fine"),
        pytest.param("asInt(result) == 2.0", "2", True, id="int-vs-float-literal"),
        pytest.param("result == nil", 1.0, False, id="nil-vs-anything-is-fine"),
        pytest.param("nil != result", [1.0], True, id="nil-on-the-left"),
        pytest.param("result == [1, 2]", [1.0, 2.0], True, id="arrays-compare-element-wise"),
        pytest.param("result == [1, 3]", [1.0, 2.0], False, id="arrays-differ"),
        pytest.param('result.status == 1', {"status": "ok"}, False, id="unknown-map-value-is-just-unequal"),
        pytest.param('result[1] == 1', [1, "x"], False, id="unknown-array-element-is-just-unequal"),
        pytest.param('result.code == 200', {"code": 200.0}, True, id="json-number-vs-int"),
        pytest.param("result.a == true", {"a": 1}, False, id="runtime-bool-is-not-one"),
        pytest.param("result.a > 1", {"a": 2}, True, id="unknown-orders-when-numbers"),
        pytest.param('result.a + "b" == "ab"', {"a": "a"}, True, id="unknown-adds-when-strings"),
        pytest.param('date("2023-01-01") < now()', None, True, id="times-order"),
        pytest.param('now() - date("2023-01-01") > duration("1h")', None, True, id="time-arithmetic"),
        pytest.param("result in [1, 2]", 2.0, True, id="in-array-of-unknowns"),
        pytest.param('"a" in result', {"a": 1}, True, id="in-map-key"),
    ],
)  # fmt: skip
def test_compatible_types(expr: str, result: Any, expected: bool) -> None:
    assert evaluate_condition(expr, result) is expected


@pytest.mark.parametrize(
    ("expr", "result", "message"),
    [
        pytest.param("result.a > 1", {"a": "x"}, "invalid operation: string > int", id="order"),
        pytest.param("result.a + 1 > 0", {"a": "x"}, "invalid operation: string + int", id="add"),
        pytest.param("result.a matches 'x'", {"a": 1}, "invalid operation: int matches string", id="matches"),
    ],
)
def test_run_time_type_errors_read_like_expr_runtime(expr: str, result: Any, message: str) -> None:
    """Types unknown to the checker fail when evaluated, with vm/runtime's panic text."""
    with pytest.raises(ConditionError) as err:
        evaluate_condition(expr, result)
    assert str(err.value) == message


def test_mismatch_makes_an_error_measurement_not_a_failed_one() -> None:
    metric = Metric.model_validate(
        {
            "name": "m",
            "successCondition": 'asFloat(result) == "1.1"',
            "provider": {"web": {"url": "http://x"}},
        }
    )
    phase, message = evaluate_measurement(metric, "1.1")
    assert phase is AnalysisPhase.ERROR
    assert message == (
        'could not evaluate successCondition "asFloat(result) == \\"1.1\\"": '
        "invalid operation: == (mismatched types float64 and string)"
    ).replace('\\"', '"')


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        pytest.param('asFloat(result) == "1.1"', "invalid operation: == (mismatched types float64 and string)",
                     id="function-result"),
        pytest.param('len(result) > "0"', "invalid operation: > (mismatched types int and string)", id="len"),
        pytest.param("1 && result", "invalid operation: && (mismatched types int and interface {})", id="and"),
    ],
)  # fmt: skip
def test_type_errors_whatever_the_result_are_reported_by_lint(expr: str, message: str) -> None:
    assert check_syntax(expr) == message
    assert check_syntax("result.a == 'x' && result[0] > 1 && -result < 0 && all(result, # > 0)") is None
