"""Rollout status models (docs/semantics/objects.md#rollout-status), serialised like Go's encoding/json with omitempty.

Part of `rollouts.models` (import from there). Odd Argo names are kept on the wire: `HPAReplicas`,
`stableRS`; `observedGeneration` is a string.
"""

from __future__ import annotations

from typing import Any

from pydantic import (
    Field,
)

from rollouts.models.common import GenerationString, KubeTime, _GoStruct

__all__ = [
    "ALBStatus",
    "AwsResourceRef",
    "BlueGreenStatus",
    "CanaryStatus",
    "PauseCondition",
    "RolloutAnalysisRunStatus",
    "RolloutCondition",
    "RolloutDurationStatus",
    "RolloutStatus",
    "StepPluginStatus",
    "TrafficWeights",
    "WeightDestination",
]


# ---------------------------------------------------------------------------------------------------------------
# Status (docs/semantics/objects.md#rollout-status)
# ---------------------------------------------------------------------------------------------------------------


class PauseCondition(_GoStruct):
    _always = frozenset({"reason", "startTime"})
    reason: str  # CanaryPauseStep | BlueGreenPause | InconclusiveAnalysisRun | InconclusiveExperiment
    start_time: KubeTime


class RolloutCondition(_GoStruct):
    _always = frozenset({"type", "status", "lastUpdateTime", "lastTransitionTime", "reason", "message"})
    type: str
    status: str  # "True" | "False" | "Unknown"
    last_update_time: KubeTime | None = None
    last_transition_time: KubeTime | None = None
    reason: str = ""
    message: str = ""


class RolloutAnalysisRunStatus(_GoStruct):
    _always = frozenset({"name", "status"})
    name: str
    status: str  # AnalysisPhase
    message: str = ""


class WeightDestination(_GoStruct):
    _always = frozenset({"weight"})
    weight: int = 0
    service_name: str = ""
    pod_template_hash: str = ""


class TrafficWeights(_GoStruct):
    canary: WeightDestination = Field(default_factory=WeightDestination)
    stable: WeightDestination = Field(default_factory=WeightDestination)
    additional: list[WeightDestination] = Field(default_factory=list)
    verified: bool | None = None

    _always = frozenset({"verified"})  # *bool: written when set, even false


class StepPluginStatus(_GoStruct):
    _always = frozenset({"index", "name", "operation"})
    index: int
    name: str
    operation: str
    phase: str = ""
    message: str = ""
    started_at: KubeTime | None = None
    updated_at: KubeTime | None = None
    finished_at: KubeTime | None = None
    backoff: str = ""
    executions: int = 0
    disabled: bool = False
    status: Any = None


class CanaryStatus(_GoStruct):
    current_step_analysis_run_status: RolloutAnalysisRunStatus | None = None
    current_background_analysis_run_status: RolloutAnalysisRunStatus | None = None
    current_experiment: str = ""
    weights: TrafficWeights | None = None
    stable_ping_pong: str = ""  # "ping" | "pong"
    step_plugin_statuses: list[StepPluginStatus] = Field(default_factory=list)


class BlueGreenStatus(_GoStruct):
    preview_selector: str = ""
    active_selector: str = ""
    scale_up_preview_check_point: bool = False
    pre_promotion_analysis_run_status: RolloutAnalysisRunStatus | None = None
    post_promotion_analysis_run_status: RolloutAnalysisRunStatus | None = None


class AwsResourceRef(_GoStruct):
    _always = frozenset({"name", "arn", "fullName"})
    name: str = ""
    arn: str = ""
    full_name: str = ""


class ALBStatus(_GoStruct):
    load_balancer: AwsResourceRef = Field(default_factory=AwsResourceRef)
    canary_target_group: AwsResourceRef = Field(default_factory=AwsResourceRef)
    stable_target_group: AwsResourceRef = Field(default_factory=AwsResourceRef)
    ingress: str = ""


class RolloutDurationStatus(_GoStruct):
    rollout_started_at: KubeTime | None = None
    manual_pause_started_at: KubeTime | None = None
    total_manual_pause_duration_seconds: int | None = None
    finished_at: KubeTime | None = None
    completion_status: str | None = (
        None  # Promoted | FastPromoted | Aborted | Superseded | RolledBack | FastRolledBack
    )

    _always = frozenset({"totalManualPauseDurationSeconds", "completionStatus"})  # pointers


class RolloutStatus(_GoStruct):
    """`RolloutStatus` (docs/semantics/objects.md#rollout-status). Written by the strategy core as a whole, diffed by the controller."""

    _always = frozenset({"currentStepIndex", "collisionCount"})  # *int32: 0 is meaningful

    abort: bool = False
    pause_conditions: list[PauseCondition] = Field(default_factory=list)
    controller_pause: bool = False
    aborted_at: KubeTime | None = None
    current_pod_hash: str = ""
    current_step_hash: str = ""
    replicas: int = 0
    updated_replicas: int = 0
    ready_replicas: int = 0
    available_replicas: int = 0
    current_step_index: int | None = None
    collision_count: int | None = None
    observed_generation: GenerationString = ""
    conditions: list[RolloutCondition] = Field(default_factory=list)
    canary: CanaryStatus = Field(default_factory=CanaryStatus)
    blue_green: BlueGreenStatus = Field(default_factory=BlueGreenStatus)
    hpa_replicas: int = Field(default=0, alias="HPAReplicas")
    selector: str = ""
    stable_rs: str = Field(default="", alias="stableRS")
    restarted_at: KubeTime | None = None
    promote_full: bool = False
    phase: str = ""  # Healthy | Degraded | Progressing | Paused
    message: str = ""
    workload_observed_generation: GenerationString = ""
    alb: ALBStatus | None = None
    albs: list[ALBStatus] = Field(default_factory=list)
    duration: RolloutDurationStatus | None = None

    def condition(self, type_: str) -> RolloutCondition | None:
        """The condition of that type, if any."""
        return next((c for c in self.conditions if c.type == type_), None)
