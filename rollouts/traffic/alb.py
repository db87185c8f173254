"""AWS ALB: the weighted forward action in each Ingress's annotations (`rollout/trafficrouting/alb/alb.go`,
`utils/ingress/ingress.go`, `utils/ingress/wrapper.go`).

PURE edit. The AWS Load Balancer Controller reads an Ingress annotation
``<annotationPrefix>/actions.<service>`` (prefix default ``alb.ingress.kubernetes.io``) as the action of every
path whose backend is ``<service>`` with port ``use-annotation``. For each Ingress of
``trafficRouting.alb.ingress`` (or ``ingresses``) the Rollout owns the action of ``rootService`` (default: the
stable Service): a forward action, JSON as Go marshals it,
``{"Type":"forward","ForwardConfig":{"TargetGroups":[...]}}`` with one target group per destination, canary
first, then the experiments' additional destinations, then stable with ``100 − canary − Σadditional``; each
``{"ServiceName":…,"ServicePort":"<servicePort>","Weight":w}``; with ``stickinessConfig.enabled``,
``"TargetGroupStickinessConfig":{"Enabled":true,"DurationSeconds":n}`` (n within 1..604800, AWS's range).
With ``canary.pingPong`` the two target groups are the ping and pong Services, whichever is stable by
``status.canary.stablePingPong`` (ping-pong is preferred over stableService/canaryService for ALB, as in Argo).
The annotation ``rollouts.argoproj.io/managed-alb-annotations`` records, per Rollout name, the annotation keys
it manages (JSON, keys sorted as Go writes a map).

Header routes (a ``setHeaderRoute`` step naming one of ``managedRoutes``): the action
``<prefix>/actions.<route>`` forwards everything to the canary, the condition ``<prefix>/conditions.<route>``
holds the exact header values (``[{"field":"http-header","httpHeaderConfig":{"httpHeaderName":…,"values":[…]}}]``),
and every rule of the Ingress gets, first, a path ``/*`` (ImplementationSpecific) to the backend ``<route>``
port ``use-annotation``; paths of managed routes come first, in the order of ``managedRoutes``. A step without
``match`` removes the route, as does full promotion or an abort (every managed route).

Argo can also verify the weights against the load balancer's target groups (`--alb-verify-weight`, which asks
AWS's API); this controller has no AWS client: it writes the annotations and never verifies them, and leaves
``status.alb``/``status.albs`` unset (README, "Traffic routers").
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rollouts.models import CanaryStep, Rollout, WeightDestination
from rollouts.traffic.base import (
    INGRESS_API,
    JSON,
    RouterKey,
    TrafficRoutingError,
    deep,
    namespace_of,
    no_backend_message,
    stable_and_canary_services,
)

__all__ = [
    "DEFAULT_ALB_INGRESS_CLASSES",
    "DEFAULT_PREFIX",
    "MANAGED_ANNOTATIONS",
    "action_annotation_key",
    "edit_ingresses",
    "forward_action",
    "ingress_class",
    "ingress_keys",
    "managed_rollouts",
    "reset_orphaned_actions",
]

DEFAULT_PREFIX = "alb.ingress.kubernetes.io"
MANAGED_ANNOTATIONS = "rollouts.argoproj.io/managed-alb-annotations"
FIELD = "spec.strategy.canary.trafficRouting.alb"
STICKINESS_RANGE = (1, 604800)


def _go_json(value: Any, *, sort_keys: bool = False) -> str:
    """JSON as Go's encoding/json writes it: no blanks, UTF-8 kept, and <, >, & escaped."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=sort_keys)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _prefix(ro: Rollout) -> str:
    alb = ro.spec.traffic_routing.alb  # type: ignore[union-attr]
    return (alb.annotation_prefix if alb is not None and alb.annotation_prefix else "") or DEFAULT_PREFIX


