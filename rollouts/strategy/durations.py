"""`status.duration`: when the current rollout attempt started, how long it waited on people, and how it ended.

Where it sits: the last stage of `decide`, after the phase, as in Argo's `persistRolloutStatus` (Argo 1.10:
`RolloutDurationStatus` in pkg/apis/rollouts/v1alpha1/types.go, set by `calculateStatusDuration` in
rollout/sync.go, manual pauses by `requiresManualAction` in rollout/pause.go). An *attempt* starts when a new
pod template or new steps are seen (or a retry after an abort) and ends when it is promoted with all pods
available, aborted, or superseded by another template. The wire fields:

* ``rolloutStartedAt`` — the attempt's start; ``finishedAt`` — its end (absent while it runs);
* ``manualPauseStartedAt`` — set while the rollout waits for a person: ``spec.paused``, an inconclusive
  analysis or experiment, an indefinite pause step, a blue-green pause with ``autoPromotionEnabled: false``
  (timed pauses are progression, not waiting); ``totalManualPauseDurationSeconds`` — the finished waits, summed
  in whole seconds (truncated);
* ``completionStatus`` — Promoted, FastPromoted (``promote --full``), Aborted, Superseded, RolledBack or
  FastRolledBack. It may be known before the end (a rollback is classified when the template is reverted;
  Promoted is set when the stable ReplicaSet switches, before all pods are available); only
  ``finishedAt`` marks the end. Superseded is never seen in a stored status: the next attempt replaces it in
  the same write; it shows in the duration histograms only.

An attempt that ends is added to `Context.completed` → `Plan.completed`, which the controller feeds to the
histograms `rollout_duration_seconds`, `rollout_progression_duration_seconds` and
`rollout_manual_pause_duration_seconds` once the status write has gone through. An invalid spec never reaches
this stage, so its duration is kept as it was (Argo: "do not update duration tracking when the spec is invalid").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rollouts.models.vocabulary import ABORTED_REASON, PROGRESSING, format_time, parse_time
from rollouts.strategy import promotion
from rollouts.strategy.context import Context, scale_down_deadline
from rollouts.strategy.plan import JSON, CompletedAttempt

PROMOTED = "Promoted"
FAST_PROMOTED = "FastPromoted"
ABORTED = "Aborted"
SUPERSEDED = "Superseded"
ROLLED_BACK = "RolledBack"
FAST_ROLLED_BACK = "FastRolledBack"


@dataclass
class _Duration:
    """`RolloutDurationStatus` while a pass works on it (times as datetimes, so a start and an end in the same
    pass subtract exactly, as Argo's in-memory values do)."""

    started: datetime | None = None
    pause_started: datetime | None = None
    paused_total: int | None = None
    finished: datetime | None = None
    completion: str | None = None

    @classmethod
    def read(cls, wire: Any) -> _Duration | None:
        if not isinstance(wire, dict):
            return None
        total = wire.get("totalManualPauseDurationSeconds")
        completion = wire.get("completionStatus")
        return cls(
            started=parse_time(wire.get("rolloutStartedAt")),
            pause_started=parse_time(wire.get("manualPauseStartedAt")),
            paused_total=total if isinstance(total, int) and not isinstance(total, bool) else None,
            finished=parse_time(wire.get("finishedAt")),
            completion=completion if isinstance(completion, str) and completion else None,
        )

    def wire(self) -> JSON:
        out: JSON = {}
        if self.started is not None:
            out["rolloutStartedAt"] = format_time(self.started)
        if self.pause_started is not None:
            out["manualPauseStartedAt"] = format_time(self.pause_started)
        if self.paused_total is not None:
            out["totalManualPauseDurationSeconds"] = self.paused_total
        if self.finished is not None:
            out["finishedAt"] = format_time(self.finished)
        if self.completion is not None:
            out["completionStatus"] = self.completion
        return out

    @property
    def completed(self) -> bool:
        """`IsCompleted`: started and finished."""
        return self.started is not None and self.finished is not None

    def end_pause(self, now: datetime) -> None:
        """Add the running manual pause to the total (whole seconds, truncated like `int64(d.Seconds())`)."""
        if self.pause_started is None:
            return
        self.paused_total = (self.paused_total or 0) + int((now - self.pause_started).total_seconds())
        self.pause_started = None

    def complete(self, ctx: Context, status: str) -> None:
        """`CompleteRollout`: close a running pause, set finishedAt and the outcome; the attempt is reported."""
        self.end_pause(ctx.now)
        self.finished, self.completion = ctx.now, status
        if self.started is not None:
            ctx.completed.append(
                CompletedAttempt(
                    status=status,
                    total_seconds=(self.finished - self.started).total_seconds(),
                    manual_pause_seconds=float(self.paused_total or 0),
                )
            )


def requires_manual_action(ctx: Context, reason: str) -> bool:
    """`requiresManualAction` (rollout/pause.go): whether a pause reason waits for a person."""
    if reason in ("InconclusiveAnalysisRun", "InconclusiveExperiment"):
        return True
    if reason == "CanaryPauseStep" and ctx.canary is not None:
        step, _ = ctx.current_step()
        pause = step.pause if step is not None else None
        return pause is not None and pause.is_indefinite
    if reason == "BlueGreenPause" and ctx.bluegreen is not None:
        return not ctx.spec.auto_promotion_enabled_or_default()
    return False


def _spec_changed(ctx: Context) -> bool:
    """A new attempt's trigger: no pod hash stored yet, or `PodTemplateOrStepsChanged` (canary) /
    `CheckPodSpecChange` (blue-green) against the stored status."""
    stored_hash = ctx.status.current_pod_hash
    if not stored_hash:
        return True
    current = ctx.new_rs.pod_template_hash if ctx.new_rs is not None else ctx.pod_hash
    if stored_hash != current:
        return True
    if ctx.canary is not None:
        stored_steps = ctx.status.current_step_hash
        return not stored_steps or stored_steps != ctx.step_hash
    return False


def calculate(ctx: Context, st: JSON) -> None:
    """`calculateStatusDuration`: bring `st["duration"]` up to date and report an attempt that ended."""
    now = ctx.now
    stable = str(st.get("stableRS") or "")
    promoted = stable == str(st.get("currentPodHash") or "")
    switched = promoted and stable != ctx.stable_hash
    done = promoted and ctx.new_rs is not None and ctx.new_rs.available_replicas >= ctx.replicas
    aborted = ctx.aborted
    changed = _spec_changed(ctx)
    if not switched and _unchanged(ctx, st, done, aborted, changed):
        return  # most passes: the stored duration stays as it is (no parsing, no write)
    retry = _retry(ctx, aborted)

    duration = _Duration.read(st.get("duration"))
    prev = _Duration.read(ctx.stored.get("duration"))  # as written: a garbled value is read leniently
    if duration is not None and duration.completion is None and switched:
        # `promoteStable` switched the stable ReplicaSet in this pass: the outcome is known (finishedAt waits
        # for all pods); FastPromoted when `promote --full` asked for it.
        duration.completion = FAST_PROMOTED if ctx.status.promote_full else PROMOTED
    paused = prev is not None and prev.pause_started is not None

    if duration is not None and prev is not None and prev.started is not None and not prev.completed:
        if changed:
            if promotion.is_rollback(ctx):
                # The user reverted to an earlier template: this attempt ends as a rollback once promoted.
                fast = promotion.is_fast_rollback(ctx, _new_rs_within_delay(ctx))
                duration.completion = FAST_ROLLED_BACK if fast else ROLLED_BACK
            else:
                duration.complete(ctx, SUPERSEDED)
        if done and not duration.completed:
            duration.complete(ctx, duration.completion or PROMOTED)
            _write(st, duration)
            return  # just finished: no new attempt can start in the same pass
        if aborted and not duration.completed:
            duration.complete(ctx, duration.completion or ABORTED)

    if duration is None or (duration.completed and not done):
        paused = False
        if (changed and not done) or retry:
            duration = _Duration(started=now)  # a new attempt (or the retry of an aborted one)
    if duration is None:
        st.pop("duration", None)
        return
    if not duration.completed:
        manual = _manual(ctx, st)
        if paused and not manual:
            duration.end_pause(now)
        elif not paused and manual and duration.pause_started is None:
            duration.pause_started = now
    _write(st, duration)


_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")  # format_time's form
_WIRE_TYPES = {
    "rolloutStartedAt": str,
    "manualPauseStartedAt": str,
    "totalManualPauseDurationSeconds": int,
    "finishedAt": str,
    "completionStatus": str,
}


def _retry(ctx: Context, aborted: bool) -> bool:
    """The user retried an aborted update: the stored Progressing condition says aborted, the abort is gone."""
    if aborted:
        return False
    cond = ctx.status.condition(PROGRESSING)
    return cond is not None and cond.reason == ABORTED_REASON


def _unchanged(ctx: Context, st: JSON, done: bool, aborted: bool, changed: bool) -> bool:
    """Whether `calculate` would leave the stored duration exactly as it is, decided without parsing it.

    Only for a well-formed stored value the pass has not touched; anything else takes the full path (which also
    rewrites a garbled value)."""
    wire = st.get("duration")
    if wire is None:
        return not changed and not _retry(ctx, aborted)  # no attempt, and none starts
    if wire is not ctx.stored.get("duration") or not isinstance(wire, dict) or "rolloutStartedAt" not in wire:
        return False
    for key, value in wire.items():
        kind = _WIRE_TYPES.get(key)
        if kind is None or not isinstance(value, kind) or isinstance(value, bool):
            return False
        if isinstance(value, str) and key.endswith("At") and not _STAMP.fullmatch(value):
            return False  # not as this module writes times: the full path rewrites it
    if "finishedAt" in wire:
        return done or not (changed or _retry(ctx, aborted))
    if changed or done or aborted:
        return False
    return ("manualPauseStartedAt" in wire) == _manual(ctx, st)


def _manual(ctx: Context, st: JSON) -> bool:
    """Whether the rollout waits for a person in the status this pass writes."""
    return ctx.paused or any(
        isinstance(c, dict) and requires_manual_action(ctx, str(c.get("reason") or ""))
        for c in st.get("pauseConditions") or ()
    )


def _write(st: JSON, duration: _Duration) -> None:
    st["duration"] = duration.wire()


def _new_rs_within_delay(ctx: Context) -> bool:
    """`newRSWithinDelay`: the new ReplicaSet still has a scale-down deadline ahead (blue-green fast rollback)."""
    deadline = scale_down_deadline(ctx.new_rs) if ctx.new_rs is not None else None
    return deadline is not None and deadline > ctx.now
