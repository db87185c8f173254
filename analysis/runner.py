"""The runner: drives one AnalysisRun against metric providers and a clock (the async edge of `analysis`).

Two entry points:

* `reconcile_run` — ONE reconcile pass, what Argo's `reconcileAnalysisRun` does, usable by the controller
  from its AnalysisRun reconciler: resolve args (§b.7), validate (§b.8), find the dry-run and retention rules,
  pick the due measurements (§b.6), take them all CONCURRENTLY, record them with their counters (§b.4),
  assess metrics and run (§b.5), trim the history, and say when to come back. It never raises for bad
  input or failing backends: those become an Error run or Error measurements.
* `run_to_completion` — loops `reconcile_run` on a `Clock` until the run completes, is terminated (an
  `asyncio.Event` or a callable), or reaches `until` (replays stop there, terminating what is in flight).

Clocks: `SystemClock` (live) and `VirtualClock` (replay/tests: `sleep_until` jumps instantly). With a
virtual clock, providers are called with ``at=clock.now()`` so queries are evaluated at the replayed instant.

Deviations from Argo, on purpose: the whole-run Error paths (bad args, invalid spec) also stamp
``completedAt``; secrets are looked up only when a measurement is due; a run that must terminate because a
metric just failed is re-reconciled immediately (``next_wakeup = now``), which is what Argo's own status
update event causes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from analysis.args import (
    ArgsError,
    SecretResolver,
    redact,
    resolve_metric,
    resolve_metrics_without_secrets,
    resolve_secret_args,
)
from analysis.assess import (
    apply_run_phase,
    assess_run,
    evaluate_measurement,
    is_terminating,
    record_measurement,
)
from analysis.models import (
    AnalysisPhase,
    AnalysisRun,
    AnalysisRunSpec,
    AnalysisRunStatus,
    Measurement,
    Metric,
    MetricResult,
    SpecError,
    validate_metrics,
)
from analysis.providers.base import MetricProvider
from analysis.schedule import (
    DEFAULT_ERROR_RETRY_INTERVAL,
    Task,
    dry_run_metrics,
    due_tasks,
    next_wakeup,
    retention_limits,
    trim_measurements,
)

__all__ = ["Clock", "RunStep", "SystemClock", "VirtualClock", "reconcile_run", "run_to_completion"]

METRIC_TERMINATED = "Metric Terminated"
Terminate = asyncio.Event | Callable[[], bool]


class Clock(Protocol):
    """Time for the runner: `now()` and an awaitable `sleep_until`."""

    def now(self) -> datetime: ...

    async def sleep_until(self, t: datetime) -> None: ...


class SystemClock:
    """Wall-clock time in UTC; sleeps for real."""

    virtual = False

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, t: datetime) -> None:
        delay = (t - self.now()).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)


class VirtualClock:
    """A clock that jumps: `sleep_until(t)` moves time to t at once (replays, tests)."""

    virtual = True

    def __init__(self, start: datetime) -> None:
        self._now = start if start.tzinfo else start.replace(tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    async def sleep_until(self, t: datetime) -> None:
        if t > self._now:
            self._now = t
        await asyncio.sleep(0)


@dataclass
class RunStep:
    """The outcome of one reconcile: the new status, when to come back (None: nothing timed or completed),
    and the measurements taken or updated in this pass, as ``(metric name, measurement)``."""

    status: AnalysisRunStatus
    next_wakeup: datetime | None
    measurements: list[tuple[str, Measurement]] = field(default_factory=list)


def _fail_run(status: AnalysisRunStatus, message: str, now: datetime) -> RunStep:
    status.phase = AnalysisPhase.ERROR
    status.message = message
    if status.completed_at is None:
        status.completed_at = now
    return RunStep(status, None)


async def _measure(
    task: Task,
    metric: Metric,
    provider: MetricProvider | None,
    *,
    terminating: bool,
    now: datetime,
    clock: Clock | None,
    replay: bool,
    secrets: Sequence[str],
) -> Measurement:
    """Take, resume or terminate one measurement; never raises (a failure is an Error measurement)."""
    started = now
    try:
        if provider is None:
            kind = metric.provider.kind or "?"
            measurement = Measurement(
                phase=AnalysisPhase.ERROR, message=f'no provider is configured for "{kind}" metrics'
            )
        elif task.incomplete is None:
            measurement = await provider.measure(metric, at=now if replay else None)
        elif terminating:
            measurement = await provider.terminate(metric, task.incomplete.model_copy(deep=True))
            if measurement.phase in (AnalysisPhase.SUCCESSFUL, AnalysisPhase.INCONCLUSIVE):
                measurement.message = METRIC_TERMINATED
        else:
            measurement = await provider.resume(metric, task.incomplete.model_copy(deep=True))
    except asyncio.CancelledError:
        raise
    except Exception as e:  # a provider bug must not crash the run: it is an Error measurement
        measurement = Measurement(phase=AnalysisPhase.ERROR, message=str(e) or type(e).__name__)
    if measurement.phase is None:
        if measurement.has_result:
            measurement.phase, message = evaluate_measurement(metric, measurement.result)
            measurement.message = message or measurement.message
        else:
            measurement.phase = AnalysisPhase.ERROR
            measurement.message = measurement.message or "the provider returned neither a phase nor a result"
    if measurement.started_at is None:
        measurement.started_at = task.incomplete.started_at if task.incomplete is not None else started
    if measurement.phase.completed and measurement.finished_at is None:
        measurement.finished_at = clock.now() if clock is not None and not replay else now
    if secrets:
        if measurement.message:
            measurement.message = redact(measurement.message, secrets)
        if measurement.metadata:
            measurement.metadata = {k: redact(v, secrets) for k, v in measurement.metadata.items()}
    return measurement


def _new_result(
    metric: Metric, provider: MetricProvider | None, dry: bool, secrets: Sequence[str]
) -> MetricResult:
    metadata = None
    if provider is not None:
        try:
            metadata = provider.metadata(metric)
        except Exception:  # metadata is informative only
            metadata = None
    if metadata:
        metadata = {k: redact(v, secrets) for k, v in metadata.items()}
    return MetricResult(
        name=metric.name, phase=AnalysisPhase.RUNNING, dry_run=True if dry else None, metadata=metadata
    )


async def reconcile_run(
    run: AnalysisRun | AnalysisRunSpec,
    providers: Mapping[str, MetricProvider],
    now: datetime,
    secrets: SecretResolver | None = None,
    *,
    status: AnalysisRunStatus | None = None,
    clock: Clock | None = None,
    replay: bool = False,
) -> RunStep:
    """One reconcile of a run (Argo's reconcileAnalysisRun). The inputs are not modified.

    `run` is an AnalysisRun (its status is used) or a bare spec (pass `status`). `providers` maps a provider
    kind (``prometheus``, ``web``, ``job``) to its provider. `clock`, when given, stamps ``finishedAt`` of live
    measurements; `replay=True` calls providers with ``at=now``.
    """
    if isinstance(run, AnalysisRun):
        spec, current = run.spec, status if status is not None else run.status
    else:
        spec, current = run, status
    status = _copy_status(current) if current is not None else AnalysisRunStatus()
    if status.phase is not None and status.phase.completed:
        return RunStep(status, None)
    if status.metric_results is None:
        status.metric_results = []

    try:
        resolved = resolve_metrics_without_secrets(spec.metrics, spec.args)
    except (ArgsError, SpecError) as e:
        return _fail_run(status, f"Unable to resolve metric arguments: {e}", now)
    except ValueError as e:  # a substituted value that does not fit the field (pydantic)
        return _fail_run(status, f"Unable to resolve metric arguments: {_one_line(e)}", now)
    try:
        validate_metrics(resolved)
        dry = dry_run_metrics(spec.dry_run, resolved)
        retention = retention_limits(spec.measurement_retention, resolved)
    except SpecError as e:
        return _fail_run(status, f"Analysis spec invalid: {e}", now)

    terminating = is_terminating(spec.terminate, status)
    tasks = due_tasks(resolved, status, terminating=terminating, now=now)
    taken: list[tuple[str, Measurement]] = []
    if tasks:
        try:
            args, secret_values = await resolve_secret_args(spec.args, secrets)
            by_name = {m.name: m for m in spec.metrics}
            metrics = [resolve_metric(by_name[t.metric.name], args) for t in tasks]
        except (ArgsError, SpecError, ValueError) as e:
            return _fail_run(status, f"Unable to resolve metric arguments: {_one_line(e)}", now)
        chosen = [providers.get(m.provider.kind or "") for m in metrics]
        measurements = await asyncio.gather(
            *(
                _measure(
                    t,
                    m,
                    p,
                    terminating=terminating,
                    now=now,
                    clock=clock,
                    replay=replay,
                    secrets=secret_values,
                )
                for t, m, p in zip(tasks, metrics, chosen, strict=True)
            )
        )
        for task, metric, provider, measurement in zip(tasks, metrics, chosen, measurements, strict=True):
            result = status.metric_result(metric.name)
            if result is None:
                result = _new_result(metric, provider, metric.name in dry, secret_values)
                status.metric_results.append(result)
            if measurement.phase is not None and measurement.phase.completed:
                record_measurement(result, measurement)
            if task.incomplete is None:
                result.measurements.append(measurement)
            else:
                result.measurements[-1] = measurement
            taken.append((metric.name, measurement))

    phase, message = assess_run(
        resolved, status, terminate=spec.terminate, dry_run=dry, terminating=terminating, now=now
    )
    apply_run_phase(status, phase, message, now)
    trim_measurements(status, retention)
    if status.phase is not None and status.phase.completed:
        return RunStep(status, None, taken)
    wake = next_wakeup(resolved, status, now=now)
    if not terminating and is_terminating(spec.terminate, status):
        wake = now  # a metric just failed: terminate what is in flight right away
    return RunStep(status, wake, taken)


def _copy_status(status: AnalysisRunStatus) -> AnalysisRunStatus:
    """A copy safe to update: metric results and their lists are copied, measurements are shared.

    A pass never mutates a recorded Measurement (it replaces or appends them), so sharing them is safe and
    avoids a deep copy of the whole history on every reconcile (the dominant cost otherwise).
    """
    copy = status.model_copy()
    if status.metric_results is not None:
        copy.metric_results = [
            r.model_copy(update={"measurements": list(r.measurements)}) for r in status.metric_results
        ]
    return copy


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())


def _requested(terminate: Terminate | None) -> bool:
    if terminate is None:
        return False
    if isinstance(terminate, asyncio.Event):
        return terminate.is_set()
    return bool(terminate())


async def _sleep(clock: Clock, t: datetime, terminate: Terminate | None) -> None:
    if not isinstance(terminate, asyncio.Event):
        await clock.sleep_until(t)
        return
    sleeper = asyncio.ensure_future(clock.sleep_until(t))
    waiter = asyncio.ensure_future(terminate.wait())
    try:
        await asyncio.wait({sleeper, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sleeper, waiter):
            if not task.done():
                task.cancel()
        await asyncio.gather(sleeper, waiter, return_exceptions=True)


async def run_to_completion(
    spec: AnalysisRunSpec,
    providers: Mapping[str, MetricProvider],
    clock: Clock,
    *,
    secrets: SecretResolver | None = None,
    terminate: Terminate | None = None,
    until: datetime | None = None,
    status: AnalysisRunStatus | None = None,
    on_step: Callable[[RunStep], None] | None = None,
) -> AnalysisRunStatus:
    """Run reconciles until the run completes; returns the final status.

    `terminate` (an Event or a callable) requests termination the way ``spec.terminate`` does; `until` stops
    a replay at that instant (what is in flight is terminated there). `on_step` sees every reconcile (e.g. to
    print measurements before the history is trimmed to 10).
    """
    replay = bool(getattr(clock, "virtual", False))
    spec = spec.model_copy()
    current = status or AnalysisRunStatus()
    same_instant = 0
    last_now: datetime | None = None
    while True:
        if not spec.terminate and _requested(terminate):
            spec = spec.model_copy(update={"terminate": True})
        now = clock.now()
        same_instant = same_instant + 1 if now == last_now else 0
        last_now = now
        step = await reconcile_run(spec, providers, now, secrets, status=current, clock=clock, replay=replay)
        current = step.status
        if on_step is not None:
            on_step(step)
        if current.phase is not None and current.phase.completed:
            return current
        wake = step.next_wakeup or now + DEFAULT_ERROR_RETRY_INTERVAL
        if same_instant >= 3 and wake <= now:  # no progress at this instant: let time pass
            wake = now + timedelta(seconds=1)
        if until is not None and wake > until and not spec.terminate:
            await _sleep(clock, until, terminate)
            if clock.now() >= until:
                spec = spec.model_copy(update={"terminate": True})
            continue
        await _sleep(clock, wake, terminate)
