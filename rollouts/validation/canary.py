"""Canary rules: services, traffic routing, surge/unavailable, and every step kind (validation.go
`ValidateRolloutStrategyCanary`).

Part of `rollouts.validation` (import from there).
"""

from __future__ import annotations

import re

from rollouts.models import (
    AnalysisRunArgument,
    CanaryStep,
    CanaryStrategy,
    Rollout,
    StringMatch,
)
from rollouts.models.scalars import parse_int_or_percent
from rollouts.validation.errors import FieldError
from rollouts.validation.messages import (
    ALB_PING_PONG_ROOT,
    DUPLICATED_PING_PONG,
    DUPLICATED_SERVICES_CANARY,
    DYNAMIC_STABLE_SCALE_NEEDS_TR,
    DYNAMIC_STABLE_SCALE_WITH_DELAY,
    EXPERIMENT_WEIGHT_ROUTERS,
    EXPERIMENT_WEIGHT_WITHOUT_TR,
    EXPERIMENT_WEIGHTS_EXCEED,
    HEADER_ROUTE_ALB_EXACT,
    INVALID_ANALYSIS_ARGS,
    INVALID_DURATION,
    INVALID_SET_WEIGHT,
    INVALID_STEP,
    MAX_WEIGHT_NGINX_PLUGINS,
    MISSING_FIELD,
    PING_PONG_NEEDS_SERVICES,
    PING_PONG_ROUTERS,
    ROUTE_NOT_IN_MANAGED_ROUTES,
    SCALE_DOWN_DELAY_NEEDS_TR,
    SET_CANARY_SCALE_NEEDS_TR,
    SET_HEADER_ROUTE_NEEDS_TR,
    SET_MIRROR_ROUTE_NEEDS_TR,
    STRING_MATCH_MISSING,
    STRING_MATCH_MULTIPLE,
    SURGE_AND_UNAVAILABLE_ZERO,
    TR_NEEDS_SERVICES,
)
from rollouts.validation.ranges import int_or_percent_errors
from rollouts.validation.rules import validate_anti_affinity


def _percent_value(value: int | str) -> int:
    """validation.go getIntOrPercentValue: a percentage's number, an integer as is, 0 when it does not parse."""
    try:
        return parse_int_or_percent(value)[0]
    except ValueError:
        return 0


def validate_canary(ro: Rollout, c: CanaryStrategy) -> list[FieldError]:
    path = "spec.strategy.canary"
    errs: list[FieldError] = []
    surge, unavailable = ro.spec.max_surge_or_default(), ro.spec.max_unavailable_or_default()
    for value, name in ((surge, "maxSurge"), (unavailable, "maxUnavailable")):
        errs += int_or_percent_errors(value, f"{path}.{name}")
    # A malformed value already has its error; Argo would also call it zero here (its Atoi fails).
    if not errs and _percent_value(surge) == 0 and _percent_value(unavailable) == 0:
        errs.append(FieldError(f"{path}.maxSurge", SURGE_AND_UNAVAILABLE_ZERO, surge))
    if c.canary_service and c.stable_service and c.canary_service == c.stable_service:
        errs.append(FieldError(f"{path}.stableService", DUPLICATED_SERVICES_CANARY, c.stable_service))
    tr = c.traffic_routing
    if c.ping_pong is not None:
        pp = c.ping_pong
        if tr is not None and tr.alb is None and tr.istio is None and not tr.plugins:
            errs.append(FieldError(f"{path}.trafficRouting.alb", PING_PONG_ROUTERS))
        if not pp.ping_service:
            errs.append(FieldError(f"{path}.pingPong.pingService", PING_PONG_NEEDS_SERVICES, pp.ping_service))
        if not pp.pong_service:
            errs.append(FieldError(f"{path}.pingPong.pongService", PING_PONG_NEEDS_SERVICES, pp.pong_service))
        if pp.ping_service == pp.pong_service:
            errs.append(FieldError(f"{path}.pingPong.pingService", DUPLICATED_PING_PONG, pp.ping_service))
        if tr is not None and tr.alb is not None and not tr.alb.root_service:
            errs.append(FieldError(f"{path}.trafficRouting.alb.rootService", ALB_PING_PONG_ROOT, ""))
    if _requires_services(c):
        if not c.stable_service:
            errs.append(FieldError(f"{path}.stableService", TR_NEEDS_SERVICES, ""))
        if not c.canary_service:
            errs.append(FieldError(f"{path}.canaryService", TR_NEEDS_SERVICES, ""))
    if tr is None:
        if c.scale_down_delay_seconds is not None:
            errs.append(
                FieldError(
                    f"{path}.scaleDownDelaySeconds", SCALE_DOWN_DELAY_NEEDS_TR, c.scale_down_delay_seconds
                )
            )
        if c.dynamic_stable_scale:
            errs.append(FieldError(f"{path}.dynamicStableScale", DYNAMIC_STABLE_SCALE_NEEDS_TR, True))
        if c.abort_scale_down_delay_seconds is not None:
            errs.append(
                FieldError(
                    f"{path}.abortScaleDownDelaySeconds",
                    "Canary abortScaleDownDelaySeconds can only be used with traffic routing",
                    c.abort_scale_down_delay_seconds,
                )
            )
        if c.min_pods_per_replica_set is not None:
            errs.append(
                FieldError(
                    f"{path}.minPodsPerReplicaSet",
                    "Canary minPodsPerReplicaSet can only be used with traffic routing",
                    c.min_pods_per_replica_set,
                )
            )
    else:
        if c.scale_down_delay_seconds is not None and c.dynamic_stable_scale:
            errs.append(FieldError(f"{path}.dynamicStableScale", DYNAMIC_STABLE_SCALE_WITH_DELAY, True))
        if tr.max_traffic_weight is not None and tr.nginx is None and not tr.plugins:
            errs.append(
                FieldError(
                    f"{path}.trafficRouting.maxTrafficWeight", MAX_WEIGHT_NGINX_PLUGINS, tr.max_traffic_weight
                )
            )
    for i, step in enumerate(c.steps or []):
        errs += _validate_step(ro, c, i, step, f"{path}.steps[{i}]")
    return errs + validate_anti_affinity(c.anti_affinity, f"{path}.antiAffinity")


