"""Rollout spec models (docs/semantics/objects.md#bluegreen-fields): canary and blue-green strategies and `RolloutSpec` with Argo's defaults.

Part of `rollouts.models` (import from there). Optional fields are None when absent so a manifest
round-trips unchanged; the `*_or_default` methods give the value Argo uses (`utils/defaults/defaults.go`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import (
    Field,
    PrivateAttr,
)

from analysis.wire import RawObject, WireModel
from rollouts.models.common import (
    KubeTime,
    LabelSelector,
    PodTemplateMetadata,
    RolloutAnalysis,
    RolloutAnalysisBackground,
)
from rollouts.models.routing import RolloutTrafficRouting
from rollouts.models.scalars import Bool, Int32, Int32OrString
from rollouts.models.steps import CanaryStep
from rollouts.models.vocabulary import (
    DEFAULT_ABORT_SCALE_DOWN_DELAY_SECONDS,
    DEFAULT_MAX_SURGE,
    DEFAULT_MAX_TRAFFIC_WEIGHT,
    DEFAULT_MAX_UNAVAILABLE,
    DEFAULT_NGINX_ANNOTATION_PREFIX,
    DEFAULT_PROGRESS_DEADLINE_SECONDS,
    DEFAULT_REPLICAS,
    DEFAULT_REVISION_HISTORY_LIMIT,
    DEFAULT_RUN_HISTORY_LIMIT,
    DEFAULT_SCALE_DOWN_DELAY_SECONDS,
)

__all__ = [
    "AnalysisRunStrategy",
    "AntiAffinity",
    "BlueGreenStrategy",
    "CanaryStrategy",
    "ObjectRef",
    "PingPongSpec",
    "PreferredDuringScheduling",
    "ReplicaProgressThreshold",
    "RequiredDuringScheduling",
    "RollbackWindowSpec",
    "RolloutSpec",
    "RolloutStrategy",
]


# ---------------------------------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------------------------------


class PreferredDuringScheduling(WireModel):
    weight: Int32


class RequiredDuringScheduling(WireModel):
    pass


class AntiAffinity(WireModel):
    preferred_during_scheduling_ignored_during_execution: PreferredDuringScheduling | None = None
    required_during_scheduling_ignored_during_execution: RequiredDuringScheduling | None = None


class PingPongSpec(WireModel):
    ping_service: str
    pong_service: str


class ReplicaProgressThreshold(WireModel):
    type: Literal["Percent", "Pods"]
    value: Int32


class CanaryStrategy(WireModel):
    canary_service: str | None = None
    stable_service: str | None = None
    steps: list[CanaryStep] | None = None
    traffic_routing: RolloutTrafficRouting | None = None
    max_unavailable: Int32OrString | None = None
    max_surge: Int32OrString | None = None
    analysis: RolloutAnalysisBackground | None = None
    anti_affinity: AntiAffinity | None = None
    canary_metadata: PodTemplateMetadata | None = None
    stable_metadata: PodTemplateMetadata | None = None
    scale_down_delay_seconds: Int32 | None = None
    scale_down_delay_revision_limit: Int32 | None = None
    abort_scale_down_delay_seconds: Int32 | None = None
    dynamic_stable_scale: Bool | None = None
    ping_pong: PingPongSpec | None = None
    min_pods_per_replica_set: Int32 | None = None
    replica_progress_threshold: ReplicaProgressThreshold | None = None

    @property
    def step_list(self) -> list[CanaryStep]:
        return list(self.steps or [])


class BlueGreenStrategy(WireModel):
    active_service: str = ""
    preview_service: str | None = None
    preview_replica_count: Int32 | None = None
    auto_promotion_enabled: Bool | None = None
    auto_promotion_seconds: Int32 | None = None
    max_unavailable: Int32OrString | None = None
    scale_down_delay_seconds: Int32 | None = None
    scale_down_delay_revision_limit: Int32 | None = None
    pre_promotion_analysis: RolloutAnalysis | None = None
    anti_affinity: AntiAffinity | None = None
    post_promotion_analysis: RolloutAnalysis | None = None
    preview_metadata: PodTemplateMetadata | None = None
    active_metadata: PodTemplateMetadata | None = None
    abort_scale_down_delay_seconds: Int32 | None = None


class RolloutStrategy(WireModel):
    blue_green: BlueGreenStrategy | None = None
    canary: CanaryStrategy | None = None


class ObjectRef(WireModel):
    """`spec.workloadRef`: scaleDown ∈ never / onsuccess / progressively."""

    api_version: str | None = None
    kind: str | None = None
    name: str | None = None
    scale_down: str | None = None


class RollbackWindowSpec(WireModel):
    revisions: Int32 | None = None


class AnalysisRunStrategy(WireModel):
    successful_run_history_limit: Int32 | None = None
    unsuccessful_run_history_limit: Int32 | None = None


class RolloutSpec(WireModel):
    """`RolloutSpec` (docs/semantics/objects.md#rollout-spec). Optional fields are None when absent; the `*_or_default` methods give Argo's value."""

    replicas: Int32 | None = None
    selector: LabelSelector | None = None
    template: RawObject | None = None
    workload_ref: ObjectRef | None = None
    min_ready_seconds: Int32 | None = None
    rollback_window: RollbackWindowSpec | None = None
    strategy: RolloutStrategy = Field(default_factory=RolloutStrategy)
    revision_history_limit: Int32 | None = None
    paused: Bool | None = None
    progress_deadline_seconds: Int32 | None = None
    progress_deadline_abort: Bool | None = None
    restart_at: KubeTime | None = None
    analysis: AnalysisRunStrategy | None = None
    # Argo's `TemplateResolvedFromRef` (json:"-"): the template was copied from spec.workloadRef's object by the
    # controller (`rollouts.strategy.workload.resolve`), so it is validated as a written one would be.
    _template_resolved_from_ref: bool = PrivateAttr(default=False)

    @property
    def template_resolved_from_ref(self) -> bool:
        return self._template_resolved_from_ref

    def mark_template_resolved(self) -> None:
        self._template_resolved_from_ref = True

    # -- defaults (utils/defaults/defaults.go) ------------------------------------------------------------------

    def replicas_or_default(self) -> int:
        return DEFAULT_REPLICAS if self.replicas is None else self.replicas

    def revision_history_limit_or_default(self) -> int:
        return (
            DEFAULT_REVISION_HISTORY_LIMIT
            if self.revision_history_limit is None
            else self.revision_history_limit
        )

    def progress_deadline_seconds_or_default(self) -> int:
        p = self.progress_deadline_seconds
        return DEFAULT_PROGRESS_DEADLINE_SECONDS if p is None else p

    def successful_run_history_limit(self) -> int:
        a = self.analysis
        v = a.successful_run_history_limit if a else None
        return DEFAULT_RUN_HISTORY_LIMIT if v is None else v

    def unsuccessful_run_history_limit(self) -> int:
        a = self.analysis
        v = a.unsuccessful_run_history_limit if a else None
        return DEFAULT_RUN_HISTORY_LIMIT if v is None else v

    def max_surge_or_default(self) -> int | str:
        """canary.maxSurge, else ``"25"`` (= 25 %). Blue-green never surges (`replicas.max_surge` gives 0)."""
        c = self.strategy.canary
        return c.max_surge if c is not None and c.max_surge is not None else DEFAULT_MAX_SURGE

    def max_unavailable_or_default(self) -> int | str:
        bg, c = self.strategy.blue_green, self.strategy.canary
        if bg is not None and bg.max_unavailable is not None:
            return bg.max_unavailable
        if c is not None and c.max_unavailable is not None:
            return c.max_unavailable
        return DEFAULT_MAX_UNAVAILABLE

    def scale_down_delay_seconds_or_default(self) -> int:
        """Blue-green: default 30. Canary: default 30 with traffic routing, 0 (no delay) without."""
        bg, c = self.strategy.blue_green, self.strategy.canary
        delay = 0
        if bg is not None:
            delay = (
                DEFAULT_SCALE_DOWN_DELAY_SECONDS
                if bg.scale_down_delay_seconds is None
                else bg.scale_down_delay_seconds
            )
        if c is not None and c.traffic_routing is not None:
            delay = (
                DEFAULT_SCALE_DOWN_DELAY_SECONDS
                if c.scale_down_delay_seconds is None
                else c.scale_down_delay_seconds
            )
        return delay

    def abort_scale_down_delay_seconds_or_default(self) -> tuple[int | None, bool]:
        """(seconds, explicitly set). ``None`` seconds = never scale the canary/preview down (value 0).

        Canary without traffic routing: (0, False) — scaled down at once by the basic canary arithmetic.
        """
        bg, c = self.strategy.blue_green, self.strategy.canary
        value: int | None
        if bg is not None:
            value = bg.abort_scale_down_delay_seconds
        elif c is not None and c.traffic_routing is not None:
            value = c.abort_scale_down_delay_seconds
        else:
            return 0, False
        if value is None:
            return DEFAULT_ABORT_SCALE_DOWN_DELAY_SECONDS, False
        return (None if value == 0 else value), True

    def has_explicit_abort_scale_down_delay(self) -> bool:
        seconds, was_set = self.abort_scale_down_delay_seconds_or_default()
        return was_set and seconds is not None

    def auto_promotion_enabled_or_default(self) -> bool:
        bg = self.strategy.blue_green
        return True if bg is None or bg.auto_promotion_enabled is None else bg.auto_promotion_enabled

    def max_traffic_weight(self) -> int:
        """`trafficRouting.maxTrafficWeight`, default 100 (utils/weightutil)."""
        c = self.strategy.canary
        if (
            c is not None
            and c.traffic_routing is not None
            and c.traffic_routing.max_traffic_weight is not None
        ):
            return c.traffic_routing.max_traffic_weight
        return DEFAULT_MAX_TRAFFIC_WEIGHT

    def nginx_annotation_prefix(self) -> str:
        c = self.strategy.canary
        tr = c.traffic_routing if c is not None else None
        if tr is not None and tr.nginx is not None and tr.nginx.annotation_prefix:
            return tr.nginx.annotation_prefix
        return DEFAULT_NGINX_ANNOTATION_PREFIX

    @property
    def steps(self) -> list[CanaryStep]:
        """The canary steps ([] for blue-green or no steps)."""
        c = self.strategy.canary
        return list(c.steps or []) if c is not None else []

    @property
    def traffic_routing(self) -> RolloutTrafficRouting | None:
        c = self.strategy.canary
        return c.traffic_routing if c is not None else None
