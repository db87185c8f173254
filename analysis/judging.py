"""PURE: the statistical judge's configuration and verdict: is the canary worse than the baseline?

Sits between the judge provider (`analysis.providers.judge`, which fetches the two sides' samples from
Prometheus) and the conditions: it turns two samples into a verdict object that `successCondition:
result.verdict == "pass"` / `failureCondition: result.verdict == "fail"` read. docs/analysis-judge.md explains
the method; in short:

* ``test: mann-whitney`` — the canary's and the baseline's values over the window (one series each, sampled at
  `step`) are compared by a one-sided Mann-Whitney U test (H1: the canary's values are stochastically larger,
  for ``direction: increase-is-bad``, or smaller, for ``decrease-is-bad``). No distribution is assumed; the
  samples are taken as independent, which successive points of a `rate()` over overlapping windows are not
  quite (the p-value is then optimistic: keep `alpha` small and `step` no shorter than the rate window).
* ``test: proportions`` — each side is a pair of counts (`bad`, `total`: e.g. the errors and the requests of
  the window); Fisher's exact test, one-sided (H1: the canary's bad proportion is larger), or above
  `FISHER_MAX_EVENTS` events the two-proportion z-test (pooled variance).
* ``effect`` — the relative change of the medians (mann-whitney) or of the proportions (proportions), signed
  so that positive is worse; ``±Infinity`` when the baseline's is 0 and the canary's is not.
* ``verdict`` — ``inconclusive`` when either side has fewer than `minSamples` (NaN samples are dropped first:
  a rate over no traffic), never ``pass``; ``fail`` when the test is significant (``pValue < alpha``) **and**
  the effect is at least `minEffect`; ``pass`` otherwise (no evidence, at level `alpha`, that the canary is
  worse by `minEffect` or more).

Bounds (one controller serves every team): at most `MAX_SAMPLES` per side (Prometheus's own limit of points per
series in a range query); counts above `MAX_COUNT` are refused; both are `JudgeError`s, which the provider turns
into Error measurements. scipy is imported on first use (it costs ~0.3 s), not by `import analysis`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from analysis.durations import DurationError, parse_go_duration

__all__ = [
    "JUDGE_PLUGIN",
    "MAX_COUNT",
    "MAX_SAMPLES",
    "Counts",
    "JudgeConfig",
    "JudgeError",
    "Verdict",
    "judge_counts",
    "judge_samples",
    "parse_config",
]

JUDGE_PLUGIN = "rollouts/judge"
"""The key under `provider.plugin` (a plugin provider, so the manifest stays valid for Argo's CRDs)."""
MAX_SAMPLES = 11_000
MAX_COUNT = 10**15  # far above any request count; bounds the arithmetic of Fisher's test

Direction = Literal["increase-is-bad", "decrease-is-bad"]


class JudgeError(ValueError):
    """A configuration or data problem; its text is the Error measurement's message."""


class Counts(BaseModel):
    """The queries of one side for ``test: proportions``: bad events and all events of the window."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bad: str = Field(min_length=1)
    total: str = Field(min_length=1)


class _Header(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str
    value: str


class _Prometheus(BaseModel):
    """Where the two sides' queries go: the connection fields of Argo's `provider.prometheus` (its
    `authentication` is read by the Prometheus provider, as for any Prometheus metric)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    address: str | None = None
    timeout: int | None = Field(default=None, ge=0)
    insecure: bool | None = None
    headers: list[_Header] | None = None
    authentication: dict[str, Any] | None = None

    def connection(self) -> dict[str, Any]:
        """The fields as a `provider.prometheus` object (camelCase, no nulls)."""
        return self.model_dump(exclude_none=True)


class JudgeConfig(BaseModel):
    """`provider.plugin["rollouts/judge"]` (docs/analysis-judge.md#configuration)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    prometheus: _Prometheus = Field(default_factory=_Prometheus)
    canary: str | Counts
    baseline: str | Counts
    window: str = "10m"
    step: str = "30s"
    test: Literal["mann-whitney", "proportions"] = "mann-whitney"
    direction: Direction = "increase-is-bad"
    alpha: float = Field(default=0.05, gt=0, le=0.5)
    min_effect: float = Field(default=0.1, ge=0, alias="minEffect")
    min_samples: int | None = Field(default=None, ge=1, alias="minSamples")

    @field_validator("window", "step")
    @classmethod
    def _duration(cls, value: str) -> str:
        try:
            seconds = parse_go_duration(value).total_seconds()
        except DurationError as e:
            raise ValueError(f"not a duration: {e}") from None
        if seconds <= 0:
            raise ValueError(f"must be greater than 0, got {value!r}")
        return value

    @field_validator("alpha", "min_effect")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> JudgeConfig:
        sides = (self.canary, self.baseline)
        if self.test == "mann-whitney" and not all(isinstance(s, str) for s in sides):
            raise ValueError("test mann-whitney takes one query per side (canary: '<PromQL>')")
        if self.test == "proportions" and not all(isinstance(s, Counts) for s in sides):
            raise ValueError(
                "test proportions takes two queries per side (canary: {bad: '<PromQL>', total: ...})"
            )
        if self.test == "proportions" and self.direction != "increase-is-bad":
            raise ValueError(
                "test proportions judges the share of bad events: its direction is increase-is-bad"
            )
        if self.points() > MAX_SAMPLES:
            raise ValueError(
                f"window {self.window} at step {self.step} is {self.points()} points per side, more than "
                f"{MAX_SAMPLES} (Prometheus's limit per series): use a longer step"
            )
        return self

    def window_seconds(self) -> float:
        return parse_go_duration(self.window).total_seconds()

    def step_seconds(self) -> float:
        return parse_go_duration(self.step).total_seconds()

    def points(self) -> int:
        return int(self.window_seconds() // self.step_seconds()) + 1

    def required_samples(self) -> int:
        """`minSamples`, or its default: 10 values per side (mann-whitney), 100 events per side (proportions)."""
        if self.min_samples is not None:
            return self.min_samples
        return 10 if self.test == "mann-whitney" else 100


def parse_config(raw: Any) -> JudgeConfig:
    """The configuration, or `JudgeError` naming the field (``window: not a duration: …``)."""
    if not isinstance(raw, Mapping):
        raise JudgeError(f"the {JUDGE_PLUGIN} configuration must be an object, got {type(raw).__name__}")
    try:
        return JudgeConfig.model_validate(dict(raw))
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"] if not str(p).startswith(("str", "Counts"))) or "config"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise JudgeError(f"{where}: {message}") from None


@dataclass(frozen=True)
class Verdict:
    """The measurement's result: what conditions read as ``result.<field>``."""

    verdict: Literal["pass", "fail", "inconclusive"]
    reason: str
    test: str
    p_value: float | None
    effect: float | None
    canary: float | None  # median value, or bad proportion
    baseline: float | None
    canary_samples: int  # values, or total events
    baseline_samples: int
    dropped: int = 0  # NaN values left out

    def to_result(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "reason": self.reason,
            "test": self.test,
            "pValue": self.p_value,
            "effect": self.effect,
            "canary": self.canary,
            "baseline": self.baseline,
            "canarySamples": self.canary_samples,
            "baselineSamples": self.baseline_samples,
            "dropped": self.dropped,
        }


def _relative(canary: float, baseline: float, direction: Direction) -> float:
    """The change from baseline to canary, relative to the baseline, positive when worse."""
    change = canary - baseline if direction == "increase-is-bad" else baseline - canary
    if baseline == 0:
        return 0.0 if change == 0 else math.copysign(math.inf, change)
    return change / abs(baseline)


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _decide(config: JudgeConfig, p_value: float, effect: float) -> tuple[Literal["pass", "fail"], str]:
    significant = p_value < config.alpha
    if significant and effect >= config.min_effect:
        return "fail", (
            f"the canary is worse: p = {p_value:.3g} < alpha {config.alpha:g} and the effect "
            f"{_pct(effect)} ≥ minEffect {_pct(config.min_effect)}"
        )
    if significant:
        return "pass", (
            f"the canary is worse but by less than minEffect: effect {_pct(effect)} < {_pct(config.min_effect)} "
            f"(p = {p_value:.3g})"
        )
    return "pass", f"no evidence the canary is worse: p = {p_value:.3g} ≥ alpha {config.alpha:g}"


def _pct(value: float) -> str:
    if math.isinf(value):
        return "+∞" if value > 0 else "-∞"
    return f"{value * 100:+.1f} %"


def judge_samples(config: JudgeConfig, canary: Sequence[float], baseline: Sequence[float]) -> Verdict:
    """``test: mann-whitney`` on two samples (NaN dropped)."""
    if len(canary) > MAX_SAMPLES or len(baseline) > MAX_SAMPLES:
        raise JudgeError(
            f"more than {MAX_SAMPLES} samples on one side: use a longer step or a shorter window"
        )
    c = [v for v in canary if not math.isnan(v)]
    b = [v for v in baseline if not math.isnan(v)]
    dropped = len(canary) - len(c) + len(baseline) - len(b)
    need = config.required_samples()
    c_median = _median(c) if c else None
    b_median = _median(b) if b else None
    if len(c) < need or len(b) < need:
        return Verdict(
            "inconclusive",
            f"too few samples: canary {len(c)}, baseline {len(b)}, minSamples {need}",
            config.test,
            None,
            None,
            c_median,
            b_median,
            len(c),
            len(b),
            dropped,
        )
    assert c_median is not None and b_median is not None
    if any(math.isinf(v) for v in (*c, *b)):
        raise JudgeError(
            "a sample is infinite (a division by zero in the query?): the test needs finite values"
        )
    import numpy as np
    from scipy.stats import mannwhitneyu

    alternative: Literal["greater", "less"] = "greater" if config.direction == "increase-is-bad" else "less"
    p_value = float(mannwhitneyu(np.asarray(c), np.asarray(b), alternative=alternative).pvalue)
    if math.isnan(p_value):  # every value equal on both sides
        p_value = 1.0
    effect = _relative(c_median, b_median, config.direction)
    verdict, reason = _decide(config, p_value, effect)
    return Verdict(verdict, reason, config.test, p_value, effect, c_median, b_median, len(c), len(b), dropped)


FISHER_MAX_EVENTS = 2_000_000
"""Above this many events (both sides), Fisher's exact test (whose cost grows with the counts: 9 ms at 10⁷, hours
at 10¹⁵) gives way to the two-proportion z-test, which is as exact as it matters there."""


def _proportions_p(c_bad: int, c_total: int, b_bad: int, b_total: int) -> float:
    """One-sided p-value of H1: the canary's share of bad events is larger than the baseline's."""
    if c_total + b_total <= FISHER_MAX_EVENTS:
        import numpy as np
        from scipy.stats import fisher_exact

        # rows: canary, baseline; columns: bad, good. "greater": the canary's odds of bad are higher.
        table = np.array([[c_bad, c_total - c_bad], [b_bad, b_total - b_bad]], dtype=np.int64)
        p = float(fisher_exact(table, alternative="greater").pvalue)
    else:
        from scipy.stats import norm

        pooled = (c_bad + b_bad) / (c_total + b_total)
        se = math.sqrt(pooled * (1 - pooled) * (1 / c_total + 1 / b_total))
        if se == 0:
            return 1.0  # no bad event, or only bad events, on both sides: no difference to see
        p = float(norm.sf((c_bad / c_total - b_bad / b_total) / se))
    return 1.0 if math.isnan(p) else min(max(p, 0.0), 1.0)


def judge_counts(config: JudgeConfig, canary: tuple[float, float], baseline: tuple[float, float]) -> Verdict:
    """``test: proportions`` on (bad, total) of each side."""
    sides = []
    for name, (bad, total) in (("canary", canary), ("baseline", baseline)):
        for what, v in (("bad", bad), ("total", total)):
            if not math.isfinite(v) or v < 0:
                raise JudgeError(f"the {name} {what} count is {v:g}: counts must be finite and not negative")
            if v > MAX_COUNT:
                raise JudgeError(f"the {name} {what} count {v:g} is larger than {MAX_COUNT:g}")
        if bad > total:
            raise JudgeError(f"the {name} bad count ({bad:g}) is larger than its total ({total:g})")
        sides.append((round(bad), round(total)))
    (c_bad, c_total), (b_bad, b_total) = sides
    c_rate = c_bad / c_total if c_total else None
    b_rate = b_bad / b_total if b_total else None
    need = config.required_samples()
    if c_total < need or b_total < need:
        return Verdict(
            "inconclusive",
            f"too few events: canary {c_total}, baseline {b_total}, minSamples {need}",
            config.test,
            None,
            None,
            c_rate,
            b_rate,
            c_total,
            b_total,
        )
    assert c_rate is not None and b_rate is not None
    p_value = _proportions_p(c_bad, c_total, b_bad, b_total)
    effect = _relative(c_rate, b_rate, config.direction)
    verdict, reason = _decide(config, p_value, effect)
    return Verdict(verdict, reason, config.test, p_value, effect, c_rate, b_rate, c_total, b_total)
