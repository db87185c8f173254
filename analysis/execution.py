"""Driving one AnalysisRun for `rollouts analyze`: build it from templates, then run it live, at an instant,
or as a replay on a virtual clock.

Sits between the CLI (`cli`, which parses options and renders) and the engine (`args` merges templates and
arguments; `runner` reconciles the run against providers and a clock). Three modes:

* live — `WallClock`; measurements follow interval/count until the run completes; Ctrl-C (SIGINT) sets
  `spec.terminate` and reconciles once more, so in-flight metrics end the way Argo's terminate ends them;
* at — one measurement of every metric with queries evaluated at the instant: each metric becomes
  `count: 1` with no interval/initialDelay, and limits of 0 so that the single sample decides;
* replay — a `VirtualClock` from FROM: the runner sleeps on the virtual clock, so an hour of 60 s intervals
  replays in the time of its queries; at TO a run still going is terminated (at TO) and reconciled once more.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from analysis.args import ArgsError, SecretResolver, build_run_spec, dict_secret_resolver
from analysis.manifests import LoadedTemplate
from analysis.models import (
    AnalysisRunSpec,
    AnalysisRunStatus,
    AnalysisTemplate,
    Argument,
    ClusterAnalysisTemplate,
    Measurement,
    ObjectMeta,
)
from analysis.providers.registry import ProviderOptions, Providers
from analysis.providers.throttling import DEFAULT_RATE
from analysis.runner import RunStep, VirtualClock, WallClock, run_to_completion
from analysis.wire import format_time

__all__ = ["BuiltRun", "ExecutionError", "History", "Mode", "build_run", "execute"]


class ExecutionError(ValueError):
    """A run that cannot be built from the inputs (a missing argument, clashing templates): bad input."""


@dataclass(frozen=True)
class Mode:
    """How to run: `kind` is "live", "at" or "replay"; `start`/`end` are the instants involved."""

    kind: str
    start: datetime | None = None
    end: datetime | None = None

    @classmethod
    def live(cls) -> Mode:
        return cls("live")

    @classmethod
    def at_instant(cls, at: datetime) -> Mode:
        return cls("at", start=at)

    @classmethod
    def replay(cls, start: datetime, end: datetime) -> Mode:
        return cls("replay", start=start, end=end)

    def describe(self) -> str:
        def fmt(t: datetime | None) -> str:
            return format_time(t) if t else "?"

        if self.kind == "at":
            return f"Measured at {fmt(self.start)}"
        if self.kind == "replay":
            return f"Replay {fmt(self.start)} → {fmt(self.end)}"
        return "Live analysis"


@dataclass(frozen=True)
class BuiltRun:
    """A run spec and the resolver of its `secretKeyRef` arguments (values given on the command line)."""

    spec: AnalysisRunSpec
    secrets: SecretResolver | None = None


def build_run(templates: Sequence[LoadedTemplate], values: Mapping[str, str], flag: str = "-a") -> BuiltRun:
    """One run spec from the selected templates and `-a NAME=VALUE` values (docs/semantics/analysis.md#analysis-args merging rules).

    Templates are flattened as Argo's `FlattenTemplates` does: AnalysisTemplates first, then
    ClusterAnalysisTemplates, so an error names the argument Argo names. An argument read from a Secret
    (`valueFrom.secretKeyRef`) takes its value from `values` too; it stays a secret in the run (looked up
    through the returned resolver, redacted everywhere), and one without a value is an error here rather
    than at the first measurement. `flag` is how the user gives a value, in messages (`-a`; `args:` in a
    template test file).
    """
    ordered = [t for t in templates if t.kind != "ClusterAnalysisTemplate"]
    ordered += [t for t in templates if t.kind == "ClusterAnalysisTemplate"]
    declared = {a.name for t in ordered for a in t.spec.args or ()}
    unknown = sorted(set(values) - declared)
    if unknown:
        names = ", ".join(sorted(declared)) or "none"
        raise ExecutionError(
            f"{flag} {unknown[0]}: no selected template declares an argument of that name (declared: {names})"
        )
    secret_values: dict[str, dict[str, str]] = {}
    plain = dict(values)
    for template in ordered:
        for i, arg in enumerate(template.spec.args or ()):
            ref = arg.value_from.secret_key_ref if arg.value_from is not None else None
            if ref is None:
                continue
            if arg.name not in values:
                raise ExecutionError(
                    f"{template.label}: spec.args[{i}] ({arg.name}) is read from Secret '{ref.name}' key "
                    f"'{ref.key}', which rollouts analyze does not read: "
                    + (
                        f"pass -a {arg.name}=VALUE or --arg-file {arg.name}=PATH"
                        if flag == "-a"
                        else f"give its value in {flag} {arg.name}: VALUE"
                    )
                )
            secret_values.setdefault(ref.name, {})[ref.key] = values[arg.name]
            plain.pop(arg.name, None)
    namespaced = [
        AnalysisTemplate(metadata=ObjectMeta(name=t.name), spec=t.spec)
        for t in ordered
        if t.kind != "ClusterAnalysisTemplate"
    ]
    cluster = [
        ClusterAnalysisTemplate(metadata=ObjectMeta(name=t.name), spec=t.spec)
        for t in ordered
        if t.kind == "ClusterAnalysisTemplate"
    ]
    try:
        spec = build_run_spec(namespaced, cluster, args=[Argument(name=k, value=v) for k, v in plain.items()])
    except ArgsError as e:
        message = str(e)
        for template in ordered:
            for i, arg in enumerate(template.spec.args or ()):
                if message == f"args.{arg.name} was not resolved":
                    raise ExecutionError(
                        f"{template.label}: spec.args[{i}] ({arg.name}): no value: "
                        + (
                            f"pass -a {arg.name}=VALUE"
                            if flag == "-a"
                            else f"give it in {flag} {arg.name}: VALUE"
                        )
                    ) from None
        labels = ", ".join(t.label for t in ordered)
        raise ExecutionError(f"{labels}: {message}") from None
    return BuiltRun(spec, dict_secret_resolver(secret_values) if secret_values else None)


def _single_sample(spec: AnalysisRunSpec) -> AnalysisRunSpec:
    """`--at`: every metric measured once, and that one sample decides (no limits to absorb it)."""
    metrics = [
        m.model_copy(
            update={
                "count": 1,
                "interval": None,
                "initial_delay": None,
                "failure_limit": 0,
                "inconclusive_limit": 0,
                "consecutive_error_limit": 0,
                "consecutive_success_limit": None,
            }
        )
        for m in spec.metrics
    ]
    return spec.model_copy(update={"metrics": metrics})


class History:
    """Every measurement of the run, per metric, in order (the status keeps only the last 10, docs/semantics/analysis.md#analysis-scheduling)."""

    def __init__(self, echo: Callable[[str], None] | None = None) -> None:
        self.by_metric: dict[str, list[Measurement]] = {}
        self._echo = echo

    def __call__(self, step: RunStep) -> None:
        for name, measurement in step.measurements:
            items = self.by_metric.setdefault(name, [])
            if items and items[-1].finished_at is None and items[-1].started_at == measurement.started_at:
                items[-1] = measurement  # a resumed or terminated in-flight measurement
            else:
                items.append(measurement)
            if self._echo is not None and measurement.phase is not None and measurement.phase.completed:
                when = (measurement.finished_at or step.status.started_at or datetime.now(UTC)).strftime(
                    "%H:%M:%S"
                )
                text = measurement.value if measurement.value is not None else ""
                self._echo(
                    f"{when}  {name}  {text}  {measurement.phase.value}  {measurement.message or ''}".rstrip()
                )


async def execute(
    spec: AnalysisRunSpec,
    mode: Mode,
    *,
    providers: Providers | None = None,
    prometheus_address: str | None = None,
    rate: float | None = None,
    history: History | None = None,
    install_signal_handler: bool = True,
    secrets: SecretResolver | None = None,
) -> AnalysisRunStatus:
    """Run `spec` in `mode` and return the final status (always completed); `secrets` resolves its
    `secretKeyRef` arguments (`BuiltRun.secrets`)."""
    own = providers is None
    if providers is None:
        limit = rate if rate is not None else (DEFAULT_RATE if mode.kind == "live" else None)
        # one user, one tenant: no per-namespace cap
        providers = Providers(
            ProviderOptions(prometheus_address=prometheus_address, rate=limit, namespace_concurrency=None)
        )
    try:
        if mode.kind == "at":
            assert mode.start is not None
            return await run_to_completion(
                _single_sample(spec), providers, VirtualClock(mode.start), on_step=history, secrets=secrets
            )
        if mode.kind == "replay":
            assert mode.start is not None and mode.end is not None
            return await run_to_completion(
                spec, providers, VirtualClock(mode.start), until=mode.end, on_step=history, secrets=secrets
            )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        handled = False
        if install_signal_handler:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signal.SIGINT, stop.set)
                handled = True
        try:
            return await run_to_completion(
                spec, providers, WallClock(), terminate=stop, on_step=history, secrets=secrets
            )
        finally:
            if handled:
                loop.remove_signal_handler(signal.SIGINT)
    finally:
        if own:
            await providers.aclose()
