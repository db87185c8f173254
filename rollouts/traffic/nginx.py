"""NGINX Ingress: a canary Ingress cloned from each stable Ingress (`rollout/trafficrouting/nginx`).

PURE edit. For every ``stableIngress``/``stableIngresses`` the canary Ingress ``<rollout>-<ingress>-canary``
keeps the stable one's TLS, ingressClassName and ``kubernetes.io/ingress.class``, and only the rules whose
paths reach the stable service (rewritten to the canary service). Annotations: ``additionalIngressAnnotations``
(prefixed with the annotation prefix unless already), ``canaryIngressAnnotations`` verbatim, then
``<prefix>/canary: "true"``, ``<prefix>/canary-weight: "<w>"`` and, with maxTrafficWeight,
``<prefix>/canary-weight-total``. The prefix is ``trafficRouting.nginx.annotationPrefix`` (default
``nginx.ingress.kubernetes.io``). The canary Ingress is created owned by the Rollout, and only ever edited when
the Rollout controls it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

from rollouts.models import Rollout
from rollouts.traffic.base import (
    INGRESS_API,
    JSON,
    RouterKey,
    TrafficRoutingError,
    controlled_by,
    deep,
    namespace_of,
    no_backend_message,
    owner_reference,
    stable_and_canary_services,
)

__all__ = ["canary_ingress_name", "edit_ingresses", "ingress_keys"]

_SUFFIX = "-canary"


def canary_ingress_name(rollout: str, stable_ingress: str) -> str:
    """`<rollout>-<stableIngress>-canary`, the prefix trimmed so the name fits 253 characters."""
    prefix = f"{rollout}-{stable_ingress}"[: 253 - len(_SUFFIX)]
    return prefix + _SUFFIX


def ingress_keys(ro: Rollout) -> list[tuple[RouterKey, RouterKey]]:
    """(stable Ingress key, canary Ingress key) per configured stable Ingress."""
    tr = ro.spec.traffic_routing
    if tr is None or tr.nginx is None:
        return []
    ns = namespace_of(ro)
    return [
        ((INGRESS_API, "Ingress", ns, name), (INGRESS_API, "Ingress", ns, canary_ingress_name(ro.name, name)))
        for name in tr.nginx.all_stable_ingresses()
    ]


def desired_canary_ingress(ro: Rollout, stable: Mapping[str, object], name: str, canary_weight: int) -> JSON:
    nginx = ro.spec.traffic_routing.nginx  # type: ignore[union-attr]
    assert nginx is not None
    prefix = ro.spec.nginx_annotation_prefix()
    stable_svc, canary_svc = stable_and_canary_services(ro)
    sspec: JSON = dict(stable.get("spec") or {})  # type: ignore[call-overload]
    smeta: JSON = dict(stable.get("metadata") or {})  # type: ignore[call-overload]
    spec: JSON = {}
    if sspec.get("tls") is not None:
        spec["tls"] = copy.deepcopy(sspec["tls"])
    if sspec.get("ingressClassName") is not None:
        spec["ingressClassName"] = sspec["ingressClassName"]
    rules = []
    for rule in sspec.get("rules") or []:
        rule = copy.deepcopy(rule)
        uses_stable = False
        for path in (rule.get("http") or {}).get("paths") or []:
            service = (path.get("backend") or {}).get("service") or {}
            if service.get("name") == stable_svc:
                service["name"] = canary_svc
                uses_stable = True
        if uses_stable:
            rules.append(rule)
    if not rules:
        raise TrafficRoutingError(
            no_backend_message(str(smeta.get("name")), stable_svc),
            kind="Ingress",
            namespace=str(smeta.get("namespace") or namespace_of(ro)),
            name=str(smeta.get("name")),
            field="spec.strategy.canary.trafficRouting.nginx.stableIngress",
        )
    spec["rules"] = rules
    annotations: dict[str, str] = {}
    cls = (smeta.get("annotations") or {}).get("kubernetes.io/ingress.class")
    if cls is not None:
        annotations["kubernetes.io/ingress.class"] = cls
    for k, v in (nginx.additional_ingress_annotations or {}).items():
        annotations[k if k.startswith(prefix) else f"{prefix}/{k}"] = v
    annotations.update(nginx.canary_ingress_annotations or {})
    annotations[f"{prefix}/canary"] = "true"
    annotations[f"{prefix}/canary-weight"] = str(canary_weight)
    max_weight = ro.spec.traffic_routing.max_traffic_weight  # type: ignore[union-attr]
    if max_weight is not None:
        annotations[f"{prefix}/canary-weight-total"] = str(max_weight)
    return {
        "apiVersion": INGRESS_API,
        "kind": "Ingress",
        "metadata": {
            "name": name,
            "namespace": namespace_of(ro),
            "annotations": annotations,
            "ownerReferences": [owner_reference(ro)],
        },
        "spec": spec,
    }


def edit_ingresses(
    ro: Rollout, routers: Mapping[RouterKey, JSON], canary_weight: int
) -> list[tuple[RouterKey, JSON, bool]]:
    """(key, object, create?) for each canary Ingress that must be created or changed."""
    out = []
    for stable_key, canary_key in ingress_keys(ro):
        stable = routers.get(stable_key)
        if stable is None:
            raise TrafficRoutingError(
                "not found",
                kind="Ingress",
                namespace=stable_key[2],
                name=stable_key[3],
                field="spec.strategy.canary.trafficRouting.nginx.stableIngress",
            )
        desired = desired_canary_ingress(ro, stable, canary_key[3], canary_weight)
        current = routers.get(canary_key)
        if current is None:
            out.append((canary_key, desired, True))
            continue
        if not controlled_by(current, ro):
            raise TrafficRoutingError(
                f"canary ingress `{canary_key[3]}` controlled by different object",
                kind="Ingress",
                namespace=canary_key[2],
                name=canary_key[3],
            )
        new = deep(current)
        meta = new.setdefault("metadata", {})
        prefix = ro.spec.nginx_annotation_prefix()
        kept = {k: v for k, v in (meta.get("annotations") or {}).items() if not k.startswith(prefix + "/")}
        meta["annotations"] = {**kept, **desired["metadata"]["annotations"]}
        new["spec"] = desired["spec"]
        if new != current:
            out.append((canary_key, new, False))
    return out
