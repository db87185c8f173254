"""Argo's vocabulary, spelled once: labels, annotations, defaults, condition types and reasons, Rollout phases, times.

Every module of the controller, the pure core, the plugin, `lint` and the demo takes these names from here (through
`rollouts.models`); none spells one of them again. Argo sources: `pkg/apis/rollouts/v1alpha1/types.go` (label
and annotation keys, condition types, pause reasons, phases), `utils/defaults/defaults.go` (defaults),
`utils/conditions/conditions.go` (condition reasons), `utils/annotations/annotations.go` (ReplicaSet
annotations), `utils/replicaset/replicaset.go` (`scale-down-deadline`).

The metav1.Time wire form (`parse_time`, `format_time`) is defined in `analysis.wire`, the layer both packages
stand on, and offered here too; the finished AnalysisRun phases are `analysis.models.AnalysisPhase.completed`.
"""

from __future__ import annotations

from enum import StrEnum

from analysis.wire import format_time, parse_time

__all__ = [
    "ABORTED_REASON",
    "ANALYSIS_RUN_METRIC_NAME_ANNOTATION",
    "ANALYSIS_RUN_NAME_ANNOTATION",
    "ANALYSIS_RUN_UID_LABEL",
    "AVAILABLE",
    "AVAILABLE_REASON",
    "BLUE_GREEN_PAUSE",
    "CANARY_PAUSE_STEP",
    "COMPLETED",
    "COMPLETED_REASON",
    "DEFAULT_ABORT_SCALE_DOWN_DELAY_SECONDS",
    "DEFAULT_MAX_SURGE",
    "DEFAULT_MAX_TRAFFIC_WEIGHT",
    "DEFAULT_MAX_UNAVAILABLE",
    "DEFAULT_NGINX_ANNOTATION_PREFIX",
    "DEFAULT_PROGRESS_DEADLINE_SECONDS",
    "DEFAULT_REPLICAS",
    "DEFAULT_REVISION_HISTORY_LIMIT",
    "DEFAULT_RUN_HISTORY_LIMIT",
    "DEFAULT_SCALE_DOWN_DELAY_SECONDS",
    "DESIRED_REPLICAS_ANNOTATION",
    "EPHEMERAL_METADATA_ANNOTATION",
    "EXPERIMENT_NAME_ANNOTATION",
    "EXPERIMENT_OWNER_ANNOTATION",
    "EXPERIMENT_TEMPLATE_ANNOTATION",
    "HEALTHY",
    "HEALTHY_REASON",
    "INCONCLUSIVE_ANALYSIS",
    "INCONCLUSIVE_EXPERIMENT",
    "INSTANCE_ID_LABEL",
    "INVALID_SPEC",
    "MANAGED_BY_ANNOTATION",
    "NEW_RS_AVAILABLE",
    "NEW_RS_CREATED",
    "NOTIFY_OUTBOX_PREFIX",
    "NOT_COMPLETED_REASON",
    "PAUSED",
    "PAUSED_REASON",
    "POD_TEMPLATE_HASH_LABEL",
    "PROGRESSING",
    "REPLICA_FAILURE",
    "RESUMED_REASON",
    "RETRY_REASON",
    "REVISION_ANNOTATION",
    "REVISION_HISTORY_ANNOTATION",
    "ROLLOUT_TYPE_LABEL",
    "RS_NOT_AVAILABLE",
    "RS_UPDATED",
    "SCALE_DOWN_DEADLINE_ANNOTATION",
    "STEP_COMPLETED_REASON",
    "STEP_INDEX_LABEL",
    "TIMED_OUT_REASON",
    "UPDATED_REASON",
    "WORKLOAD_GENERATION_ANNOTATION",
    "WORKLOAD_KINDS",
    "RolloutPhase",
    "format_time",
    "parse_time",
]

# ---------------------------------------------------------------------------------------------------------------
# Defaults (utils/defaults/defaults.go)
# ---------------------------------------------------------------------------------------------------------------

DEFAULT_REPLICAS = 1
DEFAULT_REVISION_HISTORY_LIMIT = 10
DEFAULT_RUN_HISTORY_LIMIT = 5
DEFAULT_MAX_SURGE = "25"  # a string: always read as a percentage
DEFAULT_MAX_UNAVAILABLE = "25"
DEFAULT_PROGRESS_DEADLINE_SECONDS = 600
DEFAULT_SCALE_DOWN_DELAY_SECONDS = 30
DEFAULT_ABORT_SCALE_DOWN_DELAY_SECONDS = 30
DEFAULT_MAX_TRAFFIC_WEIGHT = 100
DEFAULT_NGINX_ANNOTATION_PREFIX = "nginx.ingress.kubernetes.io"

