"""Traffic-routing models (docs/semantics/objects.md#traffic-routing-fields "trafficRouting kinds"): Istio, NGINX, ALB, SMI, Ambassador, App Mesh,
Traefik, APISIX, plugins, managedRoutes, maxTrafficWeight.

Part of `rollouts.models` (import from there); the edits themselves live in `rollouts.traffic`.
"""

from __future__ import annotations

from typing import Any

from analysis.wire import WireModel
from rollouts.models.scalars import Bool, Int32, Int64

__all__ = [
    "ALBTrafficRouting",
    "AmbassadorTrafficRouting",
    "ApisixRoute",
    "ApisixTrafficRouting",
    "AppMeshTrafficRouting",
    "AppMeshVirtualNodeGroup",
    "AppMeshVirtualNodeReference",
    "AppMeshVirtualService",
    "IstioDestinationRule",
    "IstioTrafficRouting",
    "IstioVirtualService",
    "ManagedRoute",
    "NginxTrafficRouting",
    "RolloutTrafficRouting",
    "SMITrafficRouting",
    "StickinessConfig",
    "TCPRoute",
    "TLSRoute",
    "TraefikTrafficRouting",
]


# ---------------------------------------------------------------------------------------------------------------
# Traffic routing
# ---------------------------------------------------------------------------------------------------------------


class TLSRoute(WireModel):
    port: Int64 | None = None
    sni_hosts: list[str] | None = None


class TCPRoute(WireModel):
    port: Int64 | None = None


class IstioVirtualService(WireModel):
    """A VirtualService reference; ``name`` may be ``ns/name`` (docs/semantics/controller.md#istio)."""

    name: str
    routes: list[str] | None = None
    tls_routes: list[TLSRoute] | None = None
    tcp_routes: list[TCPRoute] | None = None


class IstioDestinationRule(WireModel):
    name: str
    canary_subset_name: str
    stable_subset_name: str
    additional_subset_names: list[str] | None = None


class IstioTrafficRouting(WireModel):
    virtual_service: IstioVirtualService | None = None
    destination_rule: IstioDestinationRule | None = None
    virtual_services: list[IstioVirtualService] | None = None

    def all_virtual_services(self) -> list[IstioVirtualService]:
        """`virtualService` (if set) followed by `virtualServices`."""
        out = [self.virtual_service] if self.virtual_service is not None else []
        return out + list(self.virtual_services or [])


class NginxTrafficRouting(WireModel):
    annotation_prefix: str | None = None
    stable_ingress: str | None = None
    stable_ingresses: list[str] | None = None
    additional_ingress_annotations: dict[str, str] | None = None
    canary_ingress_annotations: dict[str, str] | None = None

    def all_stable_ingresses(self) -> list[str]:
        out = [self.stable_ingress] if self.stable_ingress else []
        return out + [i for i in self.stable_ingresses or [] if i not in out]


class StickinessConfig(WireModel):
    enabled: Bool
    duration_seconds: Int64


class ALBTrafficRouting(WireModel):
    ingress: str | None = None
    ingresses: list[str] | None = None
    service_port: Int32 | None = None
    root_service: str | None = None
    annotation_prefix: str | None = None
    stickiness_config: StickinessConfig | None = None


class SMITrafficRouting(WireModel):
    root_service: str | None = None
    traffic_split_name: str | None = None


class AmbassadorTrafficRouting(WireModel):
    mappings: list[str]


class AppMeshVirtualService(WireModel):
    name: str
    routes: list[str] | None = None


class AppMeshVirtualNodeReference(WireModel):
    name: str


class AppMeshVirtualNodeGroup(WireModel):
    canary_virtual_node_ref: AppMeshVirtualNodeReference | None = None
    stable_virtual_node_ref: AppMeshVirtualNodeReference | None = None


class AppMeshTrafficRouting(WireModel):
    virtual_service: AppMeshVirtualService | None = None
    virtual_node_group: AppMeshVirtualNodeGroup | None = None


class TraefikTrafficRouting(WireModel):
    weighted_traefik_service_name: str


class ApisixRoute(WireModel):
    name: str
    rules: list[str] | None = None


class ApisixTrafficRouting(WireModel):
    route: ApisixRoute | None = None


class ManagedRoute(WireModel):
    name: str


class RolloutTrafficRouting(WireModel):
    istio: IstioTrafficRouting | None = None
    nginx: NginxTrafficRouting | None = None
    alb: ALBTrafficRouting | None = None
    smi: SMITrafficRouting | None = None
    ambassador: AmbassadorTrafficRouting | None = None
    app_mesh: AppMeshTrafficRouting | None = None
    traefik: TraefikTrafficRouting | None = None
    apisix: ApisixTrafficRouting | None = None
    plugins: dict[str, Any] | None = None
    managed_routes: list[ManagedRoute] | None = None
    max_traffic_weight: Int32 | None = None

    def kinds(self) -> list[str]:
        """Wire names of the routers configured (``istio``, ``nginx``, …, ``plugins``)."""
        named = {
            "istio": self.istio,
            "nginx": self.nginx,
            "alb": self.alb,
            "smi": self.smi,
            "ambassador": self.ambassador,
            "appMesh": self.app_mesh,
            "traefik": self.traefik,
            "apisix": self.apisix,
        }
        out = [k for k, v in named.items() if v is not None]
        if self.plugins:
            out.append("plugins")
        return out

    def managed_route_names(self) -> list[str]:
        return [r.name for r in self.managed_routes or []]
