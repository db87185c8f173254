"""The contract between the pure strategy core and the controller that applies its decisions.

observe → decide → apply: the controller builds an `Observed` from its caches, calls the pure
`rollouts.strategy.decide(observed, now)`, and gets a `Plan`: the Rollout status it should have (as wire JSON,
camelCase, so the controller can diff it against the stored status and write ONE merge patch, or none), the
side effects as values (`Action`s), and when to look again (`requeue_after`, seconds).

Actions are plain frozen dataclasses: the controller turns each into API calls; tests compare them as values.
Applying a plan twice must change nothing (every action is idempotent: "scale to N", "selector = hash").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from rollouts.models import Rollout
from rollouts.traffic.base import EditRouter

JSON = dict[str, Any]


# ---------------------------------------------------------------------------------------------------------------
# What the controller observed (read from the API server's objects; see rollouts.controller.observing)
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplicaSetState:
    """A ReplicaSet owned by the rollout, reduced to what the decisions read."""

    name: str
    pod_template_hash: str  # label rollouts-pod-template-hash
    spec_replicas: int
    replicas: int  # status.replicas
    ready_replicas: int
    available_replicas: int
    revision: int  # annotation rollout.argoproj.io/revision (0 when absent)
    created: datetime
    template: JSON  # spec.template as stored (wire JSON), for rollback detection and `undo`
    scale_down_deadline: datetime | None = None  # annotation scale-down-deadline
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    min_ready_seconds: int = 0  # spec.minReadySeconds


@dataclass(frozen=True)
class AnalysisRunState:
    """An AnalysisRun owned by the rollout (status phase '' is read as Pending)."""

    name: str
    phase: str  # Pending | Running | Successful | Failed | Error | Inconclusive
    message: str
    rollout_type: str  # label rollout-type: Step | Background | PrePromotion | PostPromotion
    pod_template_hash: str  # label rollouts-pod-template-hash
    created: datetime
    step_index: int | None = None  # label step-index (Step runs)
    terminate: bool = False  # spec.terminate
    revision: int = 0  # annotation rollout.argoproj.io/revision


@dataclass(frozen=True)
class ExperimentTemplateState:
    """One entry of an Experiment's `status.templateStatuses`, as the Rollout's traffic routing reads it."""

    name: str
    service_name: str = ""
    pod_template_hash: str = ""


@dataclass(frozen=True)
class ExperimentState:
    """An Experiment owned by the Rollout (its experiment steps), reduced to what the Rollout's pass reads."""

    name: str
    phase: str  # '' until the Experiment controller has looked at it
    message: str = ""
    terminate: bool = False
    templates: tuple[ExperimentTemplateState, ...] = ()
    created: datetime | None = None
    pod_template_hash: str | None = None  # its rollouts-pod-template-hash label (None: the label is absent)


@dataclass(frozen=True)
class ServiceState:
    name: str
    selector: Mapping[str, str]
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WorkloadState:
    """The object of spec.workloadRef (`rollouts.strategy.workload`), reduced to what `decide` reads."""

    kind: str
    name: str
    generation: int
    replicas: int | None  # spec.replicas of a Deployment (None for the other kinds)


@dataclass(frozen=True)
class PodState:
    """A pod of one of the Rollout's ReplicaSets, as the restarter reads it (`rollouts.strategy.restarts`)."""

    name: str
    created: datetime
    ready_since: datetime | None  # lastTransitionTime of the Ready condition when it is True; None: not ready
    deleting: bool = False


@dataclass(frozen=True)
class Observed:
    """Everything `decide` may look at: the typed Rollout, and its wire JSON where the wire form is the point
    (the pod-template hash is computed over it; the status diff compares it)."""

    rollout: Rollout
    rollout_raw: JSON
    replica_sets: tuple[ReplicaSetState, ...] = ()
    analysis_runs: tuple[AnalysisRunState, ...] = ()
    services: Mapping[str, ServiceState] = field(default_factory=dict)  # by name; missing = does not exist
    # Traffic-router objects by (apiVersion, kind, namespace, name), as wire JSON; missing = does not exist.
    routers: Mapping[tuple[str, str, str, str], JSON] = field(default_factory=dict)
    # Analysis templates that exist: ("AnalysisTemplate", ns, name) / ("ClusterAnalysisTemplate", "", name) -> spec JSON
    templates: Mapping[tuple[str, str, str], JSON] = field(default_factory=dict)
    # The controller's --allow-cross-namespace-routing: may the Rollout name router objects in other namespaces?
    cross_namespace_routing: bool = False
    # Set by whoever decides again on the same spec, metadata, Services and templates with only the status
    # changed (`rollouts.controller.reconciling.settle`), from the `Plan.spec_valid` of the decision before:
    # the spec is known to pass validation, and `decide` does not walk it again.
    spec_valid: bool = False
    # The object of spec.workloadRef (`rollouts.strategy.workload`), when the Rollout has one and it was found;
    # `rollout` and `rollout_raw` then carry its pod template.
    workload: WorkloadState | None = None
    # The pods of the Rollout's ReplicaSets, read only while a restart (spec.restartAt) is under way; None: not read.
    pods: tuple[PodState, ...] | None = None
    # The Experiments the Rollout owns (created by its experiment steps), oldest first.
    experiments: tuple[ExperimentState, ...] = ()


# ---------------------------------------------------------------------------------------------------------------
# What the controller must do
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateReplicaSet:
    name: str  # <rollout>-<pod-template-hash>
    pod_template_hash: str
    replicas: int
    template: JSON  # pod template with the rollouts-pod-template-hash label added
    selector: JSON  # spec.selector with matchLabels[rollouts-pod-template-hash] added
    labels: Mapping[str, str]
    annotations: Mapping[str, str]  # rollout.argoproj.io/revision, …
    min_ready_seconds: int = 0


