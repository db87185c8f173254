"""SMI: the TrafficSplit that splits the root service between canary and stable (`rollout/trafficrouting/smi`).

PURE edit. The split is named ``trafficRouting.smi.trafficSplitName`` (default: the Rollout's name), its root
service is ``smi.rootService`` (default: the stable service). Backends: canary at the desired weight, experiment
services at theirs, stable at ``100 − canary − Σadditional`` (split.smi-spec.io/v1alpha2, integer weights).
A missing split is created (owned by the Rollout); an existing one must be controlled by the Rollout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rollouts.models import Rollout, WeightDestination
from rollouts.traffic.base import (
    JSON,
    TRAFFIC_SPLIT_API,
    RouterKey,
    TrafficRoutingError,
    controlled_by,
    deep,
    namespace_of,
    owner_reference,
    stable_and_canary_services,
)

__all__ = ["edit_traffic_split", "traffic_split_key"]


def traffic_split_key(ro: Rollout) -> RouterKey | None:
    tr = ro.spec.traffic_routing
    if tr is None or tr.smi is None:
        return None
    return (TRAFFIC_SPLIT_API, "TrafficSplit", namespace_of(ro), tr.smi.traffic_split_name or ro.name)


def desired_spec(ro: Rollout, canary_weight: int, additional: Sequence[WeightDestination] = ()) -> JSON:
    smi = ro.spec.traffic_routing.smi  # type: ignore[union-attr]
    stable, canary = stable_and_canary_services(ro)
    backends: list[JSON] = [{"service": canary, "weight": canary_weight}]
    backends += [{"service": d.service_name, "weight": d.weight} for d in additional]
    backends.append({"service": stable, "weight": 100 - canary_weight - sum(d.weight for d in additional)})
    return {"service": (smi.root_service if smi else None) or stable, "backends": backends}


def edit_traffic_split(
    ro: Rollout,
    routers: Mapping[RouterKey, JSON],
    canary_weight: int,
    additional: Sequence[WeightDestination] = (),
) -> tuple[RouterKey, JSON, bool] | None:
    """(key, object, create?) for the TrafficSplit, or None when it already has the desired backends."""
    key = traffic_split_key(ro)
    if key is None:
        return None
    spec = desired_spec(ro, canary_weight, additional)
    current = routers.get(key)
    if current is None:
        obj: JSON = {
            "apiVersion": key[0],
            "kind": "TrafficSplit",
            "metadata": {"name": key[3], "namespace": key[2], "ownerReferences": [owner_reference(ro)]},
            "spec": spec,
        }
        return key, obj, True
    if not controlled_by(current, ro):
        raise TrafficRoutingError(
            f"Rollout does not own TrafficSplit `{key[3]}`",
            kind="TrafficSplit",
            namespace=key[2],
            name=key[3],
            field="spec.strategy.canary.trafficRouting.smi.trafficSplitName",
        )
    if current.get("spec") == spec:
        return None
    new = deep(current)
    new["spec"] = spec
    return key, new, False
