"""Shared vocabulary of the router edits: object keys, the edit itself (`EditRouter`, one of the strategy
core's actions), the error every router raises, service names.

Sits under `rollouts.traffic` (PURE: no I/O). Each router module (istio, smi, nginx, gatewayapi) takes the router
objects the controller fetched (wire JSON, keyed by `RouterKey`) and returns edited copies; anything it cannot
make sense of is a `TrafficRoutingError` whose message names the object and the field, so the strategy core can
turn it into an event/condition instead of crashing.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rollouts.models import Rollout
from rollouts.support import GATEWAY_API_PLUGIN as GATEWAY_API_PLUGIN  # re-exported to the routers

JSON = dict[str, Any]
RouterKey = tuple[str, str, str, str]
"""(apiVersion, kind, namespace, name) of a router object, as in `Observed.routers`."""

VIRTUAL_SERVICE_API = "networking.istio.io/v1beta1"
DESTINATION_RULE_API = "networking.istio.io/v1beta1"
TRAFFIC_SPLIT_API = "split.smi-spec.io/v1alpha2"
INGRESS_API = "networking.k8s.io/v1"
HTTP_ROUTE_API = "gateway.networking.k8s.io/v1"


@dataclass(frozen=True)
class EditRouter:
    """Write a traffic-router object (VirtualService, TrafficSplit, Ingress, HTTPRoute, DestinationRule).

    `obj` is the full edited object (replace, guarded by its resourceVersion) when `create` is False, or a new
    object to create (e.g. the NGINX canary Ingress) when True. `delete` removes it.
    """

    api_version: str
    kind: str
    namespace: str
    name: str
    obj: JSON | None = None
    create: bool = False
    delete: bool = False


class TrafficRoutingError(Exception):
    """A router object is missing or does not fit the Rollout's trafficRouting.

    ``str(e)`` is one sentence naming the object and the field, e.g.
    ``VirtualService production/api-server-vsvc: HTTP Route 'primary' is not found in the defined Virtual
    Service (spec.strategy.canary.trafficRouting.istio.virtualServices[0].routes)``.
    """

    def __init__(
        self, message: str, *, kind: str = "", namespace: str = "", name: str = "", field: str = ""
    ) -> None:
        self.kind, self.namespace, self.name, self.field = kind, namespace, name, field
        self.message = message  # the sentence alone, without the object and the field
        where = f"{kind} {namespace}/{name}: " if kind else ""
        super().__init__(f"{where}{message}" + (f" ({field})" if field else ""))


def no_backend_message(ingress: str, service: str) -> str:
    """Argo's words for an Ingress none of whose paths goes to the Service it must (validation_references.go
    `reportErrors`); NGINX's stable Ingress, ALB's Ingresses, the controller and lint alike."""
    return f"ingress `{ingress}` has no rules using service {service} backend"


def namespace_of(ro: Rollout) -> str:
    return ro.namespace or "default"


def split_name(name: str, namespace: str) -> tuple[str, str]:
    """``ns/name`` → (ns, name); a bare name is in the Rollout's namespace (docs/semantics/controller.md#traffic-weights)."""
    if "/" in name:
        ns, _, short = name.partition("/")
        return ns or namespace, short
    return namespace, name


def stable_and_canary_services(ro: Rollout, ping_pong_preferred: bool = False) -> tuple[str, str]:
    """(stable, canary) service names (`GetStableAndCanaryServices`): with ping-pong, the ping and pong Services
    by `status.canary.stablePingPong` (ping stable when it says "ping"; pong otherwise) — always when
    `ping_pong_preferred` (ALB), else only when neither stableService nor canaryService is set."""
    c = ro.spec.strategy.canary
    if c is None:
        return "", ""
    if c.ping_pong is not None and (ping_pong_preferred or (not c.stable_service and not c.canary_service)):
        if ro.status.canary.stable_ping_pong == "ping":
            return c.ping_pong.ping_service, c.ping_pong.pong_service
        return c.ping_pong.pong_service, c.ping_pong.ping_service
    return c.stable_service or "", c.canary_service or ""


def owner_reference(ro: Rollout) -> JSON:
    """The controller reference put on objects the rollout creates (canary Ingress, TrafficSplit)."""
    ref: JSON = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "name": ro.name,
        "controller": True,
        "blockOwnerDeletion": True,
    }
    if ro.metadata.uid:
        ref["uid"] = ro.metadata.uid
    return ref


def controlled_by(obj: Mapping[str, Any], ro: Rollout) -> bool:
    """metav1.IsControlledBy: a controller ownerReference to this Rollout (by uid when both have one)."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if not ref.get("controller") or ref.get("kind") != "Rollout":
            continue
        if ro.metadata.uid and ref.get("uid"):
            if ref["uid"] == ro.metadata.uid:
                return True
        elif ref.get("name") == ro.name:
            return True
    return False


def deep(obj: Mapping[str, Any]) -> JSON:
    return copy.deepcopy(dict(obj))


def weight_of(value: Any) -> int:
    """A weight as read from JSON (absent/null → 0; 100.0 → 100)."""
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0
