"""The canary strategy for one pass (docs/semantics/controller.md#reconcile-skeleton, docs/semantics/controller.md#canary-steps, docs/semantics/controller.md#replica-arithmetic, docs/semantics/controller.md#traffic-weights, docs/semantics/controller.md#abort, docs/semantics/controller.md#promote, docs/semantics/controller.md#pause, docs/semantics/controller.md#rollout-analysis, docs/semantics/controller.md#progress-deadline, docs/semantics/controller.md#rollback), in Argo's reconcile order.

Where it sits: `deciding.decide` dispatches here for `spec.strategy.canary`. The order follows
`rollout/canary.go` rolloutCanary: new ReplicaSet → revision history → Services → traffic routing → analysis
runs → ReplicaSet scaling → pause step → `syncRolloutStatusCanary` (promotion, abort, step completion). One
deliberate difference: Argo ends a reconcile after the first ReplicaSet it scales and scales the next one on the
following reconcile; here all scale targets of the pass are emitted together (they come from one evaluation of
the docs/semantics/controller.md#replica-arithmetic arithmetic), so a plan is a set of idempotent targets and applying it twice changes nothing.
"""

from __future__ import annotations

from dataclasses import replace

from analysis.models import AnalysisPhase
from rollouts.models import CanaryStep
from rollouts.models.vocabulary import CANARY_PAUSE_STEP, INCONCLUSIVE_ANALYSIS, STEP_COMPLETED_REASON
from rollouts.strategy import (
    analysisruns,
    ephemeral,
    experimentstep,
    promotion,
    replicasets,
    restarts,
    routing,
    services,
    steps,
)
from rollouts.strategy import counts as arith
from rollouts.strategy.context import Context
from rollouts.strategy.plan import JSON, ReplicaSetState
from rollouts.strategy.weights import max_unavailable

# ---------------------------------------------------------------------------------------------------------------
# docs/semantics/controller.md#replica-arithmetic desired counts
# ---------------------------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------------------------
# the pass
# ---------------------------------------------------------------------------------------------------------------


def _reset(ctx: Context, st: JSON) -> None:
    """`resetRolloutStatus` (docs/semantics/controller.md#canary-steps): a new template or new steps restart the canary at step 0."""
    ctx.clear_pause = True
    ctx.remove_abort = True
    st.pop("promoteFull", None)
    can = st.get("canary") or {}
    can.pop("currentStepAnalysisRunStatus", None)
    can.pop("currentBackgroundAnalysisRunStatus", None)
    can.pop("stepPluginStatuses", None)
    st["canary"] = can
    if ctx.steps:
        st["currentStepIndex"] = 0
    else:
        st.pop("currentStepIndex", None)


def _sync_status_canary(ctx: Context, st: JSON) -> None:
    """`syncRolloutStatusCanary` after the reconcile steps (docs/semantics/controller.md#canary-steps, docs/semantics/controller.md#promote, docs/semantics/controller.md#rollback)."""
    step_count = len(ctx.steps)
    step, idx = ctx.current_step()
    index = idx
    if ctx.status.promote_full or promotion.rollback_within_window(ctx):
        ctx.clear_pause = True
        ctx.remove_abort = True
        if step_count > 0:
            index = step_count
    reason = promotion.should_full_promote(ctx)
    if reason:
        promotion.promote_stable(ctx, st, reason)
        return
    if ctx.aborted:
        if step_count > 0:
            st["currentStepIndex"] = step_count if st.get("stableRS") == st.get("currentPodHash") else 0
        return
    if step is not None and idx is not None and index == idx and _completed_current_step(ctx, step, st):
        index = idx + 1
        (st.get("canary") or {}).pop("currentStepAnalysisRunStatus", None)
        ctx.event(
            STEP_COMPLETED_REASON,
            f"Rollout step {index}/{step_count} completed ({steps.step_string(step)})",
        )
        ctx.remove_pause.append(CANARY_PAUSE_STEP)
    if index is None:
        st.pop("currentStepIndex", None)
    else:
        st["currentStepIndex"] = index


def _completed_current_step(ctx: Context, step: CanaryStep, st: JSON) -> bool:
    """`completedCurrentCanaryStep` (docs/semantics/controller.md#canary-steps table)."""
    if ctx.paused:
        return False
    if step.pause is not None:
        return steps.completed_pause_step(ctx, step.pause)
    if step.set_canary_scale is not None:
        return steps.at_desired_counts(ctx)
    if step.set_weight is not None:
        if not steps.at_desired_counts(ctx):
            return False
        verified = ((st.get("canary") or {}).get("weights") or {}).get("verified")
        return verified is not False
    if step.analysis is not None:
        run = analysisruns.current_step_run(ctx)
        return run is not None and run.phase == AnalysisPhase.SUCCESSFUL
    if step.experiment is not None:
        return experimentstep.step_completed(ctx)
    # setHeaderRoute / setMirrorRoute complete at once; plugin steps are not run here
    return step.set_header_route is not None or step.set_mirror_route is not None


