"""Rollout validation: Argo's rules and messages (`pkg/apis/rollouts/validation/validation.go`), as field errors.

Used at three places of the pipeline: the controller (an invalid spec becomes the ``InvalidSpec`` condition,
phase Degraded, message ``The Rollout "x" is invalid: <first error>`` — see `invalid_spec_message`), the
plugin's ``lint`` (prints every error), and ``rollouts plan`` (exit 2 naming the file and field).

Entry points:

* ``load_rollout(data) -> (Rollout | None, [FieldError])`` — parse (pydantic errors become field errors, e.g.
  ``spec.strategy.canary.steps[0].setWeight: Input should be a valid integer``) and validate.
* ``validate_rollout(ro) -> [FieldError]`` — the semantic rules on a parsed Rollout.

Paths name the field as written in the manifest (``spec.strategy.canary.steps[2].setWeight``). Argo itself
drops the ``.canary``/``.blueGreen`` segment in some paths; the message texts are Argo's verbatim.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from rollouts.models import (
    AnalysisRunArgument,
    AntiAffinity,
    CanaryStep,
    CanaryStrategy,
    LabelSelector,
    Rollout,
    StringMatch,
)
from rollouts.strategy.replicas import int_or_percent

__all__ = [
    "DUPLICATED_SERVICES_BLUE_GREEN",
    "DUPLICATED_SERVICES_CANARY",
    "FieldError",
    "errors_from_pydantic",
    "invalid_spec_message",
    "load_rollout",
    "validate_rollout",
]

# validation.go constants (verbatim)
MISSING_FIELD = "Rollout has missing field '%s'"
INVALID_SET_WEIGHT = "SetWeight needs to be between 0 and %d"
EXPERIMENT_WEIGHT_WITHOUT_TR = "Experiment template weight cannot be set unless TrafficRouting is enabled"
EXPERIMENT_WEIGHT_ROUTERS = "Experiment template weight is only available for TrafficRouting with SMI, ALB, Istio and Plugins at this time"
SET_CANARY_SCALE_NEEDS_TR = "SetCanaryScale requires TrafficRouting to be set"
SET_HEADER_ROUTE_NEEDS_TR = "SetHeaderRoute requires TrafficRouting, supports Istio and ALB and Apisix"
SET_MIRROR_ROUTE_NEEDS_TR = "SetMirrorRoute requires TrafficRouting, supports Istio and Plugins"
STRING_MATCH_MULTIPLE = "StringMatch match value must have exactly one of the following: exact, regex, prefix"
STRING_MATCH_MISSING = (
    "StringMatch value missed, match value must have one of the following: exact, regex, prefix"
)
HEADER_ROUTE_ALB_EXACT = "SetHeaderRoute match value invalid. ALB supports 'exact' value only"
INVALID_DURATION = "Duration needs to be greater than 0"
SURGE_AND_UNAVAILABLE_ZERO = "MaxSurge and MaxUnavailable both can not be zero"
INVALID_STEP = (
    "Step must have one of the following set: experiment, setWeight, setCanaryScale, plugin or pause"
)
MULTIPLE_STRATEGIES = "Multiple Strategies can not be listed"
DUPLICATED_SERVICES_BLUE_GREEN = "This rollout uses the same service for the active and preview services, but two different services are required."
DUPLICATED_SERVICES_CANARY = "This rollout uses the same service for the stable and canary services, but two different services are required."
ANTI_AFFINITY_ONE_STRATEGY = "AntiAffinity must have exactly one strategy listed"
ANTI_AFFINITY_WEIGHT = "AntiAffinity weight must be between 1-100"
SCALE_DOWN_LIMIT_ABOVE_HISTORY = (
    "This rollout's revision history limit can not be smaller than the rollout's scale down limit"
)
TR_NEEDS_SERVICES = "Canary service and Stable service must to be set to use Traffic Routing"
INVALID_ANALYSIS_ARGS = "Analyses arguments must refer to valid object metadata supported by downwardAPI"
SCALE_DOWN_DELAY_NEEDS_TR = "Canary scaleDownDelaySeconds can only be used with traffic routing"
DYNAMIC_STABLE_SCALE_NEEDS_TR = "Canary dynamicStableScale can only be used with traffic routing"
DYNAMIC_STABLE_SCALE_WITH_DELAY = "Canary dynamicStableScale cannot be used with scaleDownDelaySeconds"
MAX_WEIGHT_NGINX_PLUGINS = "Canary maxTrafficWeight in traffic routing only supported in Nginx and Plugins"
PING_PONG_NEEDS_SERVICES = "Ping service and Pong service must to be set to use Ping-Pong feature"
DUPLICATED_PING_PONG = "This rollout uses the same service for the ping and pong services, but two different services are required."
ALB_PING_PONG_ROOT = (
    "Root service field is required for the configuration with ALB and ping-pong feature enabled"
)
PING_PONG_ROUTERS = "Ping-pong feature works with the ALB, Istio, and plugin-based traffic routers only"
ROUTE_NOT_IN_MANAGED_ROUTES = (
    "Steps define a route that does not exist in spec.strategy.canary.trafficRouting.managedRoutes"
)
NON_NEGATIVE = "must be greater than or equal to 0"
SELECTOR_MISMATCH = "`selector` does not match template `labels`"

_UNSET: Any = object()


@dataclass(frozen=True)
class FieldError:
    """One invalid field. ``str(e)`` = ``path: message``; `k8s_error()` = Kubernetes' field-error wording."""

    path: str
    message: str
    value: Any = _UNSET
    kind: Literal["Invalid", "Required"] = "Invalid"

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"

    def k8s_error(self) -> str:
        """``spec.x: Invalid value: 101: <message>`` / ``spec.x: Required value: <message>`` (field.Error)."""
        if self.kind == "Required" or self.value is _UNSET:
            return f"{self.path}: {self.kind} value: {self.message}"
        return f"{self.path}: Invalid value: {_render(self.value)}: {self.message}"


