"""Rollout wire models: `argoproj.io/v1alpha1` Rollout spec and status exactly as Argo spells them.

Bottom of the pipeline, next to `analysis.models`: the controller reads Rollouts from the API server into
`Rollout`, the pure strategy core (`rollouts.strategy`) decides on these values, the plugin's `lint` and
`rollouts plan` load manifests into them. Field names are Argo's (`pkg/apis/rollouts/v1alpha1/types.go`,
docs/semantics/objects.md#rollout-spec, docs/semantics/objects.md#rollout-status); Python attributes are snake_case, the wire is camelCase; unknown fields are ignored.

How to use (for the strategy, controller and plugin code):

* ``ro = Rollout.from_wire(obj)``; ``ro.to_wire()`` gives the JSON back. A manifest read and written back is
  unchanged: every optional spec field defaults to ``None`` (its Argo default comes from the helper methods,
  e.g. ``ro.spec.replicas_or_default()``), and ``status`` is emitted only when it was read or set.
* The pod template is kept raw (``spec.template: dict``) because it must round-trip byte-for-byte and is hashed.
* Status models follow Go's ``omitempty``: zero scalars and empty lists are not written, except where Argo's
  struct has no ``omitempty`` (``weights.canary.weight``, condition fields, …). Times are `datetime` (UTC) and
  are written as RFC 3339 seconds (``2026-01-02T03:04:05Z``), like ``metav1.Time``.
* Odd Argo names are kept on the wire: ``status.HPAReplicas`` (``hpa_replicas``), ``status.stableRS``
  (``stable_rs``), ``status.observedGeneration`` is a *string*.
* Pauses: ``step.pause.duration_seconds()`` is Argo's ``RolloutPause.DurationSeconds`` (−1 = unparseable);
  ``step.pause.is_indefinite`` is True when no duration is given. ``pause_duration_seconds(wire_value)`` is the
  same rule on wire JSON (the strategy core uses it).
* Integers are Go's ``int32`` (``Int32``): a bool, a numeric string or a value out of range does not load.

Layout: `vocabulary` (Argo's labels, annotations, defaults, condition reasons, phases, times), `scalars` (int32,
int-or-string and bool read strictly), `common` (times, metadata, analysis references), `steps` (canary steps),
`routing` (trafficRouting), `spec` (strategies, RolloutSpec), `status` (RolloutStatus); import the models from
`rollouts.models` and Argo's names from `rollouts.models.vocabulary`.

Validation (Argo's rules and messages) lives in `rollouts.validation`; replica arithmetic in
`rollouts.strategy.counts`; router edits in `rollouts.traffic`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from pydantic import Field, ValidationError, ValidatorFunctionWrapHandler, field_validator

from analysis.wire import WireModel
from rollouts.models.common import (
    AnalysisRunArgument,
    AnalysisRunMetadata,
    AnalysisTemplateRef,
    ArgumentValueFrom,
    DryRun,
    FieldRef,
    GenerationString,
    KubeTime,
    LabelSelector,
    LabelSelectorRequirement,
    MeasurementRetention,
    ObjectMeta,
    PodTemplateMetadata,
    RolloutAnalysis,
    RolloutAnalysisBackground,
)
from rollouts.models.routing import (
    ALBTrafficRouting,
    AmbassadorTrafficRouting,
    ApisixRoute,
    ApisixTrafficRouting,
    AppMeshTrafficRouting,
    AppMeshVirtualNodeGroup,
    AppMeshVirtualNodeReference,
    AppMeshVirtualService,
    IstioDestinationRule,
    IstioTrafficRouting,
    IstioVirtualService,
    ManagedRoute,
    NginxTrafficRouting,
    RolloutTrafficRouting,
    SMITrafficRouting,
    StickinessConfig,
    TCPRoute,
    TLSRoute,
    TraefikTrafficRouting,
)
from rollouts.models.scalars import INT32_MAX, INT32_MIN, Bool, Int32, Int32OrString, Int64
from rollouts.models.spec import (
    AnalysisRunStrategy,
    AntiAffinity,
    BlueGreenStrategy,
    CanaryStrategy,
    ObjectRef,
    PingPongSpec,
    PreferredDuringScheduling,
    ReplicaProgressThreshold,
    RequiredDuringScheduling,
    RollbackWindowSpec,
    RolloutSpec,
    RolloutStrategy,
)
from rollouts.models.status import (
    ALBStatus,
    AwsResourceRef,
    BlueGreenStatus,
    CanaryStatus,
    PauseCondition,
    RolloutAnalysisRunStatus,
    RolloutCondition,
    RolloutDurationStatus,
    RolloutStatus,
    StepPluginStatus,
    TrafficWeights,
    WeightDestination,
)
from rollouts.models.steps import (
    STEP_KINDS,
    CanaryStep,
    HeaderRoutingMatch,
    PluginStep,
    RolloutExperimentStep,
    RolloutExperimentStepAnalysisTemplateRef,
    RolloutExperimentTemplate,
    RolloutPause,
    RouteMatch,
    SetCanaryScale,
    SetHeaderRoute,
    SetMirrorRoute,
    StringMatch,
    TemplateService,
    pause_duration_seconds,
)
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
    MANAGED_BY_ANNOTATION,
    POD_TEMPLATE_HASH_LABEL,
    SCALE_DOWN_DEADLINE_ANNOTATION,
)

__all__ = [
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
    "INT32_MAX",
    "INT32_MIN",
    "MANAGED_BY_ANNOTATION",
    "POD_TEMPLATE_HASH_LABEL",
    "SCALE_DOWN_DEADLINE_ANNOTATION",
    "STEP_KINDS",
    "ALBStatus",
    "ALBTrafficRouting",
    "AmbassadorTrafficRouting",
    "AnalysisRunArgument",
    "AnalysisRunMetadata",
    "AnalysisRunStrategy",
    "AnalysisTemplateRef",
    "AntiAffinity",
    "ApisixRoute",
    "ApisixTrafficRouting",
    "AppMeshTrafficRouting",
    "AppMeshVirtualNodeGroup",
    "AppMeshVirtualNodeReference",
    "AppMeshVirtualService",
    "ArgumentValueFrom",
    "AwsResourceRef",
    "BlueGreenStatus",
    "BlueGreenStrategy",
    "Bool",
    "CanaryStatus",
    "CanaryStep",
    "CanaryStrategy",
    "DryRun",
    "FieldRef",
    "GenerationString",
    "HeaderRoutingMatch",
    "Int32",
    "Int32OrString",
    "Int64",
    "IstioDestinationRule",
    "IstioTrafficRouting",
    "IstioVirtualService",
    "KubeTime",
    "LabelSelector",
    "LabelSelectorRequirement",
    "ManagedRoute",
    "MeasurementRetention",
    "NginxTrafficRouting",
    "ObjectMeta",
    "ObjectRef",
    "PauseCondition",
    "PingPongSpec",
    "PluginStep",
    "PodTemplateMetadata",
    "PreferredDuringScheduling",
    "ReplicaProgressThreshold",
    "RequiredDuringScheduling",
    "RollbackWindowSpec",
    "Rollout",
    "RolloutAnalysis",
    "RolloutAnalysisBackground",
    "RolloutAnalysisRunStatus",
    "RolloutCondition",
    "RolloutDurationStatus",
    "RolloutExperimentStep",
    "RolloutExperimentStepAnalysisTemplateRef",
    "RolloutExperimentTemplate",
    "RolloutPause",
    "RolloutSpec",
    "RolloutStatus",
    "RolloutStrategy",
    "RolloutTrafficRouting",
    "RouteMatch",
    "SMITrafficRouting",
    "SetCanaryScale",
    "SetHeaderRoute",
    "SetMirrorRoute",
    "StepPluginStatus",
    "StickinessConfig",
    "StringMatch",
    "TCPRoute",
    "TLSRoute",
    "TemplateService",
    "TraefikTrafficRouting",
    "TrafficWeights",
    "WeightDestination",
    "pause_duration_seconds",
]


# ---------------------------------------------------------------------------------------------------------------
# The Rollout
# ---------------------------------------------------------------------------------------------------------------


_EMPTY_STATUS = RolloutStatus().to_wire()


class Rollout(WireModel):
    """An `argoproj.io/v1alpha1` Rollout. ``status`` is always present in Python (empty when not read)."""

    api_version: str = "argoproj.io/v1alpha1"
    kind: str = "Rollout"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: RolloutSpec = Field(default_factory=RolloutSpec)
    status: RolloutStatus = Field(default_factory=RolloutStatus)

    @field_validator("status", mode="wrap")
    @classmethod
    def _readable_status(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> RolloutStatus:
        """The status is the controller's own record, rewritten by every pass from what it observes: a field some
        other writer garbled is left out of the model (the pass writes it back whole) instead of making the
        whole Rollout unreadable."""
        try:
            return cast(RolloutStatus, handler(value))
        except ValidationError as e:
            if not isinstance(value, Mapping):
                return RolloutStatus()
            bad = {err["loc"][0] for err in e.errors() if err["loc"]}
            try:
                return cast(RolloutStatus, handler({k: v for k, v in value.items() if k not in bad}))
            except ValidationError:
                return RolloutStatus()

    def to_wire(self) -> dict[str, Any]:
        """Wire JSON; ``status`` only when it was read, set or changed (so a manifest round-trips unchanged)."""
        data = super().to_wire()
        if "status" not in self.model_fields_set and data.get("status") == _EMPTY_STATUS:
            data.pop("status", None)
        return data

    @property
    def name(self) -> str:
        return self.metadata.name or ""

    @property
    def namespace(self) -> str:
        return self.metadata.namespace or ""

    @property
    def is_canary(self) -> bool:
        return self.spec.strategy.canary is not None

    @property
    def is_blue_green(self) -> bool:
        return self.spec.strategy.blue_green is not None
