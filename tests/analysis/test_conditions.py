"""The condition language (docs/semantics/analysis.md#condition-language), with `result` shaped as docs/semantics/analysis.md#prometheus-results; sandbox limits; errors."""

import contextlib
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.conditions import ConditionError, check_syntax, evaluate_condition, go_type_name

NAN, INF = math.nan, math.inf


@pytest.mark.parametrize(
    ("expr", "result", "expected"),
    [
        # docs/semantics/analysis.md#prometheus-results shapes: vector → list of floats, scalar → float, web → JSON value
        pytest.param("result[0] >= 0.99", [0.995], True, id="b3-vector-index"),
        pytest.param("result[0] >= 0.99", [0.5], False, id="b3-vector-index-false"),
        pytest.param("len(result) == 0 || result[0] >= 0.95", [], True, id="b3-empty-guard"),
        pytest.param("result >= 0.9", NAN, False, id="b3-nan-compares-false"),
        pytest.param("result < 0.9", NAN, False, id="b3-nan-compares-false-too"),
        pytest.param("result >= 0.9", INF, True, id="b3-inf-ge"),
        pytest.param('result == "ok"', "ok", True, id="b3-web-string"),
        pytest.param('result.status == "ok"', {"status": "ok"}, True, id="b2-member-is-map-key"),
        pytest.param('result["status"] == "ok"', {"status": "ok"}, True, id="b2-index-map"),
        pytest.param("result.missing == nil", {"a": 1}, True, id="b2-missing-key-is-nil"),
        pytest.param("result?.a?.b == nil", None, True, id="b2-optional-chaining"),
        # expr-lang operators
        pytest.param("result > 1 && result < 3", 2, True, id="b2-and"),
        pytest.param("result < 1 || result > 3", 2, False, id="b2-or"),
        pytest.param("!(result > 1)", 2, False, id="b2-bang"),
        pytest.param("result == true", True, True, id="b2-true"),
        pytest.param("result != false", True, True, id="b2-false"),
        pytest.param("result == nil", None, True, id="b2-nil"),
        pytest.param("result > 1 ? true : false", 2, True, id="b2-ternary"),
        pytest.param("(result ?? 5) == 5", None, True, id="b2-nil-coalescing"),
        pytest.param("(result ?.5 : 1) == 0.5", True, True, id="b2-ternary-with-leading-dot-number"),
        pytest.param("result in [1, 2, 3]", 2, True, id="b2-in"),
        pytest.param("result not in [1, 2, 3]", 4, True, id="b2-not-in"),
        pytest.param("2 ^ 10 == 1024", None, True, id="b2-caret-is-power"),
        pytest.param("2 ** 3 ** 2 == 512", None, True, id="b2-power-right-assoc"),
        pytest.param("7 % 3 == 1 && -7 % 3 == -1", None, True, id="b2-mod-truncates-like-go"),
        pytest.param("1 / 2 == 0.5", None, True, id="b2-division-is-float"),
        pytest.param("1 / 0 > 1e308", None, True, id="b2-division-by-zero-inf"),
        pytest.param(
            '"abc" contains "b" and "abc" startsWith "a" and "abc" endsWith "c"', None, True, id="b2-str-ops"
        ),
        pytest.param('result matches "^v[0-9]+"', "v12", True, id="b2-matches"),
        pytest.param("len(1..5) == 5", None, True, id="b2-range"),
        pytest.param("{a: 1, 'b': 2}.b == 2", None, True, id="b2-map-literal"),
        pytest.param("result[1:] == [2, 3]", [1, 2, 3], True, id="b2-slice"),
        pytest.param("result[-1] == 3", [1, 2, 3], True, id="b2-negative-index"),
        # Python syntax
        pytest.param("result > 1 and not result > 3", 2, True, id="py-and-not"),
        pytest.param("not result == 2", 2, False, id="py-not-binds-below-comparison"),
        pytest.param("True if result > 1 else False", 2, True, id="py-conditional"),
        pytest.param("result is None", None, True, id="py-is-none"),
        pytest.param("result is not None", 1, True, id="py-is-not-none"),
        pytest.param("0 < result < 1", 0.5, True, id="py-chained-comparison"),
        pytest.param("all([result > 1, result < 3])", 2, True, id="py-all-iterable"),
        # built-ins and predicates
        pytest.param("all(result, {# > 0.9})", [0.95, 0.99], True, id="b2-all-braced"),
        pytest.param("all(result, # > 0.9)", [0.95, 0.8], False, id="b2-all-bare"),
        pytest.param("any(result, # > 0.9)", [0.95, 0.8], True, id="b2-any"),
        pytest.param("none(result, # > 0.99)", [0.95, 0.8], True, id="b2-none"),
        pytest.param("one(result, # > 0.9)", [0.95, 0.8], True, id="b2-one"),
        pytest.param("len(filter(result, # > 0.9)) == 1", [0.95, 0.8], True, id="b2-filter"),
        pytest.param("map(result, # * 2) == [2, 4]", [1, 2], True, id="b2-map"),
        pytest.param("count(result, # > 1) == 1", [1, 2], True, id="b2-count"),
        pytest.param("find(result, # > 1) == 2", [1, 2, 3], True, id="b2-find"),
        pytest.param("all(result, {.ok})", [{"ok": True}], True, id="b2-dot-field-in-predicate"),
        pytest.param(
            "len(result[0].samples) >= 2 and all(result[0].samples, {# <= 0.5})",
            [{"samples": [0.1, 0.2]}],
            True,
            id="b2-nested-json-and-predicate",
        ),
        pytest.param(
            "all(result.apdex.values.items, {asFloat(.score) >= 0.9})",
            {"apdex": {"values": {"items": [{"score": "0.95"}]}}},
            True,
            id="b2-map-keys-named-like-methods",
        ),
        pytest.param("all(result, {any(#, # > 1)})", [[0, 2], [3]], True, id="b2-nested-predicates"),
        pytest.param("all(result, #index < 2)", [5, 6], True, id="b2-index-pointer"),
        pytest.param("abs(result) == 2", -2, True, id="b2-abs"),
        pytest.param("min(result) == 1 && max(result) == 3", [3, 1, 2], True, id="b2-min-max"),
        pytest.param("max(1, 5, 3) == 5", None, True, id="b2-max-variadic"),
        pytest.param(
            "sum(result) == 6 && mean(result) == 2 && median(result) == 2", [1, 2, 3], True, id="b2-stats"
        ),
        pytest.param("first(result) == 1 && last(result) == 3", [1, 2, 3], True, id="b2-first-last"),
        pytest.param("len(result) == 3", "abc", True, id="b2-len-string"),
        pytest.param("int(result) == 2 && float('1.5') == 1.5", 2.7, True, id="b2-int-float"),
        # Argo helpers
        pytest.param("isNaN(result)", NAN, True, id="b2-isNaN"),
        pytest.param("isInf(result)", -INF, True, id="b2-isInf-either-sign"),
        pytest.param("asInt(result) == 2", 2.9, True, id="b2-asInt-truncates"),
        pytest.param('asInt("12") == 12', None, True, id="b2-asInt-string"),
        pytest.param('asFloat("1.5") == 1.5', None, True, id="b2-asFloat-string"),
        pytest.param("asFloat(result) == 3", 3, True, id="b2-asFloat-int"),
        pytest.param("isNil(result)", None, True, id="b2-isNil"),
        pytest.param("isNil(result[0])", [None], True, id="b2-isNil-looks-at-argument-not-quirk"),
        pytest.param("isNil(1)", None, False, id="b2-isNil-argument-not-result"),
        pytest.param("default(result, 5) == 5", None, True, id="b2-default"),
        pytest.param("default(result[0], 7) == 7", [None], True, id="b2-default-looks-at-argument-not-quirk"),
        pytest.param("default(3, 7) == 3", None, True, id="b2-default-argument-not-result"),
    ],
)
def test_evaluate(expr: str, result: Any, expected: bool) -> None:
    assert evaluate_condition(expr, result) is expected