def _render(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def invalid_spec_message(name: str, errors: list[FieldError]) -> str:
    """The InvalidSpec condition message Argo writes (first error only, `rollout/controller.go`)."""
    return f'The Rollout "{name}" is invalid: {errors[0].k8s_error()}'


# ---------------------------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------------------------

_TAG = re.compile(r"^(int|str|bool|float|dict|list|none|is-instance|lax-or-strict|json-or-python)$|\[")


def errors_from_pydantic(exc: ValidationError, root: str = "") -> list[FieldError]:
    """Turn pydantic errors into field errors named by wire path (union branch tags dropped, one per path)."""
    out: dict[str, FieldError] = {}
    for err in exc.errors(include_url=False):
        parts: list[str] = [root] if root else []
        for item in err["loc"]:
            if isinstance(item, int):
                parts[-1:] = [f"{parts[-1]}[{item}]"] if parts else [f"[{item}]"]
            elif not _TAG.search(str(item)):
                parts.append(str(item))
        path = ".".join(parts) or "(root)"
        if path in out:  # a union (int | str): say so once
            out[path] = FieldError(path, "must be an integer or a string", err.get("input", _UNSET))
            continue
        value = err.get("input", _UNSET)
        if err["type"] == "missing":
            out[path] = FieldError(path, "Required value", kind="Required")
        else:
            out[path] = FieldError(path, str(err["msg"]), value if _scalar(value) else _UNSET)
    return list(out.values())


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def load_rollout(data: Any) -> tuple[Rollout | None, list[FieldError]]:
    """Parse and validate a Rollout manifest: (the Rollout or None when it does not parse, every error)."""
    if not isinstance(data, Mapping):
        return None, [FieldError("(root)", "a Rollout manifest must be a mapping")]
    try:
        ro = Rollout.from_wire(data)
    except ValidationError as exc:
        return None, errors_from_pydantic(exc)
    errors = []
    if ro.kind != "Rollout":
        errors.append(FieldError("kind", 'must be "Rollout"', ro.kind))
    return ro, errors + validate_rollout(ro)


# ---------------------------------------------------------------------------------------------------------------
# Semantic rules
# ---------------------------------------------------------------------------------------------------------------


def validate_rollout(ro: Rollout) -> list[FieldError]:
    """Argo's `ValidateRolloutSpec` on a parsed Rollout; [] when valid."""
    spec = ro.spec
    errs: list[FieldError] = []
    replicas = spec.replicas_or_default()
    if replicas < 0:
        errs.append(FieldError("spec.replicas", NON_NEGATIVE, replicas))
    if spec.workload_ref is None:
        if spec.selector is None:
            errs.append(FieldError("spec.selector", MISSING_FIELD % ".spec.selector", kind="Required"))
        elif not (spec.selector.match_labels or spec.selector.match_expressions):
            errs.append(FieldError("spec.selector", "empty selector is invalid for deployment"))
        errs += _validate_template(ro)
    elif spec.template and _template_has_metadata(spec.template):
        errs.append(FieldError("spec.template", "template must be empty for workload reference rollout"))
    for name, value in (
        ("minReadySeconds", spec.min_ready_seconds or 0),
        ("revisionHistoryLimit", spec.revision_history_limit_or_default()),
        ("progressDeadlineSeconds", spec.progress_deadline_seconds_or_default()),
    ):
        if value < 0:
            errs.append(FieldError(f"spec.{name}", NON_NEGATIVE, value))
    deadline = spec.progress_deadline_seconds_or_default()
    if deadline <= (spec.min_ready_seconds or 0):
        errs.append(
            FieldError("spec.progressDeadlineSeconds", "must be greater than minReadySeconds", deadline)
        )

    strategy = spec.strategy
    if strategy.blue_green is None and strategy.canary is None:
        errs.append(
            FieldError(
                "spec.strategy",
                MISSING_FIELD % ".spec.strategy.canary or .spec.strategy.blueGreen",
                kind="Required",
            )
        )
    elif strategy.blue_green is not None and strategy.canary is not None:
        errs.append(FieldError("spec.strategy", MULTIPLE_STRATEGIES, "blueGreen: true canary: true"))
    elif strategy.blue_green is not None:
        errs += _validate_blue_green(ro)
    elif strategy.canary is not None:
        errs += _validate_canary(ro, strategy.canary)
    return errs


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _template_has_metadata(template: Mapping[str, Any]) -> bool:
    meta = _mapping(template.get("metadata"))
    return bool(meta.get("labels") or meta.get("annotations"))


def _validate_template(ro: Rollout) -> list[FieldError]:
    """The parts of ValidatePodTemplateSpecForReplicaSet a manifest most often gets wrong.

    The template is kept raw (it is hashed as written), so its shape is checked here, not by the model.
    """
    template = ro.spec.template or {}
    errs: list[FieldError] = []
    meta, pod_spec = template.get("metadata"), template.get("spec")
    if meta is not None and not isinstance(meta, Mapping):
        errs.append(FieldError("spec.template.metadata", "must be an object", _scalar_or_unset(meta)))
    labels = _mapping(meta).get("labels")
    if labels is not None and not (
        isinstance(labels, Mapping) and all(isinstance(v, str) for v in labels.values())
    ):
        errs.append(
            FieldError("spec.template.metadata.labels", "must be a map of strings", _scalar_or_unset(labels))
        )
        labels = None
    if pod_spec is not None and not isinstance(pod_spec, Mapping):
        errs.append(FieldError("spec.template.spec", "must be an object", _scalar_or_unset(pod_spec)))
    containers = _mapping(pod_spec).get("containers")
    if not containers or not isinstance(containers, list):
        errs.append(
            FieldError("spec.template.spec.containers", "at least one container is required", kind="Required")
        )
    selector = ro.spec.selector
    has_terms = selector is not None and bool(selector.match_labels or selector.match_expressions)
    if has_terms and selector is not None and not selector_matches(selector, labels or {}):
        errs.append(
            FieldError("spec.template.metadata.labels", SELECTOR_MISMATCH, _labels_text(labels or {}))
        )
    restart = _mapping(pod_spec).get("restartPolicy")
    if restart not in (None, "Always"):
        errs.append(
            FieldError(
                "spec.template.spec.restartPolicy", 'supported values: "Always"', _scalar_or_unset(restart)
            )
        )
    return errs


def _scalar_or_unset(value: Any) -> Any:
    return value if _scalar(value) else _UNSET


def _labels_text(labels: Mapping[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def selector_matches(selector: LabelSelector, labels: Mapping[str, Any]) -> bool:
    """metav1.LabelSelector semantics: matchLabels ⊆ labels and every matchExpression holds."""
    for key, value in (selector.match_labels or {}).items():
        if labels.get(key) != value:
            return False
    for req in selector.match_expressions or []:
        present = req.key in labels
        values = set(req.values or [])
        ok = {
            "In": present and labels.get(req.key) in values,
            "NotIn": not present or labels.get(req.key) not in values,
            "Exists": present,
            "DoesNotExist": not present,
        }.get(req.operator, False)
        if not ok:
            return False
    return True


def _validate_anti_affinity(aa: AntiAffinity | None, path: str) -> list[FieldError]:
    if aa is None:
        return []
    errs: list[FieldError] = []
    preferred = aa.preferred_during_scheduling_ignored_during_execution
    required = aa.required_during_scheduling_ignored_during_execution
    if (preferred is None) == (required is None):
        errs.append(FieldError(path, ANTI_AFFINITY_ONE_STRATEGY))
    if preferred is not None and not 1 <= preferred.weight <= 100:
        errs.append(FieldError(f"{path}.weight", ANTI_AFFINITY_WEIGHT, preferred.weight))
    return errs


def _validate_blue_green(ro: Rollout) -> list[FieldError]:
    bg = ro.spec.strategy.blue_green
    assert bg is not None
    path = "spec.strategy.blueGreen"
    errs: list[FieldError] = []
    if not bg.active_service:
        errs.append(
            FieldError(
                f"{path}.activeService",
                MISSING_FIELD % ".spec.strategy.blueGreen.activeService",
                kind="Required",
            )
        )
    elif bg.active_service == (bg.preview_service or ""):
        errs.append(FieldError(f"{path}.activeService", DUPLICATED_SERVICES_BLUE_GREEN, bg.active_service))
    limit = bg.scale_down_delay_revision_limit
    if limit is not None and ro.spec.revision_history_limit_or_default() < limit:
        errs.append(FieldError(f"{path}.scaleDownDelayRevisionLimit", SCALE_DOWN_LIMIT_ABOVE_HISTORY, limit))
    if bg.max_unavailable is not None:
        errs += _int_or_percent_errors(bg.max_unavailable, f"{path}.maxUnavailable")
    return errs + _validate_anti_affinity(bg.anti_affinity, f"{path}.antiAffinity")


def _int_or_percent_errors(value: int | str, path: str) -> list[FieldError]:
    try:
        int_or_percent(value, 100, True)
    except ValueError as exc:
        return [FieldError(path, str(exc).split(": ", 1)[-1], value)]
    return []


def _percent_value(value: int | str) -> int:
    """validation.go getIntOrPercentValue: "N%" → N, other strings → Atoi (0 on error), ints as is."""
    if isinstance(value, int):
        return value
    text = value[:-1] if value.endswith("%") else value
    try:
        return int(text)
    except ValueError:
        return 0


def _validate_canary(ro: Rollout, c: CanaryStrategy) -> list[FieldError]:
    path = "spec.strategy.canary"
    errs: list[FieldError] = []
    surge, unavailable = ro.spec.max_surge_or_default(), ro.spec.max_unavailable_or_default()
    for value, name in ((surge, "maxSurge"), (unavailable, "maxUnavailable")):
        errs += _int_or_percent_errors(value, f"{path}.{name}")
    if _percent_value(surge) == 0 and _percent_value(unavailable) == 0:
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
    return errs + _validate_anti_affinity(c.anti_affinity, f"{path}.antiAffinity")


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
