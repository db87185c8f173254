"""Status arithmetic: conditions, pause/abort fields and the phase, exactly in Argo's order (docs/semantics/objects.md#rollout-phase, docs/semantics/controller.md#abort, docs/semantics/controller.md#pause, docs/semantics/controller.md#progress-deadline).

Where it sits: the last stage of `decide`. The strategy modules have filled in counts, hashes, step index,
selectors and weights and have *requested* pauses/aborts on the `Context`; `finish_status` then does what
Argo's `persistRolloutStatus` does (`rollout/sync.go`): progress-deadline abort → pause/abort fields →
conditions → phase and message. The pause/resume/retry condition updates of `checkPausedConditions` (a separate
early write in Argo) are folded in first, so one pass writes one status.

Conditions are wire dicts `{type, status, lastUpdateTime, lastTransitionTime, reason, message}`. Like Argo's
`SetRolloutCondition`, setting a condition whose status *and* reason are unchanged keeps the stored one untouched
(same message, same timestamps); a changed reason with the same status keeps `lastTransitionTime`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from analysis.models import AnalysisPhase
from rollouts.models.vocabulary import (
    ABORTED_REASON,
    AVAILABLE,
    AVAILABLE_REASON,
    COMPLETED,
    COMPLETED_REASON,
    DEFAULT_REPLICAS,
    HEALTHY,
    HEALTHY_REASON,
    INVALID_SPEC,
    NEW_RS_AVAILABLE,
    NOT_COMPLETED_REASON,
    PAUSED,
    PAUSED_REASON,
    PROGRESSING,
    RESUMED_REASON,
    RETRY_REASON,
    RS_NOT_AVAILABLE,
    RS_UPDATED,
    TIMED_OUT_REASON,
    RolloutPhase,
    format_time,
    parse_time,
)
from rollouts.strategy.context import Context, copy_json, scale_down_deadline
from rollouts.strategy.plan import JSON
from rollouts.strategy.replicasets import is_saturated

# Condition types (types.go RolloutConditionType)

# Reasons and messages (utils/conditions/conditions.go)
AVAILABLE_MESSAGE = "Rollout has minimum availability"
NOT_AVAILABLE_MESSAGE = "Rollout does not have minimum availability"
RS_PROGRESSING_MESSAGE = 'ReplicaSet "{}" is progressing.'
ROLLOUT_PROGRESSING_MESSAGE = 'Rollout "{}" is progressing.'
NEW_RS_MESSAGE = 'Created new replica set "{}"'
RS_COMPLETED_MESSAGE = 'ReplicaSet "{}" has successfully progressed.'
PAUSED_MESSAGE = "Rollout is paused"
RESUMED_MESSAGE = "Rollout is resumed"
RETRY_MESSAGE = "Retrying Rollout after abort"
ABORTED_MESSAGE = "Rollout aborted update to revision {}"
RS_TIMED_OUT_MESSAGE = 'ReplicaSet "{}" has timed out progressing.'
ROLLOUT_TIMED_OUT_MESSAGE = 'Rollout "{}" has timed out progressing.'
HEALTHY_MESSAGE = "Rollout is healthy"
NOT_HEALTHY_MESSAGE = "Rollout is not healthy"

# Pause reasons (types.go PauseReason)


# ---------------------------------------------------------------------------------------------------------------
# conditions
# ---------------------------------------------------------------------------------------------------------------


def get_condition(status: JSON, ctype: str) -> JSON | None:
    for cond in status.get("conditions") or []:
        if isinstance(cond, dict) and cond.get("type") == ctype:
            return cond
    return None


def new_condition(ctype: str, cstatus: str, reason: str, message: str, now_s: str) -> JSON:
    return {
        "type": ctype,
        "status": cstatus,
        "lastUpdateTime": now_s,
        "lastTransitionTime": now_s,
        "reason": reason,
        "message": message,
    }


def set_condition(status: JSON, cond: JSON) -> bool:
    """`SetRolloutCondition`: no-op when status and reason are unchanged; returns whether it changed."""
    current = get_condition(status, cond["type"])
    if (
        current is not None
        and current.get("status") == cond["status"]
        and current.get("reason") == cond["reason"]
    ):
        return False
    if current is not None and current.get("status") == cond["status"]:
        cond = {**cond, "lastTransitionTime": current.get("lastTransitionTime")}
    status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != cond["type"]] + [
        cond
    ]
    return True


def remove_condition(status: JSON, ctype: str) -> None:
    conds = [c for c in status.get("conditions") or [] if c.get("type") != ctype]
    if conds:
        status["conditions"] = conds
    else:
        status.pop("conditions", None)


# ---------------------------------------------------------------------------------------------------------------
# predicates (utils/conditions/conditions.go)
# ---------------------------------------------------------------------------------------------------------------


def _generation_observed(ctx: Context) -> bool:
    gen = ctx.generation
    return gen is None or ctx.status.observed_generation == str(gen)


def rollout_completed(st: Mapping[str, Any]) -> bool:
    return bool(st.get("stableRS")) and st.get("stableRS") == st.get("currentPodHash")


def rollout_healthy(ctx: Context, st: JSON) -> bool:
    """`RolloutHealthy`: all replicas updated and available, strategy complete, generation observed."""
    if ctx.bluegreen is not None:
        done = (st.get("blueGreen") or {}).get("activeSelector") == st.get("currentPodHash")
        if ctx.bluegreen.preview_service:
            done = done and (st.get("blueGreen") or {}).get("previewSelector") == st.get("currentPodHash")
    else:
        idx = st.get("currentStepIndex")
        all_steps = not ctx.steps or idx is None or idx == len(ctx.steps)
        done = all_steps and rollout_completed(st) and st.get("replicas", 0) == ctx.replicas
    return (
        st.get("updatedReplicas", 0) == ctx.replicas
        and st.get("availableReplicas", 0) == ctx.replicas
        and _generation_observed(ctx)
        and done
    )


def rollout_progressing(ctx: Context, old: JSON, new: JSON) -> bool:
    """`RolloutProgressing`: counts moved, or the strategy made visible progress since the stored status."""
    if ctx.bluegreen is not None:
        ob, nb = old.get("blueGreen") or {}, new.get("blueGreen") or {}
        specific = ob.get("activeSelector") != nb.get("activeSelector") or ob.get(
            "previewSelector"
        ) != nb.get("previewSelector")
    else:
        oi, ni = old.get("currentStepIndex"), new.get("currentStepIndex")
        specific = (
            new.get("stableRS") != old.get("stableRS")
            or (oi is not None and ni is not None and oi != ni)
            or new.get("currentStepHash") != old.get("currentStepHash")
        )
    old_old = old.get("replicas", 0) - old.get("updatedReplicas", 0)
    new_old = new.get("replicas", 0) - new.get("updatedReplicas", 0)
    return (
        new.get("updatedReplicas", 0) != old.get("updatedReplicas", 0)
        or new_old < old_old
        or new.get("readyReplicas", 0) > old.get("readyReplicas", 0)
        or new.get("availableReplicas", 0) > old.get("availableReplicas", 0)
        or specific
    )


def progress_deadline_seconds(ctx: Context) -> int:
    return ctx.spec.progress_deadline_seconds_or_default()


def rollout_timed_out(ctx: Context, st: JSON) -> bool:
    """`RolloutTimedOut` (docs/semantics/controller.md#progress-deadline)."""
    cond = get_condition(st, PROGRESSING)
    if cond is None or cond.get("reason") in (ABORTED_REASON, PAUSED_REASON):
        return False
    if cond.get("reason") == TIMED_OUT_REASON:
        return True
    last = parse_time(cond.get("lastUpdateTime"))
    if last is None:
        return False
    return last + timedelta(seconds=progress_deadline_seconds(ctx)) < ctx.now


def is_indefinite_step(ctx: Context) -> bool:
    step, _ = ctx.current_step()
    if step is not None and (
        step.experiment is not None or step.analysis is not None or step.pause is not None
    ):
        return True
    cond = ctx.status.condition(PAUSED)
    return cond is not None and cond.status == "True"


def waiting_for_scale_down(ctx: Context) -> bool:
    return any(scale_down_deadline(rs) is not None for rs in ctx.other_rss)


# ---------------------------------------------------------------------------------------------------------------
# the persist sequence
# ---------------------------------------------------------------------------------------------------------------


def check_paused_conditions(ctx: Context) -> JSON:
    """`checkPausedConditions`: the stored status with Paused/Resumed/Retry conditions brought up to date.

    The result is what the rest of the pass treats as the *previous* status (Argo patches it first). A shallow
    copy is enough: `set_condition` replaces the conditions list, and nothing writes into `prev` afterwards."""
    prev: JSON = dict(ctx.stored)
    if not _generation_observed(ctx):
        return prev
    now_s = format_time(ctx.now)
    prog = get_condition(prev, PROGRESSING)
    prog_paused = prog is not None and prog.get("reason") == PAUSED_REASON
    is_paused = bool(prev.get("pauseConditions")) or ctx.paused
    abort_cond = prog is not None and prog.get("reason") == ABORTED_REASON
    updates: list[JSON] = []
    if is_paused != prog_paused and not abort_cond and not rollout_completed(prev):
        if is_paused:
            updates.append(new_condition(PROGRESSING, "Unknown", PAUSED_REASON, PAUSED_MESSAGE, now_s))
        else:
            updates.append(new_condition(PROGRESSING, "Unknown", RESUMED_REASON, RESUMED_MESSAGE, now_s))
    if not prev.get("abort") and abort_cond:
        updates.append(new_condition(PROGRESSING, "Unknown", RETRY_REASON, RETRY_MESSAGE, now_s))
    pcond = get_condition(prev, PAUSED)
    paused_true = pcond is not None and pcond.get("status") == "True"
    if is_paused != paused_true and not abort_cond:
        updates.append(
            new_condition(PAUSED, "True" if is_paused else "False", PAUSED_REASON, PAUSED_MESSAGE, now_s)
        )
    for cond in updates:
        set_condition(prev, cond)
    return prev


def evaluate_progress_deadline_abort(ctx: Context, prev: JSON, st: JSON) -> None:
    """`evaluateProgressDeadlineAbort` (docs/semantics/controller.md#progress-deadline): with progressDeadlineAbort, a timed-out update is aborted."""
    if not ctx.spec.progress_deadline_abort or ctx.aborted or rollout_completed(st):
        return
    if rollout_progressing(ctx, prev, st) or is_indefinite_step(ctx) or waiting_for_scale_down(ctx):
        return
    if not rollout_timed_out(ctx, prev):
        return
    msg = (
        RS_TIMED_OUT_MESSAGE.format(ctx.new_rs.name)
        if ctx.new_rs is not None
        else ROLLOUT_TIMED_OUT_MESSAGE.format(ctx.name)
    )
    ctx.abort(msg)
    ctx.event(ABORTED_REASON, msg, warning=True)


def calculate_pause_status(ctx: Context, prev: JSON, st: JSON) -> None:
    """`CalculatePauseStatus` + `CalculateAbortStatus` (rollout/pause.go)."""
    st.pop("pauseConditions", None)
    st.pop("controllerPause", None)
    if ctx.add_abort or (not ctx.remove_abort and prev.get("abort")):
        st["abort"] = True
        st["abortedAt"] = prev.get("abortedAt") or format_time(ctx.now)
        return
    st.pop("abort", None)
    st.pop("abortedAt", None)
    if ctx.clear_pause:
        return
    controller_pause = bool(prev.get("controllerPause"))
    remove = set(ctx.remove_pause)
    existing = {c.get("reason") for c in prev.get("pauseConditions") or []}
    conds = [c for c in prev.get("pauseConditions") or [] if c.get("reason") not in remove]
    for reason in ctx.add_pause:
        if reason not in existing:
            conds.append({"reason": reason, "startTime": format_time(ctx.now)})
            existing.add(reason)
            controller_pause = True
    if not conds:
        return
    st["pauseConditions"] = conds
    if controller_pause:
        st["controllerPause"] = True


def calculate_conditions(ctx: Context, prev: JSON, st: JSON) -> None:
    """`calculateRolloutConditions` (rollout/sync.go)."""
    now_s = format_time(ctx.now)
    is_paused = bool(st.get("pauseConditions")) or ctx.paused
    aborted = ctx.aborted
    became_unhealthy = False
    healthy_now = rollout_healthy(ctx, st)
    if not is_paused and healthy_now:
        set_condition(st, new_condition(HEALTHY, "True", HEALTHY_REASON, HEALTHY_MESSAGE, now_s))
    elif get_condition(prev, HEALTHY) is not None:
        became_unhealthy = set_condition(
            st, new_condition(HEALTHY, "False", HEALTHY_REASON, NOT_HEALTHY_MESSAGE, now_s)
        )
    if aborted:
        message = ABORTED_MESSAGE.format(ctx.revision)
        if ctx.abort_message:
            message = f"{message}: {ctx.abort_message}"
        if set_condition(st, new_condition(PROGRESSING, "False", ABORTED_REASON, message, now_s)):
            ctx.event(ABORTED_REASON, message, warning=True)
    current = get_condition(prev, PROGRESSING)
    rs_name = ctx.new_rs.name if ctx.new_rs is not None else ""
    if not aborted:
        if healthy_now:
            msg = RS_COMPLETED_MESSAGE.format(rs_name)
            set_condition(st, new_condition(PROGRESSING, "True", NEW_RS_AVAILABLE, msg, now_s))
        elif rollout_progressing(ctx, prev, st) or became_unhealthy:
            msg = (
                RS_PROGRESSING_MESSAGE.format(rs_name)
                if ctx.new_rs is not None
                else ROLLOUT_PROGRESSING_MESSAGE.format(ctx.name)
            )
            reason = RS_UPDATED
            if st.get("stableRS") == st.get("currentPodHash") and became_unhealthy:
                reason, msg = RS_NOT_AVAILABLE, NOT_AVAILABLE_MESSAGE
            cond = new_condition(PROGRESSING, "True", reason, msg, now_s)
            if current is not None:
                if current.get("status") == "True":
                    cond["lastTransitionTime"] = current.get("lastTransitionTime")
                remove_condition(st, PROGRESSING)
            set_condition(st, cond)
        elif not is_indefinite_step(ctx) and not waiting_for_scale_down(ctx) and rollout_timed_out(ctx, st):
            msg = (
                RS_TIMED_OUT_MESSAGE.format(rs_name)
                if ctx.new_rs is not None
                else ROLLOUT_TIMED_OUT_MESSAGE.format(ctx.name)
            )
            set_condition(st, new_condition(PROGRESSING, "False", TIMED_OUT_REASON, msg, now_s))
    available = _available(ctx, st)
    set_condition(
        st,
        new_condition(
            AVAILABLE,
            "True" if available else "False",
            AVAILABLE_REASON,
            AVAILABLE_MESSAGE if available else NOT_AVAILABLE_MESSAGE,
            now_s,
        ),
    )
    if rollout_completed(st):
        set_condition(st, new_condition(COMPLETED, "True", COMPLETED_REASON, COMPLETED_REASON, now_s))
    elif set_condition(st, new_condition(COMPLETED, "False", COMPLETED_REASON, COMPLETED_REASON, now_s)):
        ctx.event(
            NOT_COMPLETED_REASON,
            f"Rollout not completed, started update to revision {ctx.revision} ({st.get('currentPodHash', '')})",
        )


def _available(ctx: Context, st: JSON) -> bool:
    if ctx.bluegreen is not None:
        active = (st.get("blueGreen") or {}).get("activeSelector")
        rs = next((r for r in ctx.all_rss if active and r.pod_template_hash == active), None)
        return is_saturated(ctx, rs)  # rollout/sync.go calculateRolloutConditions
    return sum(rs.available_replicas for rs in ctx.all_rss) >= ctx.replicas


def _count(obj: Mapping[str, Any], key: str, default: int = 0) -> int:
    value = obj.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _section(obj: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = obj.get(key)
    return value if isinstance(value, Mapping) else {}


def calculate_phase(spec: Mapping[str, Any], st: Mapping[str, Any]) -> tuple[RolloutPhase, str]:
    """`CalculateRolloutPhase` (docs/semantics/objects.md#rollout-phase rules 2–8): the phase and message of a Rollout from its spec and status
    (wire JSON). The one rule: the controller calls it on the status it writes, the plugin on a stored status
    without a phase (`rollouts.plugin.phases.rollout_phase`, Argo's `GetRolloutPhase`).

    >>> calculate_phase({"replicas": 2}, {"updatedReplicas": 1})
    (<RolloutPhase.PROGRESSING: 'Progressing'>, 'more replicas need to be updated')
    """
    for cond in st.get("conditions") or []:
        if cond.get("type") == INVALID_SPEC:
            return RolloutPhase.DEGRADED, f"{INVALID_SPEC}: {cond.get('message', '')}"
        if cond.get("reason") in (ABORTED_REASON, TIMED_OUT_REASON):
            return RolloutPhase.DEGRADED, f"{cond.get('reason')}: {cond.get('message', '')}"
    if spec.get("paused"):
        return RolloutPhase.PAUSED, "manually paused"
    for pcond in st.get("pauseConditions") or []:
        return RolloutPhase.PAUSED, str(pcond.get("reason", ""))
    restart_at = spec.get("restartAt")
    if restart_at and parse_time(restart_at) != parse_time(
        st.get("restartedAt")
    ):  # metav1.Time.Equal: instants
        return RolloutPhase.PROGRESSING, "rollout is restarting"
    updated = _count(st, "updatedReplicas")
    if updated < _count(spec, "replicas", DEFAULT_REPLICAS):
        return RolloutPhase.PROGRESSING, "more replicas need to be updated"
    if _count(st, "availableReplicas") < updated:
        return RolloutPhase.PROGRESSING, "updated replicas are still becoming available"
    strategy = _section(spec, "strategy")
    if isinstance(strategy.get("blueGreen"), Mapping):
        active = _section(st, "blueGreen").get("activeSelector")
        if not active or active != st.get("currentPodHash"):
            return RolloutPhase.PROGRESSING, "active service cutover pending"
        if not rollout_completed(st):
            post = _section(_section(st, "blueGreen"), "postPromotionAnalysisRunStatus")
            if strategy["blueGreen"].get("postPromotionAnalysis") is not None and (
                not AnalysisPhase.is_completed(post.get("status"))
            ):
                return RolloutPhase.PROGRESSING, "waiting for analysis to complete"
            return RolloutPhase.PROGRESSING, "waiting for post-promotion verification to complete"
    elif isinstance(strategy.get("canary"), Mapping):
        if not strategy["canary"].get("trafficRouting") and _count(st, "replicas") > updated:
            return RolloutPhase.PROGRESSING, "old replicas are pending termination"
        if not rollout_completed(st):
            return RolloutPhase.PROGRESSING, "waiting for all steps to complete"
    return RolloutPhase.HEALTHY, ""


def invalid_spec_status(
    prev: Mapping[str, Any], spec: Mapping[str, Any], generation: Any, message: str, now_s: str
) -> tuple[JSON, bool]:
    """`createInvalidRolloutCondition`: `prev` with an InvalidSpec condition carrying `message` (formatted by
    `rollouts.validation.invalid_spec_message`), the generation observed and the phase (Degraded). The one
    home of the invalid status: `decide` uses it for what it finds, the reconciler for a spec that does not
    load. Returns (status, whether the message is new: then a Warning event is due). An unchanged message keeps
    its condition and times."""
    st: JSON = copy_json(dict(prev))
    current = get_condition(st, INVALID_SPEC)
    new = current is None or current.get("message") != message
    if new:
        others = [
            c
            for c in st.get("conditions") or []
            if not (isinstance(c, dict) and c.get("type") == INVALID_SPEC)
        ]
        st["conditions"] = [*others, new_condition(INVALID_SPEC, "True", INVALID_SPEC, message, now_s)]
    if generation is not None:
        st["observedGeneration"] = str(generation)
    phase, st["message"] = calculate_phase(spec, st)
    st["phase"] = phase.value
    return st, new


def requeue_stuck(ctx: Context, prev: JSON, st: JSON) -> None:
    """`requeueStuckRollout`: wake up when the progress deadline would pass (docs/semantics/controller.md#progress-deadline)."""
    cond = get_condition(prev, PROGRESSING)
    if cond is None:
        return
    is_paused = bool(prev.get("pauseConditions")) or ctx.paused
    if (
        rollout_healthy(ctx, st)
        or cond.get("reason") == TIMED_OUT_REASON
        or is_paused
        or prev.get("abort")
        or is_indefinite_step(ctx)
    ):
        return
    last = parse_time(cond.get("lastUpdateTime"))
    if last is not None:
        ctx.requeue_at(last + timedelta(seconds=progress_deadline_seconds(ctx) + 1))


def finish_status(ctx: Context, prev: JSON, st: JSON) -> JSON:
    """`persistRolloutStatus`: deadline abort → pause/abort fields → conditions → phase; returns `st`."""
    if ctx.generation is not None:
        st["observedGeneration"] = str(ctx.generation)
    evaluate_progress_deadline_abort(ctx, prev, st)
    calculate_pause_status(ctx, prev, st)
    calculate_conditions(ctx, prev, st)
    phase, message = calculate_phase(ctx.raw_spec, st)
    st["phase"] = phase.value
    if message:
        st["message"] = message
    else:
        st.pop("message", None)
    requeue_stuck(ctx, prev, st)
    _state_change_events(ctx, prev, st)
    return st


def _state_change_events(ctx: Context, prev: JSON, st: JSON) -> None:
    """`sendStateChangeEvents`: RolloutPaused (with the first reason) / RolloutResumed when pausing flips."""
    was, now = bool(prev.get("pauseConditions")), bool(st.get("pauseConditions"))
    if was == now:
        return
    if now:
        ctx.event(PAUSED_REASON, f"{PAUSED_MESSAGE} ({st['pauseConditions'][0].get('reason', '')})")
    elif not st.get("abortedAt"):
        ctx.event(RESUMED_REASON, RESUMED_MESSAGE)


def analysis_run_status(run: Any) -> JSON:
    """`RolloutAnalysisRunStatus` {name, status, message?} of an observed AnalysisRunState."""
    out: JSON = {"name": run.name, "status": run.phase or "Pending"}
    if run.message:
        out["message"] = run.message
    return out
