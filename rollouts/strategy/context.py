"""The per-pass working set of `decide`: the typed Rollout read with Argo's defaults, its ReplicaSets sorted into
new / stable / others, and the effects accumulated while deciding.

Where it sits: `deciding.decide` builds one `Context` per pass; `canary`, `bluegreen`, `analysisruns`, `steps`
and `status` read it and append actions/events to it. The spec and the stored status are read through the typed
`Observed.rollout` (`rollouts.models`, whose `*_or_default` methods hold Argo's defaults). The wire JSON
(`Observed.rollout_raw`) is read only where the wire form is the point: the pod-template and step hashes are
computed over it, the new status is built from the stored one as written (`stored`) so the controller can diff
the two, and an analysis argument's `fieldRef.fieldPath` walks the object as written.
The pause/abort bookkeeping mirrors Argo's `pauseContext` (`rollout/pause.go`): reasons are *requested* while
deciding and folded into the status once, at the end (docs/semantics/objects.md#rollout-status, docs/semantics/controller.md#pause).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rollouts.models import (
    BlueGreenStrategy,
    CanaryStep,
    CanaryStrategy,
    PauseCondition,
    Rollout,
    RolloutSpec,
    RolloutStatus,
    RolloutTrafficRouting,
)
from rollouts.models.vocabulary import (
    DEFAULT_MAX_TRAFFIC_WEIGHT,
    POD_TEMPLATE_HASH_LABEL,
    SCALE_DOWN_DEADLINE_ANNOTATION,
    parse_time,
)
from rollouts.strategy import hashing
from rollouts.strategy.plan import (
    JSON,
    Action,
    CompletedAttempt,
    EmitEvent,
    ExperimentState,
    Observed,
    ReplicaSetState,
)
from rollouts.strategy.weights import current_step_index


def copy_json(value: Any) -> Any:
    """A deep copy of wire JSON (dicts, lists, scalars) — several times faster than `copy.deepcopy`."""
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    return value


@dataclass
class Context:
    observed: Observed
    now: datetime
    rollout: Rollout  # the typed Rollout (`Observed.rollout`)
    status: RolloutStatus  # the stored status, typed (read-only)
    stored: JSON  # the stored status as written: the new status is built from it, and diffed against it
    canary: CanaryStrategy | None
    bluegreen: BlueGreenStrategy | None
    replicas: int
    steps: list[CanaryStep]
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
    # A canary pass that evicted pods for a restart ends there, its status unwritten (rollout/canary.go)
    halted_for_restart: bool = False
    completed: list[CompletedAttempt] = field(default_factory=list)  # status.duration (durations.py)

    # -- reading -------------------------------------------------------------------------------------------------
    @property
    def spec(self) -> RolloutSpec:
        return self.rollout.spec

    @property
    def raw_spec(self) -> JSON:
        """The spec as written: for the rules that also read a spec that does not load (`status.calculate_phase`)
        and for the validation cache, which compares specs as written."""
        spec: JSON = self.observed.rollout_raw.get("spec") or {}
        return spec

    @property
    def name(self) -> str:
        return self.rollout.name

    @property
    def namespace(self) -> str:
        return self.rollout.namespace

    @property
    def generation(self) -> int | None:
        return self.rollout.metadata.generation

    @property
    def paused(self) -> bool:
        """`spec.paused`."""
        return bool(self.rollout.spec.paused)

    @property
    def traffic_routing(self) -> RolloutTrafficRouting | None:
        return self.canary.traffic_routing if self.canary is not None else None

    @property
    def dynamic_stable_scale(self) -> bool:
        """`canary.dynamicStableScale`."""
        return self.canary is not None and bool(self.canary.dynamic_stable_scale)

    @property
    def max_weight(self) -> int:
        """`trafficRouting.maxTrafficWeight`, default 100 (validation refuses anything below 1)."""
        mw = self.rollout.spec.max_traffic_weight()
        return mw if mw > 0 else DEFAULT_MAX_TRAFFIC_WEIGHT

    def current_step(self) -> tuple[CanaryStep | None, int | None]:
        """`GetCurrentCanaryStep`: (step, index) from the *stored* status; (None, len) past the last step."""
        idx = current_step_index(len(self.steps), self.status.current_step_index)
        if idx is None or idx >= len(self.steps):
            return None, idx
        return self.steps[idx], idx

    def current_experiment(self) -> ExperimentState | None:
        """`GetCurrentExperiment`: the Experiment named in the stored `status.canary.currentExperiment`."""
        name = self.status.canary.current_experiment
        return next((e for e in self.observed.experiments if name and e.name == name), None)

    def pause_condition(self, reason: str) -> PauseCondition | None:
        return next((c for c in self.status.pause_conditions if c.reason == reason), None)

    @property
    def stable_hash(self) -> str:
        return self.status.stable_rs

    @property
    def aborted(self) -> bool:
        """`pauseContext.IsAborted`."""
        if self.remove_abort:
            return False
        return self.add_abort or self.status.abort

    @property
    def fully_promoted(self) -> bool:
        """`IsFullyPromoted`: status.stableRS == status.currentPodHash (stored status)."""
        return self.status.stable_rs == self.status.current_pod_hash

    @property
    def revision(self) -> int:
        """The rollout's revision: that of the new ReplicaSet (what Argo copies onto the Rollout's annotation)."""
        if self.new_rs is not None:
            return self.new_rs.revision
        return max((rs.revision for rs in self.all_rss), default=0) + 1

    def scale_down_delay(self) -> int:
        """`GetScaleDownDelaySecondsOrDefault`: 30 s for blue-green and traffic-routed canary, else 0."""
        return self.rollout.spec.scale_down_delay_seconds_or_default()

    def abort_scale_down_delay(self) -> int | None:
        """`GetAbortScaleDownDelaySecondsOrDefault`: None = never scale down (explicit 0)."""
        return self.rollout.spec.abort_scale_down_delay_seconds_or_default()[0]

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
    ro = observed.rollout
    raw = observed.rollout_raw
    raw_spec = raw.get("spec") or {}
    stored = raw.get("status") or {}
    canary, bluegreen = ro.spec.strategy.canary, ro.spec.strategy.blue_green
    # the hashes are Argo's, computed over the wire JSON of the template and of the steps
    template = raw_spec.get("template") or {}
    cc = ro.status.collision_count
    pod_hash = hashing.pod_template_hash(template, cc)
    raw_steps = ((raw_spec.get("strategy") or {}).get("canary") or {}).get("steps")
    shash = hashing.step_hash(raw_steps) if canary is not None else ""
    rss = sorted(observed.replica_sets, key=rs_sort_key)
    new_rs = next((rs for rs in rss if rs.pod_template_hash == pod_hash), None)
    if new_rs is None:
        # FindNewReplicaSet also adopts an RS whose template equals ours ignoring the hash label (collisions).
        new_rs = next((rs for rs in rss if _template_equal_ignoring_hash(rs.template, template)), None)
        if new_rs is not None:
            pod_hash = new_rs.pod_template_hash
    stable_hash = ro.status.stable_rs
    stable_rs = next((rs for rs in rss if stable_hash and rs.pod_template_hash == stable_hash), None)
    others = [rs for rs in rss if rs is not new_rs and rs is not stable_rs]
    return Context(
        observed=observed,
        now=now,
        rollout=ro,
        status=ro.status,
        stored=stored,
        canary=canary,
        bluegreen=bluegreen,
        replicas=ro.spec.replicas_or_default(),
        steps=ro.spec.steps,
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
