"""The statistical judge as a metric provider: ``provider.plugin["rollouts/judge"]`` (docs/analysis-judge.md).

Sits beside the Prometheus provider and goes through it: each side's query is a Prometheus query (a range
query over `window` at `step` ending at the measurement's instant for ``mann-whitney``; instant queries of the
`bad` and `total` counts for ``proportions``) sent with the Prometheus provider's connections, limits,
deadlines, authentication and error wording; `analysis.judging` (pure) turns the two samples into the verdict.

The measurement's result is the verdict object (``result.verdict``, ``result.pValue``, ``result.effect``, …) and
its value the same as JSON. A metric without `successCondition` and `failureCondition` takes its phase from the
verdict (pass: Successful, fail: Failed, inconclusive: Inconclusive), so a judge can never pass by default.
Every failure (a query's, a bad configuration, a side with several series) is an Error measurement starting
with ``judge:``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from pydantic import ValidationError

from analysis.judging import (
    JUDGE_PLUGIN,
    Counts,
    JudgeConfig,
    JudgeError,
    Verdict,
    judge_counts,
    judge_samples,
)
from analysis.judging import parse_config as parse_judge_config
from analysis.models import AnalysisPhase, Measurement, Metric, PrometheusMetric
from analysis.providers.base import BaseProvider, error_measurement, value_measurement
from analysis.providers.prometheus import PrometheusProvider
from analysis.providers.shaping import series_of

__all__ = ["JUDGE_KIND", "JudgeProvider"]

JUDGE_KIND = f"plugin/{JUDGE_PLUGIN}"
_PHASES = {
    "pass": AnalysisPhase.SUCCESSFUL,
    "fail": AnalysisPhase.FAILED,
    "inconclusive": AnalysisPhase.INCONCLUSIVE,
}


T = TypeVar("T")


async def _in_order(*queries: Coroutine[Any, Any, T]) -> list[T]:
    """The queries run at once; when several fail, the first one's failure (canary before baseline) is raised,
    whichever finished first, so the message is the same on every run."""
    results = await asyncio.gather(*queries, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return cast(list[T], results)


class _Failed(Exception):
    """One side's query gave no usable answer; the text is the Error measurement's message."""


class JudgeProvider(BaseProvider):
    """`plugin/rollouts/judge` metrics, through `prometheus` (shared with the `prometheus` metrics)."""

    kind = JUDGE_KIND

    def __init__(self, prometheus: PrometheusProvider) -> None:
        self.prometheus = prometheus

    async def measure(self, metric: Metric, *, at: datetime | None = None) -> Measurement:
        try:
            config = parse_judge_config((metric.provider.plugin or {}).get(JUDGE_PLUGIN))
        except JudgeError as e:
            return error_measurement(f"judge: {e}")
        now = at or datetime.now(UTC)
        try:
            verdict = await self._judge(config, now)
        except (_Failed, JudgeError) as e:
            return error_measurement(f"judge: {e}")
        result = verdict.to_result()
        measurement = value_measurement(json.dumps(result, separators=(",", ":"), ensure_ascii=False))
        if not metric.success_condition and not metric.failure_condition:
            measurement.phase = _PHASES[verdict.verdict]
            if verdict.verdict != "pass":
                measurement.message = verdict.reason
        return measurement.with_result(result)

    def metadata(self, metric: Metric) -> dict[str, str] | None:
        try:
            config = parse_judge_config((metric.provider.plugin or {}).get(JUDGE_PLUGIN))
        except JudgeError:
            return None
        out: dict[str, str] = {}
        for side, query in (("Canary", config.canary), ("Baseline", config.baseline)):
            if isinstance(query, Counts):
                out[f"Resolved{side}BadQuery"] = query.bad
                out[f"Resolved{side}TotalQuery"] = query.total
            else:
                out[f"Resolved{side}Query"] = query
        return out

    async def _judge(self, config: JudgeConfig, now: datetime) -> Verdict:
        if isinstance(config.canary, Counts) and isinstance(config.baseline, Counts):
            sides = (config.canary, config.baseline)
            names = ("canary bad", "canary total", "baseline bad", "baseline total")
            queries = [q for side in sides for q in (side.bad, side.total)]
            counts = await _in_order(
                *(self._count(config, name, q, now) for name, q in zip(names, queries, strict=True))
            )
            return judge_counts(config, (counts[0], counts[1]), (counts[2], counts[3]))
        assert isinstance(config.canary, str) and isinstance(config.baseline, str)
        canary, baseline = await _in_order(
            self._samples(config, "canary", config.canary, now),
            self._samples(config, "baseline", config.baseline, now),
        )
        return judge_samples(config, canary, baseline)

    async def _series(
        self, config: JudgeConfig, side: str, query: str, now: datetime, ranged: bool
    ) -> list[list[float]]:
        wire: dict[str, Any] = {**config.prometheus.connection(), "query": query}
        if ranged:
            wire["rangeQuery"] = {
                "start": f'now() - duration("{config.window}")',
                "end": "now()",
                "step": config.step,
            }
        try:
            prometheus = PrometheusMetric.model_validate(wire)
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise _Failed(f"prometheus.{where}: {first['msg']}") from None
        answer = await self.prometheus.query(prometheus, now, series_of)
        if isinstance(answer, Measurement):
            raise _Failed(f"the {side} query failed: {answer.message}")
        series: list[list[float]] = answer[0]
        return series

    async def _samples(self, config: JudgeConfig, side: str, query: str, now: datetime) -> list[float]:
        series = await self._series(config, side, query, now, ranged=True)
        if len(series) > 1:
            raise _Failed(
                f"the {side} query returned {len(series)} series; the judge compares one series per side: "
                "aggregate them (sum, avg, …)"
            )
        return series[0] if series else []

    async def _count(self, config: JudgeConfig, side: str, query: str, now: datetime) -> float:
        series = await self._series(config, side, query, now, ranged=False)
        if len(series) > 1:
            raise _Failed(
                f"the {side} query returned {len(series)} series; a count is one number: aggregate them (sum)"
            )
        return series[0][0] if series else 0.0  # `sum` of no series is empty: no such events
