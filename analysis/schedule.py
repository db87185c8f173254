"""Scheduling: which metrics are due at `now`, when to wake up next, and how much history to keep (docs/semantics/analysis.md#analysis-scheduling).

Pure analysis core, called by `runner` once per reconcile with an injected `now`:

* `due_tasks` = Argo's `generateMetricTasks`: skip completed metrics; resume (or terminate) an in-flight
  measurement unless its ``resumeAt`` is in the future; no new measurement while terminating; the first one
  waits for ``startedAt + initialDelay``; stop at ``count >= effectiveCount`` (errors do not count); next one
  when ``now >= finishedAt + interval`` — or ``+ 10 s`` after an Error, whatever the interval;
* `next_wakeup` = `calculateNextReconcileTime`: the earliest of those instants;
* `dry_run_metrics` / `retention_limits`: the rules of docs/semantics/objects.md#analysis-objects — Go regular expressions matched *unanchored*
  (``rate`` matches ``success-rate``), an invalid one matches nothing, and every rule must match a metric;
* `trim_measurements`: keep the last 10 measurements, or ``measurementRetention.limit`` when > 0.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from analysis.durations import DurationError, parse_go_duration
from analysis.models import (
    DEFAULT_MEASUREMENT_HISTORY_LIMIT,
    AnalysisPhase,
    AnalysisRunStatus,
    DryRun,
    Measurement,
    MeasurementRetention,
    Metric,
    SpecError,
)

__all__ = [
    "DEFAULT_ERROR_RETRY_INTERVAL",
    "Task",
    "dry_run_metrics",
    "due_tasks",
    "next_wakeup",
    "retention_limits",
    "rule_matches",
    "trim_measurements",
]

DEFAULT_ERROR_RETRY_INTERVAL = timedelta(seconds=10)


@dataclass(frozen=True)
class Task:
    """A measurement to take now: a new one, or the in-flight `incomplete` one to resume/terminate."""

    metric: Metric
    incomplete: Measurement | None = None


@lru_cache(maxsize=1024)  # the same few interval strings are parsed on every pass of every run
def _duration(text: str | None) -> timedelta | None:
    if not text:
        return None
    try:
        return parse_go_duration(text)
    except DurationError:
        return None


def _last(status: AnalysisRunStatus, name: str) -> Measurement | None:
    result = status.metric_result(name)
    return result.measurements[-1] if result is not None and result.measurements else None


def _completed(status: AnalysisRunStatus, name: str) -> bool:
    result = status.metric_result(name)
    return result is not None and result.phase.completed


def _count_reached(metric: Metric, status: AnalysisRunStatus) -> bool:
    effective = metric.effective_count()
    result = status.metric_result(metric.name)
    return effective is not None and result is not None and result.count >= effective


def _interval_after(metric: Metric, last: Measurement) -> timedelta | None:
    if last.phase is AnalysisPhase.ERROR:
        return DEFAULT_ERROR_RETRY_INTERVAL
    return _duration(metric.interval)


def due_tasks(
    metrics: Sequence[Metric], status: AnalysisRunStatus, *, terminating: bool, now: datetime
) -> list[Task]:
    """docs/semantics/analysis.md#analysis-scheduling generateMetricTasks: the measurements to take, resume or terminate at `now`."""
    tasks: list[Task] = []
    for metric in metrics:
        if _completed(status, metric.name):
            continue
        last = _last(status, metric.name)
        if last is not None and last.finished_at is None:
            if not terminating and last.resume_at is not None and last.resume_at > now:
                continue
            tasks.append(Task(metric, incomplete=last))
            continue
        if terminating:
            continue
        if last is None:
            if metric.initial_delay:
                delay = _duration(metric.initial_delay)
                if status.started_at is None or delay is None or status.started_at + delay > now:
                    continue
            tasks.append(Task(metric))
            continue
        if _count_reached(metric, status):
            continue
        interval = DEFAULT_ERROR_RETRY_INTERVAL  # after an Error, and Argo's default without an interval
        if last.phase is not AnalysisPhase.ERROR and metric.interval:
            parsed = _duration(metric.interval)
            if parsed is None:
                continue
            interval = parsed
        assert last.finished_at is not None
        # Argo: now > finishedAt + interval. At the very instant (a virtual clock lands exactly on it) we
        # measure too, so replays keep an exact cadence; with a real clock the two never differ.
        if now >= last.finished_at + interval:
            tasks.append(Task(metric))
    return tasks


def next_wakeup(metrics: Sequence[Metric], status: AnalysisRunStatus, *, now: datetime) -> datetime | None:
    """docs/semantics/analysis.md#analysis-scheduling calculateNextReconcileTime: the earliest instant something becomes due (None: nothing timed)."""
    earliest: datetime | None = None

    def consider(t: datetime) -> None:
        nonlocal earliest
        if earliest is None or t < earliest:
            earliest = t

    for metric in metrics:
        if _completed(status, metric.name):
            continue
        last = _last(status, metric.name)
        if last is None:
            delay = _duration(metric.initial_delay)
            if delay is not None:
                consider((status.started_at or now) + delay)
            continue
        if last.finished_at is None:
            if last.resume_at is not None:
                consider(last.resume_at)
            continue
        if _count_reached(metric, status):
            continue
        interval = _interval_after(metric, last)
        if interval is not None:
            consider(last.finished_at + interval)
    return earliest


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None  # Go: the error is ignored and the rule matches nothing


def rule_matches(pattern: str, name: str) -> bool:
    """Go's `regexp.MatchString`: unanchored search; an invalid pattern (e.g. ``*``) matches nothing."""
    compiled = _compiled(pattern)
    return compiled is not None and compiled.search(name) is not None


def _match_rules(kind: str, patterns: Sequence[str], metrics: Sequence[Metric]) -> list[list[str]]:
    matched: list[list[str]] = []
    for i, pattern in enumerate(patterns):
        names = [m.name for m in metrics if rule_matches(pattern, m.name)]
        if not names:
            raise SpecError(f"{kind}[{i}]: Rule didn't match any metric name(s)")
        matched.append(names)
    return matched


def dry_run_metrics(rules: Sequence[DryRun] | None, metrics: Sequence[Metric]) -> set[str]:
    """Names of the metrics in dry-run mode; SpecError when a rule matches none (docs/semantics/objects.md#analysis-objects, docs/semantics/analysis.md#run-status)."""
    matched = _match_rules("dryRun", [r.metric_name for r in rules or []], metrics)
    return {name for names in matched for name in names}


def retention_limits(
    rules: Sequence[MeasurementRetention] | None, metrics: Sequence[Metric]
) -> dict[str, int]:
    """Per-metric history limits from measurementRetention rules (the last matching rule wins, as in Argo)."""
    rules = list(rules or [])
    matched = _match_rules("measurementRetention", [r.metric_name for r in rules], metrics)
    limits: dict[str, int] = {}
    for rule, names in zip(rules, matched, strict=True):
        for name in names:
            limits[name] = rule.limit
    return limits


def trim_measurements(
    status: AnalysisRunStatus, limits: Mapping[str, int], default: int = DEFAULT_MEASUREMENT_HISTORY_LIMIT
) -> None:
    """Keep the newest `default` (10) measurements per metric, or the rule's limit when > 0 (docs/semantics/analysis.md#analysis-scheduling)."""
    for result in status.metric_results or []:
        limit = limits.get(result.name, 0)
        keep = limit if limit > 0 else default
        if len(result.measurements) > keep:
            result.measurements = result.measurements[-keep:]
