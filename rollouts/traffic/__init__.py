"""PURE traffic-router edits: desired weights in, edited router objects out (Istio, SMI, NGINX, ALB, Traefik,
APISIX, Ambassador, App Mesh, Gateway API).

Where it sits: the controller fetches the objects named by `router_refs(rollout)` into `Observed.routers`; the
strategy core decides the canary weight (docs/semantics/controller.md#traffic-weights) and calls `route_edits`, which returns `EditRouter` actions — the
full edited objects, only for objects that change (so a second pass with the same inputs returns ``[]``).
Nothing here does I/O.

Public surface::

    router_refs(ro) -> list[RouterKey]            # (apiVersion, kind, namespace, name) the controller must fetch
    dependent_router_refs(ro, routers) -> list[RouterKey]  # then these, named by those (App Mesh's VirtualRouter)
    route_edits(ro, routers, canary_weight, canary_hash="", stable_hash="", additional=(), *,
                step=None, remove_managed_routes=False, replica_sets=None) -> list[EditRouter]
    unsupported_routers(ro) -> list[str]          # trafficRouting kinds this controller cannot drive
    foreign_routers(ro) -> [(RouterKey, field, value)]  # router objects named outside the Rollout's namespace
    cross_namespace_message(ro) -> str | None     # the InvalidSpec message for the first of them
    ingress_reference_error(ro, routers) -> str | None  # Argo's referenced-router validation (NGINX, ALB, App Mesh)
    TrafficRoutingError                           # message names the object and the field

`route_edits` arguments:

* ``canary_weight`` — the desired canary weight (0..maxTrafficWeight). Stable gets ``total − canary − Σadditional``
  (total is 100 for Istio, SMI, ALB, Traefik and APISIX, as in Argo; Ambassador's canary Mapping takes the weight alone; maxTrafficWeight for NGINX and the Gateway API).
* ``canary_hash`` / ``stable_hash`` — pod-template hashes for the Istio DestinationRule subsets and the App Mesh
  VirtualNodes' pod selectors.
* ``additional`` — experiment destinations (`WeightDestination`: serviceName, weight, podTemplateHash).
* ``step`` — the current step (`CanaryStep` or its wire dict): a setHeaderRoute/setMirrorRoute step adds,
  replaces or (without ``match``) removes that managed route in every Istio VirtualService (ALB: header routes,
  through the Ingress's action and condition annotations).
* ``remove_managed_routes`` — drop every header/mirror route the steps define (full promotion, abort).
* ``replica_sets`` — the rollout's ReplicaSets (`ReplicaSetState`s); when given, an Istio DestinationRule
  switch is delayed until the traffic-receiving ReplicaSets are available (Argo's
  shouldDelayDestinationRuleUpdate, subset-only routing).

Errors: `TrafficRoutingError` for a missing object, a VirtualService without the named route, a route without
the two services, a foreign-owned canary Ingress/TrafficSplit, or an unsupported router kind.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, TypeVar

from rollouts.models import CanaryStep, Rollout, WeightDestination
from rollouts.models.observed import ReplicaSetLike
from rollouts.support import SUPPORTED_ROUTERS, router_refusal
from rollouts.traffic import alb, ambassador, apisix, appmesh, gatewayapi, istio, nginx, smi, traefik
from rollouts.traffic.base import (
    GATEWAY_API_PLUGIN,
    INGRESS_API,
    JSON,
    EditRouter,
    RouterKey,
    TrafficRoutingError,
    namespace_of,
    no_backend_message,
)

__all__ = [
    "RouterKey",
    "TrafficRoutingError",
    "cross_namespace_message",
    "dependent_router_refs",
    "foreign_routers",
    "ingress_reference_error",
    "route_edits",
    "router_refs",
    "unsupported_routers",
]

SUPPORTED = SUPPORTED_ROUTERS  # the one list of what this controller refuses: rollouts.support


def router_refs(ro: Rollout) -> list[RouterKey]:
    """Every router object `route_edits` may read, in a stable order (missing ones are simply absent)."""
    refs: list[RouterKey] = [key for key, _, _ in istio.virtual_service_keys(ro)]
    dr = istio.destination_rule_key(ro)
    if dr is not None:
        refs.append(dr)
    split = smi.traffic_split_key(ro)
    if split is not None:
        refs.append(split)
    for stable, canary in nginx.ingress_keys(ro):
        refs += [stable, canary]
    refs += alb.ingress_keys(ro)
    for key in (traefik.traefik_service_key(ro), apisix.apisix_route_key(ro)):
        if key is not None:
            refs.append(key)
    refs += apisix.managed_route_keys(ro)
    for base, canary in ambassador.mapping_keys(ro):
        refs += [base, canary]
    refs += appmesh.refs(ro)
    refs += gatewayapi.http_route_keys(ro)
    return list(dict.fromkeys(refs))


def dependent_router_refs(ro: Rollout, routers: Mapping[RouterKey, JSON]) -> list[RouterKey]:
    """Router objects named by the objects `router_refs` found (App Mesh: the VirtualService's VirtualRouter), to
    be read in a second round; `route_edits` needs them too."""
    return [key for key in appmesh.dependent_refs(ro, routers) if key not in routers]


def foreign_routers(ro: Rollout) -> list[tuple[RouterKey, str, str]]:
    """Router objects the Rollout names in another namespace: (key, the field naming it, its value as written).

    An Istio VirtualService or DestinationRule written ``namespace/name``, or the Gateway API plugin's
    ``namespace``; SMI TrafficSplits and NGINX Ingresses are always in the Rollout's namespace."""
    own = namespace_of(ro)
    named: list[tuple[RouterKey, str, str]] = [
        (key, f"{field}.name", vs.name) for key, vs, field in istio.virtual_service_keys(ro)
    ]
    rule = istio.destination_rule_key(ro)
    if rule is not None:
        named.append(
            (rule, "spec.strategy.canary.trafficRouting.istio.destinationRule.name", f"{rule[2]}/{rule[3]}")
        )
    named += [(key, f"{gatewayapi.FIELD}.namespace", key[2]) for key in gatewayapi.http_route_keys(ro)]
    return [entry for entry in named if entry[0][2] != own]


def cross_namespace_message(ro: Rollout) -> str | None:
    """The InvalidSpec message for the first router object outside the Rollout's namespace (None: there is none).

    Not Argo's rule: Argo lets a Rollout edit a VirtualService in any namespace, so whoever may create a Rollout
    could move another team's traffic. The controller refuses it unless started with
    ``--allow-cross-namespace-routing`` (README, "Deliberate differences")."""
    for (_, kind, ns, name), field, value in foreign_routers(ro):
        return (
            f'{field}: Invalid value: "{value}": {kind} {ns}/{name} is outside the Rollout\'s namespace '
            f"{namespace_of(ro)}; a Rollout may only route through objects in its own namespace unless the "
            "controller runs with --allow-cross-namespace-routing"
        )
    return None


_INGRESS_FIELD = "spec.strategy.canary.trafficRouting"


def _go_value(value: str | list[str]) -> str:
    """A field error's value as Kubernetes renders it (`%q` for a string, `%#v` for a list of strings)."""
    if isinstance(value, str):
        return json.dumps(value)
    return "[]string{" + ", ".join(json.dumps(v) for v in value) + "}"


def ingress_reference_error(ro: Rollout, routers: Mapping[RouterKey, JSON]) -> str | None:
    """The first error of Argo's checks of the Ingresses a Rollout names, made on every pass before anything is
    done (rollout/controller.go `getRolloutReferencedResources`, `getReferencedIngresses`, `handleCacheError`;
    pkg/apis/rollouts/validation/validation_references.go `ValidateRolloutNginxIngressesConfig`,
    `ValidateRolloutAlbIngressesConfig`, `ValidateIngress`): exactly one of the single and the list field, each
    named Ingress exists, and each has a rule whose backend is the stable Service (ALB: the root Service); and
    App Mesh's VirtualService and VirtualRouter (`appmesh.reference_error`)."""
    tr = ro.spec.traffic_routing
    canary = ro.spec.strategy.canary
    if tr is None or canary is None:
        return None
    checks: list[tuple[str, str | list[str], list[str], str]] = []  # (field, value, names, service)
    if tr.nginx is not None:
        many, one = tr.nginx.stable_ingresses is not None, bool(tr.nginx.stable_ingress)
        if many == one:
            which = "Both are configured." if many else "Neither are configured."
            return f"{_INGRESS_FIELD}.nginx: Internal error: Either StableIngress or StableIngresses must be configured. {which}"
        field, value = (
            (f"{_INGRESS_FIELD}.nginx.stableIngresses", list(tr.nginx.stable_ingresses or []))
            if many
            else (f"{_INGRESS_FIELD}.nginx.stableIngress", str(tr.nginx.stable_ingress))
        )
        names = value if isinstance(value, list) else [value]
        checks.append((field, value, names, canary.stable_service or ""))
    if tr.alb is not None:
        bad = alb.config_error(ro)
        if bad is not None:
            return bad
        named = alb.ingress_names(ro)  # (name, field): `ingresses`, else `ingress`
        field = named[0][1] if named else f"{_INGRESS_FIELD}.alb.ingress"
        names = [name for name, _ in named]
        value = list(names) if tr.alb.ingresses is not None else (names[0] if names else "")
        checks.append((field, value, names, alb.action_service(ro)))
    mesh = appmesh.reference_error(ro, routers)
    if mesh is not None:
        return mesh
    ns = namespace_of(ro)
    for field, value, names, _ in checks:  # all exist: looked up first, as Argo lists them before validating
        for name in names:
            if (INGRESS_API, "Ingress", ns, name) not in routers:
                return f'{field}: Invalid value: {_go_value(value)}: ingresses.networking.k8s.io "{name}" not found'
    for field, _, names, service in checks:
        for name in names:
            if not alb.has_rule_with_service(routers[(INGRESS_API, "Ingress", ns, name)], service):
                return f"{field}: Invalid value: {_go_value(name)}: {no_backend_message(name, service)}"
    return None


def unsupported_routers(ro: Rollout) -> list[str]:
    """trafficRouting entries this controller cannot drive (Ambassador, App Mesh, Traefik, APISIX, other
    plugins), as field names: ``["ambassador", "plugins/acme/router"]``."""
    tr = ro.spec.traffic_routing
    if tr is None:
        return []
    out = [k for k in tr.kinds() if k != "plugins" and k not in SUPPORTED]
    out += [f"plugins/{name}" for name in (tr.plugins or {}) if name != GATEWAY_API_PLUGIN]
    return out


def _step(step: CanaryStep | Mapping[str, Any] | None) -> CanaryStep | None:
    if step is None or isinstance(step, CanaryStep):
        return step
    return CanaryStep.model_validate(step)


def route_edits(
    ro: Rollout,
    routers: Mapping[RouterKey, JSON],
    canary_weight: int,
    canary_hash: str = "",
    stable_hash: str = "",
    additional: Sequence[WeightDestination] = (),
    *,
    step: CanaryStep | Mapping[str, Any] | None = None,
    remove_managed_routes: bool = False,
    replica_sets: Sequence[ReplicaSetLike] | None = None,
) -> list[EditRouter]:
    """The `EditRouter` actions that bring every router to `canary_weight` (and the managed routes in line).

    Raises `TrafficRoutingError` (object + field in the message) when a router cannot be edited — including,
    when `replica_sets` is given, Argo's "delaying destination rule switch: ReplicaSet x not fully available"
    (subset-only Istio routing waits for the traffic-receiving ReplicaSets before switching subsets; the pass
    then changes no weight, as in Argo).
    """
    if ro.spec.traffic_routing is None:
        return []
    bad = unsupported_routers(ro)
    if bad:
        raise TrafficRoutingError(router_refusal(bad))
    current = _step(step)
    if replica_sets is not None and istio.destination_rule_key(ro) is not None:
        waiting = istio.destination_rule_delay(ro, replica_sets, canary_hash, stable_hash)
        if waiting is not None:
            raise TrafficRoutingError(
                f"delaying destination rule switch: ReplicaSet {waiting} not fully available"
            )
    edits: list[EditRouter] = []
    rule_key = istio.destination_rule_key(ro)
    dr = _guarded(
        rule_key, lambda: istio.edit_destination_rule(ro, routers, canary_hash, stable_hash, additional)
    )
    if dr is not None:
        edits.append(_edit(dr[0], dr[1]))
    for key, vs, field in istio.virtual_service_keys(ro):
        obj = _guarded(
            key,
            partial(
                istio.edit_virtual_service,
                ro,
                key,
                vs,
                field,
                routers,
                canary_weight,
                additional,
                current,
                remove_managed_routes,
            ),
        )
        if obj is not None:
            edits.append(_edit(key, obj))
    split = _guarded(
        smi.traffic_split_key(ro), lambda: smi.edit_traffic_split(ro, routers, canary_weight, additional)
    )
    if split is not None:
        edits.append(_edit(split[0], split[1], create=split[2]))
    for key, obj, create in _guarded(None, lambda: nginx.edit_ingresses(ro, routers, canary_weight)):
        edits.append(_edit(key, obj, create=create))
    for key, obj in _guarded(
        None,
        lambda: alb.edit_ingresses(ro, routers, canary_weight, additional, current, remove_managed_routes),
    ):
        edits.append(_edit(key, obj))
    weighted = _guarded(
        traefik.traefik_service_key(ro), lambda: traefik.edit_traefik_service(ro, routers, canary_weight)
    )
    if weighted is not None:
        edits.append(_edit(weighted[0], weighted[1]))
    apisix_route = _guarded(
        apisix.apisix_route_key(ro), lambda: apisix.edit_apisix_route(ro, routers, canary_weight)
    )
    if apisix_route is not None:
        edits.append(_edit(apisix_route[0], apisix_route[1]))
    for key, obj, verb in _guarded(
        None, lambda: apisix.edit_header_routes(ro, routers, current, remove_managed_routes)
    ):
        edits.append(_verb_edit(key, obj, verb))
    for key, obj in _guarded(
        None, lambda: appmesh.edit_app_mesh(ro, routers, canary_weight, canary_hash, stable_hash)
    ):
        edits.append(_edit(key, obj))
    for key, obj, verb in _guarded(None, lambda: ambassador.edit_mappings(ro, routers, canary_weight)):
        edits.append(_verb_edit(key, obj, verb))
    for key, obj in _guarded(
        None, lambda: gatewayapi.edit_http_routes(ro, routers, canary_weight, additional)
    ):
        edits.append(_edit(key, obj))
    return edits


T = TypeVar("T")


def _guarded(key: RouterKey | None, edit: Callable[[], T]) -> T:
    """Run one router edit; a router object of an unexpected shape becomes a TrafficRoutingError naming it."""
    try:
        return edit()
    except TrafficRoutingError:
        raise
    except (AttributeError, TypeError, KeyError, IndexError, ValueError) as exc:
        kind, ns, name = (key[1], key[2], key[3]) if key is not None else ("", "", "")
        raise TrafficRoutingError(
            f"the object does not have the expected shape ({type(exc).__name__}: {exc})",
            kind=kind,
            namespace=ns,
            name=name,
        ) from exc


def _verb_edit(key: RouterKey, obj: JSON | None, verb: str) -> EditRouter:
    """The action of a router edit that creates, updates or deletes a whole object (Ambassador, APISIX)."""
    if verb == "delete":
        return EditRouter(api_version=key[0], kind=key[1], namespace=key[2], name=key[3], delete=True)
    return _edit(key, obj or {}, create=verb == "create")


def _edit(key: RouterKey, obj: JSON, create: bool = False) -> EditRouter:
    api_version, kind, namespace, name = key
    return EditRouter(
        api_version=api_version, kind=kind, namespace=namespace, name=name, obj=obj, create=create
    )
