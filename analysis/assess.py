"""Assessment: measurement phase from conditions, metric phase from counters, run phase from metrics.

Pure analysis core, called by `runner` once per reconcile. Every rule is Argo's, cited by section of the semantics
reference:

* docs/semantics/analysis.md#measurement-assessment `evaluate_measurement`: successCondition / failureCondition → Successful, Failed or Inconclusive, or
  Error with ``could not evaluate successCondition "<expr>": <err>``;
* docs/semantics/analysis.md#metric-status `record_measurement` (counters) and `assess_metric` (limits with strict ``>``, consecutiveSuccessLimit,
  count reached, terminating);
* docs/semantics/analysis.md#run-status `assess_run` (worst non-dry-run metric in the order Successful < Running < Pending < Inconclusive <
  Error < Failed, run message, summaries, dry-run handling, terminate).

Functions that update status objects mutate the objects they are given; the runner passes its own copy.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from analysis.conditions import ConditionError, evaluate_condition
from analysis.models import AnalysisPhase, AnalysisRunStatus, Measurement, Metric, MetricResult, RunSummary

__all__ = [
    "RUN_TERMINATED",
    "apply_run_phase",
    "assess_metric",
    "assess_run",
    "evaluate_measurement",
    "is_terminating",
    "is_worse",
    "limit_verdict",
    "record_measurement",
]

RUN_TERMINATED = "Run Terminated"
NO_DATA = "metric result is nil or empty: no data returned from the metric provider"

_ORDER = (
    AnalysisPhase.SUCCESSFUL,
    AnalysisPhase.RUNNING,
    AnalysisPhase.PENDING,
    AnalysisPhase.INCONCLUSIVE,
    AnalysisPhase.ERROR,
    AnalysisPhase.FAILED,
)
_RANK = {phase: i for i, phase in enumerate(_ORDER)}


# --- docs/semantics/analysis.md#measurement-assessment measurement ----------------------------------------------------------------------------


def _nil_or_empty(result: Any) -> bool:
    return result is None or (isinstance(result, list | tuple) and len(result) == 0)


def _evaluate(kind: str, expr: str, result: Any) -> bool:
    try:
        return evaluate_condition(expr, result)
    except ConditionError as e:
        reason = NO_DATA if _nil_or_empty(result) else str(e)
        raise ConditionError(f'could not evaluate {kind} "{expr}": {reason}') from None


def evaluate_measurement(metric: Metric, result: Any) -> tuple[AnalysisPhase, str | None]:
    """docs/semantics/analysis.md#measurement-assessment EvaluateResult: the phase of a measurement whose provider returned `result`, and an error message.

    >>> m = Metric.model_validate({"name": "m", "successCondition": "result[0] > 1", "provider": {"web": {"url": "u"}}})
    >>> evaluate_measurement(m, [2.0])
    (<AnalysisPhase.SUCCESSFUL: 'Successful'>, None)
    >>> evaluate_measurement(m, [])[1]
    'could not evaluate successCondition "result[0] > 1": metric result is nil or empty: no data returned from the metric provider'
    """
    success_expr, failure_expr = metric.success_condition or "", metric.failure_condition or ""
    success = failure = False
    try:
        if success_expr:
            success = _evaluate("successCondition", success_expr, result)
        if failure_expr:
            failure = _evaluate("failureCondition", failure_expr, result)
    except ConditionError as e:
        return AnalysisPhase.ERROR, str(e)
    if not success_expr and not failure_expr:
        return AnalysisPhase.SUCCESSFUL, None
    if success_expr and not failure_expr:
        failure = not success
    elif failure_expr and not success_expr:
        success = not failure
    if failure:
        return AnalysisPhase.FAILED, None
    if not success:
        return AnalysisPhase.INCONCLUSIVE, None
    return AnalysisPhase.SUCCESSFUL, None


# --- docs/semantics/analysis.md#metric-status metric ---------------------------------------------------------------------------------


def record_measurement(result: MetricResult, measurement: Measurement) -> None:
    """docs/semantics/analysis.md#metric-status counters for a *completed* measurement (no-op for one still in flight)."""
    phase = measurement.phase
    if phase is AnalysisPhase.SUCCESSFUL:
        result.successful += 1
        result.count += 1
        result.consecutive_error = 0
        result.consecutive_success += 1
    elif phase is AnalysisPhase.FAILED:
        result.failed += 1
        result.count += 1
        result.consecutive_error = 0
        result.consecutive_success = 0
    elif phase is AnalysisPhase.INCONCLUSIVE:
        result.inconclusive += 1
        result.count += 1
        result.consecutive_error = 0
        result.consecutive_success = 0
    elif phase is AnalysisPhase.ERROR:
        result.error += 1
        result.consecutive_error += 1
        result.consecutive_success = 0


def limit_verdict(metric: Metric, result: MetricResult) -> tuple[AnalysisPhase | None, str]:
    """docs/semantics/analysis.md#metric-status `assessMetricFailureInconclusiveOrError`: later checks win (Error > Inconclusive > Failed)."""
    phase: AnalysisPhase | None = None
    message = ""
    failure_limit = metric.failure_limit_value()
    if failure_limit >= 0 and result.failed > failure_limit:
        phase = AnalysisPhase.FAILED
        message = f"failed ({result.failed}) > failureLimit ({failure_limit})"
    inconclusive_limit = metric.inconclusive_limit_value()
    if result.inconclusive > inconclusive_limit:
        phase = AnalysisPhase.INCONCLUSIVE
        message = f"inconclusive ({result.inconclusive}) > inconclusiveLimit ({inconclusive_limit})"
    error_limit = metric.consecutive_error_limit_value()
    if result.consecutive_error > error_limit:
        phase = AnalysisPhase.ERROR
        message = f"consecutiveErrors ({result.consecutive_error}) > consecutiveErrorLimit ({error_limit})"
    return phase, message