def action_service(ro: Rollout) -> str:
    """The Service whose action the Rollout owns: `rootService`, else the stable Service (`ALBActionAnnotationKey`)."""
    alb = ro.spec.traffic_routing.alb  # type: ignore[union-attr]
    canary = ro.spec.strategy.canary
    return (alb.root_service if alb is not None else "") or (canary.stable_service if canary else "") or ""


def action_annotation_key(ro: Rollout, service: str | None = None) -> str:
    """``<prefix>/actions.<service>`` (`ALBActionAnnotationKey`; default service: rootService or stableService)."""
    return f"{_prefix(ro)}/actions.{service if service is not None else action_service(ro)}"


def _condition_annotation_key(ro: Rollout, route: str) -> str:
    return f"{_prefix(ro)}/conditions.{route}"


def ingress_names(ro: Rollout) -> list[tuple[str, str]]:
    """(Ingress name, the field naming it): `ingresses` when set, else `ingress` (`SetWeight`)."""
    tr = ro.spec.traffic_routing
    alb = tr.alb if tr is not None else None
    if alb is None:
        return []
    if alb.ingresses is not None:
        return [(name, f"{FIELD}.ingresses") for name in alb.ingresses]
    return [(alb.ingress, f"{FIELD}.ingress")] if alb.ingress else []


def ingress_keys(ro: Rollout) -> list[RouterKey]:
    ns = namespace_of(ro)
    return [(INGRESS_API, "Ingress", ns, name) for name, _ in ingress_names(ro)]


def config_error(ro: Rollout) -> str | None:
    """`ValidateRolloutAlbIngressesConfig`: exactly one of `ingress` and `ingresses` (an internal field error)."""
    tr = ro.spec.traffic_routing
    alb = tr.alb if tr is not None else None
    if alb is None:
        return None
    many, one = alb.ingresses is not None, bool(alb.ingress)
    if many and one:
        return (
            f"{FIELD}: Internal error: Either Ingress or Ingresses must be configured. Both are configured."
        )
    if not many and not one:
        return f"{FIELD}: Internal error: Either Ingress or Ingresses must be configured. Neither are configured."
    return None


def _stickiness(ro: Rollout) -> JSON | None:
    alb = ro.spec.traffic_routing.alb  # type: ignore[union-attr]
    sticky = alb.stickiness_config if alb is not None else None
    if sticky is None or not sticky.enabled:
        return None
    duration = int(sticky.duration_seconds or 0)
    low, high = STICKINESS_RANGE
    if not low <= duration <= high:
        raise TrafficRoutingError(
            "TargetGroupStickinessConfig's duration must be between 1 and 604800 seconds (7 days)!",
            field=f"{FIELD}.stickinessConfig.durationSeconds",
        )
    return {"Enabled": True, "DurationSeconds": duration}


def _port(ro: Rollout) -> str:
    alb = ro.spec.traffic_routing.alb  # type: ignore[union-attr]
    return str(int(alb.service_port or 0) if alb is not None else 0)


def forward_action(ro: Rollout, canary_weight: int, additional: Sequence[WeightDestination] = ()) -> str:
    """The action annotation's value (`getForwardActionString`)."""
    stable, canary = stable_and_canary_services(ro, ping_pong_preferred=True)
    port = _port(ro)
    groups: list[JSON] = [{"ServiceName": canary, "ServicePort": port, "Weight": int(canary_weight)}]
    stable_weight = 100 - int(canary_weight)
    for dest in additional:
        groups.append({"ServiceName": dest.service_name, "ServicePort": port, "Weight": int(dest.weight)})
        stable_weight -= int(dest.weight)
    groups.append({"ServiceName": stable, "ServicePort": port, "Weight": stable_weight})
    forward: JSON = {"TargetGroups": groups}
    sticky = _stickiness(ro)
    if sticky is not None:
        forward["TargetGroupStickinessConfig"] = sticky
    return _go_json({"Type": "forward", "ForwardConfig": forward})


