"""Rollout wire models: `argoproj.io/v1alpha1` Rollout spec and status exactly as Argo spells them.

Bottom of the pipeline, next to `analysis.models`: the controller reads Rollouts from the API server into
`Rollout`, the pure strategy core (`rollouts.strategy`) decides on these values, the plugin's `lint` and
`rollouts plan` load manifests into them. Field names are Argo's (`pkg/apis/rollouts/v1alpha1/types.go`,
reference §a.1–a.2); Python attributes are snake_case, the wire is camelCase; unknown fields are ignored.

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
  ``step.pause.is_indefinite`` is True when no duration is given.

Validation (Argo's rules and messages) lives in `rollouts.validation`; replica arithmetic in
`rollouts.strategy.replicas`; router edits in `rollouts.traffic`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
)

from analysis.durations import DurationError, parse_go_duration_ns
from analysis.wire import IntOrString, RawObject, WireModel

__all__ = [
    "DEFAULT_ABORT_SCALE_DOWN_DELAY_SECONDS",
    "DEFAULT_MAX_SURGE",
    "DEFAULT_MAX_UNAVAILABLE",
    "DEFAULT_PROGRESS_DEADLINE_SECONDS",
    "DEFAULT_REPLICAS",
    "DEFAULT_REVISION_HISTORY_LIMIT",
    "DEFAULT_RUN_HISTORY_LIMIT",
    "DEFAULT_SCALE_DOWN_DELAY_SECONDS",
    "POD_TEMPLATE_HASH_LABEL",
    "SCALE_DOWN_DEADLINE_ANNOTATION",
    "Rollout",
    "RolloutSpec",
    "RolloutStatus",
]

# utils/defaults/defaults.go
DEFAULT_REPLICAS = 1
DEFAULT_REVISION_HISTORY_LIMIT = 10
DEFAULT_RUN_HISTORY_LIMIT = 5
DEFAULT_MAX_SURGE = "25"  # a string: always read as a percentage (§a.1)
DEFAULT_MAX_UNAVAILABLE = "25"
DEFAULT_PROGRESS_DEADLINE_SECONDS = 600
DEFAULT_SCALE_DOWN_DELAY_SECONDS = 30
DEFAULT_ABORT_SCALE_DOWN_DELAY_SECONDS = 30
DEFAULT_MAX_TRAFFIC_WEIGHT = 100
DEFAULT_NGINX_ANNOTATION_PREFIX = "nginx.ingress.kubernetes.io"

POD_TEMPLATE_HASH_LABEL = "rollouts-pod-template-hash"
SCALE_DOWN_DEADLINE_ANNOTATION = "scale-down-deadline"
MANAGED_BY_ANNOTATION = "argo-rollouts.argoproj.io/managed-by-rollouts"


# ---------------------------------------------------------------------------------------------------------------
# Shared field types
# ---------------------------------------------------------------------------------------------------------------


def _parse_time(value: Any) -> Any:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value.endswith("Z"):
        return value[:-1] + "+00:00"
    return value


def _format_time(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


KubeTime = Annotated[datetime, BeforeValidator(_parse_time), PlainSerializer(_format_time, return_type=str)]
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
# Analysis references (§a.1 "Analysis args on a Rollout")
# ---------------------------------------------------------------------------------------------------------------


class AnalysisTemplateRef(WireModel):
    template_name: str
    cluster_scope: bool | None = None

    @property
    def is_cluster_scope(self) -> bool:
        return bool(self.cluster_scope)


class FieldRef(WireModel):
    field_path: str


class ArgumentValueFrom(WireModel):
    """`podTemplateHashValue`: ``Stable`` or ``Latest``; `fieldRef`: a path into the Rollout (§a.1)."""

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
    limit: int


class RolloutAnalysis(WireModel):
    """An analysis step, blue-green pre/post-promotion analysis: templates + args (+ dry-run, retention)."""

    templates: list[AnalysisTemplateRef] | None = None
    args: list[AnalysisRunArgument] | None = None
    dry_run: list[DryRun] | None = None
    measurement_retention: list[MeasurementRetention] | None = None
    analysis_run_metadata: AnalysisRunMetadata | None = None


class RolloutAnalysisBackground(RolloutAnalysis):
    """`strategy.canary.analysis`: runs in the background from `startingStep` (§c.8)."""

    starting_step: int | None = None


# ---------------------------------------------------------------------------------------------------------------
# Canary steps
# ---------------------------------------------------------------------------------------------------------------


class RolloutPause(WireModel):
    """A pause step. ``duration``: int seconds, a numeric string, or a Go duration (``"30s"``, ``"1h"``)."""

    duration: IntOrString | None = None

    @property
    def is_indefinite(self) -> bool:
        """No duration: the rollout waits until promoted (§c.2)."""
        return self.duration is None

    def duration_seconds(self) -> int:
        """Argo's `RolloutPause.DurationSeconds()` (§a.1).

        >>> RolloutPause().duration_seconds(), RolloutPause(duration=30).duration_seconds()
        (0, 30)
        >>> RolloutPause(duration="30").duration_seconds(), RolloutPause(duration="1h").duration_seconds()
        (30, 3600)
        >>> RolloutPause(duration="1.9s").duration_seconds(), RolloutPause(duration="soon").duration_seconds()
        (1, -1)
        """
        d = self.duration
        if d is None:
            return 0
        if isinstance(d, int):
            return d
        text = d
        if _is_go_int(text):
            value = int(text)
            if -(2**31) <= value < 2**31:
                return value
            # Go: ParseInt out of range fails, then ParseDuration fails (no unit) → -1
            return -1
        try:
            ns = parse_go_duration_ns(text)
        except DurationError:
            return -1
        seconds = int(ns / 1_000_000_000)  # truncation toward zero, like int32(d.Seconds())
        return seconds if -(2**31) <= seconds < 2**31 else -1


def _is_go_int(text: str) -> bool:
    """strconv.ParseInt(s, 10, …) syntax: optional sign, ASCII digits, nothing else."""
    body = text[1:] if text[:1] in ("+", "-") else text
    return bool(body) and body.isascii() and body.isdigit()


class SetCanaryScale(WireModel):
    weight: int | None = None
    replicas: int | None = None
    match_traffic_weight: bool | None = None


class StringMatch(WireModel):
    exact: str | None = None
    prefix: str | None = None
    regex: str | None = None


class HeaderRoutingMatch(WireModel):
    header_name: str
    header_value: StringMatch | None = None


class SetHeaderRoute(WireModel):
    name: str | None = None
    match: list[HeaderRoutingMatch] | None = None


class RouteMatch(WireModel):
    method: StringMatch | None = None
    path: StringMatch | None = None
    headers: dict[str, StringMatch] | None = None


class SetMirrorRoute(WireModel):
    name: str
    match: list[RouteMatch] | None = None
    percentage: int | None = None


class TemplateService(WireModel):
    name: str | None = None


class RolloutExperimentTemplate(WireModel):
    name: str
    spec_ref: str  # "canary" | "stable"
    replicas: int | None = None
    metadata: PodTemplateMetadata | None = None
    selector: LabelSelector | None = None
    weight: int | None = None
    service: TemplateService | None = None


class RolloutExperimentStepAnalysisTemplateRef(WireModel):
    name: str
    template_name: str
    cluster_scope: bool | None = None
    args: list[AnalysisRunArgument] | None = None
    required_for_completion: bool | None = None


class RolloutExperimentStep(WireModel):
    templates: list[RolloutExperimentTemplate]
    duration: str | None = None
    analyses: list[RolloutExperimentStepAnalysisTemplateRef] | None = None
    dry_run: list[DryRun] | None = None
    analysis_run_metadata: AnalysisRunMetadata | None = None
    scale_down_delay_seconds: int | None = None


class PluginStep(WireModel):
    name: str
    config: Any = None


STEP_KINDS = (
    "setWeight",
    "pause",
    "experiment",
    "analysis",
    "setCanaryScale",
    "setHeaderRoute",
    "setMirrorRoute",
    "plugin",
)


class CanaryStep(WireModel):
    """One canary step: exactly one of the kinds is set (validated by `rollouts.validation`)."""

    set_weight: int | None = None
    pause: RolloutPause | None = None
    experiment: RolloutExperimentStep | None = None
    analysis: RolloutAnalysis | None = None
    set_canary_scale: SetCanaryScale | None = None
    set_header_route: SetHeaderRoute | None = None
    set_mirror_route: SetMirrorRoute | None = None
    plugin: PluginStep | None = None

    def kinds(self) -> list[str]:
        """Wire names of the kinds set on this step, in `STEP_KINDS` order (normally exactly one)."""
        values = (
            self.set_weight,
            self.pause,
            self.experiment,
            self.analysis,
            self.set_canary_scale,
            self.set_header_route,
            self.set_mirror_route,
            self.plugin,
        )
        return [kind for kind, value in zip(STEP_KINDS, values, strict=True) if value is not None]

    @property
    def kind(self) -> str:
        """The step's kind (``setWeight``, ``pause``, …); ``""`` for an empty step."""
        kinds = self.kinds()
        return kinds[0] if kinds else ""


