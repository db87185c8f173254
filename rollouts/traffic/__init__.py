"""PURE traffic-router edits: desired weights in, edited router objects out (Istio, SMI, NGINX, Gateway API).

Where it sits: the controller fetches the objects named by `router_refs(rollout)` into `Observed.routers`; the
strategy core decides the canary weight (docs/semantics/controller.md#traffic-weights) and calls `route_edits`, which returns `EditRouter` actions — the
full edited objects, only for objects that change (so a second pass with the same inputs returns ``[]``).
Nothing here does I/O.

Public surface::

    router_refs(ro) -> list[RouterKey]            # (apiVersion, kind, namespace, name) the controller must fetch
    route_edits(ro, routers, canary_weight, canary_hash="", stable_hash="", additional=(), *,
                step=None, remove_managed_routes=False, replica_sets=None) -> list[EditRouter]
    unsupported_routers(ro) -> list[str]          # trafficRouting kinds this controller cannot drive
    foreign_routers(ro) -> [(RouterKey, field, value)]  # router objects named outside the Rollout's namespace
    cross_namespace_message(ro) -> str | None     # the InvalidSpec message for the first of them
    TrafficRoutingError                           # message names the object and the field

`route_edits` arguments:

* ``canary_weight`` — the desired canary weight (0..maxTrafficWeight). Stable gets ``total − canary − Σadditional``
  (total is 100 for Istio and SMI, as in Argo; maxTrafficWeight for NGINX and the Gateway API).
* ``canary_hash`` / ``stable_hash`` — pod-template hashes for the Istio DestinationRule subsets.
* ``additional`` — experiment destinations (`WeightDestination`: serviceName, weight, podTemplateHash).
* ``step`` — the current step (`CanaryStep` or its wire dict): a setHeaderRoute/setMirrorRoute step adds,
  replaces or (without ``match``) removes that managed route in every Istio VirtualService.
* ``remove_managed_routes`` — drop every header/mirror route the steps define (full promotion, abort).
* ``replica_sets`` — the rollout's ReplicaSets (`ReplicaSetState`s); when given, an Istio DestinationRule
  switch is delayed until the traffic-receiving ReplicaSets are available (Argo's
  shouldDelayDestinationRuleUpdate, subset-only routing).

Errors: `TrafficRoutingError` for a missing object, a VirtualService without the named route, a route without
the two services, a foreign-owned canary Ingress/TrafficSplit, or an unsupported router kind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, TypeVar

from rollouts.models import CanaryStep, Rollout, WeightDestination
from rollouts.models.observed import ReplicaSetLike
from rollouts.support import SUPPORTED_ROUTERS, router_refusal
from rollouts.traffic import gatewayapi, istio, nginx, smi
from rollouts.traffic.base import (
    GATEWAY_API_PLUGIN,
    JSON,
    EditRouter,
    RouterKey,
    TrafficRoutingError,
    namespace_of,
)

__all__ = [
    "RouterKey",
    "TrafficRoutingError",
    "cross_namespace_message",
    "foreign_routers",
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
    refs += gatewayapi.http_route_keys(ro)
    return list(dict.fromkeys(refs))


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


def unsupported_routers(ro: Rollout) -> list[str]:
    """trafficRouting entries this controller cannot drive (ALB, Ambassador, App Mesh, Traefik, APISIX, other
    plugins), as field names: ``["alb", "plugins/acme/router"]``."""
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


def _edit(key: RouterKey, obj: JSON, create: bool = False) -> EditRouter:
    api_version, kind, namespace, name = key
    return EditRouter(
        api_version=api_version, kind=kind, namespace=namespace, name=name, obj=obj, create=create
    )
