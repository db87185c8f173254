"""Hard limits of the condition language: hostile expressions end as Error naming the limit, RE2 regexes.

Each hostile expression below once froze or crashed the shared controller, or gave a verdict (Failed or
Successful) after tens of seconds of CPU; every one must now be an evaluation error that names the limit it
hit, so the measurement is Error and never counts toward failureLimit. CPU time and memory of these cases
are measured by bench/conditions_bench.py (tests assert outcomes, never timings).
"""

from __future__ import annotations

from typing import Any

import pytest

from analysis.assess import evaluate_measurement
from analysis.conditions import MAX_COLLECTION, MAX_STEPS, ConditionError, check_syntax, evaluate_condition
from analysis.models import AnalysisPhase, Metric
from rollouts.plugin.linting import lint_text

BUDGET = f"exceeded the evaluation budget of {MAX_STEPS} steps"
TOO_LONG_LIST = f"would build a list of more than {MAX_COLLECTION} elements"
TOO_LONG_STRING = f"would build a string of more than {MAX_COLLECTION} characters"
BIG_RESULT = [[float(i) for i in range(100)]] * 1000

HOSTILE = [
    # memory bombs: a 34-character condition reached 3.8 GB and evaluated to true (Successful)
    pytest.param("len(map(1..10000, 1..10000)) > 0", None, BUDGET, id="map-of-ranges"),
    pytest.param("len(string(map(1..10000, 1..10000))) > 0", None, BUDGET, id="string-of-map-of-ranges"),
    pytest.param("len(1..100000000) > 0", None, TOO_LONG_LIST, id="huge-range"),
    pytest.param("len(0..10000) > 0", None, TOO_LONG_LIST, id="range-one-past-the-limit"),
    pytest.param("len(result + result) > 0", "x" * 6000, TOO_LONG_STRING, id="string-concatenation"),
    pytest.param("len(string(1..5000)) > 0", None, TOO_LONG_STRING, id="string-of-a-long-list"),
    pytest.param("len(result[1:]) > 0", list(range(20000)), TOO_LONG_LIST, id="long-slice"),
    # CPU bombs: 16-49 s of CPU each, then Failed (counted toward failureLimit)
    pytest.param("any(1..10000, sum(1..10000) < 0)", None, BUDGET, id="sum-in-predicate"),
    pytest.param("all(1..10000, {all(1..10000, {# > 0})})", None, BUDGET, id="nested-predicates"),
    pytest.param("count(1..10000, len(sort(1..10000)) < 0) > 0", None, BUDGET, id="sort-in-predicate"),
    pytest.param("none(1..10000, 1..10000 != 1..10000)", None, BUDGET, id="list-equality-in-predicate"),
    pytest.param("any(result, result == result)", BIG_RESULT, BUDGET, id="deep-equality-of-the-result"),
    pytest.param("none(1..10000, 10001 in 1..10000)", None, BUDGET, id="membership-in-predicate"),
    pytest.param("any(1..10000, len(filter(1..10000, # < 0)) > 0)", None, BUDGET, id="filter-in-predicate"),
    pytest.param("none(1..10000, mean(map(1..10000, #)) < 0)", None, BUDGET, id="mean-of-map-in-predicate"),
    pytest.param("any(1..10000, string(1..1000) == '')", None, BUDGET, id="string-building-in-predicate"),
    pytest.param("one(1..10000, len(keys(result)) < 0)", {str(i): i for i in range(5000)}, BUDGET, id="keys"),
    pytest.param(
        " && ".join(["count(1..10000, # > 0) > 0"] * 12), None, BUDGET, id="many-cheap-predicates-in-a-row"
    ),
    pytest.param("all(1..10000, {" + " + ".join(["#"] * 40) + " > 0})", None, BUDGET, id="long-predicate"),
    # regexes: RE2 matches in linear time; a huge program over a long subject costs its share of the budget
    pytest.param('result matches "(.*){1000}"', "a" * 10000, BUDGET, id="regex-huge-program"),
    pytest.param(
        "any(1..1000, result matches '.{1000}.{1000}')", "é" * 9000, BUDGET, id="regex-in-predicate"
    ),
]


@pytest.mark.parametrize(("expr", "result", "message"), HOSTILE)
def test_hostile_expression_is_an_error_naming_the_limit(expr: str, result: Any, message: str) -> None:
    with pytest.raises(ConditionError) as err:
        evaluate_condition(expr, result)
    assert str(err.value) == message


@pytest.mark.parametrize(("expr", "result", "message"), HOSTILE[:3] + HOSTILE[7:9])
def test_hostile_measurement_is_error_never_failed_or_successful(
    expr: str, result: Any, message: str
) -> None:
    for key in ("successCondition", "failureCondition"):
        metric = Metric.model_validate({"name": "m", key: expr, "provider": {"web": {"url": "http://x"}}})
        phase, error = evaluate_measurement(metric, [1.0] if result is None else result)
        assert phase is AnalysisPhase.ERROR
        assert error == f'could not evaluate {key} "{expr}": {message}'


