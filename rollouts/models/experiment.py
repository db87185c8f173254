"""Experiment (argoproj.io/v1alpha1), as Argo's `experiment_types.go` defines it: pod templates run side by side
for a while, judged by AnalysisRuns. docs/semantics/experiments.md#experiment-templates.

Part of `rollouts.models`. The pod templates are kept raw (`RawObject`): they are hashed as written.
"""

from __future__ import annotations

from pydantic import Field

from analysis.wire import RawObject, WireModel
from rollouts.models.common import LabelSelector, ObjectMeta, PodTemplateMetadata
from rollouts.models.scalars import Bool, Int32

__all__ = [
    "Experiment",
    "ExperimentAnalysisTemplateRef",
    "ExperimentSpec",
    "TemplateService",
    "TemplateSpec",
]

DEFAULT_EXPERIMENT_PROGRESS_DEADLINE_SECONDS = 600  # utils/defaults DefaultProgressDeadlineSeconds
DEFAULT_EXPERIMENT_SCALE_DOWN_DELAY_SECONDS = 30  # utils/defaults DefaultScaleDownDelaySeconds


class TemplateService(WireModel):
    """`spec.templates[].service`: a Service for the template's pods, named `name` or like the ReplicaSet."""

    name: str | None = None


class TemplateSpec(WireModel):
    name: str = ""
    replicas: Int32 | None = None
    min_ready_seconds: Int32 | None = None
    selector: LabelSelector | None = None
    template: RawObject = Field(default_factory=dict)
    service: TemplateService | None = None

    def replicas_or_default(self) -> int:
        return 1 if self.replicas is None else self.replicas


class ArgumentRef(WireModel):
    name: str
    value: str | None = None
    value_from: RawObject | None = None


class ExperimentAnalysisTemplateRef(WireModel):
    name: str = ""
    template_name: str = ""
    cluster_scope: Bool | None = None
    args: list[ArgumentRef] | None = None
    required_for_completion: Bool | None = None


class MetricName(WireModel):
    metric_name: str = ""


class MeasurementRetentionRef(WireModel):
    metric_name: str = ""
    limit: Int32 = 0


class ExperimentSpec(WireModel):
    templates: list[TemplateSpec] = Field(default_factory=list)
    duration: str | None = None
    progress_deadline_seconds: Int32 | None = None
    terminate: Bool | None = None
    analyses: list[ExperimentAnalysisTemplateRef] | None = None
    scale_down_delay_seconds: Int32 | None = None
    dry_run: list[MetricName] | None = None
    measurement_retention: list[MeasurementRetentionRef] | None = None
    analysis_run_metadata: PodTemplateMetadata | None = None

    def progress_deadline_seconds_or_default(self) -> int:
        p = self.progress_deadline_seconds
        return DEFAULT_EXPERIMENT_PROGRESS_DEADLINE_SECONDS if p is None else p

    def scale_down_delay_seconds_or_default(self) -> int:
        d = self.scale_down_delay_seconds
        return DEFAULT_EXPERIMENT_SCALE_DOWN_DELAY_SECONDS if d is None else d


class Experiment(WireModel):
    api_version: str = "argoproj.io/v1alpha1"
    kind: str = "Experiment"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: ExperimentSpec = Field(default_factory=ExperimentSpec)
    status: RawObject = Field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.metadata.name or ""

    @property
    def namespace(self) -> str:
        return self.metadata.namespace or "default"