def decide_canary(ctx: Context, st: JSON) -> None:
    """Fill `st` (the new status) and `ctx.actions` for one canary pass."""
    replicasets.ensure_new_rs(ctx)
    replicasets.base_status(ctx, st)
    st["currentStepHash"] = ctx.step_hash
    # set again below while an experiment step's Experiment runs (Argo's newStatus starts without it)
    (st.get("canary") or {}).pop("currentExperiment", None)
    prev_hash, prev_step_hash = ctx.status.current_pod_hash, ctx.status.current_step_hash
    changed = bool(prev_step_hash) and prev_step_hash != ctx.step_hash
    changed = changed or (bool(prev_hash) and prev_hash != ctx.pod_hash)
    if changed:
        _reset(ctx, st)
        if ctx.new_rs is not None and ctx.steps:
            if ctx.stable_hash == ctx.pod_hash:
                ctx.event("SkipSteps", "Rollback to stable ReplicaSets")
                st["currentStepIndex"] = len(ctx.steps)
            elif promotion.rollback_within_window(ctx) and ctx.new_rs.spec_replicas > 0:
                ctx.event("SkipSteps", "Rollback to active ReplicaSets within RollbackWindow")
                st["currentStepIndex"] = len(ctx.steps)
        return

    if restarts.reconcile(ctx, st) > 0:
        # the ReplicaSets' availability does not count the pods just evicted: scaling on it could take too many
        # down at once; the next pass sees the truth (rollout/canary.go, "Finished reconciliation due to …")
        ctx.halted_for_restart = True
        return
    ephemeral.reconcile(ctx)
    replicasets.revision_history_limit(ctx)
    services.reconcile_canary_services(ctx)
    routing.reconcile_traffic(ctx, st)
    experimentstep.reconcile_experiments(ctx, st)
    analysisruns.reconcile_canary_runs(ctx, st)
    if not ctx.add_pause:
        scaled = _scale_canary(ctx)
        if not scaled:
            steps.reconcile_canary_pause(ctx)
    _sync_status_canary(ctx, st)


def _basic_old_targets(ctx: Context, virt: dict[str, ReplicaSetState]) -> dict[str, int]:
    """`scaleDownOldReplicaSetsForCanary`, basic canary: drain older RSs within maxUnavailable."""
    available = sum(rs.available_replicas for rs in ctx.all_rss)
    max_scale_down = available - (ctx.replicas - max_unavailable(ctx.observed.rollout.spec))
    out: dict[str, int] = {}
    for rs in sorted((virt[o.name] for o in steps.others(ctx)), key=lambda r: r.revision, reverse=True):
        if max_scale_down <= 0:
            break
        if rs.spec_replicas == 0:
            continue
        desired = rs.spec_replicas - max_scale_down if rs.spec_replicas > max_scale_down else 0
        out[rs.name] = desired
        max_scale_down -= rs.spec_replicas - desired
    return out


def _converge(ctx: Context) -> dict[str, ReplicaSetState]:
    """Argo's reconcile sequence (stable, then new, then older RSs; one change per reconcile) run to its end.

    Argo scales one ReplicaSet per reconcile and recomputes docs/semantics/controller.md#replica-arithmetic from the new specs on the next one. With pod
    availability unchanged, those reconciles are a pure function of the specs, so a pass runs them all and the
    plan carries the final targets: applying it and deciding again asks for nothing more (idempotent plans)."""
    new, stable = ctx.new_rs, ctx.stable_rs
    assert new is not None
    virt = {rs.name: rs for rs in (*ctx.all_rss, new)}
    hold_new = replicasets.should_delay_scale_down_on_abort(ctx)
    for _ in range(2 * len(virt) + 4):
        new_v = virt[new.name]
        stable_v = virt[stable.name] if stable is not None and stable is not new else None
        others = [virt[o.name] for o in steps.others(ctx)]
        c, s = arith.desired_canary_counts(
            ctx.observed.rollout, new_v, stable_v, others, ctx.observed.rollout.status.canary.weights
        )
        if stable_v is not None and stable_v.spec_replicas != s:
            virt[stable_v.name] = replace(stable_v, spec_replicas=s)
            continue
        if new_v.spec_replicas != c and not hold_new:
            virt[new.name] = replace(new_v, spec_replicas=c)
            continue
        if ctx.traffic_routing is None:
            olds = {n: d for n, d in _basic_old_targets(ctx, virt).items() if virt[n].spec_replicas != d}
            if olds:
                for n, d in olds.items():
                    virt[n] = replace(virt[n], spec_replicas=d)
                continue
        break
    return virt


def _scale_canary(ctx: Context) -> bool:
    """`reconcileCanaryReplicaSets`: stable, new and (basic canary) older RSs to their converged targets.

    Scale-downs are emitted before scale-ups, so applying the plan in order never exceeds replicas + maxSurge."""
    if ctx.paused or ctx.pause_condition(INCONCLUSIVE_ANALYSIS) is not None:
        return False
    replicasets.remove_scale_down_deadlines(ctx)
    virt = _converge(ctx)
    new = ctx.new_rs
    assert new is not None
    current = {rs.name: rs for rs in (*ctx.all_rss, new)}
    changes = [(name, rs.spec_replicas) for name, rs in virt.items() if name != new.name]
    changes = [(n, d) for n, d in changes if current[n].spec_replicas != d]
    new_target = virt[new.name].spec_replicas
    scaled = False
    for name, desired in sorted(changes, key=lambda nd: nd[1] - current[nd[0]].spec_replicas):
        if desired < current[name].spec_replicas:
            scaled |= replicasets.scale(ctx, current[name], desired)
    if new_target <= new.spec_replicas:
        scaled |= replicasets.reconcile_new_rs(ctx, new_target)
    for name, desired in changes:
        if desired > current[name].spec_replicas:
            scaled |= replicasets.scale(ctx, current[name], desired)
    if new_target > new.spec_replicas:
        scaled |= replicasets.reconcile_new_rs(ctx, new_target)
    stable = ctx.stable_rs
    if stable is not None and stable is not new and stable.name not in dict(changes):
        # `reconcileCanaryStableReplicaSet` runs every pass: an unchanged size still gets a stale
        # desired-replicas annotation rewritten (e.g. after `spec.replicas` changed).
        replicasets.scale(ctx, stable, stable.spec_replicas)
    if ctx.traffic_routing is not None:
        scaled |= replicasets.scale_down_old_canary(ctx)
    return scaled
