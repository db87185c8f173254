"""Canary step progression: which step is current, what weight it implies, when it is complete (docs/semantics/controller.md#canary-steps, docs/semantics/controller.md#pause).

Where it sits: called by `canary.decide_canary` after the replica sets, services, routes and analysis runs have
been reconciled for this pass. Every function reads the *stored* status (like Argo, which decides from
`rollout.Status` and writes `newStatus`), so at most one step completes per pass: completion moves the index by
one and the next pass (triggered by that very status write) looks at the next step.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from rollouts.models import CanaryStep, RolloutPause
from rollouts.models.vocabulary import CANARY_PAUSE_STEP
from rollouts.strategy import counts, weights
from rollouts.strategy.context import Context
from rollouts.strategy.plan import ReplicaSetState

# How long after a timed pause expires the rollout is looked at again (expiry itself is not yet past it).
PAUSE_WAKE_MARGIN = timedelta(milliseconds=20)


def step_string(step: CanaryStep) -> str:
    """`CanaryStepString`: how a step is named in the `Rollout step i/N completed (…)` event."""
    if step.set_weight is not None:
        return f"setWeight: {step.set_weight}"
    if step.pause is not None:
        duration = step.pause.duration
        return "pause" if duration is None else f"pause: {duration}"
    if step.experiment is not None:
        return "experiment"
    if step.analysis is not None:
        return "analysis"
    scs = step.set_canary_scale
    if scs is not None:
        if scs.weight is not None:
            return f"setCanaryScale{{weight: {scs.weight}}}"
        if scs.match_traffic_weight:
            return "setCanaryScale{matchTrafficWeight: true}"
        if scs.replicas is not None:
            return f"setCanaryScale{{replicas: {scs.replicas}}}"
    if step.plugin is not None:
        return f"plugin: {step.plugin.name}"
    if step.set_header_route is not None:
        return f"setHeaderRoute: {step.set_header_route.name or ''}"
    if step.set_mirror_route is not None:
        return f"setMirrorRoute: {step.set_mirror_route.name}"
    return "invalid"


def current_set_weight(ctx: Context) -> int:
    """`GetCurrentSetWeight` (`weights.current_set_weight`) on the stored status, as this pass sees abort."""
    return weights.current_set_weight(
        [step.set_weight for step in ctx.steps],
        ctx.status.current_step_index,
        aborted=ctx.aborted,
        max_weight=ctx.max_weight,
    )


def previous_set_weight(ctx: Context, idx: int) -> int:
    """The setWeight of the nearest step *before* `idx` (docs/semantics/controller.md#traffic-weights "keep the previous step's weight"); 0 if none."""
    for i in range(idx - 1, -1, -1):
        w = ctx.steps[i].set_weight
        if w is not None:
            return w
    return 0


def _pause_seconds(pause: RolloutPause) -> int | None:
    """The pause's duration in seconds (`RolloutPause.duration_seconds`); None = indefinite."""
    return None if pause.is_indefinite else pause.duration_seconds()


def pause_ends(started: datetime, pause: RolloutPause) -> datetime | None:
    """When a pause step whose CanaryPauseStep condition started at `started` expires; None: indefinite."""
    seconds = _pause_seconds(pause)
    return None if seconds is None else started + timedelta(seconds=seconds)


def pause_expiry(ctx: Context, pause: RolloutPause) -> datetime | None:
    cond = ctx.pause_condition(CANARY_PAUSE_STEP)
    return None if cond is None else pause_ends(cond.start_time, pause)


def completed_pause_step(ctx: Context, pause: RolloutPause) -> bool:
    """`CompletedCanaryPauseStep`: resumed by the user, or the duration elapsed since the condition's start."""
    cond = ctx.pause_condition(CANARY_PAUSE_STEP)
    if ctx.status.controller_pause and cond is None:
        return True
    expiry = pause_expiry(ctx, pause)
    return expiry is not None and ctx.now > expiry


def reconcile_canary_pause(ctx: Context) -> bool:
    """`reconcileCanaryPause`: add the CanaryPauseStep condition on reaching a pause step; requeue at expiry.

    Returns True while the rollout sits on a pause step."""
    if ctx.paused or ctx.status.promote_full or not ctx.steps:
        return False
    step, _ = ctx.current_step()
    if step is None or step.pause is None:
        return False
    pause = step.pause
    cond = ctx.pause_condition(CANARY_PAUSE_STEP)
    if cond is None:
        if not ctx.status.controller_pause:
            ctx.pause(CANARY_PAUSE_STEP)
            seconds = _pause_seconds(pause)
            if seconds is not None and seconds >= 0:
                # The condition's startTime is written in whole seconds, so the pause expires at the truncated
                # start + duration; wake just after it (completion needs now > expiry).
                start = ctx.now.replace(microsecond=0)
                ctx.requeue_at(start + timedelta(seconds=seconds) + PAUSE_WAKE_MARGIN)
        return True
    expiry = pause_expiry(ctx, pause)
    if expiry is not None and expiry >= ctx.now:
        ctx.requeue_at(expiry + PAUSE_WAKE_MARGIN)
    return True


def others(ctx: Context) -> list[ReplicaSetState]:
    """The ReplicaSets that are neither stable nor new (older revisions being scaled away)."""
    return [rs for rs in ctx.other_rss if rs is not ctx.new_rs]


def at_desired_counts(ctx: Context) -> bool:
    """`AtDesiredReplicaCountsForCanary` (docs/semantics/controller.md#canary-steps): the canary and stable
    ReplicaSets have the counts the current step asks for (a setWeight or setCanaryScale step is complete)."""
    return counts.at_desired_replica_counts_for_canary(
        ctx.observed.rollout,
        ctx.new_rs,
        ctx.stable_rs,
        others(ctx),
        ctx.observed.rollout.status.canary.weights,
    )
