"""Gateway API: backendRef weights of HTTPRoutes (Argo's `argoproj-labs/gatewayAPI` traffic-router plugin).

PURE edit. Configured as ``trafficRouting.plugins["argoproj-labs/gatewayAPI"]`` with ``httpRoute: <name>`` or
``httpRoutes: [{name: …}]`` and an optional ``namespace`` (default: the Rollout's). In every rule of each
HTTPRoute, the backendRef named after the canary service gets the canary weight and the one named after the
stable service ``max − canary − Σadditional``; other backendRefs are left alone. A route none of whose rules
reaches both services is an error naming the route.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rollouts.models import Rollout, WeightDestination
from rollouts.traffic.base import (
    GATEWAY_API_PLUGIN,
    HTTP_ROUTE_API,
    JSON,
    RouterKey,
    TrafficRoutingError,
    deep,
    namespace_of,
    stable_and_canary_services,
    weight_of,
)

__all__ = ["edit_http_routes", "http_route_keys"]

FIELD = f'spec.strategy.canary.trafficRouting.plugins["{GATEWAY_API_PLUGIN}"]'


def _config(ro: Rollout) -> Mapping[str, Any] | None:
    tr = ro.spec.traffic_routing
    cfg = (tr.plugins or {}).get(GATEWAY_API_PLUGIN) if tr is not None else None
    return cfg if isinstance(cfg, Mapping) else None


def http_route_keys(ro: Rollout) -> list[RouterKey]:
    cfg = _config(ro)
    if cfg is None:
        return []
    ns = str(cfg.get("namespace") or namespace_of(ro))
    names: list[str] = []
    if cfg.get("httpRoute"):
        names.append(str(cfg["httpRoute"]))
    routes = cfg.get("httpRoutes")
    if routes is not None and not isinstance(routes, list):
        raise TrafficRoutingError(
            f"httpRoutes must be a list of routes, not {type(routes).__name__}", field=f"{FIELD}.httpRoutes"
        )
    for entry in routes or []:
        name = entry.get("name") if isinstance(entry, Mapping) else entry
        if name and str(name) not in names:
            names.append(str(name))
    return [(HTTP_ROUTE_API, "HTTPRoute", ns, n) for n in names]


def edit_http_routes(
    ro: Rollout,
    routers: Mapping[RouterKey, JSON],
    canary_weight: int,
    additional: Sequence[WeightDestination] = (),
) -> list[tuple[RouterKey, JSON]]:
    """(key, edited HTTPRoute) for each route whose weights change."""
    stable_svc, canary_svc = stable_and_canary_services(ro)
    extra = {d.service_name: d.weight for d in additional}
    stable_weight = max(ro.spec.max_traffic_weight() - canary_weight - sum(extra.values()), 0)
    out = []
    for key in http_route_keys(ro):
        obj = routers.get(key)
        if obj is None:
            raise TrafficRoutingError(
                "not found", kind="HTTPRoute", namespace=key[2], name=key[3], field=FIELD
            )
        new = deep(obj)
        reached = False
        for rule in (new.get("spec") or {}).get("rules") or []:
            refs = rule.get("backendRefs") or []
            names = {r.get("name") for r in refs}
            if canary_svc in names and stable_svc in names:
                reached = True
            for ref in refs:
                name = ref.get("name")
                want = {canary_svc: canary_weight, stable_svc: stable_weight}.get(name, extra.get(name))
                if want is not None and weight_of(ref.get("weight", 1)) != want:
                    ref["weight"] = want
        if not reached:
            raise TrafficRoutingError(
                f"no rule has backendRefs for both the stable service '{stable_svc}' and the canary service "
                f"'{canary_svc}'",
                kind="HTTPRoute",
                namespace=key[2],
                name=key[3],
                field=FIELD,
            )
        if new != obj:
            out.append((key, new))
    return out