# ---------------------------------------------------------------------------------------------------------------
# Labels and annotations
# ---------------------------------------------------------------------------------------------------------------

POD_TEMPLATE_HASH_LABEL = "rollouts-pod-template-hash"
"""On ReplicaSets, their pods, Service selectors, AnalysisRuns and Istio subsets (`DefaultRolloutUniqueLabelKey`)."""
INSTANCE_ID_LABEL = "argo-rollouts.argoproj.io/controller-instance-id"
"""Set on a Rollout for `--instance-id`; copied onto the Rollout's AnalysisRuns (Argo: analysis factory.go)."""
ROLLOUT_TYPE_LABEL = "rollout-type"  # on AnalysisRuns: Step, Background, PrePromotion, PostPromotion
STEP_INDEX_LABEL = "step-index"  # on step AnalysisRuns
ANALYSIS_RUN_UID_LABEL = "analysisrun.argoproj.io/uid"  # on a job metric's Jobs
ANALYSIS_RUN_NAME_ANNOTATION = "analysisrun.argoproj.io/name"
ANALYSIS_RUN_METRIC_NAME_ANNOTATION = "analysisrun.argoproj.io/metric-name"

REVISION_ANNOTATION = "rollout.argoproj.io/revision"
REVISION_HISTORY_ANNOTATION = "rollout.argoproj.io/revision-history"
DESIRED_REPLICAS_ANNOTATION = "rollout.argoproj.io/desired-replicas"
WORKLOAD_GENERATION_ANNOTATION = "rollout.argoproj.io/workload-generation"
#: What canaryMetadata/stableMetadata… injected into a ReplicaSet's pods (utils/replicaset/canary.go).
EPHEMERAL_METADATA_ANNOTATION = "rollout.argoproj.io/ephemeral-metadata"
#: The (API group, kind) a workloadRef may name (rollout/templateref.go `infoByGroupKind`).
WORKLOAD_KINDS = (("", "PodTemplate"), ("apps", "Deployment"), ("apps", "ReplicaSet"))
EXPERIMENT_NAME_ANNOTATION = "rollout.argoproj.io/experiment-name"
#: On an Experiment's ReplicaSets and Services: which Experiment and template they belong to (experiment_types.go).
EXPERIMENT_OWNER_ANNOTATION = "experiment.argoproj.io/name"
EXPERIMENT_TEMPLATE_ANNOTATION = "experiment.argoproj.io/template-name"
SCALE_DOWN_DEADLINE_ANNOTATION = "scale-down-deadline"
MANAGED_BY_ANNOTATION = "argo-rollouts.argoproj.io/managed-by-rollouts"
# the notifications a Rollout is owed, one annotation each (rollouts.notifications.outbox); never copied to ReplicaSets
NOTIFY_OUTBOX_PREFIX = "rollouts.argoproj.io/notify."

# ---------------------------------------------------------------------------------------------------------------
# Conditions (types.go RolloutConditionType; reasons from utils/conditions/conditions.go)
# ---------------------------------------------------------------------------------------------------------------

INVALID_SPEC = "InvalidSpec"
AVAILABLE = "Available"
PROGRESSING = "Progressing"
REPLICA_FAILURE = "ReplicaFailure"
PAUSED = "Paused"
COMPLETED = "Completed"
HEALTHY = "Healthy"

AVAILABLE_REASON = "AvailableReason"
RS_UPDATED = "ReplicaSetUpdated"
NEW_RS_CREATED = "NewReplicaSetCreated"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
RS_NOT_AVAILABLE = "ReplicaSetNotAvailable"
PAUSED_REASON = "RolloutPaused"
RESUMED_REASON = "RolloutResumed"
RETRY_REASON = "RolloutRetry"
ABORTED_REASON = "RolloutAborted"
TIMED_OUT_REASON = "ProgressDeadlineExceeded"
COMPLETED_REASON = "RolloutCompleted"
NOT_COMPLETED_REASON = "RolloutNotCompleted"
HEALTHY_REASON = "RolloutHealthy"
STEP_COMPLETED_REASON = "RolloutStepCompleted"
UPDATED_REASON = "RolloutUpdated"

# Pause reasons (types.go PauseReason)
CANARY_PAUSE_STEP = "CanaryPauseStep"
BLUE_GREEN_PAUSE = "BlueGreenPause"
INCONCLUSIVE_ANALYSIS = "InconclusiveAnalysisRun"
INCONCLUSIVE_EXPERIMENT = "InconclusiveExperiment"


class RolloutPhase(StrEnum):
    """`RolloutPhase` (types.go): the `status.phase` values. A member is its wire string."""

    PROGRESSING = "Progressing"
    PAUSED = "Paused"
    HEALTHY = "Healthy"
    DEGRADED = "Degraded"
