"""`decide(observed, now) -> Plan`: the pure entry point of the strategy core.

Where it sits: observe → **decide** → apply. The controller calls `decide` with what it read from its caches
and the current time; `decide` validates the Rollout (an invalid spec becomes an `InvalidSpec` condition and a
Degraded phase, never an exception), dispatches to the canary or blue-green pass, then computes the status the
way Argo's `persistRolloutStatus` does and returns it with the actions and the earliest timed wake-up.

Determinism: the result depends only on `(observed, now)`; actions are emitted in a fixed order (the order of
Argo's reconcile), events last.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rollouts.models import Rollout
from rollouts.models.vocabulary import INVALID_SPEC, REVISION_ANNOTATION, UPDATED_REASON, format_time
from rollouts.strategy import (
    analysisruns,
    bluegreen,
    canary,
    durations,
    references,
    routing,
    status,
    workload,
)
from rollouts.strategy.context import Context, build_context, copy_json
from rollouts.strategy.errors import SpecError
from rollouts.strategy.memo import Memo, json_key
from rollouts.strategy.plan import JSON, EmitEvent, Observed, Plan
from rollouts.support import IGNORED_EVENT_REASON, refused_message, rollout_findings
from rollouts.validation import validate_rollout
from rollouts.validation.errors import invalid_spec_message

INVALID_SPEC_REQUEUE = 20.0


# The first message of `validate_rollout` per spec: the controller decides the same generation over and over
# (every resync and every settling pass), and the validation walk was a fifth of a pass. Bounded LRU.
_SPEC_ERRORS: Memo[tuple[JSON, str | None]] = Memo(2048)


def _spec_key(ctx: Context) -> Any:
    """What names the spec: (uid, generation) when the API server set both, else the spec's JSON (or None)."""
    uid, gen = ctx.rollout.metadata.uid, ctx.generation
    if uid and isinstance(gen, int):
        return (str(uid), gen)
    return json_key(ctx.raw_spec)


def _model_error(rollout: Rollout) -> str | None:
    errors = validate_rollout(rollout)
    return errors[0].k8s_error() if errors else None


def _cached_model_error(ctx: Context) -> str | None:
    """`_model_error` through the cache. `Observed.rollout` is the parse of `Observed.rollout_raw`, so the wire
    spec decides the result. The key only finds the entry; a hit also needs the wire spec to equal a private copy
    of the one validated, so a reused key (an in-memory world that does not bump the generation, an in-place
    edit) misses instead of returning a stale message. (Under `==`, 1, 1.0 and true are equal; with the
    (uid, generation) key that cannot matter, as an API server bumps the generation on any spec change.)"""
    rollout = ctx.rollout
    key = _spec_key(ctx)
    if key is None:
        return _model_error(rollout)
    wire = ctx.raw_spec
    entry = _SPEC_ERRORS.get(key)
    if entry is not None and entry[0] == wire:
        return entry[1]
    message = _model_error(rollout)
    _SPEC_ERRORS.put(key, (copy_json(wire), message))
    return message


def _validation_error(ctx: Context) -> str | None:
    """First validation message: the models' validation, then what is not supported, then referenced templates."""
    model_error = _cached_model_error(ctx)
    if model_error:
        return model_error
    ref = workload.reference(ctx.observed.rollout_raw)
    if ref is not None and not ctx.spec.template_resolved_from_ref:
        return ref.not_found()  # the controller resolves before deciding; `rollouts plan` without the object
    unsupported = refused_message(rollout_findings(ctx.observed.rollout_raw))
    if unsupported:
        return unsupported
    if ctx.canary is None and ctx.bluegreen is None:
        return "spec.strategy: Required value: Rollout has missing field '.spec.strategy.canary or .spec.strategy.blueGreen'"
    if ctx.canary is not None and ctx.bluegreen is not None:
        return 'spec.strategy: Invalid value: "": Multiple Strategies can not be listed'
    crossing = routing.cross_namespace_error(ctx)
    if crossing:
        return crossing
    found = references.reference_errors(
        ctx.observed.rollout, ctx.observed.services, complete=True, templates=_TemplateChecks(ctx)
    )
    if not found:
        return routing.ingress_error(ctx)
    first = found[0]
    return first if isinstance(first, str) else first.k8s_error()


