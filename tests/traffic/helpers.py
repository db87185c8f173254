"""Builders shared by the router tests (plain functions, no fixtures)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rollouts.models import Rollout
from rollouts.traffic import RouterKey
from rollouts.traffic.base import EditRouter

VS_API = "networking.istio.io/v1beta1"


def canary_rollout(traffic_routing: dict[str, Any], **canary: Any) -> Rollout:
    c: dict[str, Any] = {
        "stableService": "stable",
        "canaryService": "canary",
        "trafficRouting": traffic_routing,
    }
    c.update(canary)
    for key in [k for k, v in c.items() if v is None]:
        del c[key]
    return Rollout.from_wire(
        {
            "metadata": {"name": "rollout", "namespace": "default", "uid": "uid-1"},
            "spec": {"replicas": 4, "strategy": {"canary": c}},
        }
    )


def vs_key(name: str = "vsvc", namespace: str = "default") -> RouterKey:
    return (VS_API, "VirtualService", namespace, name)


def virtual_service(name: str = "vsvc", namespace: str = "default", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": VS_API,
        "kind": "VirtualService",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def route(*dests: tuple[str, int], name: str | None = None, **extra: Any) -> dict[str, Any]:
    r: dict[str, Any] = {"route": [{"destination": {"host": h}, "weight": w} for h, w in dests], **extra}
    if name is not None:
        r["name"] = name
    return r


def weights(r: Mapping[str, Any]) -> dict[str, int]:
    return {
        d["destination"].get("subset") or d["destination"]["host"]: d.get("weight", 0) for d in r["route"]
    }


def apply(routers: dict[RouterKey, Any], edits: list[EditRouter]) -> dict[RouterKey, Any]:
    """What the controller does with the edits (replace/create)."""
    out = dict(routers)
    for e in edits:
        out[(e.api_version, e.kind, e.namespace, e.name)] = e.obj
    return out
