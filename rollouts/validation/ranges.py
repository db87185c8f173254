"""Ranges of the Rollout spec's integer fields: counts and seconds are never negative, weights and ports bounded.

Part of `rollouts.validation` (import from there). The models already hold every integer to Go's `int32`
(`rollouts.models.scalars`); this module checks what each field means. Argo itself checks four fields with
`ValidateNonnegativeField` (replicas, minReadySeconds, revisionHistoryLimit, progressDeadlineSeconds, in
`validate_rollout`) and a few more with its own messages (setWeight, antiAffinity weight, pause duration). For
the rest Argo checks nothing, and a negative value either makes the API server refuse a ReplicaSet later
(``previewReplicaCount: -1``, ``setCanaryScale.replicas: -1``) or silently means something else (a negative delay
scales down at once, a negative history limit deletes every old run). Those are refused here with Kubernetes'
wording, and README's "Deliberate differences" says so.

Int-or-percent values (maxSurge, maxUnavailable) follow apimachinery: a non-negative integer, or a percentage
(`parse_int_or_percent`, `IsValidPercent`).
"""

from __future__ import annotations

from collections.abc import Iterator

from rollouts.models import Rollout, RolloutAnalysis
from rollouts.models.scalars import parse_int_or_percent, range_message
from rollouts.validation.errors import FieldError
from rollouts.validation.messages import NON_NEGATIVE

PORT_MESSAGE = range_message(1, 65535)  # apimachinery IsValidPortNum
PERCENT_RANGE = range_message(0, 100)
MAX_WEIGHT_MESSAGE = "must be greater than or equal to 1 (weights are fractions of it)"


def int_or_percent_errors(value: int | str, path: str) -> list[FieldError]:
    """apps/v1 `ValidatePositiveIntOrPercent`: an integer ≥ 0 or a percentage string."""
    try:
        number, _ = parse_int_or_percent(value)
    except ValueError as exc:
        return [FieldError(path, str(exc), value)]
    if number < 0:
        return [FieldError(path, NON_NEGATIVE, value)]
    return []


def _non_negative(values: list[tuple[str, int | None]]) -> Iterator[FieldError]:
    for path, value in values:
        if value is not None and value < 0:
            yield FieldError(path, NON_NEGATIVE, value)


def _analysis_fields(analysis: RolloutAnalysis | None, path: str) -> list[tuple[str, int | None]]:
    if analysis is None:
        return []
    return [
        (f"{path}.measurementRetention[{i}].limit", r.limit)
        for i, r in enumerate(analysis.measurement_retention or [])
    ]


def validate_ranges(ro: Rollout) -> list[FieldError]:
    """Range errors of the integer fields Argo leaves unchecked (the four it checks are in `validate_rollout`)."""
    spec = ro.spec
    fields: list[tuple[str, int | None]] = [
        ("spec.rollbackWindow.revisions", spec.rollback_window.revisions if spec.rollback_window else None),
    ]
    if spec.analysis is not None:
        fields += [
            ("spec.analysis.successfulRunHistoryLimit", spec.analysis.successful_run_history_limit),
            ("spec.analysis.unsuccessfulRunHistoryLimit", spec.analysis.unsuccessful_run_history_limit),
        ]
    errs: list[FieldError] = []
    bg, c = spec.strategy.blue_green, spec.strategy.canary
    if bg is not None:
        p = "spec.strategy.blueGreen"
        fields += [
            (f"{p}.previewReplicaCount", bg.preview_replica_count),
            (f"{p}.autoPromotionSeconds", bg.auto_promotion_seconds),
            (f"{p}.scaleDownDelaySeconds", bg.scale_down_delay_seconds),
            (f"{p}.scaleDownDelayRevisionLimit", bg.scale_down_delay_revision_limit),
            (f"{p}.abortScaleDownDelaySeconds", bg.abort_scale_down_delay_seconds),
            *_analysis_fields(bg.pre_promotion_analysis, f"{p}.prePromotionAnalysis"),
            *_analysis_fields(bg.post_promotion_analysis, f"{p}.postPromotionAnalysis"),
        ]
    if c is not None:
        errs += _canary_errors(ro, fields)
    return list(_non_negative(fields)) + errs


def _canary_errors(ro: Rollout, fields: list[tuple[str, int | None]]) -> list[FieldError]:
    """Adds the canary's non-negative fields to `fields`; returns its other range errors."""
    c = ro.spec.strategy.canary
    assert c is not None
    p = "spec.strategy.canary"
    errs: list[FieldError] = []
    fields += [
        (f"{p}.scaleDownDelaySeconds", c.scale_down_delay_seconds),
        (f"{p}.scaleDownDelayRevisionLimit", c.scale_down_delay_revision_limit),
        (f"{p}.abortScaleDownDelaySeconds", c.abort_scale_down_delay_seconds),
        (f"{p}.minPodsPerReplicaSet", c.min_pods_per_replica_set),
        *_analysis_fields(c.analysis, f"{p}.analysis"),
    ]
    if c.replica_progress_threshold is not None:
        fields.append((f"{p}.replicaProgressThreshold.value", c.replica_progress_threshold.value))
    tr = c.traffic_routing
    if tr is not None:
        if tr.max_traffic_weight is not None and tr.max_traffic_weight < 1:
            errs.append(
                FieldError(f"{p}.trafficRouting.maxTrafficWeight", MAX_WEIGHT_MESSAGE, tr.max_traffic_weight)
            )
        if tr.alb is not None and tr.alb.service_port is not None and not 1 <= tr.alb.service_port <= 65535:
            errs.append(FieldError(f"{p}.trafficRouting.alb.servicePort", PORT_MESSAGE, tr.alb.service_port))
        if tr.istio is not None:
            named = [(f"{p}.trafficRouting.istio.virtualService", tr.istio.virtual_service)]
            named += [
                (f"{p}.trafficRouting.istio.virtualServices[{i}]", vs)
                for i, vs in enumerate(tr.istio.virtual_services or [])
            ]
            for vpath, vs in named:
                ports = [(f"tlsRoutes[{j}]", r.port) for j, r in enumerate(vs.tls_routes or [])] if vs else []
                ports += (
                    [(f"tcpRoutes[{j}]", r.port) for j, r in enumerate(vs.tcp_routes or [])] if vs else []
                )
                errs += [
                    FieldError(f"{vpath}.{where}.port", PORT_MESSAGE, port)
                    for where, port in ports
                    if port is not None and not 1 <= port <= 65535
                ]
    for i, step in enumerate(c.steps or []):
        sp = f"{p}.steps[{i}]"
        if step.set_canary_scale is not None:
            fields += [
                (f"{sp}.setCanaryScale.weight", step.set_canary_scale.weight),
                (f"{sp}.setCanaryScale.replicas", step.set_canary_scale.replicas),
            ]
        mirror = step.set_mirror_route
        if mirror is not None and mirror.percentage is not None and not 0 <= mirror.percentage <= 100:
            errs.append(FieldError(f"{sp}.setMirrorRoute.percentage", PERCENT_RANGE, mirror.percentage))
        if step.experiment is not None:
            fields.append(
                (f"{sp}.experiment.scaleDownDelaySeconds", step.experiment.scale_down_delay_seconds)
            )
            for t, template in enumerate(step.experiment.templates):
                fields += [
                    (f"{sp}.experiment.templates[{t}].replicas", template.replicas),
                    (f"{sp}.experiment.templates[{t}].weight", template.weight),
                ]
        fields += _analysis_fields(step.analysis, f"{sp}.analysis")
    return errs