def assess_metric(metric: Metric, result: MetricResult, terminating: bool) -> AnalysisPhase:
    """docs/semantics/analysis.md#metric-status `assessMetricStatus`: the phase of one metric from its result and the run's terminating flag."""
    if result.phase.completed:
        return result.phase  # sticky
    if not result.measurements:
        return AnalysisPhase.SUCCESSFUL if terminating else AnalysisPhase.PENDING
    last = result.measurements[-1]
    if last.phase is None or not last.phase.completed:
        return AnalysisPhase.RUNNING
    verdict, _ = limit_verdict(metric, result)
    if verdict is not None:
        return verdict
    success_limit = metric.consecutive_success_limit_value()
    if success_limit > 0 and result.consecutive_success >= success_limit:
        return AnalysisPhase.SUCCESSFUL
    effective = metric.effective_count()
    if effective is not None and result.count >= effective:
        failure_applicable = metric.failure_limit is None or metric.failure_limit_value() >= 0
        if success_limit > 0:
            # neither limit decided it: Inconclusive, or Failed when failureLimit is disabled
            return AnalysisPhase.INCONCLUSIVE if failure_applicable else AnalysisPhase.FAILED
        return AnalysisPhase.SUCCESSFUL
    return AnalysisPhase.SUCCESSFUL if terminating else AnalysisPhase.RUNNING


# --- docs/semantics/analysis.md#run-status run ------------------------------------------------------------------------------------


def is_worse(current: AnalysisPhase, new: AnalysisPhase) -> bool:
    """Argo's IsWorse in the order Successful < Running < Pending < Inconclusive < Error < Failed."""
    return _RANK.get(new, 0) > _RANK.get(current, 0)


def is_terminating(terminate: bool | None, status: AnalysisRunStatus) -> bool:
    """docs/semantics/analysis.md#run-status IsTerminating: spec.terminate, or a non-dry-run metric already Failed/Error/Inconclusive."""
    if terminate:
        return True
    bad = (AnalysisPhase.FAILED, AnalysisPhase.ERROR, AnalysisPhase.INCONCLUSIVE)
    return any(not r.dry_run and r.phase in bad for r in status.metric_results or [])


def _count(summary: RunSummary, phase: AnalysisPhase | None) -> None:
    if phase is AnalysisPhase.ERROR:
        summary.error += 1
    elif phase is AnalysisPhase.FAILED:
        summary.failed += 1
    elif phase is AnalysisPhase.INCONCLUSIVE:
        summary.inconclusive += 1
    else:  # Argo counts "no limit reached" as successful
        summary.successful += 1


_ZERO = RunSummary()


def _zero_summary() -> RunSummary:
    """`RunSummary()`, as pydantic's shallow copy of a prototype: validating the defaults twice per pass of
    every run showed up in profiles."""
    return _ZERO.model_copy()


def assess_run(
    metrics: Sequence[Metric],
    status: AnalysisRunStatus,
    *,
    terminate: bool | None,
    dry_run: Collection[str],
    terminating: bool,
    now: datetime,
) -> tuple[AnalysisPhase, str]:
    """docs/semantics/analysis.md#run-status `assessRunStatus`: update metric phases/messages and summaries in `status`; return the run phase.

    `terminating` is `is_terminating` computed *before* this reconcile's measurements were recorded.
    """
    worst: AnalysisPhase | None = None
    worst_message = RUN_TERMINATED if terminate else ""
    everything_completed = True
    if status.started_at is None:
        status.started_at = now
    summary, dry_summary = _zero_summary(), _zero_summary()
    for metric in metrics:
        is_dry = metric.name in dry_run
        (dry_summary if is_dry else summary).count += 1
        result = status.metric_result(metric.name)
        if result is None:
            everything_completed = False  # not started yet (e.g. initialDelay)
            continue
        phase = assess_metric(metric, result, terminating)
        if result.phase != phase:
            if result.measurements:
                result.message = result.measurements[-1].message
            result.phase = phase
        if not phase.completed:
            everything_completed = False
            continue
        verdict, message = limit_verdict(metric, result)
        if not is_dry:
            if worst is None or is_worse(worst, phase):
                worst = phase
                if message:
                    worst_message = f'Metric "{metric.name}" assessed {phase} due to {message}'
                    if result.message:
                        worst_message += f': "Error Message: {result.message}"'
            _count(summary, verdict)
        else:
            if worst is None:
                worst = AnalysisPhase.SUCCESSFUL
            if message:
                result.message = f"Metric assessed {phase} due to {message}"
            _count(dry_summary, verdict)
    status.run_summary = summary
    status.dry_run_summary = dry_summary
    worst_message = worst_message.strip()
    if terminating:
        return (worst or AnalysisPhase.SUCCESSFUL), worst_message
    if not everything_completed or worst is None:
        return AnalysisPhase.RUNNING, ""
    return worst, worst_message


def apply_run_phase(status: AnalysisRunStatus, phase: AnalysisPhase, message: str, now: datetime) -> None:
    """Set phase and message when the phase changes; stamp completedAt on completion (Argo's reconcile)."""
    if phase != status.phase:
        status.phase = phase
        status.message = message or None
        if phase.completed and status.completed_at is None:
            status.completed_at = now