@dataclass(frozen=True)
class ScaleReplicaSet:
    name: str
    replicas: int
    # annotations to set (str) or remove (None) in the same write, e.g. scale-down-deadline
    annotations: Mapping[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class UpdateReplicaSetMeta:
    """Labels/annotations only (revision bump on rollback, scale-down-deadline set/cleared), no scaling."""

    name: str
    labels: Mapping[str, str | None] = field(default_factory=dict)
    annotations: Mapping[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class UpdateReplicaSetSpec:
    """`syncReplicaSetRevision`'s update of the new ReplicaSet: spec.minReadySeconds and the pod template's
    affinity (None: none), both as the Rollout now wants them."""

    name: str
    min_ready_seconds: int
    affinity: JSON | None
    had_affinity: bool  # the template has an affinity now (a JSON patch removes only what exists)


@dataclass(frozen=True)
class DeleteReplicaSet:
    name: str


@dataclass(frozen=True)
class ScaleDeployment:
    """spec.replicas of the Deployment a workloadRef names (its `scaleDown`: `rollouts.strategy.workload`)."""

    name: str
    replicas: int


@dataclass(frozen=True)
class PodMetadata:
    """Ephemeral labels and annotations (`rollouts.strategy.ephemeral`)."""

    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SyncPodMetadata:
    """Ephemeral metadata onto a ReplicaSet and its pods, in place: the template's labels/annotations to set (str)
    or remove (None), then each pod of the ReplicaSet synced from `existing` (what was injected before) to
    `desired` (when `pods`), then the record `rollout.argoproj.io/ephemeral-metadata` set to `record` (None:
    removed)."""

    replica_set: str
    pod_template_hash: str
    labels: Mapping[str, str | None]
    annotations: Mapping[str, str | None]
    record: str | None
    existing: PodMetadata | None
    desired: PodMetadata | None
    pods: bool


@dataclass(frozen=True)
class CreateExperiment:
    """An Experiment owned by the Rollout (`body`: its labels, annotations and spec); a name taken by another
    object is retried as `<name>-1`, `<name>-2`, … (the status then names the one created)."""

    name: str
    body: JSON


@dataclass(frozen=True)
class TerminateExperiment:
    name: str


@dataclass(frozen=True)
class DeleteExperiment:
    name: str


@dataclass(frozen=True)
class EvictPod:
    """Evict a pod older than spec.restartAt (policy/v1 Eviction, so PodDisruptionBudgets are respected)."""

    name: str


@dataclass(frozen=True)
class SetServiceSelector:
    """Point `service` at pods with rollouts-pod-template-hash=`pod_template_hash` (annotated managed-by)."""

    service: str
    pod_template_hash: str
    rollout: str


@dataclass(frozen=True)
class CreateService:
    """A Service owned by the object being reconciled (an Experiment template's), selecting `selector`."""

    name: str
    selector: Mapping[str, str]
    ports: tuple[JSON, ...]
    annotations: Mapping[str, str]


@dataclass(frozen=True)
class DeleteService:
    name: str


@dataclass(frozen=True)
class CreateAnalysisRun:
    name: str
    spec: JSON  # AnalysisRun spec wire JSON (metrics, args resolved where possible, dryRun, …)
    labels: Mapping[str, str]
    annotations: Mapping[str, str]


@dataclass(frozen=True)
class TerminateAnalysisRun:
    name: str


@dataclass(frozen=True)
class DeleteAnalysisRun:
    name: str


@dataclass(frozen=True)
class EmitEvent:
    type: Literal["Normal", "Warning"]
    reason: str
    message: str


Action = (
    CreateReplicaSet
    | ScaleReplicaSet
    | UpdateReplicaSetMeta
    | UpdateReplicaSetSpec
    | DeleteReplicaSet
    | ScaleDeployment
    | SyncPodMetadata
    | CreateExperiment
    | TerminateExperiment
    | DeleteExperiment
    | EvictPod
    | SetServiceSelector
    | CreateService
    | DeleteService
    | EditRouter
    | CreateAnalysisRun
    | TerminateAnalysisRun
    | DeleteAnalysisRun
    | EmitEvent
)


@dataclass(frozen=True)
class CompletedAttempt:
    """A rollout attempt that ended in this pass (`status.duration`), for the duration histograms.

    `status` is Argo's CompletionStatus (Promoted, FastPromoted, Aborted, Superseded, RolledBack, FastRolledBack).
    The controller observes it once the status write that records the end has succeeded (or had nothing to
    write), as Argo's emitPendingRolloutDuration does, so a refused write is not counted twice.
    """

    status: str
    total_seconds: float  # finishedAt − rolloutStartedAt
    manual_pause_seconds: float  # totalManualPauseDurationSeconds

    @property
    def progression_seconds(self) -> float:
        """Time spent progressing: the total minus the time waiting on people."""
        return self.total_seconds - self.manual_pause_seconds


@dataclass(frozen=True)
class Plan:
    """The decision of one pass. `new_status` is the complete desired `.status` (wire JSON)."""

    new_status: JSON
    actions: tuple[Action, ...] = ()
    requeue_after: float | None = None  # seconds; None = only on the next event or resync
    completed: tuple[CompletedAttempt, ...] = ()  # attempts that ended in this pass (status.duration)
    spec_valid: bool = False  # the spec passed validation against the observed Services and templates
    # Annotations of the Rollout itself to write before its status (the workloadRef's generation)
    rollout_annotations: Mapping[str, str] = field(default_factory=dict)
