"""The blue-green strategy for one pass (docs/semantics/controller.md#bluegreen, `rollout/bluegreen.go`, `rollout/service.go`).

Where it sits: `deciding.decide` dispatches here for `spec.strategy.blueGreen`. Order as in Argo's
rolloutBlueGreen: new ReplicaSet → preview Service → (template change: reset and stop) → ReplicaSets (stable
kept at full size, new RS at `replicas` or `previewReplicaCount`, old ones scaled down after
`scaleDownDelaySeconds`, at most `scaleDownDelayRevisionLimit` kept) → BlueGreenPause → active Service →
pre/post-promotion AnalysisRuns → status (selectors as switched in this pass, promotion, preview checkpoint).
"""

from __future__ import annotations

from datetime import timedelta

from analysis.models import AnalysisPhase
from rollouts.models import BlueGreenStrategy
from rollouts.models.vocabulary import (
    BLUE_GREEN_PAUSE,
    INCONCLUSIVE_ANALYSIS,
    MANAGED_BY_ANNOTATION,
    POD_TEMPLATE_HASH_LABEL,
)
from rollouts.strategy import analysisruns, ephemeral, promotion, replicasets, restarts
from rollouts.strategy import counts as arith
from rollouts.strategy.context import Context, scale_down_deadline
from rollouts.strategy.plan import JSON, SetServiceSelector


class _Services:
    """The selectors of the preview/active Services as this pass leaves them (Argo mutates its copy)."""

    def __init__(self, ctx: Context) -> None:
        bg = ctx.bluegreen
        self.active_name = bg.active_service if bg is not None else ""
        self.preview_name = (bg.preview_service if bg is not None else None) or ""
        self.hashes: dict[str, str] = {}
        for name in (self.active_name, self.preview_name):
            svc = ctx.observed.services.get(name) if name else None
            if svc is not None:
                self.hashes[name] = svc.selector.get(POD_TEMPLATE_HASH_LABEL, "")

    def switch(self, ctx: Context, name: str, pod_hash: str) -> None:
        """`switchServiceSelector`: no-op when already pointing there and annotated managed-by."""
        svc = ctx.observed.services.get(name)
        if svc is None:
            return
        old = self.hashes.get(name, "")
        if old == pod_hash and MANAGED_BY_ANNOTATION in svc.annotations:
            return
        ctx.actions.append(SetServiceSelector(name, pod_hash, ctx.name))
        if old != pod_hash:
            ctx.event("SwitchService", f"Switched selector for service '{name}' from '{old}' to '{pod_hash}'")
        self.hashes[name] = pod_hash


def _halted(ctx: Context) -> bool:
    return ctx.paused or ctx.pause_condition(INCONCLUSIVE_ANALYSIS) is not None


def _new_replicas(ctx: Context) -> int:
    assert ctx.new_rs is not None
    return arith.new_rs_new_replicas(ctx.observed.rollout, ctx.all_rss, ctx.new_rs)


def _ready_for_pause(ctx: Context) -> bool:
    rs = ctx.new_rs
    if rs is None:
        return False
    n = _new_replicas(ctx)
    return rs.spec_replicas == n and rs.available_replicas == n


def _new_rs_within_delay(ctx: Context) -> bool:
    d = scale_down_deadline(ctx.new_rs) if ctx.new_rs is not None else None
    return d is not None and d > ctx.now


def _fast_tracked(ctx: Context, svcs: _Services) -> bool:
    """`isBlueGreenFastTracked`."""
    assert ctx.new_rs is not None
    if promotion.is_fast_rollback(ctx, _new_rs_within_delay(ctx)) or ctx.status.promote_full:
        return True
    active = svcs.hashes.get(svcs.active_name, "")
    return not active or active == ctx.new_rs.pod_template_hash


def _spec(ctx: Context) -> BlueGreenStrategy:
    assert ctx.bluegreen is not None  # `decide` dispatches here only for a blue-green Rollout
    return ctx.bluegreen


def _auto_promotion_seconds(ctx: Context) -> int:
    return _spec(ctx).auto_promotion_seconds or 0


def _needs_controller_pause(ctx: Context) -> bool:
    return not ctx.spec.auto_promotion_enabled_or_default() or _auto_promotion_seconds(ctx) > 0


def _completed_pre_promotion(ctx: Context) -> bool:
    if _spec(ctx).pre_promotion_analysis is None:
        return True
    run = analysisruns.current_run(ctx, ctx.status.blue_green.pre_promotion_analysis_run_status)
    return run is not None and run.phase == AnalysisPhase.SUCCESSFUL