@pytest.mark.parametrize(
    ("expr", "result", "message"),
    [
        pytest.param("1", None, "expected bool, but got int", id="b2-not-bool-int"),
        pytest.param("result", [1.0], "expected bool, but got []float64", id="b2-not-bool-vector"),
        pytest.param("result", 0.5, "expected bool, but got float64", id="b2-not-bool-float"),
        pytest.param("'x'", None, "expected bool, but got string", id="b2-not-bool-string"),
        pytest.param("result", None, "expected bool, but got <nil>", id="b2-not-bool-nil"),
        pytest.param("foo > 1", 1, "unknown name foo", id="b2-unknown-name"),
        pytest.param("bogus(result)", 1, "unknown name bogus", id="b2-unknown-function"),
        pytest.param("result(1)", 1, "result is not a function", id="b2-calling-result"),
        pytest.param("len == 1", 1, "len is a function: call it as len(...)", id="b2-function-as-value"),
        pytest.param("isNaN(1, 2)", 1, "wrong number of arguments for isNaN(): 2", id="b2-arity"),
        pytest.param(
            "map(result)", [1], "not enough arguments to call map", id="b2-predicate-needs-predicate"
        ),
        pytest.param("result[0] > 1", [], "index out of range: 0 (array length is 0)", id="b2-index-empty"),
        pytest.param(
            "result[0] > 'a'",
            [1.0],
            "invalid operation: > (mismatched types float64 and string)",
            id="b2-mismatch",
        ),
        pytest.param(
            "result > 1", None, "invalid operation: > (mismatched types <nil> and int)", id="b2-nil-compare"
        ),
        pytest.param(
            'asFloat("NotANum") > 1',
            None,
            'strconv.ParseFloat: parsing "NotANum": invalid syntax',
            id="b2-asFloat-bad-string",
        ),
        pytest.param(
            'asInt("1.1") == 1',
            None,
            'strconv.ParseInt: parsing "1.1": invalid syntax',
            id="b2-asInt-bad-string",
        ),
        pytest.param(
            "result > 1 &&", 1, "unexpected token end of expression at column 14", id="syntax-error"
        ),
        pytest.param(
            "#", 1, "cannot use pointer accessor outside predicate at column 1", id="b2-pointer-outside"
        ),
    ],
)
def test_errors(expr: str, result: Any, message: str) -> None:
    with pytest.raises(ConditionError) as err:
        evaluate_condition(expr, result)
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("expr", "result"),
    [
        pytest.param("result.__class__ == 1", 1, id="sandbox-no-dunder-attribute"),
        pytest.param("result.__class__.__mro__", {"a": 1}, id="sandbox-dunder-is-map-key"),
        pytest.param("__import__('os')", None, id="sandbox-no-import"),
        pytest.param("open('/etc/passwd')", None, id="sandbox-no-open"),
        pytest.param("len(1..100000000) > 0", None, id="sandbox-huge-range"),
        pytest.param("all(1..10000, {all(1..10000, {# > 0})})", None, id="sandbox-predicate-budget"),
        pytest.param("len('x' * 1000000000) > 0", None, id="sandbox-no-repetition"),
        pytest.param("len([1] * 1000000000) > 0", None, id="sandbox-no-list-repetition"),
        pytest.param("(" * 200 + "1" + ")" * 200 + " == 1", None, id="sandbox-nesting"),
        pytest.param("1 + " * 2000 + "1 == 1", None, id="sandbox-length"),
        pytest.param("!" * 2000 + "true", None, id="sandbox-deep-prefix-operators"),
        pytest.param("not " * 1000 + "true", None, id="sandbox-deep-not"),
        pytest.param("result" + "[0]" * 1300 + " == 1", [1], id="sandbox-deep-index-chain"),
        pytest.param("1" + " + 1" * 900 + " > 0", None, id="sandbox-deep-operator-chain"),
        pytest.param("lambda: 1", None, id="sandbox-no-python-lambda"),
    ],
)
def test_sandbox_rejects(expr: str, result: Any) -> None:
    with pytest.raises(ConditionError):
        evaluate_condition(expr, result)


