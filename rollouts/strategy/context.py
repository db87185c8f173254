"""The per-pass working set of `decide`: the Rollout's wire JSON read with Argo's defaults, its ReplicaSets
sorted into new / stable / others, and the effects accumulated while deciding.

Where it sits: `deciding.decide` builds one `Context` per pass; `canary`, `bluegreen`, `analysisruns`, `steps`
and `status` read it and append actions/events to it. Everything reads the *wire* JSON (`Observed.rollout_raw`)
so the decision does not depend on how the typed model spells a field, and so it stays fast (no model walk).
The pause/abort bookkeeping mirrors Argo's `pauseContext` (`rollout/pause.go`): reasons are *requested* while
deciding and folded into the status once, at the end (docs/semantics/objects.md#rollout-status, docs/semantics/controller.md#pause).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rollouts.models import pause_duration_seconds as models_pause_duration_seconds
from rollouts.models.vocabulary import (
    DEFAULT_ABORT_SCALE_DOWN_DELAY_SECONDS,
    DEFAULT_MAX_TRAFFIC_WEIGHT,
    DEFAULT_REPLICAS,
    DEFAULT_SCALE_DOWN_DELAY_SECONDS,
    POD_TEMPLATE_HASH_LABEL,
    SCALE_DOWN_DEADLINE_ANNOTATION,
    parse_time,
)
from rollouts.strategy import hashing
from rollouts.strategy.plan import JSON, Action, CompletedAttempt, EmitEvent, Observed, ReplicaSetState
from rollouts.strategy.weights import current_step_index


def copy_json(value: Any) -> Any:
    """A deep copy of wire JSON (dicts, lists, scalars) — several times faster than `copy.deepcopy`."""
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    return value


def pause_duration_seconds(pause: Mapping[str, Any]) -> int | None:
    """A pause step's duration in seconds (`rollouts.models.pause_duration_seconds`); None = indefinite."""
    d = pause.get("duration")
    return None if d is None else models_pause_duration_seconds(d)


@dataclass
class Context:
    observed: Observed
    now: datetime
    ro: JSON
    spec: JSON
    status: JSON  # the stored status (read-only)
    name: str
    namespace: str
    canary: JSON | None
    bluegreen: JSON | None
    replicas: int
    steps: list[JSON]
    pod_hash: str
    step_hash: str
    all_rss: list[ReplicaSetState]
    new_rs: ReplicaSetState | None
    stable_rs: ReplicaSetState | None
    other_rss: list[ReplicaSetState]
    actions: list[Action] = field(default_factory=list)
    events: list[EmitEvent] = field(default_factory=list)
    requeue: list[float] = field(default_factory=list)
    # pauseContext (rollout/pause.go)
    add_pause: list[str] = field(default_factory=list)
    remove_pause: list[str] = field(default_factory=list)
    clear_pause: bool = False
    add_abort: bool = False
    remove_abort: bool = False
    abort_message: str = ""
    new_rs_created: bool = False
    completed: list[CompletedAttempt] = field(default_factory=list)  # status.duration (durations.py)

    # -- reading -------------------------------------------------------------------------------------------------
    @property
    def traffic_routing(self) -> JSON | None:
        tr = (self.canary or {}).get("trafficRouting")
        return tr if isinstance(tr, dict) and tr else None

    @property
    def max_weight(self) -> int:
        tr = self.traffic_routing or {}
        mw = tr.get("maxTrafficWeight")
        return int(mw) if isinstance(mw, int) and mw > 0 else DEFAULT_MAX_TRAFFIC_WEIGHT

    @property
    def strategy_spec(self) -> JSON:
        return self.canary if self.canary is not None else (self.bluegreen or {})

    def status_index(self) -> int | None:
        idx = self.status.get("currentStepIndex")
        return idx if isinstance(idx, int) else None

    def current_step(self) -> tuple[JSON | None, int | None]:
        """`GetCurrentCanaryStep`: (step, index) from the *stored* status; (None, len) past the last step."""
        idx = current_step_index(len(self.steps), self.status_index())
        if idx is None or idx >= len(self.steps):
            return None, idx
        return self.steps[idx], idx

    def pause_condition(self, reason: str) -> JSON | None:
        for cond in self.status.get("pauseConditions") or []:
            if isinstance(cond, dict) and cond.get("reason") == reason:
                return cond
        return None

    @property
    def stable_hash(self) -> str:
        return str(self.status.get("stableRS") or "")

    @property
    def aborted(self) -> bool:
        """`pauseContext.IsAborted`."""
        if self.remove_abort:
            return False
        return self.add_abort or bool(self.status.get("abort"))

    @property
    def fully_promoted(self) -> bool:
        """`IsFullyPromoted`: status.stableRS == status.currentPodHash (stored status)."""
        return self.stable_hash == str(self.status.get("currentPodHash") or "")

    @property
    def revision(self) -> int:
        """The rollout's revision: that of the new ReplicaSet (what Argo copies onto the Rollout's annotation)."""
        if self.new_rs is not None:
            return self.new_rs.revision
        return max((rs.revision for rs in self.all_rss), default=0) + 1

    def scale_down_delay(self) -> int:
        """`GetScaleDownDelaySecondsOrDefault`: 30 s for blue-green and traffic-routed canary, else 0."""
        if self.canary is not None and self.traffic_routing is None:
            return 0
        v = self.strategy_spec.get("scaleDownDelaySeconds")
        return int(v) if isinstance(v, int) else DEFAULT_SCALE_DOWN_DELAY_SECONDS

    def abort_scale_down_delay(self) -> int | None:
        """`GetAbortScaleDownDelaySecondsOrDefault`: None = never scale down (explicit 0)."""
        if self.canary is not None and self.traffic_routing is None:
            return 0  # basic canary: no delay, the arithmetic scales the canary down
        v = self.strategy_spec.get("abortScaleDownDelaySeconds")
        if isinstance(v, int):
            return None if v == 0 else v
        return DEFAULT_ABORT_SCALE_DOWN_DELAY_SECONDS

    # -- effects -------------------------------------------------------------------------------------------------
    def event(self, reason: str, message: str, warning: bool = False) -> None:
        self.events.append(EmitEvent("Warning" if warning else "Normal", reason, message))

    def requeue_at(self, when: datetime) -> None:
        delta = (when - self.now).total_seconds()
        self.requeue.append(max(delta, 0.0))

    def abort(self, message: str) -> None:
        self.add_abort = True
        self.abort_message = message

    def pause(self, reason: str) -> None:
        self.add_pause.append(reason)