def completed_bluegreen_pause(ctx: Context) -> bool:
    """`CompletedBlueGreenPause` (docs/semantics/controller.md#bluegreen step 3)."""
    cond = ctx.pause_condition(BLUE_GREEN_PAUSE)
    if ctx.add_pause:
        return False
    if ctx.status.blue_green.scale_up_preview_check_point:
        return True
    if ctx.spec.auto_promotion_enabled_or_default():
        seconds = _auto_promotion_seconds(ctx)
        if seconds == 0:
            return True
        if cond is None:
            return False
        deadline = cond.start_time + timedelta(seconds=seconds)
        if ctx.now <= deadline:
            ctx.requeue_at(deadline + timedelta(seconds=1))
        return ctx.now > deadline
    return ctx.status.controller_pause and cond is None


def _reconcile_pause(ctx: Context, svcs: _Services) -> None:
    """`reconcileBlueGreenPause`."""
    if ctx.status.abort or not _ready_for_pause(ctx) or _halted(ctx):
        return
    assert ctx.new_rs is not None
    if (
        _fast_tracked(ctx, svcs)
        or svcs.hashes.get(svcs.active_name) == ctx.new_rs.pod_template_hash
        or ctx.status.blue_green.scale_up_preview_check_point
        or not _needs_controller_pause(ctx)
    ):
        ctx.remove_pause.append(BLUE_GREEN_PAUSE)
        return
    if not _completed_pre_promotion(ctx):
        return
    if ctx.pause_condition(BLUE_GREEN_PAUSE) is not None:
        if completed_bluegreen_pause(ctx):
            ctx.remove_pause.append(BLUE_GREEN_PAUSE)
    elif not ctx.status.controller_pause:
        ctx.pause(BLUE_GREEN_PAUSE)


def _reconcile_active(ctx: Context, svcs: _Services) -> None:
    """`reconcileActiveService` (docs/semantics/controller.md#bluegreen step 4)."""
    if _halted(ctx) or not _ready_for_pause(ctx) or not replicasets.is_saturated(ctx, ctx.new_rs):
        return
    assert ctx.new_rs is not None
    target = svcs.hashes.get(svcs.active_name, "")
    if _fast_tracked(ctx, svcs):
        target = ctx.new_rs.pod_template_hash
    if completed_bluegreen_pause(ctx) and _completed_pre_promotion(ctx):
        target = ctx.new_rs.pod_template_hash
    if ctx.status.abort:
        target = ctx.stable_hash
    if target:
        svcs.switch(ctx, svcs.active_name, target)


def _scale_down_old(ctx: Context, post_skipped: bool) -> None:
    """`scaleDownOldReplicaSetsForBlueGreen` (docs/semantics/controller.md#bluegreen step 6)."""
    if ctx.pause_condition(INCONCLUSIVE_ANALYSIS) is not None:
        return
    bg = _spec(ctx)
    if bg.post_promotion_analysis is not None and bg.scale_down_delay_seconds is None and not post_skipped:
        run = analysisruns.current_run(ctx, ctx.status.blue_green.post_promotion_analysis_run_status)
        if run is None or run.phase != AnalysisPhase.SUCCESSFUL:
            return
    annotated = 0
    for rs in sorted(ctx.other_rss, key=lambda r: r.revision, reverse=True):
        if replicasets.is_referenced(ctx, rs) or rs.spec_replicas == 0:
            continue
        annotated, desired = replicasets.scale_down_delay_helper(ctx, rs, annotated, ctx.replicas)
        if rs.spec_replicas != desired:
            replicasets.scale(ctx, rs, desired)


def _skip_pre(ctx: Context, active: str) -> bool:
    """`skipPrePromotionAnalysisRun` (`active`: the active Service's selector as this pass leaves it)."""
    h = ctx.new_rs.pod_template_hash if ctx.new_rs else ""
    if ctx.stable_hash == h or not active or active == h or not h:
        return True
    if ctx.status.blue_green.pre_promotion_analysis_run_status is not None:
        return False
    count = _spec(ctx).preview_replica_count
    if count is not None and ctx.new_rs is not None:
        return ctx.new_rs.spec_replicas != count or ctx.new_rs.available_replicas != count
    return not replicasets.is_saturated(ctx, ctx.new_rs)


def _skip_post(ctx: Context, active: str) -> bool:
    """`skipPostPromotionAnalysisRun` (`active` as in `_skip_pre`)."""
    h = ctx.new_rs.pod_template_hash if ctx.new_rs else ""
    if ctx.stable_hash == h or active != h or not h:
        return True
    if ctx.status.blue_green.post_promotion_analysis_run_status is not None:
        return False
    return not replicasets.is_saturated(ctx, ctx.new_rs)