def _header_action(ro: Rollout) -> str:
    """Everything to the canary (`getTrafficForwardActionString`)."""
    _, canary = stable_and_canary_services(ro, ping_pong_preferred=True)
    forward: JSON = {"TargetGroups": [{"ServiceName": canary, "ServicePort": _port(ro), "Weight": 100}]}
    sticky = _stickiness(ro)
    if sticky is not None:
        forward["TargetGroupStickinessConfig"] = sticky
    return _go_json({"Type": "forward", "ForwardConfig": forward})


def _header_conditions(step: CanaryStep) -> str:
    """`getTrafficForwardConditionString`: one http-header condition per header name, its exact values in order."""
    conditions: list[JSON] = []
    by_name: dict[str, JSON] = {}
    for match in step.set_header_route.match or []:  # type: ignore[union-attr]
        value = match.header_value.exact if match.header_value is not None else None
        existing = by_name.get(match.header_name)
        if existing is not None:
            existing["httpHeaderConfig"]["values"].append(value or "")
            continue
        condition = {
            "field": "http-header",
            "httpHeaderConfig": {"httpHeaderName": match.header_name, "values": [value or ""]},
        }
        by_name[match.header_name] = condition
        conditions.append(condition)
    return _go_json(conditions)


def _managed(annotations: Mapping[str, str], key: RouterKey) -> dict[str, list[str]]:
    raw = annotations.get(MANAGED_ANNOTATIONS) or ""
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise TrafficRoutingError(
            f"annotation {MANAGED_ANNOTATIONS} is not valid JSON ({exc})",
            kind="Ingress",
            namespace=key[2],
            name=key[3],
        ) from exc
    if not isinstance(value, dict) or not all(
        isinstance(v, list) and all(isinstance(s, str) for s in v) for v in value.values()
    ):
        raise TrafficRoutingError(
            f"annotation {MANAGED_ANNOTATIONS} is not a map of lists of annotation names",
            kind="Ingress",
            namespace=key[2],
            name=key[3],
        )
    return {str(k): list(v) for k, v in value.items()}


def _record_managed(
    annotations: dict[str, str], key: RouterKey, rollout: str, add: bool, keys: Sequence[str]
) -> None:
    """`modifyManagedAnnotation`: add or remove `keys` under the Rollout's name, the whole map written back."""
    managed = _managed(annotations, key)
    mine = managed.get(rollout, [])
    for k in keys:
        if add and k not in mine:
            mine.append(k)
        elif not add:
            mine = [m for m in mine if m != k]
    managed[rollout] = mine
    annotations[MANAGED_ANNOTATIONS] = _go_json(managed, sort_keys=True)


def _backend_service(path: Mapping[str, Any]) -> str:
    return str(((path.get("backend") or {}).get("service") or {}).get("name") or "")


def _paths(spec: JSON) -> list[list[JSON]]:
    """Each rule's HTTP paths list (rules without `http` have none)."""
    out = []
    for rule in spec.get("rules") or []:
        http = rule.get("http") if isinstance(rule, dict) else None
        if isinstance(http, dict) and isinstance(http.get("paths"), list):
            out.append(http["paths"])
    return out


def _has_rule_with_service(spec: JSON, service: str) -> bool:
    return any(_backend_service(p) == service for paths in _paths(spec) for p in paths if isinstance(p, dict))


def has_rule_with_service(ingress: Mapping[str, Any], service: str) -> bool:
    """`HasRuleWithService`: some HTTP path of the Ingress has `service` as its backend."""
    spec = ingress.get("spec")
    return isinstance(spec, dict) and _has_rule_with_service(spec, service)


def _remove_path(spec: JSON, service: str) -> None:
    """`RemovePathByServiceName`: the first path of each rule whose backend is `service`."""
    for paths in _paths(spec):
        for i, p in enumerate(paths):
            if isinstance(p, dict) and _backend_service(p) == service:
                del paths[i]
                break


