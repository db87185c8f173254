"""Shared wire types of the Rollout models: times, Go omitempty structs, metadata, analysis references.

Part of `rollouts.models` (import from there); Argo's names and defaults are in `rollouts.models.vocabulary`.
Argo sources: `pkg/apis/rollouts/v1alpha1/types.go`,
`utils/defaults/defaults.go` (docs/semantics/objects.md#rollout-spec).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
)

from analysis.wire import WireModel, format_time
from rollouts.models.scalars import Bool, Int32

__all__ = [
    "AnalysisRunArgument",
    "AnalysisRunMetadata",
    "AnalysisTemplateRef",
    "ArgumentValueFrom",
    "DryRun",
    "FieldRef",
    "GenerationString",
    "KubeTime",
    "LabelSelector",
    "LabelSelectorRequirement",
    "MeasurementRetention",
    "ObjectMeta",
    "PodTemplateMetadata",
    "RolloutAnalysis",
    "RolloutAnalysisBackground",
]


# ---------------------------------------------------------------------------------------------------------------
# Shared field types
# ---------------------------------------------------------------------------------------------------------------


def _parse_time(value: Any) -> Any:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value.endswith("Z"):
        return value[:-1] + "+00:00"
    return value


KubeTime = Annotated[datetime, BeforeValidator(_parse_time), PlainSerializer(format_time, return_type=str)]
"""metav1.Time: RFC 3339 on the wire, whole seconds, UTC (``Z``); a `datetime` in Python."""


def _to_str(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


GenerationString = Annotated[str, BeforeValidator(_to_str)]
"""`status.observedGeneration` is a string in Argo; a number written by another tool is accepted."""


class _GoStruct(WireModel):
    """A status struct serialised like Go's encoding/json with ``omitempty``.

    Zero scalars (False, 0, "") and empty lists are dropped, except the wire names in `_always` (fields whose
    Go tag has no omitempty). Nested structs are always written (Go never omits a non-pointer struct).
    """

    _always: ClassVar[frozenset[str]] = frozenset()

    @model_serializer(mode="wrap")
    def _omit_empty(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        data = handler(self)
        if not isinstance(data, dict):
            return data
        keep: set[str] = set()
        for name, fld in type(self).model_fields.items():
            wire = fld.alias or name
            if wire in self._always or name in self._always:
                keep.update((name, wire))
        return {
            k: v
            for k, v in data.items()
            if k in keep or not (v is False or v == "" or v == [] or (type(v) is int and v == 0))
        }


# ---------------------------------------------------------------------------------------------------------------
# Metadata and selectors
# ---------------------------------------------------------------------------------------------------------------


class ObjectMeta(WireModel):
    """metav1.ObjectMeta: the fields the controller reads; every other key is kept as written."""

    model_config = ConfigDict(extra="allow")

    name: str | None = None
    namespace: str | None = None
    generate_name: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    creation_timestamp: str | None = None
    deletion_timestamp: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None


class LabelSelectorRequirement(WireModel):
    key: str
    operator: str
    values: list[str] | None = None


class LabelSelector(WireModel):
    match_labels: dict[str, str] | None = None
    match_expressions: list[LabelSelectorRequirement] | None = None


class PodTemplateMetadata(WireModel):
    """Ephemeral labels/annotations (canaryMetadata, stableMetadata, previewMetadata, activeMetadata)."""

    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None


AnalysisRunMetadata = PodTemplateMetadata


# ---------------------------------------------------------------------------------------------------------------
# Analysis references (docs/semantics/objects.md#rollout-spec "Analysis args on a Rollout")
# ---------------------------------------------------------------------------------------------------------------


class AnalysisTemplateRef(WireModel):
    template_name: str
    cluster_scope: Bool | None = None

    @property
    def is_cluster_scope(self) -> bool:
        return bool(self.cluster_scope)


class FieldRef(WireModel):
    field_path: str


class ArgumentValueFrom(WireModel):
    """`podTemplateHashValue`: ``Stable`` or ``Latest``; `fieldRef`: a path into the Rollout (docs/semantics/objects.md#rollout-spec)."""

    pod_template_hash_value: Literal["Stable", "Latest"] | None = None
    field_ref: FieldRef | None = None


class AnalysisRunArgument(WireModel):
    name: str
    value: str | None = None
    value_from: ArgumentValueFrom | None = None


class DryRun(WireModel):
    metric_name: str


class MeasurementRetention(WireModel):
    metric_name: str
    limit: Int32


class RolloutAnalysis(WireModel):
    """An analysis step, blue-green pre/post-promotion analysis: templates + args (+ dry-run, retention)."""

    templates: list[AnalysisTemplateRef] | None = None
    args: list[AnalysisRunArgument] | None = None
    dry_run: list[DryRun] | None = None
    measurement_retention: list[MeasurementRetention] | None = None
    analysis_run_metadata: AnalysisRunMetadata | None = None


class RolloutAnalysisBackground(RolloutAnalysis):
    """`strategy.canary.analysis`: runs in the background from `startingStep` (docs/semantics/controller.md#rollout-analysis)."""

    starting_step: Int32 | None = None