def _should_full_promote(ctx: Context, bg_status: JSON) -> str:
    """`shouldFullPromote`, blue-green branch (docs/semantics/controller.md#bluegreen)."""
    if ctx.stable_rs is None:
        return "Initial deploy"
    active = bg_status.get("activeSelector") or ""
    if not active:
        return "Initial deploy"
    if active != ctx.pod_hash:
        return ""
    if ctx.status.promote_full:
        return "Full promotion requested"
    if promotion.is_fast_rollback(ctx, _new_rs_within_delay(ctx)):
        return "Rollback within window" if promotion.rollback_within_window(ctx) else "Fast rollback"
    if ctx.aborted:
        return ""
    if _spec(ctx).post_promotion_analysis is not None:
        name = (bg_status.get("postPromotionAnalysisRunStatus") or {}).get("name")
        run = next((r for r in ctx.observed.analysis_runs if r.name == name), None)
        if run is None or run.phase != AnalysisPhase.SUCCESSFUL:
            return ""
    return "Completed blue-green update"


def _scale_up_preview_checkpoint(ctx: Context) -> bool:
    count = _spec(ctx).preview_replica_count
    if count is None:
        return False
    if ctx.status.blue_green.scale_up_preview_check_point:
        return True
    if not _completed_pre_promotion(ctx) or not completed_bluegreen_pause(ctx):
        return False
    return ctx.new_rs is not None and ctx.new_rs.available_replicas == count


def decide_bluegreen(ctx: Context, st: JSON) -> None:
    """Fill `st` (the new status) and `ctx.actions` for one blue-green pass."""
    # The Services exist: `decide` checked them first (`references.reference_errors`).
    replicasets.ensure_new_rs(ctx)
    assert ctx.new_rs is not None
    replicasets.base_status(ctx, st)
    st.pop("currentStepHash", None)
    svcs = _Services(ctx)
    if svcs.preview_name and not _halted(ctx):
        svcs.switch(ctx, svcs.preview_name, ctx.new_rs.pod_template_hash)
    bg = st.setdefault("blueGreen", {})
    prev_hash = ctx.status.current_pod_hash
    changed = bool(prev_hash) and prev_hash != ctx.pod_hash
    if not changed:
        restarts.reconcile(ctx, st)
        _reconcile_replica_sets(ctx)
        _reconcile_pause(ctx, svcs)
        _reconcile_active(ctx, svcs)
        fast = promotion.is_fast_rollback(ctx, _new_rs_within_delay(ctx))
        selected = svcs.hashes.get(svcs.active_name, "")
        pre_ready, post_ready = not _skip_pre(ctx, selected), not _skip_post(ctx, selected)
        analysisruns.reconcile_bluegreen_runs(ctx, st, pre_ready, post_ready, fast)
        ephemeral.reconcile(ctx)
    else:
        ctx.clear_pause = True
        ctx.remove_abort = True
        st.pop("promoteFull", None)
        for key in (
            "prePromotionAnalysisRunStatus",
            "postPromotionAnalysisRunStatus",
            "scaleUpPreviewCheckPoint",
        ):
            bg.pop(key, None)
    if ctx.status.promote_full or promotion.rollback_within_window(ctx):
        ctx.clear_pause = True
        ctx.remove_abort = True
    for key, name in (("previewSelector", svcs.preview_name), ("activeSelector", svcs.active_name)):
        value = svcs.hashes.get(name, "") if name else ""
        if value:
            bg[key] = value
        else:
            bg.pop(key, None)
    reason = _should_full_promote(ctx, bg)
    if reason:
        promotion.promote_stable(ctx, st, reason)
    elif _scale_up_preview_checkpoint(ctx):
        bg["scaleUpPreviewCheckPoint"] = True
    else:
        bg.pop("scaleUpPreviewCheckPoint", None)
    active = next((rs for rs in ctx.all_rss if rs.pod_template_hash == bg.get("activeSelector")), None)
    if active is not None:
        st["HPAReplicas"] = active.replicas
        st["selector"] = replicasets.format_selector(
            ctx.spec.selector, {POD_TEMPLATE_HASH_LABEL: active.pod_template_hash}
        )
        st["availableReplicas"] = active.available_replicas
        st["readyReplicas"] = active.ready_replicas


def _reconcile_replica_sets(ctx: Context) -> None:
    """`reconcileBlueGreenReplicaSets`: stable at full size, the new RS, old ones after their delay, history."""
    # The new RS keeps its deadline until it is the stable one: the deadline is what makes a rollback to it a fast
    # rollback (docs/semantics/controller.md#rollback), and this pass's decisions must still hold when its own actions are applied first.
    assert ctx.new_rs is not None
    replicasets.remove_scale_down_deadlines(ctx, keep_new=ctx.stable_hash != ctx.new_rs.pod_template_hash)
    if ctx.stable_rs is not None and ctx.stable_rs is not ctx.new_rs:
        replicasets.scale(ctx, ctx.stable_rs, ctx.replicas)
    replicasets.reconcile_new_rs(ctx, _new_replicas(ctx))
    _scale_down_old(ctx, _skip_post(ctx, ctx.status.blue_green.active_selector))
    replicasets.revision_history_limit(ctx)
