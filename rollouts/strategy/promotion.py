"""Promotion and rollback: when the new ReplicaSet becomes the stable one, and what that clears (`rollout/sync.go`
`shouldFullPromote`, `promoteStable`, rollback detection; docs/semantics/controller.md#canary-steps,
docs/semantics/controller.md#rollback).
"""

from __future__ import annotations

from rollouts.models.vocabulary import EXPERIMENT_NAME_ANNOTATION
from rollouts.strategy import counts as arith
from rollouts.strategy import workload
from rollouts.strategy.context import Context, aware
from rollouts.strategy.plan import JSON

# ---------------------------------------------------------------------------------------------------------------
# promotion and rollback (rollout/sync.go)
# ---------------------------------------------------------------------------------------------------------------


def is_rollback(ctx: Context) -> bool:
    if ctx.new_rs is None or ctx.stable_rs is None:
        return False
    return ctx.stable_hash == ctx.new_rs.pod_template_hash or aware(ctx.new_rs.created) < aware(
        ctx.stable_rs.created
    )


def rollback_within_window(ctx: Context) -> bool:
    """`isRollbackWithinWindow` (docs/semantics/controller.md#rollback): fewer than `rollbackWindow.revisions` RSs between it and the stable."""
    new, stable = ctx.new_rs, ctx.stable_rs
    if new is None or stable is None or not aware(new.created) < aware(stable.created):
        return False
    window_spec = ctx.spec.rollback_window
    revisions = window_spec.revisions if window_spec is not None else None
    if revisions is None or revisions <= 0:
        return False
    window = sum(
        1
        for rs in ctx.all_rss
        if not rs.annotations.get(EXPERIMENT_NAME_ANNOTATION)
        and aware(rs.created) < aware(stable.created)
        and aware(new.created) < aware(rs.created)
    )
    return window < revisions


def is_fast_rollback(ctx: Context, new_rs_within_delay: bool = False) -> bool:
    if not is_rollback(ctx):
        return False
    within_delay = new_rs_within_delay and ctx.bluegreen is not None
    return (
        rollback_within_window(ctx)
        or within_delay
        or ctx.stable_hash == (ctx.new_rs.pod_template_hash if ctx.new_rs else "")
    )


def should_full_promote(ctx: Context, st: JSON | None = None) -> str:
    """`shouldFullPromote` for the canary (docs/semantics/controller.md#canary-steps); blue-green has its own in `bluegreen`."""
    if ctx.stable_rs is None:
        return "Initial deploy"
    if ctx.aborted:
        return ""
    new = ctx.new_rs
    if new is None:
        return ""
    if new.available_replicas < ctx.replicas:
        threshold = ctx.canary.replica_progress_threshold if ctx.canary is not None else None
        if threshold is None or not arith.replica_progress_threshold_met(threshold, new, ctx.replicas):
            return ""
    if ctx.status.promote_full:
        return "Full promotion requested"
    if is_fast_rollback(ctx):
        return "Rollback within window" if rollback_within_window(ctx) else "Fast rollback"
    _, idx = ctx.current_step()
    if not ctx.steps or (idx is not None and idx == len(ctx.steps)):
        return f"Completed all {len(ctx.steps)} canary steps"
    return ""


def promote_stable(ctx: Context, st: JSON, reason: str) -> None:
    """`promoteStable`: the new RS becomes stable; pauses and abort are cleared."""
    ctx.clear_pause = True
    ctx.remove_abort = True
    st.pop("promoteFull", None)
    if "blueGreen" in st:
        st["blueGreen"].pop("scaleUpPreviewCheckPoint", None)
    if ctx.canary is not None:
        if ctx.steps:
            st["currentStepIndex"] = len(ctx.steps)
        else:
            st.pop("currentStepIndex", None)
    if st.get("stableRS") != st.get("currentPodHash"):
        if ctx.canary is not None and ctx.canary.ping_pong is not None:
            # the Service that carried the canary now carries the stable pods: ping and pong swap roles
            stable_ping = ctx.status.canary.stable_ping_pong == "ping"
            st["canary"] = {**(st.get("canary") or {}), "stablePingPong": "pong" if stable_ping else "ping"}
        st["stableRS"] = st["currentPodHash"]
        ctx.event(
            "RolloutCompleted",
            f"Rollout completed update to revision {ctx.revision} ({st['currentPodHash']}): {reason}",
        )
    workload.on_promote_stable(ctx)