# ---------------------------------------------------------------------------------------------------------------
# Traffic routing
# ---------------------------------------------------------------------------------------------------------------


class TLSRoute(WireModel):
    port: int | None = None
    sni_hosts: list[str] | None = None


class TCPRoute(WireModel):
    port: int | None = None


class IstioVirtualService(WireModel):
    """A VirtualService reference; ``name`` may be ``ns/name`` (§c.4)."""

    name: str
    routes: list[str] | None = None
    tls_routes: list[TLSRoute] | None = None
    tcp_routes: list[TCPRoute] | None = None


class IstioDestinationRule(WireModel):
    name: str
    canary_subset_name: str
    stable_subset_name: str
    additional_subset_names: list[str] | None = None


class IstioTrafficRouting(WireModel):
    virtual_service: IstioVirtualService | None = None
    destination_rule: IstioDestinationRule | None = None
    virtual_services: list[IstioVirtualService] | None = None

    def all_virtual_services(self) -> list[IstioVirtualService]:
        """`virtualService` (if set) followed by `virtualServices`."""
        out = [self.virtual_service] if self.virtual_service is not None else []
        return out + list(self.virtual_services or [])


class NginxTrafficRouting(WireModel):
    annotation_prefix: str | None = None
    stable_ingress: str | None = None
    stable_ingresses: list[str] | None = None
    additional_ingress_annotations: dict[str, str] | None = None
    canary_ingress_annotations: dict[str, str] | None = None

    def all_stable_ingresses(self) -> list[str]:
        out = [self.stable_ingress] if self.stable_ingress else []
        return out + [i for i in self.stable_ingresses or [] if i not in out]


