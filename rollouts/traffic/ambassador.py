"""Ambassador: a canary Mapping per base Mapping, weighted, created and removed as the weight asks
(`rollout/trafficrouting/ambassador/ambassador.go`).

PURE edit. For each Mapping in ``trafficRouting.ambassador.mappings`` (``getambassador.io/v2``, Argo's default API
version; in the Rollout's namespace) the canary Mapping ``<mapping>-canary`` (the base name cut to 246 characters)
is a copy of the base's ``spec`` with ``service`` pointing at the canary Service (the first occurrence of the
stable Service's name in it replaced, so ``svc:port`` and ``svc.ns`` forms keep their port and namespace) and
``weight`` set to the canary weight; the base Mapping itself is never edited and may not set a weight. At weight 0
the canary Mapping is first set to weight 0 and then deleted, as Argo does (Argo waits 5 s between the two writes,
in the reconcile; here the delete comes with the next pass, which the Mapping's own watch event brings). Argo does
not set an owner on the canary Mapping, and neither is one set here, so a canary Mapping left by Argo is adopted.
"""

from __future__ import annotations

from collections.abc import Mapping

from rollouts.models import Rollout
from rollouts.traffic.base import JSON, RouterKey, TrafficRoutingError, deep, namespace_of

__all__ = ["AMBASSADOR_API", "canary_mapping_name", "edit_mappings", "mapping_keys"]

AMBASSADOR_API = "getambassador.io/v2"
FIELD = "spec.strategy.canary.trafficRouting.ambassador.mappings"


def canary_mapping_name(base: str) -> str:
    return f"{base[:246]}-canary"


def mapping_keys(ro: Rollout) -> list[tuple[RouterKey, RouterKey]]:
    """(base Mapping key, canary Mapping key) per configured Mapping."""
    tr = ro.spec.traffic_routing
    if tr is None or tr.ambassador is None:
        return []
    ns = namespace_of(ro)
    return [
        ((AMBASSADOR_API, "Mapping", ns, name), (AMBASSADOR_API, "Mapping", ns, canary_mapping_name(name)))
        for name in tr.ambassador.mappings
    ]


def _weight(obj: Mapping[str, object]) -> int:
    value = (obj.get("spec") or {}).get("weight")  # type: ignore[attr-defined]
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def edit_mappings(
    ro: Rollout, routers: Mapping[RouterKey, JSON], canary_weight: int
) -> list[tuple[RouterKey, JSON | None, str]]:
    """(key, object, "create" | "update" | "delete") for each canary Mapping that must change."""
    canary = ro.spec.strategy.canary
    stable_service = (canary.stable_service if canary else None) or ""
    canary_service = (canary.canary_service if canary else None) or ""
    out: list[tuple[RouterKey, JSON | None, str]] = []
    for base_key, canary_key in mapping_keys(ro):
        current = routers.get(canary_key)
        if current is None:
            if canary_weight == 0:
                continue
            base = routers.get(base_key)
            if base is None:
                raise TrafficRoutingError(f'Ambassador mapping "{base_key[3]}" not found', field=FIELD)
            if _weight(base) != 0:
                raise TrafficRoutingError(
                    f'Ambassador mapping "{base_key[3]}" can not define weight', field=FIELD
                )
            spec: JSON = deep(dict(base.get("spec") or {}))
            service = str(spec.get("service") or "")
            spec["service"] = (
                service.replace(stable_service, canary_service, 1) if stable_service else service
            )
            spec["weight"] = int(canary_weight)
            obj: JSON = {
                "apiVersion": base.get("apiVersion") or AMBASSADOR_API,
                "kind": "Mapping",
                "metadata": {"name": canary_key[3], "namespace": canary_key[2]},
                "spec": spec,
            }
            out.append((canary_key, obj, "create"))
            continue
        if canary_weight == 0 and _weight(current) == 0:
            out.append((canary_key, None, "delete"))
            continue
        if _weight(current) != canary_weight:
            new = deep(current)
            new.setdefault("spec", {})["weight"] = int(canary_weight)
            out.append((canary_key, new, "update"))
    return out