def _requires_services(c: CanaryStrategy) -> bool:
    """requireCanaryStableServices: routers that split traffic between the two services."""
    tr = c.traffic_routing
    if tr is None:
        return False
    return bool(
        (tr.alb is not None and c.ping_pong is None)
        or (tr.istio is not None and tr.istio.destination_rule is None and c.ping_pong is None)
        or tr.smi is not None
        or tr.apisix is not None
        or tr.ambassador is not None
        or tr.nginx is not None
        or tr.app_mesh is not None
        or tr.traefik is not None
    )


def _validate_step(ro: Rollout, c: CanaryStrategy, i: int, step: CanaryStep, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    tr = c.traffic_routing
    # hasMultipleStepsType looks at setWeight, pause, experiment and analysis only (setCanaryScale may ride along)
    exclusive = [k for k in step.kinds() if k in ("setWeight", "pause", "experiment", "analysis")]
    if len(exclusive) > 1:
        errs.append(FieldError(path, INVALID_STEP, " ".join(f"step.{k}: true" for k in exclusive)))
    if not step.kinds():
        errs.append(FieldError(path, INVALID_STEP))
    max_weight = ro.spec.max_traffic_weight()
    if step.set_weight is not None and not 0 <= step.set_weight <= max_weight:
        errs.append(FieldError(f"{path}.setWeight", INVALID_SET_WEIGHT % max_weight, step.set_weight))
    if step.pause is not None and step.pause.duration_seconds() < 0:
        errs.append(FieldError(f"{path}.pause.duration", INVALID_DURATION, step.pause.duration))
    if step.set_canary_scale is not None and tr is None:
        errs.append(
            FieldError("spec.strategy.canary.trafficRouting", SET_CANARY_SCALE_NEEDS_TR, kind="Required")
        )
    if step.set_header_route is not None:
        if tr is None or (tr.istio is None and tr.alb is None and tr.apisix is None and not tr.plugins):
            errs.append(FieldError(f"{path}.setHeaderRoute", SET_HEADER_ROUTE_NEEDS_TR))
        else:
            for j, match in enumerate(step.set_header_route.match or []):
                mpath = f"{path}.setHeaderRoute.match[{j}]"
                if tr.alb is not None:
                    errs += _alb_match_errors(match.header_value, mpath)
                else:
                    errs += _match_errors(match.header_value, mpath)
    if step.set_mirror_route is not None:
        if tr is None or (tr.istio is None and not tr.plugins):
            errs.append(FieldError(f"{path}.setMirrorRoute", SET_MIRROR_ROUTE_NEEDS_TR))
        for j, rmatch in enumerate(step.set_mirror_route.match or []):
            mpath = f"{path}.setMirrorRoute.match[{j}]"
            for sm in (rmatch.method, rmatch.path):
                if sm is not None:
                    errs += _match_errors(sm, mpath)
    if tr is not None and (step.set_header_route is not None or step.set_mirror_route is not None):
        if tr.managed_routes is None:
            errs.append(
                FieldError(
                    "spec.strategy.canary.trafficRouting.managedRoutes",
                    MISSING_FIELD % "spec.strategy.canary.trafficRouting.managedRoutes",
                    kind="Required",
                )
            )
        else:
            names = tr.managed_route_names()
            for kind, route in (
                ("setHeaderRoute", step.set_header_route),
                ("setMirrorRoute", step.set_mirror_route),
            ):
                if route is not None and (route.name or "") not in names:
                    errs.append(FieldError(f"{path}.{kind}", ROUTE_NOT_IN_MANAGED_ROUTES, route.name or ""))
    args: list[tuple[str, AnalysisRunArgument]] = []
    if step.experiment is not None:
        for t, template in enumerate(step.experiment.templates):
            if template.weight is None:
                continue
            wpath = f"{path}.experiment.templates[{t}].weight"
            if tr is None:
                errs.append(FieldError(wpath, EXPERIMENT_WEIGHT_WITHOUT_TR, template.weight))
            elif tr.alb is None and tr.smi is None and tr.istio is None and not tr.plugins:
                errs.append(FieldError(wpath, EXPERIMENT_WEIGHT_ROUTERS, template.weight))
        extra = sum(t.weight or 0 for t in step.experiment.templates)
        # the canary keeps the weight of the last setWeight before the step while the experiment runs
        canary = next((s.set_weight for s in reversed((c.steps or [])[:i]) if s.set_weight is not None), 0)
        if tr is not None and extra and extra + canary > max_weight:
            errs.append(
                FieldError(
                    f"{path}.experiment.templates",
                    EXPERIMENT_WEIGHTS_EXCEED % (extra, canary, max_weight),
                    extra,
                )
            )
        for a, analysis in enumerate(step.experiment.analyses or []):
            args += [
                (f"{path}.experiment.analyses[{a}].args[{k}]", arg)
                for k, arg in enumerate(analysis.args or [])
            ]
    if step.analysis is not None:
        args += [(f"{path}.analysis.args[{k}]", arg) for k, arg in enumerate(step.analysis.args or [])]
    for apath, arg in args:
        ref = arg.value_from.field_ref if arg.value_from is not None else None
        if (
            ref is not None
            and ref.field_path.startswith("metadata")
            and not _downward_api_path(ref.field_path)
        ):
            errs.append(
                FieldError(f"{apath}.valueFrom.fieldRef.fieldPath", INVALID_ANALYSIS_ARGS, ref.field_path)
            )
    return errs


_DOWNWARD = re.compile(
    r"^metadata\.(name|namespace|uid|labels|annotations)$|^metadata\.(labels|annotations)\[.+\]$"
)


def _downward_api_path(path: str) -> bool:
    """k8s fieldpath.ExtractFieldPathAsString accepts these metadata paths."""
    return bool(_DOWNWARD.match(path))


def _match_errors(match: StringMatch | None, path: str) -> list[FieldError]:
    """hasMultipleMatchValues: exactly one of exact / regex / prefix."""
    if match is None:
        return [FieldError(path, STRING_MATCH_MISSING)]
    count = sum(bool(v) for v in (match.exact, match.regex, match.prefix))
    if count > 1:
        return [FieldError(path, STRING_MATCH_MULTIPLE)]
    if count == 0:
        return [FieldError(path, STRING_MATCH_MISSING)]
    return []


def _alb_match_errors(match: StringMatch | None, path: str) -> list[FieldError]:
    if match is None:
        return [FieldError(path, STRING_MATCH_MISSING)]
    if not match.exact or match.regex or match.prefix:
        return [FieldError(path, HEADER_ROUTE_ALB_EXACT)]
    return []
