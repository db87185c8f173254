"""The runner: drives one AnalysisRun against metric providers and a clock (the async edge of `analysis`).

Two entry points:

* `reconcile_run` — ONE reconcile pass, what Argo's `reconcileAnalysisRun` does, usable by the controller
  from its AnalysisRun reconciler: resolve args (docs/semantics/analysis.md#analysis-args), validate (docs/semantics/analysis.md#metric-validation), find the dry-run and retention rules,
  pick the due measurements (docs/semantics/analysis.md#analysis-scheduling), take them all CONCURRENTLY, record them with their counters (docs/semantics/analysis.md#metric-status),
  assess metrics and run (docs/semantics/analysis.md#run-status), trim the history, and say when to come back. It never raises for bad
  input or failing backends: those become an Error run or Error measurements.
* `run_to_completion` — loops `reconcile_run` on a `Clock` until the run completes, is terminated (an
  `asyncio.Event` or a callable), or reaches `until` (replays stop there, terminating what is in flight).

Clocks (`analysis.clocks`, re-exported here): `WallClock` (live) and `VirtualClock` (replay/tests:
`sleep_until` jumps instantly). With a virtual clock, providers are called with ``at=clock.now()`` so queries are evaluated at the replayed instant.

Deviations from Argo, on purpose: the whole-run Error paths (bad args, invalid spec) also stamp
``completedAt``; secrets are looked up only when a measurement is due; a run that must terminate because a
metric just failed is re-reconciled immediately (``next_wakeup = now``), which is what Argo's own status
update event causes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

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
from analysis.clocks import Clock, Sleeper, VirtualClock, WallClock
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
from analysis.providers.kayenta import RUN_STARTED_AT
from analysis.providers.registry import provider_unavailable
from analysis.providers.throttling import TENANT
from analysis.schedule import (
    DEFAULT_ERROR_RETRY_INTERVAL,
    Task,
    dry_run_metrics,
    due_tasks,
    next_wakeup,
    retention_limits,
    trim_measurements,
)

__all__ = ["Clock", "RunStep", "VirtualClock", "WallClock", "reconcile_run", "run_to_completion"]

METRIC_TERMINATED = "Metric Terminated"
Terminate = asyncio.Event | Callable[[], bool]


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
            measurement = Measurement(phase=AnalysisPhase.ERROR, message=provider_unavailable(kind))
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
    _bound_stored(measurement)
    if secrets:  # in every encoding a backend may echo them back in, values included
        if measurement.message:
            measurement.message = redact(measurement.message, secrets)
        if measurement.value:
            measurement.value = redact(measurement.value, secrets)
        if measurement.metadata:
            measurement.metadata = {k: redact(v, secrets) for k, v in measurement.metadata.items()}
    return measurement


MAX_STORED_VALUE = (
    16_384  # characters of one measurement's value, message or metadata entry kept in the status
)
"""A run's status is one Kubernetes object (1.5 MiB at most, with `measurementRetention` keeping up to 10 of
each metric's measurements): a backend answer of megabytes stored whole would make every status write of the run
fail. The verdict is taken on the whole result, before this cut; only what is stored for people is cut."""


def _cut(text: str) -> str:
    if len(text) <= MAX_STORED_VALUE:
        return text
    return f"{text[:MAX_STORED_VALUE]}… (cut: {len(text)} characters in all)"


def _bound_stored(measurement: Measurement) -> None:
    if measurement.value and len(measurement.value) > MAX_STORED_VALUE:
        measurement.value = _cut(measurement.value)
    if measurement.message and len(measurement.message) > MAX_STORED_VALUE:
        measurement.message = _cut(measurement.message)
    if measurement.metadata and any(len(v) > MAX_STORED_VALUE for v in measurement.metadata.values()):
        measurement.metadata = {k: _cut(v) for k, v in measurement.metadata.items()}


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


@dataclass(frozen=True)
class _Prepared:
    """What a pass needs from the spec alone (docs/semantics/analysis.md#analysis-args, docs/semantics/analysis.md#metric-validation, docs/semantics/objects.md#analysis-objects), worked out once per spec in
    `run_to_completion` instead of on every pass; `error` is a whole-run Error message."""

    resolved: list[Metric] = field(default_factory=list)
    dry: set[str] = field(default_factory=set)
    retention: dict[str, int] = field(default_factory=dict)
    by_name: dict[str, Metric] = field(default_factory=dict)
    secret_args: bool = False
    error: str | None = None
    kinds: dict[str, str | None] = field(default_factory=dict)  # metric name → provider kind


def _prepare(spec: AnalysisRunSpec) -> _Prepared:
    try:
        resolved = resolve_metrics_without_secrets(spec.metrics, spec.args)
    except (ArgsError, SpecError) as e:
        return _Prepared(error=f"Unable to resolve metric arguments: {e}")
    except ValueError as e:  # a substituted value that does not fit the field (pydantic)
        return _Prepared(error=f"Unable to resolve metric arguments: {_one_line(e)}")
    try:
        validate_metrics(resolved)
        dry = dry_run_metrics(spec.dry_run, resolved)
        retention = retention_limits(spec.measurement_retention, resolved)
    except SpecError as e:
        return _Prepared(error=f"Analysis spec invalid: {e}")
    secret_args = any(
        a.value_from is not None and a.value_from.secret_key_ref is not None for a in spec.args or []
    )
    by_name = {m.name: m for m in spec.metrics}
    kinds = {m.name: m.provider.kind for m in resolved}
    return _Prepared(resolved, dry, retention, by_name, secret_args, kinds=kinds)


async def reconcile_run(
    run: AnalysisRun | AnalysisRunSpec,
    providers: Mapping[str, MetricProvider],
    now: datetime,
    secrets: SecretResolver | None = None,
    *,
    status: AnalysisRunStatus | None = None,
    clock: Clock | None = None,
    replay: bool = False,
    tenant: str | None = None,
) -> RunStep:
    """One reconcile of a run (Argo's reconcileAnalysisRun). The inputs are not modified.

    `run` is an AnalysisRun (its status is used) or a bare spec (pass `status`). `providers` maps a provider
    kind (``prometheus``, ``web``, ``job``) to its provider. `clock`, when given, stamps ``finishedAt`` of live
    measurements; `replay=True` calls providers with ``at=now``. The measurements are taken on behalf of
    `tenant` (default: the run's namespace), whose share of the provider workers they use (`throttling`).
    """
    if isinstance(run, AnalysisRun):
        spec, current = run.spec, status if status is not None else run.status
        if tenant is None:
            tenant = run.metadata.namespace
    else:
        spec, current = run, status
    if current is not None and current.phase is not None and current.phase.completed:
        return RunStep(_copy_status(current), None)
    token = TENANT.set(tenant) if tenant is not None else None
    try:
        return await _reconcile(spec, _prepared(spec), providers, now, secrets, current, clock, replay)
    finally:
        if token is not None:
            TENANT.reset(token)


_MAX_PREPARED = 512
_PREPARED: dict[str, _Prepared] = {}


def _prepared(spec: AnalysisRunSpec) -> _Prepared:
    """`_prepare(spec)`, remembered by the spec's JSON (a few µs to make, against ~30 µs of resolving and
    validating): the controller hands every pass a freshly parsed AnalysisRun of the same spec. Resolved
    metrics are never modified, so equal specs may share them."""
    key = spec.model_dump_json()
    prepared = _PREPARED.get(key)
    if prepared is None:
        prepared = _prepare(spec)
        if len(_PREPARED) >= _MAX_PREPARED:
            _PREPARED.pop(next(iter(_PREPARED)))
        _PREPARED[key] = prepared
    return prepared


async def _gather_measurements(
    tasks: Sequence[Task],
    metrics: Sequence[Metric],
    chosen: Sequence[MetricProvider | None],
    *,
    terminating: bool,
    now: datetime,
    clock: Clock | None,
    replay: bool,
    secrets: list[str],
) -> list[Measurement]:
    return list(
        await asyncio.gather(
            *(
                _measure(
                    t,
                    m,
                    p,
                    terminating=terminating,
                    now=now,
                    clock=clock,
                    replay=replay,
                    secrets=secrets,
                )
                for t, m, p in zip(tasks, metrics, chosen, strict=True)
            )
        )
    )


async def _reconcile(
    spec: AnalysisRunSpec,
    prepared: _Prepared,
    providers: Mapping[str, MetricProvider],
    now: datetime,
    secrets: SecretResolver | None,
    current: AnalysisRunStatus | None,
    clock: Clock | None,
    replay: bool,
) -> RunStep:
    status = _copy_status(current) if current is not None else AnalysisRunStatus()
    if status.phase is not None and status.phase.completed:
        return RunStep(status, None)
    if status.metric_results is None:
        status.metric_results = []
    if prepared.error is not None:
        return _fail_run(status, prepared.error, now)
    resolved, dry = prepared.resolved, prepared.dry

    terminating = is_terminating(spec.terminate, status)
    tasks = due_tasks(resolved, status, terminating=terminating, now=now)
    taken: list[tuple[str, Measurement]] = []
    if tasks:
        secret_values: list[str] = []
        if not prepared.secret_args:  # the metrics resolved for scheduling are the ones to measure
            metrics = [t.metric for t in tasks]
        else:
            try:
                args, secret_values = await resolve_secret_args(spec.args, secrets)
                metrics = [resolve_metric(prepared.by_name[t.metric.name], args) for t in tasks]
            except (ArgsError, SpecError, ValueError) as e:
                # a value that does not fit its field is quoted by the validation error: never a secret's
                message = redact(f"Unable to resolve metric arguments: {_one_line(e)}", secret_values)
                return _fail_run(status, message, now)
        chosen = [providers.get(prepared.kinds.get(m.name) or m.provider.kind or "") for m in metrics]
        # Kayenta's `lookback` windows start at the run's start: the measurements' tasks inherit this context
        started_token = RUN_STARTED_AT.set(status.started_at or now)
        try:
            measurements = await _gather_measurements(
                tasks,
                metrics,
                chosen,
                terminating=terminating,
                now=now,
                clock=clock,
                replay=replay,
                secrets=secret_values,
            )
        finally:
            RUN_STARTED_AT.reset(started_token)
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
    trim_measurements(status, prepared.retention)
    if status.phase is not None and status.phase.completed:
        return RunStep(status, None, taken)
    wake = next_wakeup(resolved, status, now=now)
    if not terminating and is_terminating(spec.terminate, status):
        wake = now  # a metric just failed: terminate what is in flight right away
    return RunStep(status, wake, taken)


def _copy_status(status: AnalysisRunStatus) -> AnalysisRunStatus:
    """A copy safe to update: metric results and their lists are copied, measurements are shared.

    A pass never mutates a recorded Measurement (it replaces or appends them), so sharing them is safe and
    avoids a deep copy of the whole history on every reconcile (the dominant cost otherwise): pydantic's
    shallow `model_copy`, with the lists replaced.
    """
    if status.metric_results is None:
        return status.model_copy()
    results = [r.model_copy(update={"measurements": list(r.measurements)}) for r in status.metric_results]
    return status.model_copy(update={"metric_results": results})


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())


def _requested(terminate: Terminate | None) -> bool:
    if terminate is None:
        return False
    if isinstance(terminate, asyncio.Event):
        return terminate.is_set()
    return bool(terminate())


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
    prepared = _prepare(spec)  # the spec's metrics, args and rules do not change during the run
    sleeper: Clock | Sleeper = Sleeper(clock, terminate) if isinstance(terminate, asyncio.Event) else clock
    current = status or AnalysisRunStatus()
    same_instant = 0
    last_now: datetime | None = None
    try:
        while True:
            if not spec.terminate and _requested(terminate):
                spec = spec.model_copy(update={"terminate": True})
            now = clock.now()
            same_instant = same_instant + 1 if now == last_now else 0
            last_now = now
            if current.phase is not None and current.phase.completed:
                step = RunStep(_copy_status(current), None)
            else:
                step = await _reconcile(spec, prepared, providers, now, secrets, current, clock, replay)
            current = step.status
            if on_step is not None:
                on_step(step)
            if current.phase is not None and current.phase.completed:
                return current
            wake = step.next_wakeup or now + DEFAULT_ERROR_RETRY_INTERVAL
            if same_instant >= 3 and wake <= now:  # no progress at this instant: let time pass
                wake = now + timedelta(seconds=1)
            if until is not None and wake > until and not spec.terminate:
                await sleeper.sleep_until(until)
                if clock.now() >= until:
                    spec = spec.model_copy(update={"terminate": True})
                continue
            await sleeper.sleep_until(wake)
    finally:
        if isinstance(sleeper, Sleeper):
            await sleeper.close()