@pytest.mark.parametrize(
    ("expr", "result"),
    [
        pytest.param("all(result, {# < 500})", [120.0] * 12_000, id="range-query-of-12000-samples"),
        pytest.param("len(filter(1..10000, # % 2 == 0)) == 5000", None, id="filter-a-full-range"),
        pytest.param("sum(result) > 0 && max(result) < 1e9 && mean(result) > 0", [1.0] * 20_000, id="stats"),
        pytest.param("len(result + result) == 10000", "x" * 5000, id="concatenation-at-the-limit"),
        pytest.param(
            "all(result, {len(#.samples) == 3 && all(#.samples, # < 1)})",
            [{"samples": [0.1] * 3}] * 2000,
            id="nested-json",
        ),
        pytest.param("result == result", BIG_RESULT[:50], id="equality-of-a-large-result"),
    ],
)
def test_realistic_work_fits_the_budget(expr: str, result: Any) -> None:
    assert evaluate_condition(expr, result) is True


def test_budget_is_per_evaluation() -> None:
    """Spending most of the budget in one evaluation leaves the next one a full budget."""
    expr = "len(filter(1..10000, # > 0)) > 0"
    for _ in range(3):
        assert evaluate_condition(expr, None) is True


def test_integers_wrap_at_64_bits_like_go() -> None:
    big = "9223372036854775807"
    assert evaluate_condition(f"{big} + 1 == -{big} - 1", None) is True
    assert evaluate_condition(f"{big} * {big} == 1", None) is True


@pytest.mark.timeout(60)  # a hang guard only: with a backtracking engine this takes hours
def test_redos_pattern_matches_in_linear_time() -> None:
    subject = "a" * 29 + "!"
    assert evaluate_condition('result matches "^((a+))+$"', subject) is False
    assert evaluate_condition('result matches "^(a+)+$"', "a" * 5000 + "!") is False
    assert evaluate_condition('result matches "^((a+))+$"', "a" * 5000) is True


@pytest.mark.parametrize(
    ("expr", "result", "expected"),
    [
        # Go's regexp (RE2) semantics, which is what Argo evaluates: \d and \w are ASCII only
        pytest.param('result matches "^\\\\d+$"', "٣٤", False, id="digits-are-ascii"),
        pytest.param('result matches "^\\\\w+$"', "héllo", False, id="word-chars-are-ascii"),
        pytest.param('result matches "^\\\\pL+$"', "héllo", True, id="unicode-classes"),
        pytest.param('result matches "(?i)^OK$"', "ok", True, id="flags"),
        pytest.param('result matches "ok"', "not ok at all", True, id="search-anywhere"),
        pytest.param('result matches "(?P<code>5..)"', "HTTP 503", True, id="named-group"),
    ],
)
def test_matches_has_go_regexp_semantics(expr: str, result: Any, expected: bool) -> None:
    assert evaluate_condition(expr, result) is expected


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        pytest.param("(a)\\\\1", "error parsing regexp: invalid escape sequence: `\\1`", id="backreference"),
        pytest.param(
            "a(?=b)", "error parsing regexp: invalid or unsupported Perl syntax: `(?=`", id="lookahead"
        ),
        pytest.param(
            "(?<!a)b", "error parsing regexp: invalid or unsupported Perl syntax: `(?<!`", id="lookbehind"
        ),
        pytest.param("[a", "error parsing regexp: missing closing ]: `[a`", id="bracket"),
        pytest.param("(a", "error parsing regexp: missing closing ): `(a`", id="paren"),
        pytest.param(
            "a**", "error parsing regexp: invalid nested repetition operator: `**`", id="nested-repeat"
        ),
        pytest.param("a{1001}", "error parsing regexp: invalid repeat count: `{1001}`", id="repeat-count"),
    ],
)
def test_patterns_re2_refuses_are_compile_errors(pattern: str, message: str) -> None:
    expr = f'result matches "{pattern}"'
    assert check_syntax(expr) == message  # what lint and plan report
    with pytest.raises(ConditionError, match=r"^error parsing regexp"):
        evaluate_condition(expr, "ab")


def test_dynamic_pattern_re2_refuses_is_an_evaluation_error() -> None:
    with pytest.raises(ConditionError) as err:
        evaluate_condition("'ab' matches result", "(a)\\1")
    assert str(err.value) == "error parsing regexp: invalid escape sequence: `\\1`"


def test_lint_reports_a_pattern_re2_refuses() -> None:
    template = """
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: version-check}
spec:
  metrics:
  - name: version
    successCondition: 'result matches "^(v\\\\d+)\\\\.\\\\1$"'
    provider:
      web: {url: "http://svc/version", jsonPath: "{$.version}"}
"""
    problems, _ = lint_text(template)
    assert any(
        p.startswith('AnalysisTemplate "version-check": spec.metrics[0].successCondition: ')
        and p.endswith("does not compile: error parsing regexp: invalid escape sequence: `\\1`")
        for p in problems
    ), problems
