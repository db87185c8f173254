"""APISIX: the backend weights of an ApisixRoute's HTTP rules (`rollout/trafficrouting/apisix/apisix.go`).

PURE edit. ``trafficRouting.apisix.route.name`` names an ApisixRoute (``apisix.apache.org/v2``, Argo's default)
in the Rollout's namespace; in each of its ``spec.http`` rules named by ``route.rules`` (default: a rule named
like the route) the backend whose ``serviceName`` is the canary Service gets the desired weight and the stable
one ``100 − weight``; everything else is left as written. Experiment destinations are not routed (as in Argo).

Header routes (`SetHeaderRoute`, `RemoveManagedRoutes`): a `setHeaderRoute` step with a match makes an ApisixRoute
named after the managed route, a copy of the Rollout's ApisixRoute owned by the Rollout, whose rules send
everything to the canary backend (weight 100, the stable backend removed) when the request's headers match
(`match.exprs`: `Equal` for `exact`, `RegexMatch` for `regex` and for `prefix` as `^<prefix>.*`), one priority
above the rule it copies; a step without a match deletes it, and so do a full promotion and an abort (only the
ones the Rollout owns). One that exists and is not the Rollout's is Argo's error `duplicate ApisixRoute [<name>]
already exists`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from rollouts.models import Rollout
from rollouts.models.steps import CanaryStep, HeaderRoutingMatch
from rollouts.traffic.base import JSON, RouterKey, TrafficRoutingError, deep, namespace_of

__all__ = ["APISIX_API", "apisix_route_key", "edit_apisix_route", "edit_header_routes", "managed_route_keys"]

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


@contextmanager
def _argo_errors(key: RouterKey) -> Iterator[None]:
    """Argo's errors about the ApisixRoute's shape (ValueError here) as a TrafficRoutingError naming it."""
    try:
        yield
    except ValueError as exc:
        raise TrafficRoutingError(
            str(exc), kind="ApisixRoute", namespace=key[2], name=key[3], field=FIELD
        ) from exc


def _named_rules(ro: Rollout, obj: JSON, key: RouterKey) -> list[tuple[dict[str, Any], list[Any]]]:
    """The rules of `obj` (to be edited in place) that `route.rules` names (default: the one named like the
    route), with their backends; ValueError with Argo's message when one is missing or malformed."""
    rules = (obj.get("spec") or {}).get("http")
    if not isinstance(rules, list):
        raise TrafficRoutingError(
            "spec.http was not found in Apisix Route manifest",
            kind="ApisixRoute",
            namespace=key[2],
            name=key[3],
        )
    route = ro.spec.traffic_routing.apisix.route  # type: ignore[union-attr]
    assert route is not None
    out = []
    for name in route.rules if route.rules is not None else [route.name]:
        rule = _rule(rules, name)
        backends = rule.get("backends")
        if not isinstance(backends, list):
            raise ValueError("Apisix http route backends not found")
        out.append((rule, backends))
    return out


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
    canary = ro.spec.strategy.canary
    with _argo_errors(key):
        for _, backends in _named_rules(ro, new, key):
            _set_weight(backends, canary.canary_service if canary else None, canary_weight)
            _set_weight(backends, canary.stable_service if canary else None, 100 - canary_weight)
    return (key, new) if new != current else None


def managed_route_keys(ro: Rollout) -> list[RouterKey]:
    """The ApisixRoutes of the managed (header) routes, when the Rollout is routed by APISIX."""
    tr = ro.spec.traffic_routing
    if apisix_route_key(ro) is None or tr is None:
        return []
    return [(APISIX_API, "ApisixRoute", namespace_of(ro), name) for name in tr.managed_route_names()]


def _controlled_by(obj: Mapping[str, Any], ro: Rollout) -> bool:
    """`metav1.IsControlledBy`: the controller ownerReference is the Rollout (by uid)."""
    uid = ro.metadata.uid
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if isinstance(ref, Mapping) and ref.get("controller"):
            return bool(uid) and ref.get("uid") == uid
    return False


def _exprs(match: HeaderRoutingMatch) -> list[JSON]:
    """`apisixExprs`: one expression per header value form that is set."""
    subject = {"scope": "Header", "name": match.header_name}
    value = match.header_value
    out: list[JSON] = []
    if value is not None and value.exact:
        out.append({"subject": dict(subject), "op": "Equal", "value": value.exact})
    if value is not None and value.regex:
        out.append({"subject": dict(subject), "op": "RegexMatch", "value": value.regex})
    if value is not None and value.prefix:
        out.append({"subject": dict(subject), "op": "RegexMatch", "value": f"^{value.prefix}.*"})
    return out


def _copy_of(ro: Rollout, base: Mapping[str, Any], name: str) -> JSON:
    """`makeSetHeaderRoute` for a new one: the Rollout's ApisixRoute under another name, owned by the Rollout."""
    new = deep(dict(base))
    meta = new.get("metadata") or {}
    new["metadata"] = {k: v for k, v in meta.items() if k in ("labels", "annotations") and v} | {
        "name": name,
        "namespace": namespace_of(ro),
        "ownerReferences": [
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Rollout",
                "name": ro.name,
                "uid": ro.metadata.uid or "",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }
    new.pop("status", None)
    return new


def edit_header_routes(
    ro: Rollout,
    routers: Mapping[RouterKey, JSON],
    step: CanaryStep | None,
    remove_managed_routes: bool,
) -> list[tuple[RouterKey, JSON | None, str]]:
    """(key, object, "create" | "update" | "delete") for the header-route ApisixRoutes that must change."""
    key = apisix_route_key(ro)
    if key is None:
        return []
    if remove_managed_routes:
        return [
            (k, None, "delete")
            for k in managed_route_keys(ro)
            if routers.get(k) is not None and _controlled_by(routers[k], ro)
        ]
    header = step.set_header_route if step is not None else None
    if header is None or not header.name:
        return []
    own = (APISIX_API, "ApisixRoute", namespace_of(ro), header.name)
    existing = routers.get(own)
    if existing is not None and not _controlled_by(existing, ro):
        raise TrafficRoutingError(f"duplicate ApisixRoute [{header.name}] already exists", field=FIELD)
    if not header.match:
        return [] if existing is None else [(own, None, "delete")]
    base = routers.get(key)
    if base is None:
        raise TrafficRoutingError(
            "not found", kind="ApisixRoute", namespace=key[2], name=key[3], field=f"{FIELD}.name"
        )
    new = deep(existing) if existing is not None else _copy_of(ro, base, header.name)
    canary = ro.spec.strategy.canary
    stable = canary.stable_service if canary else None
    exprs = [e for match in header.match for e in _exprs(match)]
    with _argo_errors(own):
        for rule, backends in _named_rules(ro, new, own):
            _set_weight(backends, canary.canary_service if canary else None, 100)
            rule["backends"] = [
                b for b in backends if not (isinstance(b, dict) and b.get("serviceName") == stable)
            ]
            if existing is None:
                priority = rule.get("priority")
                rule["priority"] = (priority if isinstance(priority, int) else 0) + 1
            rule.setdefault("match", {})["exprs"] = exprs
    if existing is None:
        return [(own, new, "create")]
    return [] if new == existing else [(own, new, "update")]