class StickinessConfig(WireModel):
    enabled: bool
    duration_seconds: int


class ALBTrafficRouting(WireModel):
    ingress: str | None = None
    ingresses: list[str] | None = None
    service_port: int | None = None
    root_service: str | None = None
    annotation_prefix: str | None = None
    stickiness_config: StickinessConfig | None = None


class SMITrafficRouting(WireModel):
    root_service: str | None = None
    traffic_split_name: str | None = None


class AmbassadorTrafficRouting(WireModel):
    mappings: list[str]


class AppMeshVirtualService(WireModel):
    name: str
    routes: list[str] | None = None


class AppMeshVirtualNodeReference(WireModel):
    name: str


class AppMeshVirtualNodeGroup(WireModel):
    canary_virtual_node_ref: AppMeshVirtualNodeReference | None = None
    stable_virtual_node_ref: AppMeshVirtualNodeReference | None = None


class AppMeshTrafficRouting(WireModel):
    virtual_service: AppMeshVirtualService | None = None
    virtual_node_group: AppMeshVirtualNodeGroup | None = None


class TraefikTrafficRouting(WireModel):
    weighted_traefik_service_name: str


class ApisixRoute(WireModel):
    name: str
    rules: list[str] | None = None


class ApisixTrafficRouting(WireModel):
    route: ApisixRoute | None = None


class ManagedRoute(WireModel):
    name: str