def _add_annotation_path(spec: JSON, route: str) -> None:
    """`CreateAnnotationBasedPath`: a path `/*` to `<route>:use-annotation`, first in every rule."""
    if _has_rule_with_service(spec, route):
        return
    for paths in _paths(spec):
        paths.insert(
            0,
            {
                "path": "/*",
                "pathType": "ImplementationSpecific",
                "backend": {"service": {"name": route, "port": {"name": "use-annotation"}}},
            },
        )


def _sort_paths(spec: JSON, routes: Sequence[str]) -> None:
    """`SortHttpPaths`: managed routes' paths first, in `managedRoutes` order; the others keep theirs."""
    order = {name: i for i, name in enumerate(routes)}
    for paths in _paths(spec):
        paths.sort(key=lambda p: order.get(_backend_service(p) if isinstance(p, dict) else "", len(order)))


def edit_ingresses(
    ro: Rollout,
    routers: Mapping[RouterKey, JSON],
    canary_weight: int,
    additional: Sequence[WeightDestination] = (),
    step: CanaryStep | None = None,
    remove_managed_routes: bool = False,
) -> list[tuple[RouterKey, JSON]]:
    """(key, edited Ingress) for each ALB Ingress that changes. Raises TrafficRoutingError naming the field."""
    bad = config_error(ro)
    if bad is not None:
        raise TrafficRoutingError(bad)
    tr = ro.spec.traffic_routing
    routes = tr.managed_route_names() if tr is not None and tr.managed_routes is not None else []
    service = action_service(ro)
    out = []
    for (name, field), key in zip(ingress_names(ro), ingress_keys(ro), strict=True):
        current = routers.get(key)
        if current is None:
            raise TrafficRoutingError("not found", kind="Ingress", namespace=key[2], name=name, field=field)
        new = deep(current)
        spec: JSON = new.setdefault("spec", {})
        if not _has_rule_with_service(spec, service):  # validateAlbIngress / reportErrors
            raise TrafficRoutingError(
                no_backend_message(name, service),
                kind="Ingress",
                namespace=key[2],
                name=name,
                field=field,
            )
        meta = new.setdefault("metadata", {})
        annotations: dict[str, str] = dict(meta.get("annotations") or {})
        action_key = action_annotation_key(ro)
        annotations[action_key] = forward_action(ro, canary_weight, additional)
        _record_managed(annotations, key, ro.name, True, [action_key])
        if remove_managed_routes and routes:  # RemoveManagedRoutes
            keys = []
            for route in routes:
                for k in (action_annotation_key(ro, route), _condition_annotation_key(ro, route)):
                    annotations.pop(k, None)
                    keys.append(k)
                _remove_path(spec, route)
            _record_managed(annotations, key, ro.name, False, keys)
        elif step is not None and step.set_header_route is not None and step.set_header_route.name:
            route = step.set_header_route.name
            keys = [action_annotation_key(ro, route), _condition_annotation_key(ro, route)]
            if step.set_header_route.match:
                annotations[keys[0]] = _header_action(ro)
                annotations[keys[1]] = _header_conditions(step)
                _add_annotation_path(spec, route)
            else:
                for k in keys:
                    annotations.pop(k, None)
                _remove_path(spec, route)
            _record_managed(annotations, key, ro.name, bool(step.set_header_route.match), keys)
            _sort_paths(spec, routes)
        meta["annotations"] = annotations
        if new != current:
            out.append((key, new))
    return out


# ---------------------------------------------------------------------------------------------------------------
# A deleted Rollout's actions (Argo's Ingress controller: ingress/alb.go syncALBIngress, getResetALBActionStr)
# ---------------------------------------------------------------------------------------------------------------

DEFAULT_ALB_INGRESS_CLASSES = ("alb",)  # Argo's --alb-ingress-classes default
_LEGACY_MANAGED_ACTIONS = "rollouts.argoproj.io/managed-alb-actions"
_ACTION_MARK = "/actions."


