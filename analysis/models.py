"""Analysis wire models: AnalysisTemplate, ClusterAnalysisTemplate, AnalysisRun and their parts (docs/semantics/objects.md#analysis-objects).

The first stage of the analysis pipeline: manifests are loaded into these models, `args` resolves them,
`schedule`/`assess` read and write the status parts, and `runner` drives a run. Field names follow Argo
(`analysis_types.go`) through camelCase aliases; unknown fields are ignored so newer manifests still load.
Providers we do not implement (kayenta, datadog, …) are accepted as opaque objects so templates that use them
still load and validate; running them yields an Error measurement.

Validation (docs/semantics/analysis.md#metric-validation, `utils/analysis/factory.go`) is `validate_metrics`, which raises `SpecError` with Argo's
message prefixed by the metric index, e.g. ``metrics[0]: failureLimit must be >= 0, or -1 to be disabled``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, ConfigDict, Field, PrivateAttr

from analysis.durations import DurationError, parse_go_duration
from analysis.judging import JUDGE_PLUGIN, JudgeError
from analysis.judging import parse_config as parse_judge_config
from analysis.provider_models import (
    PROVIDER_KINDS,
    Authentication,
    BasicAuthConfig,
    JobMetric,
    MetricProvider,
    OAuth2Config,
    PrometheusMetric,
    PrometheusRangeQuery,
    Sigv4Config,
    WebMetric,
    WebMetricHeader,
)
from analysis.wire import IntOrString, WireModel

__all__ = [
    "API_VERSION",
    "DEFAULT_CONSECUTIVE_ERROR_LIMIT",
    "DEFAULT_MEASUREMENT_HISTORY_LIMIT",
    "KINDS",
    "PROVIDER_KINDS",
    "AnalysisPhase",
    "AnalysisRun",
    "AnalysisRunSpec",
    "AnalysisRunStatus",
    "AnalysisTemplate",
    "AnalysisTemplateRef",
    "AnalysisTemplateSpec",
    "Argument",
    "Authentication",
    "BasicAuthConfig",
    "ClusterAnalysisTemplate",
    "DryRun",
    "FieldRef",
    "JobMetric",
    "Measurement",
    "MeasurementRetention",
    "Metric",
    "MetricProvider",
    "MetricResult",
    "OAuth2Config",
    "ObjectMeta",
    "PrometheusMetric",
    "PrometheusRangeQuery",
    "RunSummary",
    "SecretKeyRef",
    "Sigv4Config",
    "SpecError",
    "TTLStrategy",
    "Timestamp",
    "ValueFrom",
    "WebMetric",
    "WebMetricHeader",
    "metric_errors",
    "metric_problems",
    "validate_metric",
    "validate_metrics",
]

API_VERSION = "argoproj.io/v1alpha1"
DEFAULT_CONSECUTIVE_ERROR_LIMIT = 4  # docs/semantics/analysis.md#metric-status
DEFAULT_MEASUREMENT_HISTORY_LIMIT = 10  # docs/semantics/analysis.md#analysis-scheduling


class SpecError(ValueError):
    """An invalid analysis spec; the message names the field (``metrics[1]: count must be >= inconclusiveLimit``).

    `field`, when set, is the path of the field the message is about, relative to the metric (``count``,
    ``provider.prometheus.query``)."""

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.field = field


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


Timestamp = Annotated[datetime, AfterValidator(_utc)]
"""metav1.Time: RFC 3339 on the wire; naive datetimes are taken as UTC."""


class AnalysisPhase(StrEnum):
    """`AnalysisPhase` (docs/semantics/objects.md#analysis-objects); the last four are completed."""

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    ERROR = "Error"
    INCONCLUSIVE = "Inconclusive"

    @property
    def completed(self) -> bool:
        return self in _COMPLETED

    @classmethod
    def is_completed(cls, value: object) -> bool:
        """True when `value` (a phase as read from the wire, any type) spells one of the completed phases.

        >>> [AnalysisPhase.is_completed(v) for v in ("Inconclusive", "Running", None, ["Error"])]
        [True, False, False, False]
        """
        return isinstance(value, str) and value in cls._value2member_map_ and cls(value).completed


_COMPLETED = frozenset(
    {AnalysisPhase.SUCCESSFUL, AnalysisPhase.FAILED, AnalysisPhase.ERROR, AnalysisPhase.INCONCLUSIVE}
)


class ObjectMeta(WireModel):
    """The parts of Kubernetes ObjectMeta the engine reads; anything else is kept as written."""

    model_config = ConfigDict(extra="allow")

    name: str | None = None
    generate_name: str | None = None
    namespace: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    creation_timestamp: Timestamp | None = None
    owner_references: list[dict[str, Any]] | None = None


# --- arguments -----------------------------------------------------------------------------------


class SecretKeyRef(WireModel):
    name: str
    key: str


class FieldRef(WireModel):
    field_path: str


class ValueFrom(WireModel):
    secret_key_ref: SecretKeyRef | None = None
    field_ref: FieldRef | None = None


class Argument(WireModel):
    """A template argument; neither value nor valueFrom = a placeholder the caller must supply (docs/semantics/objects.md#analysis-objects)."""

    name: str
    value: str | None = None
    value_from: ValueFrom | None = None


# --- metric --------------------------------------------------------------------------------------


def _int_field(value: int | str | None, field: str, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, int):
        return value
    try:
        return int(value.strip())
    except ValueError:
        raise SpecError(f"{field} must be an integer, got {value!r}", field=field) from None


class Metric(WireModel):
    """One measurement definition (docs/semantics/objects.md#analysis-objects). Limits are IntOrString so ``{{args.x}}`` can fill them."""

    name: str
    interval: str | None = None
    initial_delay: str | None = None
    count: IntOrString | None = None
    success_condition: str | None = None
    failure_condition: str | None = None
    failure_limit: IntOrString | None = None
    inconclusive_limit: IntOrString | None = None
    consecutive_error_limit: IntOrString | None = None
    consecutive_success_limit: IntOrString | None = None
    provider: MetricProvider = Field(default_factory=MetricProvider)
    """Missing → empty, so validation says ``no provider specified`` as Argo does (docs/semantics/analysis.md#metric-validation)."""

    # Integer views with Argo's defaults. Raise SpecError for a string that is not an integer.
    def count_value(self) -> int:
        return _int_field(self.count, "count", 0)

    def failure_limit_value(self) -> int:
        return _int_field(self.failure_limit, "failureLimit", 0)

    def inconclusive_limit_value(self) -> int:
        return _int_field(self.inconclusive_limit, "inconclusiveLimit", 0)

    def consecutive_error_limit_value(self) -> int:
        return _int_field(
            self.consecutive_error_limit, "consecutiveErrorLimit", DEFAULT_CONSECUTIVE_ERROR_LIMIT
        )

    def consecutive_success_limit_value(self) -> int:
        return _int_field(self.consecutive_success_limit, "consecutiveSuccessLimit", 0)

    def effective_count(self) -> int | None:
        """docs/semantics/objects.md#analysis-objects EffectiveCount: count unset or 0 → 1 without interval, None (forever) with one; else count."""
        count = self.count_value()
        if count == 0:
            return None if self.interval else 1
        return count

    def interval_seconds(self) -> float | None:
        return parse_go_duration(self.interval).total_seconds() if self.interval else None

    def initial_delay_seconds(self) -> float | None:
        return parse_go_duration(self.initial_delay).total_seconds() if self.initial_delay else None


def _known(value: int | str | None, field: str, default: int) -> int | None:
    """An integer field's value, or None while it is still an ``{{args.x}}`` placeholder (a template's metric
    is checked again once its arguments are substituted)."""
    if isinstance(value, str) and "{{" in value:
        return None
    return _int_field(value, field, default)


def _placeholder(value: str | None) -> bool:
    return value is not None and "{{" in value


def validate_metric(metric: Metric) -> None:
    """docs/semantics/analysis.md#metric-validation `ValidateMetric`: raise SpecError with Argo's message (without the ``metrics[i]:`` prefix) and the
    field it is about (`SpecError.field`, relative to the metric).

    Rules whose inputs are still ``{{args.x}}`` placeholders are skipped (Argo reads them as 0). Beyond Argo
    (README, deliberate differences), because each lets a metric stop checking or flood its backend:
    a negative ``count`` (Argo stops after one measurement: `analysis/analysis.go` compares the count of
    measurements with it), an ``interval`` that is not positive (Argo measures again at once), a Prometheus
    metric without a query (Argo sends it and gets an error back each time), and a negative Prometheus
    ``timeout`` (Argo's message, from `metricproviders/prometheus/prometheus.go`, at each measurement).
    """
    count = _known(metric.count, "count", 0)
    failure_limit = _known(metric.failure_limit, "failureLimit", 0)
    success_limit = _known(metric.consecutive_success_limit, "consecutiveSuccessLimit", 0)
    inconclusive_limit = _known(metric.inconclusive_limit, "inconclusiveLimit", 0)
    error_limit = _known(metric.consecutive_error_limit, "consecutiveErrorLimit", 0)
    if success_limit is not None and success_limit < 0:
        raise SpecError("consecutiveSuccessLimit must be >= 0", field="consecutiveSuccessLimit")
    if failure_limit is not None and failure_limit < -1:
        raise SpecError("failureLimit must be >= 0, or -1 to be disabled", field="failureLimit")
    if success_limit == 0 and failure_limit == -1:
        raise SpecError(
            "failureLimit and consecutiveSuccessLimit cannot both be disabled", field="failureLimit"
        )
    if inconclusive_limit is not None and inconclusive_limit < 0:
        raise SpecError("inconclusiveLimit must be >= 0", field="inconclusiveLimit")
    if metric.consecutive_error_limit is not None and error_limit is not None and error_limit < 0:
        raise SpecError("consecutiveErrorLimit must be >= 0", field="consecutiveErrorLimit")
    if count is not None and count < 0:
        raise SpecError(
            "count must be >= 0 (a negative count would end the metric after one measurement)", field="count"
        )
    if count is not None and count > 0:
        if failure_limit is not None and success_limit is not None:
            if failure_limit >= 0 and count < failure_limit + success_limit:
                raise SpecError(
                    f"count ({count}) must be >= failureLimit + consecutiveSuccessLimit "
                    f"({failure_limit} + {success_limit}) if both >= 0",
                    field="count",
                )
            if failure_limit < 0 and count < success_limit:
                raise SpecError("count must be >= consecutiveSuccessLimit", field="count")
        if inconclusive_limit is not None and count < inconclusive_limit:
            raise SpecError("count must be >= inconclusiveLimit", field="count")
    if count is not None and count > 1 and not metric.interval:
        raise SpecError("interval must be specified when count > 1", field="interval")
    if metric.interval and not _placeholder(metric.interval):
        try:
            interval = parse_go_duration(metric.interval)
        except DurationError as e:
            raise SpecError(f"invalid interval string: {e}", field="interval") from None
        if interval.total_seconds() <= 0:
            raise SpecError(
                f'interval must be greater than 0, got "{metric.interval}" (it would measure without pause)',
                field="interval",
            )
    if metric.initial_delay and not _placeholder(metric.initial_delay):
        try:
            parse_go_duration(metric.initial_delay)
        except DurationError as e:
            raise SpecError(f"invalid startDelay string: {e}", field="initialDelay") from None
    kinds = metric.provider.kinds()
    if not kinds:
        raise SpecError("no provider specified", field="provider")
    if len(kinds) > 1:
        raise SpecError("multiple providers specified", field="provider")
    prometheus = metric.provider.prometheus
    if prometheus is not None:
        if not (prometheus.query or "").strip():
            raise SpecError(
                "prometheus query must be specified (the PromQL expression to evaluate)",
                field="provider.prometheus.query",
            )
        if prometheus.timeout is not None and prometheus.timeout < 0:
            raise SpecError("prometheus timeout should not be negative", field="provider.prometheus.timeout")
    judge = (metric.provider.plugin or {}).get(JUDGE_PLUGIN)
    if judge is not None and "{{" not in json.dumps(judge, default=str):  # checked again once args are in
        try:
            parse_judge_config(judge)
        except JudgeError as e:
            raise SpecError(f"judge: {e}", field=f"provider.plugin.{JUDGE_PLUGIN}") from None


def metric_problems(metrics: Sequence[Metric], path: str = "metrics") -> list[tuple[str, str]]:
    """Every docs/semantics/analysis.md#metric-validation problem as (field path, message), one per metric: ``("metrics[0].count", "count must …")``."""
    problems: list[tuple[str, str]] = []
    seen: set[str] = set()
    for i, metric in enumerate(metrics):
        where = f"{path}[{i}]"
        if metric.name in seen:
            problems.append((f"{where}.name", f"duplicate name '{metric.name}'"))
            continue
        seen.add(metric.name)
        try:
            validate_metric(metric)
        except SpecError as e:
            problems.append((f"{where}.{e.field}" if e.field else where, str(e)))
    return problems


def metric_errors(metrics: Sequence[Metric]) -> list[str]:
    """Every docs/semantics/analysis.md#metric-validation problem, one message per metric (Argo stops at the first; linting wants them all)."""
    if not metrics:
        return ["no metrics specified"]
    errors: list[str] = []
    seen: set[str] = set()
    for i, metric in enumerate(metrics):
        if metric.name in seen:
            errors.append(f"metrics[{i}]: duplicate name '{metric.name}'")
            continue
        seen.add(metric.name)
        try:
            validate_metric(metric)
        except SpecError as e:
            errors.append(f"metrics[{i}]: {e}")
    return errors


def validate_metrics(metrics: Sequence[Metric]) -> None:
    """docs/semantics/analysis.md#metric-validation `ValidateMetrics`: raise SpecError with the first problem, e.g. ``metrics[0]: no provider specified``."""
    errors = metric_errors(metrics)
    if errors:
        raise SpecError(errors[0])


# --- templates -----------------------------------------------------------------------------------


class DryRun(WireModel):
    metric_name: str
    """A Go regular expression matched unanchored against metric names (docs/semantics/objects.md#analysis-objects)."""


class MeasurementRetention(WireModel):
    metric_name: str
    limit: int


class AnalysisTemplateRef(WireModel):
    template_name: str
    cluster_scope: bool | None = None


class AnalysisTemplateSpec(WireModel):
    metrics: list[Metric] = Field(default_factory=list)
    args: list[Argument] | None = None
    dry_run: list[DryRun] | None = None
    measurement_retention: list[MeasurementRetention] | None = None
    templates: list[AnalysisTemplateRef] | None = None


class AnalysisTemplate(WireModel):
    api_version: str = API_VERSION
    kind: str = "AnalysisTemplate"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: AnalysisTemplateSpec


class ClusterAnalysisTemplate(WireModel):
    api_version: str = API_VERSION
    kind: str = "ClusterAnalysisTemplate"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: AnalysisTemplateSpec


# --- runs ----------------------------------------------------------------------------------------


class TTLStrategy(WireModel):
    seconds_after_completion: int | None = None
    seconds_after_failure: int | None = None
    seconds_after_success: int | None = None


class AnalysisRunSpec(WireModel):
    metrics: list[Metric] = Field(default_factory=list)
    args: list[Argument] | None = None
    terminate: bool | None = None
    dry_run: list[DryRun] | None = None
    measurement_retention: list[MeasurementRetention] | None = None
    ttl_strategy: TTLStrategy | None = None


class Measurement(WireModel):
    """One measurement (docs/semantics/objects.md#analysis-objects). `value` is the string form (docs/semantics/analysis.md#prometheus-results).

    Besides the wire fields a measurement may carry the provider's *parsed* result (`result`, a private
    attribute never serialized): a float for a Prometheus scalar, a list of floats for a vector or matrix,
    the JSON value for web. Conditions are evaluated on it (docs/semantics/analysis.md#measurement-assessment). `has_result` tells a result of None
    (``no data``) from no result at all.
    """

    phase: AnalysisPhase | None = None
    message: str | None = None
    started_at: Timestamp | None = None
    finished_at: Timestamp | None = None
    value: str | None = None
    metadata: dict[str, str] | None = None
    resume_at: Timestamp | None = None

    _result: Any = PrivateAttr(default=None)
    _has_result: bool = PrivateAttr(default=False)

    @property
    def has_result(self) -> bool:
        return self._has_result

    @property
    def result(self) -> Any:
        """The parsed provider result for conditions (None when absent)."""
        return self._result

    def with_result(self, result: Any) -> Measurement:
        """Attach the parsed result (in place) and return self, for chaining in providers."""
        self._result = result
        self._has_result = True
        return self


class MetricResult(WireModel):
    """Per-metric status (docs/semantics/objects.md#analysis-objects): counters of measurements; `count` excludes errors (docs/semantics/analysis.md#metric-status)."""

    name: str
    phase: AnalysisPhase = AnalysisPhase.PENDING
    measurements: list[Measurement] = Field(default_factory=list)
    message: str | None = None
    count: int = 0
    successful: int = 0
    failed: int = 0
    inconclusive: int = 0
    error: int = 0
    consecutive_error: int = 0
    consecutive_success: int = 0
    dry_run: bool | None = None
    metadata: dict[str, str] | None = None


class RunSummary(WireModel):
    """Counts of *metrics* by phase (docs/semantics/objects.md#analysis-objects)."""

    count: int = 0
    successful: int = 0
    failed: int = 0
    inconclusive: int = 0
    error: int = 0


class AnalysisRunStatus(WireModel):
    phase: AnalysisPhase | None = None
    message: str | None = None
    metric_results: list[MetricResult] | None = None
    started_at: Timestamp | None = None
    completed_at: Timestamp | None = None
    run_summary: RunSummary | None = None
    dry_run_summary: RunSummary | None = None

    def metric_result(self, name: str) -> MetricResult | None:
        for result in self.metric_results or []:
            if result.name == name:
                return result
        return None


class AnalysisRun(WireModel):
    api_version: str = API_VERSION
    kind: str = "AnalysisRun"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: AnalysisRunSpec
    status: AnalysisRunStatus | None = None


KINDS: dict[str, type[AnalysisTemplate | ClusterAnalysisTemplate | AnalysisRun]] = {
    "AnalysisTemplate": AnalysisTemplate,
    "ClusterAnalysisTemplate": ClusterAnalysisTemplate,
    "AnalysisRun": AnalysisRun,
}