class RolloutTrafficRouting(WireModel):
    istio: IstioTrafficRouting | None = None
    nginx: NginxTrafficRouting | None = None
    alb: ALBTrafficRouting | None = None
    smi: SMITrafficRouting | None = None
    ambassador: AmbassadorTrafficRouting | None = None
    app_mesh: AppMeshTrafficRouting | None = None
    traefik: TraefikTrafficRouting | None = None
    apisix: ApisixTrafficRouting | None = None
    plugins: dict[str, Any] | None = None
    managed_routes: list[ManagedRoute] | None = None
    max_traffic_weight: int | None = None

    def kinds(self) -> list[str]:
        """Wire names of the routers configured (``istio``, ``nginx``, …, ``plugins``)."""
        named = {
            "istio": self.istio,
            "nginx": self.nginx,
            "alb": self.alb,
            "smi": self.smi,
            "ambassador": self.ambassador,
            "appMesh": self.app_mesh,
            "traefik": self.traefik,
            "apisix": self.apisix,
        }
        out = [k for k, v in named.items() if v is not None]
        if self.plugins:
            out.append("plugins")
        return out

    def managed_route_names(self) -> list[str]:
        return [r.name for r in self.managed_routes or []]


# ---------------------------------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------------------------------


class PreferredDuringScheduling(WireModel):
    weight: int


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
    value: int


class CanaryStrategy(WireModel):
    canary_service: str | None = None
    stable_service: str | None = None
    steps: list[CanaryStep] | None = None
    traffic_routing: RolloutTrafficRouting | None = None
    max_unavailable: IntOrString | None = None
    max_surge: IntOrString | None = None
    analysis: RolloutAnalysisBackground | None = None
    anti_affinity: AntiAffinity | None = None
    canary_metadata: PodTemplateMetadata | None = None
    stable_metadata: PodTemplateMetadata | None = None
    scale_down_delay_seconds: int | None = None
    scale_down_delay_revision_limit: int | None = None
    abort_scale_down_delay_seconds: int | None = None
    dynamic_stable_scale: bool | None = None
    ping_pong: PingPongSpec | None = None
    min_pods_per_replica_set: int | None = None
    replica_progress_threshold: ReplicaProgressThreshold | None = None

    @property
    def step_list(self) -> list[CanaryStep]:
        return list(self.steps or [])


class BlueGreenStrategy(WireModel):
    active_service: str = ""
    preview_service: str | None = None
    preview_replica_count: int | None = None
    auto_promotion_enabled: bool | None = None
    auto_promotion_seconds: int | None = None
    max_unavailable: IntOrString | None = None
    scale_down_delay_seconds: int | None = None
    scale_down_delay_revision_limit: int | None = None
    pre_promotion_analysis: RolloutAnalysis | None = None
    anti_affinity: AntiAffinity | None = None
    post_promotion_analysis: RolloutAnalysis | None = None
    preview_metadata: PodTemplateMetadata | None = None
    active_metadata: PodTemplateMetadata | None = None
    abort_scale_down_delay_seconds: int | None = None


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
    revisions: int | None = None


class AnalysisRunStrategy(WireModel):
    successful_run_history_limit: int | None = None
    unsuccessful_run_history_limit: int | None = None


class RolloutSpec(WireModel):
    """`RolloutSpec` (§a.1). Optional fields are None when absent; the `*_or_default` methods give Argo's value."""

    replicas: int | None = None
    selector: LabelSelector | None = None
    template: RawObject | None = None
    workload_ref: ObjectRef | None = None
    min_ready_seconds: int | None = None
    rollback_window: RollbackWindowSpec | None = None
    strategy: RolloutStrategy = Field(default_factory=RolloutStrategy)
    revision_history_limit: int | None = None
    paused: bool | None = None
    progress_deadline_seconds: int | None = None
    progress_deadline_abort: bool | None = None
    restart_at: KubeTime | None = None
    analysis: AnalysisRunStrategy | None = None

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


# ---------------------------------------------------------------------------------------------------------------
# Status (§a.2)
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
    """`RolloutStatus` (§a.2). Written by the strategy core as a whole, diffed by the controller."""

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


# ---------------------------------------------------------------------------------------------------------------
# The Rollout
# ---------------------------------------------------------------------------------------------------------------


class Rollout(WireModel):
    """An `argoproj.io/v1alpha1` Rollout. ``status`` is always present in Python (empty when not read)."""

    api_version: str = "argoproj.io/v1alpha1"
    kind: str = "Rollout"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: RolloutSpec = Field(default_factory=RolloutSpec)
    status: RolloutStatus = Field(default_factory=RolloutStatus)

    def to_wire(self) -> dict[str, Any]:
        """Wire JSON; ``status`` only when it was read or set (so a manifest round-trips unchanged)."""
        data = super().to_wire()
        if "status" not in self.model_fields_set:
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