def test_huge_power_is_float_not_bigint() -> None:
    assert evaluate_condition("10 ** 100000 > 1", None) is True  # inf, computed instantly
    assert evaluate_condition("isInf(10 ** 100000)", None) is True


def test_check_syntax() -> None:
    assert check_syntax("result[0] >= 0.99") is None
    assert check_syntax("len(result) == 0 || all(result, {# > 1})") is None
    assert check_syntax("result >") == "unexpected token end of expression at column 9"
    assert check_syntax("resutl > 1") == "unknown name resutl"


@pytest.mark.parametrize(
    ("value", "name"),
    [
        pytest.param(1, "int", id="int"),
        pytest.param(1.0, "float64", id="float"),
        pytest.param("s", "string", id="string"),
        pytest.param(True, "bool", id="bool"),
        pytest.param(None, "<nil>", id="nil"),
        pytest.param([1.0], "[]float64", id="vector"),
        pytest.param([1, "a"], "[]interface {}", id="mixed-list"),
        pytest.param({}, "map[string]interface {}", id="map"),
    ],
)
def test_go_type_names(value: Any, name: str) -> None:
    assert go_type_name(value) == name


floats = st.floats(allow_nan=True, allow_infinity=True)


@given(floats, floats)
def test_comparisons_agree_with_ieee(a: float, b: float) -> None:
    assert evaluate_condition("result[0] >= result[1]", [a, b]) is (a >= b)
    assert evaluate_condition("result[0] < result[1] || !(result[0] < result[1])", [a, b]) is True


@given(st.text(max_size=60))
def test_arbitrary_text_never_crashes(text: str) -> None:
    """Any input either evaluates to a bool or raises ConditionError: never another exception."""
    with contextlib.suppress(ConditionError):
        assert isinstance(evaluate_condition(text, [1.0, 2.0]), bool)


@given(st.lists(st.floats(allow_nan=False), max_size=20), st.floats(allow_nan=False, allow_infinity=False))
def test_predicates_match_python(values: list[float], threshold: float) -> None:
    assert evaluate_condition(f"all(result, # > {threshold!r})", values) is all(v > threshold for v in values)
    assert evaluate_condition(f"any(result, {{# > {threshold!r}}})", values) is any(
        v > threshold for v in values
    )
