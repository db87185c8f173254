"""AWS App Mesh: the weighted targets of the VirtualRouter behind the Rollout's VirtualService, and the pod
selectors of the canary and stable VirtualNodes (`rollout/trafficrouting/appmesh/appmesh.go`).

PURE edit. ``trafficRouting.appMesh.virtualService`` names an App Mesh VirtualService (``appmesh.k8s.aws/v1beta2``)
whose ``spec.provider.virtualRouter.virtualRouterRef`` (namespace default: the VirtualService's) names the
VirtualRouter; the controller fetches it once it has read the VirtualService (`dependent_refs`). In each route of
the VirtualRouter (only those named in ``virtualService.routes``, when given), under its ``httpRoute``,
``tcpRoute``, ``http2Route`` or ``grpcRoute``, the ``action.weightedTargets`` entry whose ``virtualNodeRef`` is the
stable VirtualNode (in the Rollout's namespace) gets ``100 − weight`` and the canary's gets the weight
(`SetWeight`). The two VirtualNodes of ``virtualNodeGroup`` select their ReplicaSet's pods:
``spec.podSelector.matchLabels.rollouts-pod-template-hash`` is the stable hash (``stable-hash`` while there is
none) and the canary hash (``canary-hash`` while it is the stable one or unknown), and each is annotated
``argo-rollouts.argoproj.io/managed-by-rollouts: <rollout>`` (`UpdateHash`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rollouts.models import Rollout
from rollouts.models.vocabulary import MANAGED_BY_ANNOTATION, POD_TEMPLATE_HASH_LABEL
from rollouts.traffic.base import JSON, RouterKey, TrafficRoutingError, deep, namespace_of

__all__ = ["APP_MESH_API", "dependent_refs", "edit_app_mesh", "refs"]

APP_MESH_API = "appmesh.k8s.aws/v1beta2"
FIELD = "spec.strategy.canary.trafficRouting.appMesh"
ROUTE_TYPES = ("httpRoute", "tcpRoute", "http2Route", "grpcRoute")
DEFAULT_STABLE_HASH = "stable-hash"
DEFAULT_CANARY_HASH = "canary-hash"
NOT_WELL_FORMED = "not well-formed"


def _error(key: RouterKey, message: str, field: str = "") -> TrafficRoutingError:
    """The error about one App Mesh object (its kind, namespace and name from `key`)."""
    return TrafficRoutingError(message, kind=key[1], namespace=key[2], name=key[3], field=field)


def _config(ro: Rollout) -> Any:
    tr = ro.spec.traffic_routing
    return tr.app_mesh if tr is not None else None


def _node_names(ro: Rollout) -> tuple[str, str]:
    group = _config(ro).virtual_node_group
    stable = group.stable_virtual_node_ref.name if group and group.stable_virtual_node_ref else ""
    canary = group.canary_virtual_node_ref.name if group and group.canary_virtual_node_ref else ""
    return stable, canary


def refs(ro: Rollout) -> list[RouterKey]:
    """The VirtualService and the two VirtualNodes (the VirtualRouter comes from the VirtualService)."""
    config = _config(ro)
    if config is None or config.virtual_service is None:
        return []
    ns = namespace_of(ro)
    out: list[RouterKey] = [(APP_MESH_API, "VirtualService", ns, config.virtual_service.name)]
    out += [(APP_MESH_API, "VirtualNode", ns, name) for name in _node_names(ro) if name]
    return out


def _router_key(ro: Rollout, routers: Mapping[RouterKey, JSON]) -> RouterKey:
    vs_key = refs(ro)[0]
    vs = routers.get(vs_key)
    if vs is None:
        raise _error(vs_key, "Virtual-service is missing", f"{FIELD}.virtualService.name")
    ref = (((vs.get("spec") or {}).get("provider") or {}).get("virtualRouter") or {}).get("virtualRouterRef")
    if not isinstance(ref, dict) or not ref.get("name"):
        raise _error(vs_key, "Virtual-service is not associated with virtual-router")
    return (APP_MESH_API, "VirtualRouter", str(ref.get("namespace") or vs_key[2]), str(ref["name"]))


def dependent_refs(ro: Rollout, routers: Mapping[RouterKey, JSON]) -> list[RouterKey]:
    """Router objects named by the ones already read: the VirtualRouter of the VirtualService (none yet when the
    VirtualService is missing or names no VirtualRouter: `edit_app_mesh` then says so)."""
    if not refs(ro):
        return []
    try:
        return [_router_key(ro, routers)]
    except TrafficRoutingError:
        return []


def _weights(ro: Rollout, key: RouterKey, router: JSON, canary_weight: int) -> JSON:
    new = deep(router)
    routes = (new.get("spec") or {}).get("routes")
    if not isinstance(routes, list):
        raise _error(key, "No routes found", "spec.routes")
    wanted = set(_config(ro).virtual_service.routes or [])
    stable, canary = _node_names(ro)
    ns = namespace_of(ro)
    for i, route in enumerate(routes):
        where = f"spec.routes[{i}]"
        if not isinstance(route, dict) or not isinstance(route.get("name"), str):
            raise _error(key, NOT_WELL_FORMED, f"{where}.name")
        if wanted and route["name"] not in wanted:
            continue
        rule_type = next((t for t in ROUTE_TYPES if isinstance(route.get(t), dict)), None)
        targets = (
            ((route.get(rule_type) or {}).get("action") or {}).get("weightedTargets") if rule_type else None
        )
        if not isinstance(targets, list):
            raise _error(key, NOT_WELL_FORMED, f"{where}.{rule_type or 'httpRoute'}.action.weightedTargets")
        for j, target in enumerate(targets):
            node = target.get("virtualNodeRef") if isinstance(target, dict) else None
            if not isinstance(node, dict):
                raise _error(
                    key, NOT_WELL_FORMED, f"{where}.{rule_type}.action.weightedTargets[{j}].virtualNodeRef"
                )
            in_ns = (node.get("namespace") or ns) == ns
            if in_ns and node.get("name") == stable:
                target["weight"] = 100 - int(canary_weight)
            elif in_ns and node.get("name") == canary:
                target["weight"] = int(canary_weight)
    return new


def _node(ro: Rollout, key: RouterKey, node: JSON | None, pod_hash: str) -> JSON:
    if node is None:
        raise _error(key, "Virtual-node is missing", f"{FIELD}.virtualNodeGroup")
    new = deep(node)
    meta = new.setdefault("metadata", {})
    meta["annotations"] = {**(meta.get("annotations") or {}), MANAGED_BY_ANNOTATION: ro.name}
    spec = new.setdefault("spec", {})
    selector = spec.get("podSelector") if isinstance(spec.get("podSelector"), dict) else {}
    labels = dict(selector.get("matchLabels") or {})
    labels[POD_TEMPLATE_HASH_LABEL] = pod_hash
    spec["podSelector"] = {**selector, "matchLabels": labels}
    return new


def reference_error(ro: Rollout, routers: Mapping[RouterKey, JSON]) -> str | None:
    """Argo's checks of the App Mesh objects, on every pass (rollout/controller.go `getReferencedAppMeshResources`,
    validation_references.go `ValidateAppMeshVirtualRouter`): the VirtualService and its VirtualRouter exist, and
    every route of the router has a supported rule with exactly two weighted targets. Argo's field path spells
    `appmesh` in lower case; its value is `<virtualService>.<namespace>`."""
    keys = refs(ro)
    if not keys:
        return None
    vs_key = keys[0]
    path = "spec.strategy.canary.trafficRouting.appmesh.virtualService"
    value = f'"{vs_key[3]}.{vs_key[2]}"'
    if vs_key not in routers:
        return f'{path}: Invalid value: {value}: virtualservices.appmesh.k8s.aws "{vs_key[3]}" not found'
    try:
        router_key = _router_key(ro, routers)
    except TrafficRoutingError as exc:
        return exc.message
    router = routers.get(router_key)
    if router is None:
        return f'{path}: Invalid value: {value}: virtualrouters.appmesh.k8s.aws "{router_key[3]}" not found'
    name = router_key[3]
    routes = (router.get("spec") or {}).get("routes")
    if not isinstance(routes, list) or not routes:
        return f'spec.routes: Invalid value: "{name}": No routes defined for AppMesh virtual-router {name}'
    for i, route in enumerate(routes):
        where = f"spec.routes[{i}]"
        if not isinstance(route, dict):
            return f'{where}: Invalid value: "{name}": Invalid route was found for AppMesh virtual-router {name} at index {i}'
        rule_type = next((t for t in ROUTE_TYPES if isinstance(route.get(t), dict)), None)
        if rule_type is None:
            return (
                f'{where}: Invalid value: "{name}": Error getting route details for AppMesh virtual-router {name} and '
                f"route {route.get('name')}. Error: Route has unsupported route type"
            )
        targets = (route[rule_type].get("action") or {}).get("weightedTargets")
        path_t = f"{where}.{rule_type}.action.weightedTargets"
        if not isinstance(targets, list):
            return f'{path_t}: Invalid value: "{name}": Invalid route action found for AppMesh virtual-router {name} and route {route.get("name")}'
        if len(targets) != 2:
            return (
                f'{path_t}: Invalid value: "{name}": Invalid number of weightedTargets ({len(targets)}) for AppMesh '
                f"virtual-router {name} and route {route.get('name')}, expected 2"
            )
    return None


def edit_app_mesh(
    ro: Rollout, routers: Mapping[RouterKey, JSON], canary_weight: int, canary_hash: str, stable_hash: str
) -> list[tuple[RouterKey, JSON]]:
    """(key, edited object) for the VirtualNodes (`UpdateHash`) and the VirtualRouter (`SetWeight`) that change."""
    keys = refs(ro)
    if not keys:
        return []
    out: list[tuple[RouterKey, JSON]] = []
    stable_name, canary_name = _node_names(ro)
    stable_hash = stable_hash or DEFAULT_STABLE_HASH
    if not canary_hash or canary_hash == stable_hash:
        canary_hash = DEFAULT_CANARY_HASH
    ns = namespace_of(ro)
    for name, pod_hash in ((stable_name, stable_hash), (canary_name, canary_hash)):
        key = (APP_MESH_API, "VirtualNode", ns, name)
        new = _node(ro, key, routers.get(key), pod_hash)
        if new != routers.get(key):
            out.append((key, new))
    router_key = _router_key(ro, routers)
    router = routers.get(router_key)
    if router is None:
        raise _error(router_key, "Virtual-router is missing")
    new_router = _weights(ro, router_key, router, canary_weight)
    if new_router != router:
        out.append((router_key, new_router))
    return out