class _TemplateChecks:
    """`references.TemplateChecks` over the templates the controller observed (collected once per pass)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.referenced: analysisruns.Referenced | None = None

    def missing(self) -> str | None:
        self.referenced, error = analysisruns.referenced_templates(self.ctx)
        return error

    def merge(self) -> str | None:
        if self.referenced is None and self.missing():
            return None  # a missing template is reported by `missing`, not here
        return analysisruns.template_merge_error(self.ctx, self.referenced or [])


def _invalid(ctx: Context, prev: JSON, error: str) -> Plan:
    """InvalidSpec condition `The Rollout "<name>" is invalid: <first error>` (rollout/controller.go), Degraded."""
    message = invalid_spec_message(ctx.name, error)
    st, new = status.invalid_spec_status(prev, ctx.raw_spec, ctx.generation, message, format_time(ctx.now))
    if new:
        ctx.event(INVALID_SPEC, message, warning=True)
    # Argo looks at an invalid Rollout again after 20 s: the cause may be timing, e.g. a Service or template
    # applied after the Rollout (rollout/controller.go syncHandler).
    return Plan(new_status=st, actions=tuple(ctx.events), requeue_after=INVALID_SPEC_REQUEUE)


def _writable_copy(prev: JSON) -> JSON:
    """The status the pass writes into, sharing with `prev` what it never writes into. The pass only assigns or
    pops top-level keys (lists such as conditions are rebuilt, never edited) and keys one level down in the
    `canary` / `blueGreen` sections; so those two dicts are copied, the rest is shared (a deep copy was an
    eighth of a pass)."""
    st = dict(prev)
    for section in ("canary", "blueGreen"):
        value = st.get(section)
        if isinstance(value, dict):
            st[section] = dict(value)
    return st


def _report_ignored(ctx: Context) -> None:
    """A Warning event per ignored feature (`rollouts.support`), once per generation of the spec: the first
    pass on a new generation is the one whose stored status has an older observedGeneration."""
    gen = ctx.generation
    if gen is None or ctx.status.observed_generation == str(gen):
        return
    for finding in rollout_findings(ctx.observed.rollout_raw):
        if not finding.refused:
            ctx.event(IGNORED_EVENT_REASON, finding.message, warning=True)


def decide(observed: Observed, now: datetime) -> Plan:
    """The plan for one pass over one Rollout (docs/semantics/controller.md#reconcile-skeleton)."""
    ctx = build_context(observed, now)
    prev = status.check_paused_conditions(ctx)
    if not observed.spec_valid:
        try:
            error = _validation_error(ctx)
        except SpecError as e:
            error = str(e)
        if error:
            return _invalid(ctx, prev, error)
    if ctx.aborted and ctx.fully_promoted:
        # Nothing is left to abort: Argo drops the request instead of leaving the rollout Degraded until someone
        # retries (rollout/controller.go newRolloutContext, "Removing abort condition from fully promoted rollout").
        ctx.remove_abort = True
    st = _writable_copy(prev)
    status.remove_condition(st, INVALID_SPEC)
    try:
        if ctx.canary is not None:
            canary.decide_canary(ctx, st)
        else:
            bluegreen.decide_bluegreen(ctx, st)
    except SpecError as e:
        return _invalid(build_context(observed, now), prev, str(e))
    if ctx.halted_for_restart:
        return Plan(
            new_status=prev,
            actions=(*ctx.actions, *ctx.events),
            requeue_after=min(ctx.requeue) if ctx.requeue else None,
            spec_valid=True,
        )
    for section in ("canary", "blueGreen"):
        if section in st and not st[section]:
            del st[section]
    status.finish_status(ctx, prev, st)
    workload.observed_generation(ctx, st)
    durations.calculate(ctx, st)
    _report_ignored(ctx)
    requeue = min(ctx.requeue) if ctx.requeue else None
    annotations = workload.wanted_annotations(observed.rollout_raw, observed.workload)
    annotations.update(_revision_annotation(ctx))
    return Plan(
        new_status=st,
        actions=(*ctx.actions, *ctx.events),
        requeue_after=requeue,
        completed=tuple(ctx.completed),
        spec_valid=True,
        rollout_annotations=annotations,
    )


def _revision_annotation(ctx: Context) -> dict[str, str]:
    """`setRolloutRevision` (rollout/sync.go): the Rollout carries its new ReplicaSet's revision in
    `rollout.argoproj.io/revision`; when it changes, the Event `RolloutUpdated` "Rollout updated to revision N"
    (what `on-rollout-updated` notifications are sent for)."""
    if ctx.new_rs is None or ctx.new_rs.revision <= 0:
        return {}
    wanted = str(ctx.new_rs.revision)
    meta = ctx.observed.rollout_raw.get("metadata") or {}
    if (meta.get("annotations") or {}).get(REVISION_ANNOTATION) == wanted:
        return {}
    # first: Argo writes the revision (and says so) as it gets or creates the new ReplicaSet, before the rest
    ctx.events.insert(0, EmitEvent("Normal", UPDATED_REASON, f"Rollout updated to revision {wanted}"))
    return {REVISION_ANNOTATION: wanted}
