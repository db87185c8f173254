"""APISIX: the backend weights of an ApisixRoute's HTTP rules (`rollout/trafficrouting/apisix/apisix.go`).

PURE edit. ``trafficRouting.apisix.route.name`` names an ApisixRoute (``apisix.apache.org/v2``, Argo's default)
in the Rollout's namespace; in each of its ``spec.http`` rules named by ``route.rules`` (default: a rule named
like the route) the backend whose ``serviceName`` is the canary Service gets the desired weight and the stable
one ``100 − weight``; everything else is left as written. Experiment destinations are not routed (as in Argo).
Argo's APISIX header routes (a second ApisixRoute per `setHeaderRoute`, created and deleted by the controller)
are not implemented here: such a Rollout is refused (`rollouts.support`), never run without them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rollouts.models import Rollout
from rollouts.traffic.base import JSON, RouterKey, TrafficRoutingError, deep, namespace_of

__all__ = ["APISIX_API", "apisix_route_key", "edit_apisix_route"]

APISIX_API = "apisix.apache.org/v2"
FIELD = "spec.strategy.canary.trafficRouting.apisix.route"


def apisix_route_key(ro: Rollout) -> RouterKey | None:
    tr = ro.spec.traffic_routing
    if tr is None or tr.apisix is None or tr.apisix.route is None:
        return None
    return (APISIX_API, "ApisixRoute", namespace_of(ro), tr.apisix.route.name)


def _rule(rules: list[Any], name: str) -> dict[str, Any]:
    for rule in rules:
        if not isinstance(rule, dict):
            raise ValueError("Failed type assertion setting weight for apisix route")
        if "name" not in rule:
            raise ValueError("Apisix http route rule name field not found")
        if rule["name"] == name:
            return rule
    raise ValueError(f"Apisix http route rule {name} not found")


def _set_weight(backends: list[Any], service: str | None, weight: int) -> None:
    for backend in backends:
        if not isinstance(backend, dict):
            raise ValueError("Failed type assertion setting weight for apisix route backends")
        if "serviceName" not in backend:
            raise ValueError("serviceName field was not found in backend")
        if backend["serviceName"] == service:
            backend["weight"] = int(weight)
            return
    raise ValueError(f"apisix route {service} backend was not found")


def edit_apisix_route(
    ro: Rollout, routers: Mapping[RouterKey, JSON], canary_weight: int
) -> tuple[RouterKey, JSON] | None:
    """(key, edited ApisixRoute), or None when its weights already say `canary_weight`."""
    key = apisix_route_key(ro)
    if key is None:
        return None
    current = routers.get(key)
    if current is None:
        raise TrafficRoutingError(
            "not found", kind="ApisixRoute", namespace=key[2], name=key[3], field=f"{FIELD}.name"
        )
    new = deep(current)
    rules = (new.get("spec") or {}).get("http")
    if not isinstance(rules, list):
        raise TrafficRoutingError(
            "spec.http was not found in Apisix Route manifest",
            kind="ApisixRoute",
            namespace=key[2],
            name=key[3],
        )
    route = ro.spec.traffic_routing.apisix.route  # type: ignore[union-attr]
    assert route is not None
    canary = ro.spec.strategy.canary
    try:
        for name in route.rules if route.rules is not None else [route.name]:
            rule = _rule(rules, name)
            backends = rule.get("backends")
            if not isinstance(backends, list):
                raise ValueError("Apisix http route backends not found")
            _set_weight(backends, canary.canary_service if canary else None, canary_weight)
            _set_weight(backends, canary.stable_service if canary else None, 100 - canary_weight)
    except ValueError as exc:
        raise TrafficRoutingError(
            str(exc), kind="ApisixRoute", namespace=key[2], name=key[3], field=FIELD
        ) from exc
    return (key, new) if new != current else None