def aware(t: datetime) -> datetime:
    """Naive datetimes are taken as UTC (a naive/aware mix must never crash a pass)."""
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def rs_sort_key(rs: ReplicaSetState) -> tuple[datetime, str]:
    return (aware(rs.created), rs.name)


def _template_equal_ignoring_hash(a: JSON, b: JSON) -> bool:
    def strip(t: JSON) -> JSON:
        meta = dict(t.get("metadata") or {})
        labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != POD_TEMPLATE_HASH_LABEL}
        meta["labels"] = labels
        return {**t, "metadata": meta}

    return strip(a) == strip(b)


def build_context(observed: Observed, now: datetime) -> Context:
    now = aware(now)
    ro = observed.rollout_raw
    spec = ro.get("spec") or {}
    status = ro.get("status") or {}
    meta = ro.get("metadata") or {}
    strategy = spec.get("strategy") or {}
    canary = strategy.get("canary") if isinstance(strategy.get("canary"), dict) else None
    bluegreen = strategy.get("blueGreen") if isinstance(strategy.get("blueGreen"), dict) else None
    replicas = spec.get("replicas")
    replicas = replicas if isinstance(replicas, int) else DEFAULT_REPLICAS
    steps = list((canary or {}).get("steps") or [])
    template = spec.get("template") or {}
    cc = status.get("collisionCount")
    pod_hash = hashing.pod_template_hash(template, cc if isinstance(cc, int) else None)
    shash = hashing.step_hash((canary or {}).get("steps")) if canary is not None else ""
    rss = sorted(observed.replica_sets, key=rs_sort_key)
    new_rs = next((rs for rs in rss if rs.pod_template_hash == pod_hash), None)
    if new_rs is None:
        # FindNewReplicaSet also adopts an RS whose template equals ours ignoring the hash label (collisions).
        new_rs = next((rs for rs in rss if _template_equal_ignoring_hash(rs.template, template)), None)
        if new_rs is not None:
            pod_hash = new_rs.pod_template_hash
    stable_hash = status.get("stableRS") or ""
    stable_rs = next((rs for rs in rss if stable_hash and rs.pod_template_hash == stable_hash), None)
    others = [rs for rs in rss if rs is not new_rs and rs is not stable_rs]
    return Context(
        observed=observed,
        now=now,
        ro=ro,
        spec=spec,
        status=status,
        name=str(meta.get("name") or ""),
        namespace=str(meta.get("namespace") or ""),
        canary=canary,
        bluegreen=bluegreen,
        replicas=replicas,
        steps=steps,
        pod_hash=pod_hash,
        step_hash=shash,
        all_rss=rss,
        new_rs=new_rs,
        stable_rs=stable_rs,
        other_rss=others,
    )


def scale_down_deadline(rs: ReplicaSetState) -> datetime | None:
    if rs.scale_down_deadline is not None:
        return aware(rs.scale_down_deadline)
    return parse_time(rs.annotations.get(SCALE_DOWN_DEADLINE_ANNOTATION))
