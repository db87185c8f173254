"""Traefik: the weights of a weighted TraefikService (`rollout/trafficrouting/traefik/traefik.go`).

PURE edit. ``trafficRouting.traefik.weightedTraefikServiceName`` names a TraefikService (``traefik.io/v1alpha1``,
Argo's default API version) in the Rollout's namespace whose ``spec.weighted.services`` lists the canary and the
stable Service by name: the canary's ``weight`` becomes the desired weight and the stable's ``100 − weight``;
every other field and entry is left as written. Experiment destinations are not routed (Argo's Traefik router
ignores them too). Header and mirror routes are not Traefik's (Argo's router does nothing for them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rollouts.models import Rollout
from rollouts.traffic.base import JSON, RouterKey, TrafficRoutingError, deep, namespace_of

__all__ = ["TRAEFIK_API", "edit_traefik_service", "traefik_service_key"]

TRAEFIK_API = "traefik.io/v1alpha1"
FIELD = "spec.strategy.canary.trafficRouting.traefik.weightedTraefikServiceName"


def traefik_service_key(ro: Rollout) -> RouterKey | None:
    tr = ro.spec.traffic_routing
    if tr is None or tr.traefik is None:
        return None
    return (TRAEFIK_API, "TraefikService", namespace_of(ro), tr.traefik.weighted_traefik_service_name)


def _named(services: list[Any], name: str | None) -> dict[str, Any] | None:
    for service in services:
        if not isinstance(service, dict):
            raise ValueError("Failed type assertion setting weight for traefik service")
        if "name" not in service:
            raise ValueError("name field was not found in service")
        if service["name"] == name:
            return service
    return None


def edit_traefik_service(
    ro: Rollout, routers: Mapping[RouterKey, JSON], canary_weight: int
) -> tuple[RouterKey, JSON] | None:
    """(key, edited TraefikService), or None when its weights already say `canary_weight`."""
    key = traefik_service_key(ro)
    if key is None:
        return None
    current = routers.get(key)
    if current is None:
        raise TrafficRoutingError(
            "not found", kind="TraefikService", namespace=key[2], name=key[3], field=FIELD
        )
    new = deep(current)
    services = ((new.get("spec") or {}).get("weighted") or {}).get("services")
    if not isinstance(services, list):
        raise TrafficRoutingError(
            "spec.weighted.services was not found in traefik service manifest",
            kind="TraefikService",
            namespace=key[2],
            name=key[3],
        )
    canary = ro.spec.strategy.canary
    for service_name, weight, which in (
        (canary.canary_service if canary else None, canary_weight, "canary"),
        (canary.stable_service if canary else None, 100 - canary_weight, "stable"),
    ):
        try:
            entry = _named(services, service_name)
        except ValueError as exc:
            raise TrafficRoutingError(str(exc), kind="TraefikService", namespace=key[2], name=key[3]) from exc
        if entry is None:
            raise TrafficRoutingError(
                f"traefik {which} service was not found", kind="TraefikService", namespace=key[2], name=key[3]
            )
        entry["weight"] = int(weight)
    return (key, new) if new != current else None
