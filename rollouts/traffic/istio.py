"""Istio: VirtualService weights, header/mirror managed routes, DestinationRule subset hashes (docs/semantics/controller.md#istio).

PURE edits mirroring Argo's `rollout/trafficrouting/istio/istio.go`. For each configured VirtualService
(``virtualService`` and ``virtualServices``, names may be ``ns/name``):

* HTTP routes are found by name (``routes``), or — with no names configured — the single route, else the first
  unnamed one; TLS routes by port + SNI hosts; TCP routes by port (with none configured, the first one).
* In each route, a destination whose host short name (text before the first ``.``) is the canary service, or
  whose subset is the canary subset, gets the canary weight; the stable one gets ``100 − canary − Σadditional``
  (floored at 0; Istio's total is always 100); experiment services get their weight (appended, sorted by host,
  when missing); additional DestinationRule subsets keep theirs; any other destination is removed.
* Managed routes (setHeaderRoute/setMirrorRoute) are added, replaced or removed, then HTTP routes are ordered
  with the managed ones first, in ``managedRoutes`` order.
* DestinationRule: the canary/stable subsets' ``rollouts-pod-template-hash`` labels follow the hashes.

Argo validates the routes before editing; the same checks raise `TrafficRoutingError` here (Argo's wording).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rollouts.models import (
    CanaryStep,
    IstioVirtualService,
    Rollout,
    SetHeaderRoute,
    SetMirrorRoute,
    StringMatch,
    WeightDestination,
)
from rollouts.models.observed import ReplicaSetLike
from rollouts.models.vocabulary import MANAGED_BY_ANNOTATION, POD_TEMPLATE_HASH_LABEL
from rollouts.traffic.base import (
    DESTINATION_RULE_API,
    JSON,
    VIRTUAL_SERVICE_API,
    RouterKey,
    TrafficRoutingError,
    deep,
    namespace_of,
    split_name,
    stable_and_canary_services,
    weight_of,
)

__all__ = [
    "destination_rule_delay",
    "destination_rule_key",
    "edit_destination_rule",
    "edit_virtual_service",
    "virtual_service_keys",
    "virtual_service_problem",
]


def virtual_service_keys(ro: Rollout) -> list[tuple[RouterKey, IstioVirtualService, str]]:
    """(key, its trafficRouting entry, the entry's field path) for every configured VirtualService."""
    tr = ro.spec.traffic_routing
    istio = tr.istio if tr is not None else None
    if istio is None:
        return []
    base = "spec.strategy.canary.trafficRouting.istio"
    entries: list[tuple[IstioVirtualService, str]] = []
    if istio.virtual_service is not None:
        entries.append((istio.virtual_service, f"{base}.virtualService"))
    entries += [(vs, f"{base}.virtualServices[{i}]") for i, vs in enumerate(istio.virtual_services or [])]
    out = []
    for vs, field in entries:
        ns, name = split_name(vs.name, namespace_of(ro))
        out.append(((VIRTUAL_SERVICE_API, "VirtualService", ns, name), vs, field))
    return out


def destination_rule_key(ro: Rollout) -> RouterKey | None:
    tr = ro.spec.traffic_routing
    dr = tr.istio.destination_rule if tr is not None and tr.istio is not None else None
    if dr is None:
        return None
    ns, name = split_name(dr.name, namespace_of(ro))
    return (DESTINATION_RULE_API, "DestinationRule", ns, name)


# ---------------------------------------------------------------------------------------------------------------
# Route lookup and validation (getHttpRouteIndexesToPatch, searchTlsRoute, searchTcpRoute, Validate*Routes)
# ---------------------------------------------------------------------------------------------------------------


def _short_host(destination: Mapping[str, Any]) -> str:
    """getHost: the text before the first '.', "" when the host starts with '.'."""
    host = str((destination.get("destination") or {}).get("host") or "")
    idx = host.find(".")
    if idx > 0:
        return host[:idx]
    return host if idx < 0 else ""


def _subset(destination: Mapping[str, Any]) -> str:
    return str((destination.get("destination") or {}).get("subset") or "")


def _http_indexes(names: Sequence[str], http: Sequence[Mapping[str, Any]]) -> list[int]:
    if not names:
        if len(http) == 1:
            return [0]
        return next(([i] for i, r in enumerate(http) if not r.get("name")), [])
    out = []
    for name in names:
        idx = next((i for i, r in enumerate(http) if r.get("name") == name), -1)
        if idx < 0:
            raise LookupError(f"HTTP Route '{name}' is not found in the defined Virtual Service.")
        out.append(idx)
    return out


def _match_ports_and_sni(route: Mapping[str, Any]) -> tuple[set[int], set[str]]:
    ports: set[int] = set()
    sni: set[str] = set()
    for m in route.get("match") or []:
        ports.add(weight_of(m.get("port")))
        sni.update(m.get("sniHosts") or [])
    return ports, sni


def _port_routes(
    wanted: Sequence[Any], routes: Sequence[Mapping[str, Any]], kind: str, with_sni: bool
) -> list[int]:
    """The indexes of the TLS or TCP routes a Rollout names by port (and SNI hosts, for TLS); none named → the
    first route. Each named route must match at least one (Argo's error otherwise)."""
    if not wanted:
        return [0]
    out = []
    for w in wanted:
        found = []
        for i, route in enumerate(routes):
            ports, sni = _match_ports_and_sni(route)
            port = next(iter(ports)) if len(ports) == 1 else 0
            same_sni = not with_sni or sorted(sni) == sorted(w.sni_hosts or [])
            if len(ports) <= 1 and port == (w.port or 0) and same_sni:
                found.append(i)
        if not found:
            raise LookupError(f"No matching {kind} routes found in the defined Virtual Service.")
        out += found
    return out


def _check_destinations(ro: Rollout, route: Mapping[str, Any]) -> None:
    """validateVirtualServiceRouteDestinations: the route must reach both canary and stable."""
    stable, canary = stable_and_canary_services(ro)
    dr = ro.spec.traffic_routing.istio.destination_rule  # type: ignore[union-attr]
    dests = route.get("route") or []
    hosts = {_short_host(d) for d in dests}
    subsets = {_subset(d) for d in dests}
    if dr is not None:
        if not (dr.canary_subset_name and dr.canary_subset_name in subsets):
            raise LookupError(f"Canary DestinationRule subset '{dr.canary_subset_name}' not found in route")
        if not (dr.stable_subset_name and dr.stable_subset_name in subsets):
            raise LookupError(f"Stable DestinationRule subset '{dr.stable_subset_name}' not found in route")
    else:
        if not (canary and canary in hosts):
            raise LookupError(f"Canary Service '{canary}' not found in route")
        if not (stable and stable in hosts):
            raise LookupError(f"Stable Service '{stable}' not found in route")


def _managed_names(ro: Rollout) -> list[str]:
    tr = ro.spec.traffic_routing
    return tr.managed_route_names() if tr is not None and tr.managed_routes is not None else []


def _validate(
    ro: Rollout, vs: IstioVirtualService, spec: Mapping[str, Any]
) -> tuple[list[int], list[int], list[int]]:
    """Validate*Routes; returns the http/tls/tcp indexes to edit. Raises LookupError with Argo's message.

    Each kind of route is checked only when the VirtualService has that list (`ValidateVirtualService`,
    pkg/apis/rollouts/validation/validation_references.go, and `ValidateHTTPRoutes`/`ValidateTlsRoutes`/
    `ValidateTcpRoutes`, rollout/trafficrouting/istio/istio.go): a VirtualService with only `tls` or `tcp`
    routes needs no HTTP route; one with none of the three is refused."""
    http, tls, tcp = spec.get("http"), spec.get("tls"), spec.get("tcp")
    if not any(isinstance(routes, list) for routes in (http, tls, tcp)):
        raise LookupError("Unable to get any of the HTTP, TCP or TLS routes for the Istio VirtualService")
    names = list(vs.routes or [])
    http_idx: list[int] = []
    if isinstance(http, list):
        for i in _http_indexes(names, http):
            _check_destinations(ro, http[i])
        managed = set(_managed_names(ro))
        unmanaged = [r for r in http if not (r.get("name") in managed and r.get("name"))]
        if not names and len(unmanaged) > 1:
            raise LookupError(
                "spec.http[] should be set in VirtualService and it must have exactly one route when omitting "
                "spec.strategy.canary.trafficRouting.istio.virtualService.routes"
            )
        http_idx = _http_indexes(names, http)
        # managed mirror routes carry a copy of the weighted destinations: they follow setWeight too
        http_idx += [
            i
            for i, r in enumerate(http)
            if r.get("mirror") is not None and r.get("name") in managed and i not in http_idx
        ]
    tls_idx: list[int] = []
    if isinstance(tls, list):
        tls_idx = [i for i in _port_routes(vs.tls_routes or [], tls, "TLS", with_sni=True) if i < len(tls)]
        for i in tls_idx:
            _check_destinations(ro, tls[i])
        if not vs.tls_routes and len(tls) > 1:
            raise LookupError(
                "spec.tls[] should be set in VirtualService and it must have exactly one route when omitting "
                "spec.strategy.canary.trafficRouting.istio.virtualService.tlsRoutes"
            )
    tcp_idx: list[int] = []
    if isinstance(tcp, list):
        tcp_idx = [i for i in _port_routes(vs.tcp_routes or [], tcp, "TCP", with_sni=False) if i < len(tcp)]
        for i in tcp_idx:
            _check_destinations(ro, tcp[i])
        if not vs.tcp_routes and len(tcp) > 1:
            raise LookupError(
                "spec.tcp[] should be set in VirtualService and it must have exactly one route when omitting "
                "spec.strategy.canary.trafficRouting.istio.virtualService.tcpRoutes"
            )
    return http_idx, tls_idx, tcp_idx


# ---------------------------------------------------------------------------------------------------------------
# Weights (processRoutes)
# ---------------------------------------------------------------------------------------------------------------


def _process_route(
    ro: Rollout, route: JSON, canary_weight: int, additional: Sequence[WeightDestination]
) -> None:
    """Rewrite route["route"] in place (processRoutes + patchVirtualService)."""
    stable_svc, canary_svc = stable_and_canary_services(ro)
    dr = ro.spec.traffic_routing.istio.destination_rule  # type: ignore[union-attr]
    canary_subset = dr.canary_subset_name if dr else ""
    stable_subset = dr.stable_subset_name if dr else ""
    extra_subsets = set(dr.additional_subset_names or []) if dr else set()
    dests: list[JSON] = list(route.get("route") or [])
    experiments = {d.service_name: d for d in additional}
    stable_weight = 100 - canary_weight - sum(d.weight for d in additional)
    stable_weight -= sum(
        weight_of(d.get("weight")) for d in dests if _subset(d) and _subset(d) in extra_subsets
    )
    stable_weight = max(stable_weight, 0)
    out: list[JSON] = []
    for d in dests:
        host, subset = _short_host(d), _subset(d)
        if not host:
            out.append(d)
        elif host == canary_svc or (subset and subset == canary_subset):
            out.append(_with_weight(d, canary_weight))
        elif host == stable_svc or (subset and subset == stable_subset):
            out.append(_with_weight(d, stable_weight))
        elif host in experiments:
            out.append(_with_weight(d, experiments.pop(host).weight))
        elif subset and subset in extra_subsets:
            out.append(d)
        # any other destination is removed
    for host in sorted(experiments):
        if experiments[host].weight != 0:
            out.append(
                {"weight": experiments[host].weight, "destination": {"host": experiments[host].service_name}}
            )
    route["route"] = out


def _with_weight(dest: JSON, weight: int) -> JSON:
    if weight_of(dest.get("weight")) == weight:
        return dest
    return {**dest, "weight": weight}


def _order_routes(ro: Rollout, spec: JSON) -> None:
    """orderRoutes: managed routes first (managedRoutes order), then the others as they were."""
    http = spec.get("http")
    tr = ro.spec.traffic_routing
    if not isinstance(http, list) or tr is None or tr.managed_routes is None:
        return
    names = tr.managed_route_names()
    managed = [r for n in names for r in http if r.get("name") == n]
    others = [r for r in http if not (r.get("name") and r.get("name") in names)]
    spec["http"] = managed + others


# ---------------------------------------------------------------------------------------------------------------
# Managed routes (setHeaderRoute / setMirrorRoute / RemoveManagedRoutes)
# ---------------------------------------------------------------------------------------------------------------


def _remove_route(spec: JSON, name: str) -> None:
    if isinstance(spec.get("http"), list):
        spec["http"] = [r for r in spec["http"] if r.get("name") != name]


def _string_match(m: StringMatch) -> JSON:
    return {k: v for k, v in (("exact", m.exact), ("regex", m.regex), ("prefix", m.prefix)) if v}


def _canary_target(ro: Rollout, routers: Mapping[RouterKey, JSON]) -> tuple[str, str]:
    """(host, subset) of the canary for managed routes: the DestinationRule host and canary subset, if any."""
    _, canary = stable_and_canary_services(ro)
    key = destination_rule_key(ro)
    dr = ro.spec.traffic_routing.istio.destination_rule  # type: ignore[union-attr]
    if key is None or dr is None:
        return canary, ""
    obj = routers.get(key)
    if obj is None:
        raise TrafficRoutingError(
            "not found",
            kind="DestinationRule",
            namespace=key[2],
            name=key[3],
            field="spec.strategy.canary.trafficRouting.istio.destinationRule.name",
        )
    host = str((obj.get("spec") or {}).get("host") or "")
    return (host or canary), dr.canary_subset_name


def _set_weight_route(vs: IstioVirtualService, spec: Mapping[str, Any]) -> list[JSON]:
    http = spec.get("http") or []
    idx = _http_indexes(list(vs.routes or []), http)
    return [dict(d) for d in (http[idx[0]].get("route") or [])] if idx else []


def _apply_header_route(
    spec: JSON, vs: IstioVirtualService, route: SetHeaderRoute, host: str, subset: str
) -> None:
    name = route.name or ""
    _remove_route(spec, name)
    if route.match is None or not isinstance(spec.get("http"), list):
        return
    first = _set_weight_route(vs, spec)
    port = weight_of(((first[0].get("destination") or {}).get("port") or {}).get("number")) if first else 0
    dest: JSON = {"host": host}
    if port > 0:
        dest["port"] = {"number": port}
    if subset:
        dest["subset"] = subset
    matches = [
        {"headers": {m.header_name: _string_match(m.header_value or StringMatch())}} for m in route.match
    ]
    spec["http"].append({"name": name, "match": matches, "route": [{"weight": 100, "destination": dest}]})


def _apply_mirror_route(
    spec: JSON, vs: IstioVirtualService, route: SetMirrorRoute, host: str, subset: str
) -> None:
    _remove_route(spec, route.name)
    if route.match is None or not isinstance(spec.get("http"), list):
        return
    weights = _set_weight_route(vs, spec)
    mirror: JSON = {"host": host}
    if subset:
        mirror["subset"] = subset
    port = ((weights[0].get("destination") or {}).get("port") or {}).get("number") if weights else None
    if port is not None:
        mirror["port"] = {"number": port}
    matches = []
    for m in route.match:
        match: JSON = {}
        if m.method is not None:
            match["method"] = _string_match(m.method)
        if m.path is not None:
            match["uri"] = _string_match(m.path)
        if m.headers:
            match["headers"] = {k: _string_match(v) for k, v in m.headers.items()}
        matches.append(match)
    percent = 100 if route.percentage is None else route.percentage
    new = {
        "name": route.name,
        "match": matches,
        "route": weights,
        "mirror": mirror,
        "mirrorPercentage": {"value": percent},
    }
    spec["http"] = [new, *spec["http"]]


# ---------------------------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------------------------


def virtual_service_problem(ro: Rollout, vs: IstioVirtualService, obj: Mapping[str, Any]) -> str | None:
    """Why `ro` cannot route through the VirtualService object `obj` (its trafficRouting entry `vs`), or None:
    the checks `edit_virtual_service` makes before every edit, for `lint` to make on a file."""
    spec = obj.get("spec")
    try:
        _validate(ro, vs, spec if isinstance(spec, Mapping) else {})
    except LookupError as exc:
        return str(exc)
    except (AttributeError, TypeError, KeyError, IndexError, ValueError) as exc:
        return f"the object does not have the expected shape ({type(exc).__name__}: {exc})"
    return None


def edit_virtual_service(
    ro: Rollout,
    key: RouterKey,
    vs: IstioVirtualService,
    field: str,
    routers: Mapping[RouterKey, JSON],
    canary_weight: int,
    additional: Sequence[WeightDestination] = (),
    step: CanaryStep | None = None,
    remove_managed_routes: bool = False,
) -> JSON | None:
    """The edited VirtualService, or None when nothing changes. Raises TrafficRoutingError."""
    obj = routers.get(key)
    _, _, ns, name = key
    if obj is None:
        raise TrafficRoutingError(
            "not found", kind="VirtualService", namespace=ns, name=name, field=f"{field}.name"
        )
    new = deep(obj)
    spec: JSON = new.setdefault("spec", {})
    try:
        http_idx, tls_idx, tcp_idx = _validate(ro, vs, spec)
    except LookupError as exc:
        raise TrafficRoutingError(
            str(exc), kind="VirtualService", namespace=ns, name=name, field=field
        ) from exc
    for kind, idxs in (("http", http_idx), ("tls", tls_idx), ("tcp", tcp_idx)):
        for i in idxs:
            _process_route(ro, spec[kind][i], canary_weight, additional)
    if remove_managed_routes:
        for s in ro.spec.steps:
            for r in (s.set_header_route, s.set_mirror_route):
                if r is not None and r.name:
                    _remove_route(spec, r.name)
    elif step is not None and (step.set_header_route is not None or step.set_mirror_route is not None):
        host, subset = _canary_target(ro, routers)
        try:
            if step.set_header_route is not None:
                _apply_header_route(spec, vs, step.set_header_route, host, subset)
            if step.set_mirror_route is not None:
                _apply_mirror_route(spec, vs, step.set_mirror_route, host, subset)
        except LookupError as exc:
            raise TrafficRoutingError(
                str(exc), kind="VirtualService", namespace=ns, name=name, field=field
            ) from exc
    _order_routes(ro, spec)
    return new if new != obj else None


def destination_rule_delay(
    ro: Rollout, replica_sets: Sequence[ReplicaSetLike], canary_hash: str, stable_hash: str
) -> str | None:
    """shouldDelayDestinationRuleUpdate: the name of a traffic-receiving ReplicaSet that is not yet fully
    available (so the subsets must not switch yet), or None. Only for subset-only routing (no canary/stable
    service); the canary is ignored while aborting or dynamically rolling back to stable."""
    c = ro.spec.strategy.canary
    if c is None or c.canary_service or c.stable_service:
        return None
    rolling_back = ro.status.abort or _dynamic_rollback_to_stable(ro, replica_sets, stable_hash)
    for rs in replica_sets:
        if (
            rs.spec_replicas == 0
            or not rs.pod_template_hash
            or rs.pod_template_hash not in (stable_hash, canary_hash)
        ):
            continue
        if rolling_back and rs.pod_template_hash == canary_hash:
            continue
        if not (rs.available_replicas != 0 and rs.spec_replicas <= rs.available_replicas):
            return rs.name
    return None


def _dynamic_rollback_to_stable(
    ro: Rollout, replica_sets: Sequence[ReplicaSetLike], stable_hash: str
) -> bool:
    """IsDynamicallyRollingBackToStable for the stable RS: fully promoted, dynamicStableScale, traffic still on
    another hash and the stable RS not yet at full size."""
    c, st = ro.spec.strategy.canary, ro.status
    stable = next((rs for rs in replica_sets if rs.pod_template_hash == stable_hash), None)
    if stable is None or c is None or c.traffic_routing is None or not c.dynamic_stable_scale:
        return False
    if st.stable_rs != st.current_pod_hash or st.canary.weights is None:
        return False
    if st.canary.weights.canary.pod_template_hash == stable.pod_template_hash:
        return False
    return stable.available_replicas < ro.spec.replicas_or_default()


def edit_destination_rule(
    ro: Rollout,
    routers: Mapping[RouterKey, JSON],
    canary_hash: str,
    stable_hash: str,
    additional: Sequence[WeightDestination] = (),
) -> tuple[RouterKey, JSON] | None:
    """UpdateHash: subsets' rollouts-pod-template-hash labels follow canary/stable (and experiment) hashes.

    Subsets other than canary, stable, experiment services and ``additionalSubsetNames`` are dropped, as Argo
    does; the rule is annotated managed-by the rollout.
    """
    key = destination_rule_key(ro)
    dr = ro.spec.traffic_routing.istio.destination_rule if key else None  # type: ignore[union-attr]
    if key is None or dr is None:
        return None
    obj = routers.get(key)
    if obj is None:
        raise TrafficRoutingError(
            "not found",
            kind="DestinationRule",
            namespace=key[2],
            name=key[3],
            field="spec.strategy.canary.trafficRouting.istio.destinationRule.name",
        )
    new = deep(obj)
    meta = new.setdefault("metadata", {})
    meta["annotations"] = {**(meta.get("annotations") or {}), MANAGED_BY_ANNOTATION: ro.name}
    spec = new.setdefault("spec", {})
    experiments = {d.service_name: d for d in additional}
    keep_extra = set(dr.additional_subset_names or [])
    subsets: list[JSON] = []
    for subset in spec.get("subsets") or []:
        s = dict(subset)
        labels = dict(s.get("labels") or {})
        name = s.get("name")
        if name == dr.canary_subset_name:
            _set_hash(labels, canary_hash)
        elif name == dr.stable_subset_name:
            _set_hash(labels, stable_hash)
        elif name in experiments:
            _set_hash(labels, experiments.pop(str(name)).pod_template_hash)
        elif name not in keep_extra:
            continue
        s["labels"] = labels
        subsets.append(s)
    for svc in sorted(experiments):
        subsets.append({"name": svc, "labels": {POD_TEMPLATE_HASH_LABEL: experiments[svc].pod_template_hash}})
    spec["subsets"] = subsets
    return (key, new) if new != obj else None


def _set_hash(labels: JSON, value: str) -> None:
    if value:
        labels[POD_TEMPLATE_HASH_LABEL] = value
    else:
        labels.pop(POD_TEMPLATE_HASH_LABEL, None)