def ingress_class(ingress: Mapping[str, Any]) -> str:
    """`Ingress.GetClass`: the `kubernetes.io/ingress.class` annotation, else `spec.ingressClassName`."""
    annotations = (ingress.get("metadata") or {}).get("annotations") or {}
    value = annotations.get("kubernetes.io/ingress.class") or ""
    if not value:
        value = (ingress.get("spec") or {}).get("ingressClassName") or ""
    return str(value)


def _reset_action(annotations: Mapping[str, str], action_key: str) -> str:
    """`getResetALBActionStr`: everything to the Service the action is named after, at the port the action used
    for it (stickiness kept). Raises ValueError with Argo's reason when it cannot."""
    parts = action_key.split(_ACTION_MARK)
    if len(parts) != 2:
        raise ValueError(f"unable to parse action to get the service {action_key}")
    service = parts[1]
    try:
        previous = json.loads(annotations.get(action_key) or "")
    except ValueError as exc:
        raise ValueError("unable to unmarshal previous ALB action") from exc
    if not isinstance(previous, Mapping):
        raise ValueError("unable to unmarshal previous ALB action")
    found = previous.get("ForwardConfig")
    forward_config: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    groups = forward_config.get("TargetGroups")
    port = ""
    for group in groups if isinstance(groups, list) else ():
        if isinstance(group, Mapping) and group.get("ServiceName") == service:
            port = str(group.get("ServicePort") or "")
    if not port:
        raise ValueError("unable to reset annotation due to missing port")
    forward: JSON = {"TargetGroups": [{"ServiceName": service, "ServicePort": port, "Weight": 100}]}
    sticky = forward_config.get("TargetGroupStickinessConfig")
    if isinstance(sticky, Mapping):
        forward["TargetGroupStickinessConfig"] = {
            k: sticky[k] for k in ("Enabled", "DurationSeconds") if k in sticky
        }
    return _go_json({"Type": "forward", "ForwardConfig": forward})


def reset_orphaned_actions(
    ingress: Mapping[str, Any], living: Iterable[str], classes: Sequence[str] = DEFAULT_ALB_INGRESS_CLASSES
) -> JSON | None:
    """`syncALBIngress`: the Ingress with the actions of every Rollout recorded in its managed annotation and not
    among `living` (the Rollouts of its namespace that route through it) put back to 100 % to their Service, the
    Rollout dropped from the record; None when nothing changes or the Ingress is not of an ALB class. Raises
    ValueError (Argo's reason) when an action cannot be reset: then nothing is written, as in Argo."""
    if ingress_class(ingress) not in classes:
        return None
    meta = ingress.get("metadata") or {}
    annotations: dict[str, str] = dict(meta.get("annotations") or {})
    try:
        managed = _managed(annotations, ("", "Ingress", "", ""))
    except TrafficRoutingError:
        return None  # Argo: an unreadable record is left alone
    alive = set(living)
    gone = [name for name in managed if name not in alive]
    if not gone:
        return None
    for name in gone:
        for action_key in managed.pop(name):
            if _ACTION_MARK in action_key:
                annotations[action_key] = _reset_action(annotations, action_key)
    if managed:
        annotations[MANAGED_ANNOTATIONS] = _go_json(managed, sort_keys=True)
    else:
        annotations.pop(MANAGED_ANNOTATIONS, None)
    annotations.pop(_LEGACY_MANAGED_ACTIONS, None)
    new = deep(dict(ingress))
    new.setdefault("metadata", {})["annotations"] = annotations
    return new


def managed_rollouts(ingress: Mapping[str, Any]) -> list[str]:
    """The Rollouts an Ingress's managed-annotations record names ([] when it has none or it is unreadable)."""
    annotations = (ingress.get("metadata") or {}).get("annotations") or {}
    try:
        return sorted(_managed(annotations, ("", "Ingress", "", "")))
    except TrafficRoutingError:
        return []
