"""The statistical judge's pure core (analysis/judging.py): configuration errors name the field; too few
samples is never a pass; a clearly worse canary fails, an equal one passes; hostile input is bounded."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.judging import MAX_SAMPLES, JudgeError, judge_counts, judge_samples, parse_config

MW = {"canary": "c", "baseline": "b"}
PROPORTIONS = {
    "test": "proportions",
    "canary": {"bad": "cb", "total": "ct"},
    "baseline": {"bad": "bb", "total": "bt"},
}


def noisy(center: float, spread: float, n: int = 21, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    return [center + rng.uniform(-spread, spread) for _ in range(n)]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"baseline": "b"}, "canary: Field required"),
        ({**MW, "window": "ten minutes"}, "window: not a duration"),
        ({**MW, "step": "0s"}, "step: must be greater than 0"),
        ({**MW, "alpha": 0}, "alpha: Input should be greater than 0"),
        ({**MW, "alpha": 0.9}, "alpha: Input should be less than or equal to 0.5"),
        ({**MW, "minEffect": -1}, "minEffect: Input should be greater than or equal to 0"),
        ({**MW, "test": "t-test"}, "test: Input should be 'mann-whitney' or 'proportions'"),
        ({**MW, "direction": "up"}, "direction: Input should be 'increase-is-bad' or 'decrease-is-bad'"),
        ({**MW, "minEfect": 0.2}, "minEfect: Extra inputs are not permitted"),
        ({**MW, "test": "proportions"}, "test proportions takes two queries per side"),
        ({**PROPORTIONS, "test": "mann-whitney"}, "test mann-whitney takes one query per side"),
        ({**PROPORTIONS, "direction": "decrease-is-bad"}, "its direction is increase-is-bad"),
        ({**MW, "window": "1000h", "step": "1s"}, "more than 11000 (Prometheus's limit per series)"),
        ({**MW, "prometheus": {"adress": "http://p"}}, "prometheus.adress: Extra inputs are not permitted"),
        ("canary: c", "configuration must be an object, got str"),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 30 else None,
)
def test_configuration_errors_name_the_field(raw: Any, message: str) -> None:
    with pytest.raises(JudgeError) as info:
        parse_config(raw)
    assert message in str(info.value)


def test_defaults() -> None:
    config = parse_config(MW)
    assert (config.window, config.step, config.test, config.direction) == (
        "10m",
        "30s",
        "mann-whitney",
        "increase-is-bad",
    )
    assert (config.alpha, config.min_effect, config.required_samples(), config.points()) == (
        0.05,
        0.1,
        10,
        21,
    )
    assert parse_config(PROPORTIONS).required_samples() == 100


def test_a_clearly_worse_canary_fails() -> None:
    verdict = judge_samples(parse_config(MW), noisy(0.05, 0.01), noisy(0.01, 0.005, seed=2))
    assert verdict.verdict == "fail"
    assert verdict.p_value is not None and verdict.p_value < 1e-6
    assert verdict.effect is not None and verdict.effect > 3
    assert verdict.reason.startswith("the canary is worse: p = ")


def test_a_canary_like_the_baseline_passes() -> None:
    verdict = judge_samples(parse_config(MW), noisy(0.01, 0.005, seed=3), noisy(0.01, 0.005, seed=4))
    assert verdict.verdict == "pass"
    assert verdict.p_value is not None and verdict.p_value >= 0.05
    assert verdict.reason.startswith("no evidence the canary is worse")


def test_a_significant_but_small_difference_passes() -> None:
    canary = [0.0105 + i * 1e-6 for i in range(30)]
    baseline = [0.0100 + i * 1e-6 for i in range(30)]
    verdict = judge_samples(parse_config({**MW, "minEffect": 0.2}), canary, baseline)
    assert verdict.p_value is not None and verdict.p_value < 0.05
    assert verdict.verdict == "pass" and "by less than minEffect" in verdict.reason


def test_decrease_is_bad_judges_the_other_way() -> None:
    config = parse_config({**MW, "direction": "decrease-is-bad", "minEffect": 0.05})
    lower = judge_samples(config, noisy(0.90, 0.01), noisy(0.99, 0.005, seed=2))
    higher = judge_samples(config, noisy(0.99, 0.005), noisy(0.90, 0.01, seed=2))
    assert (lower.verdict, higher.verdict) == ("fail", "pass")
    assert lower.effect is not None and lower.effect > 0


def test_too_few_samples_is_inconclusive_not_pass() -> None:
    verdict = judge_samples(parse_config(MW), [0.01] * 9, [0.01] * 30)
    assert verdict.verdict == "inconclusive"
    assert verdict.reason == "too few samples: canary 9, baseline 30, minSamples 10"
    assert verdict.p_value is None


def test_nan_samples_are_dropped_and_counted() -> None:
    verdict = judge_samples(parse_config(MW), [math.nan] * 15 + [0.01] * 6, [0.01] * 21)
    assert (verdict.verdict, verdict.canary_samples, verdict.dropped) == ("inconclusive", 6, 15)


def test_identical_constant_samples_pass() -> None:
    verdict = judge_samples(parse_config(MW), [0.01] * 21, [0.01] * 21)
    assert (verdict.verdict, verdict.p_value, verdict.effect) == ("pass", 1.0, 0.0)


def test_a_baseline_at_zero_gives_an_infinite_effect() -> None:
    verdict = judge_samples(parse_config(MW), noisy(0.05, 0.01), [0.0] * 21)
    assert verdict.verdict == "fail" and verdict.effect == math.inf
    assert "+∞" in verdict.reason


def test_result_object_for_conditions() -> None:
    result = judge_samples(parse_config(MW), [0.01] * 21, [0.01] * 21).to_result()
    assert set(result) == {
        "verdict", "reason", "test", "pValue", "effect", "canary", "baseline", "canarySamples",
        "baselineSamples", "dropped",
    }  # fmt: skip


def test_proportions() -> None:
    config = parse_config(PROPORTIONS)
    worse = judge_counts(config, (300, 10_000), (100, 10_000))
    same = judge_counts(config, (101, 10_000), (100, 10_000))
    few = judge_counts(config, (5, 50), (0, 5_000))
    assert (worse.verdict, same.verdict, few.verdict) == ("fail", "pass", "inconclusive")
    assert worse.effect == pytest.approx(2.0)
    assert (worse.canary, worse.baseline) == (0.03, 0.01)
    assert few.reason == "too few events: canary 50, baseline 5000, minSamples 100"


@pytest.mark.parametrize(
    ("canary", "baseline", "message"),
    [
        ((5, 4), (0, 10), "the canary bad count (5) is larger than its total (4)"),
        ((-1, 4), (0, 10), "the canary bad count is -1"),
        ((1, math.inf), (0, 10), "the canary total count is inf"),
        ((1, 10), (math.nan, 10), "the baseline bad count is nan"),
        ((1, 1e300), (0, 10), "is larger than 1e+15"),
    ],
)
def test_hostile_counts_are_errors(
    canary: tuple[float, float], baseline: tuple[float, float], message: str
) -> None:
    with pytest.raises(JudgeError, match=message.replace("(", r"\(").replace(")", r"\)").replace("+", r"\+")):
        judge_counts(parse_config(PROPORTIONS), canary, baseline)


def test_hostile_samples_are_errors() -> None:
    with pytest.raises(JudgeError, match="more than 11000 samples"):
        judge_samples(parse_config(MW), [0.0] * (MAX_SAMPLES + 1), [0.0] * 20)
    with pytest.raises(JudgeError, match="infinite"):
        judge_samples(parse_config(MW), [math.inf] * 20, [0.0] * 20)


def test_the_largest_counts_are_judged() -> None:
    verdict = judge_counts(parse_config(PROPORTIONS), (10**13, 10**15), (10**13, 10**15))
    assert verdict.verdict == "pass"


samples = st.lists(st.one_of(st.floats(min_value=-1e6, max_value=1e6), st.just(math.nan)), max_size=40)


@settings(max_examples=200, deadline=None)
@given(canary=samples, baseline=samples)
def test_never_pass_without_enough_samples(canary: list[float], baseline: list[float]) -> None:
    verdict = judge_samples(parse_config(MW), canary, baseline)
    enough = min(sum(not math.isnan(v) for v in side) for side in (canary, baseline)) >= 10
    if not enough:
        assert verdict.verdict == "inconclusive"
    else:
        assert (
            verdict.verdict in ("pass", "fail") and verdict.p_value is not None and 0 <= verdict.p_value <= 1
        )


@settings(max_examples=100, deadline=None)
@given(values=st.lists(st.floats(min_value=0, max_value=1e6), min_size=10, max_size=40))
def test_a_canary_identical_to_its_baseline_never_fails(values: list[float]) -> None:
    assert judge_samples(parse_config(MW), values, list(values)).verdict == "pass"
