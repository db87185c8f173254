"""App Mesh traffic routing (`rollouts/traffic/appmesh.py`; Argo: rollout/trafficrouting/appmesh/appmesh.go and
validation_references.go): the VirtualRouter's weighted targets (only the named routes, targets of other
namespaces untouched), the VirtualNodes' pod selectors with Argo's placeholder hashes, and the reference checks
with Argo's messages, on objects shaped as Argo's examples/appmesh."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from rollouts.traffic import dependent_router_refs, ingress_reference_error, route_edits, router_refs
from tests.traffic.helpers import canary_rollout

API = "appmesh.k8s.aws/v1beta2"
VS = (API, "VirtualService", "default", "my-svc")
VR = (API, "VirtualRouter", "default", "my-vrouter")
CANARY = (API, "VirtualNode", "default", "my-vn-canary")
STABLE = (API, "VirtualNode", "default", "my-vn-stable")


def route(name: str, kind: str = "httpRoute", *targets: tuple[str, int, str | None]) -> dict[str, Any]:
    refs = [
        {"virtualNodeRef": {"name": n, **({"namespace": ns} if ns else {})}, "weight": w}
        for n, w, ns in targets
    ]
    return {"name": name, kind: {"match": {"prefix": "/"}, "action": {"weightedTargets": refs}}}


def routers(*routes: dict[str, Any]) -> dict[Any, Any]:
    node = {"spec": {"podSelector": {"matchLabels": {"app": "my-app"}}}}
    return {
        VS: {"spec": {"provider": {"virtualRouter": {"virtualRouterRef": {"name": "my-vrouter"}}}}},
        VR: {"metadata": {"name": "my-vrouter"}, "spec": {"routes": list(routes)}},
        CANARY: copy.deepcopy(node),
        STABLE: copy.deepcopy(node),
    }


def rollout(routes: list[str] | None = None) -> Any:
    vs: dict[str, Any] = {"name": "my-svc", **({"routes": routes} if routes else {})}
    group = {
        "canaryVirtualNodeRef": {"name": "my-vn-canary"},
        "stableVirtualNodeRef": {"name": "my-vn-stable"},
    }
    return canary_rollout({"appMesh": {"virtualService": vs, "virtualNodeGroup": group}})


PRIMARY = route("primary", "httpRoute", ("my-vn-canary", 0, None), ("my-vn-stable", 100, None))


def test_weights_and_pod_selectors() -> None:
    ro = rollout()
    assert router_refs(ro) == [VS, STABLE, CANARY]
    objs = routers(
        PRIMARY, route("grpc", "grpcRoute", ("my-vn-canary", 0, None), ("my-vn-stable", 100, "elsewhere"))
    )
    assert dependent_router_refs(ro, {k: v for k, v in objs.items() if k != VR}) == [VR]
    edits = {(e.kind, e.name): e.obj for e in route_edits(ro, objs, 25, canary_hash="c4n", stable_hash="st4")}
    vr = edits[("VirtualRouter", "my-vrouter")]
    primary, grpc = vr["spec"]["routes"]
    assert [t["weight"] for t in primary["httpRoute"]["action"]["weightedTargets"]] == [25, 75]
    assert [t["weight"] for t in grpc["grpcRoute"]["action"]["weightedTargets"]] == [
        25,
        100,
    ]  # other namespace
    labels = edits[("VirtualNode", "my-vn-stable")]["spec"]["podSelector"]["matchLabels"]
    assert labels == {"app": "my-app", "rollouts-pod-template-hash": "st4"}
    assert edits[("VirtualNode", "my-vn-canary")]["metadata"]["annotations"] == {
        "argo-rollouts.argoproj.io/managed-by-rollouts": "rollout"
    }


def test_placeholder_hashes_and_route_filter() -> None:
    objs = routers(
        PRIMARY, route("other", "httpRoute", ("my-vn-canary", 0, None), ("my-vn-stable", 100, None))
    )
    edits = {
        (e.kind, e.name): e.obj
        for e in route_edits(rollout(["primary"]), objs, 10, canary_hash="", stable_hash="")
    }

    def node(name: str) -> str:
        return str(
            edits[("VirtualNode", name)]["spec"]["podSelector"]["matchLabels"]["rollouts-pod-template-hash"]
        )

    assert (node("my-vn-stable"), node("my-vn-canary")) == ("stable-hash", "canary-hash")
    primary, other = edits[("VirtualRouter", "my-vrouter")]["spec"]["routes"]
    assert [t["weight"] for t in primary["httpRoute"]["action"]["weightedTargets"]] == [10, 90]
    assert other == objs[VR]["spec"]["routes"][1]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(lambda o: o.pop(VS), 'spec.strategy.canary.trafficRouting.appmesh.virtualService: Invalid value: '
                     '"my-svc.default": virtualservices.appmesh.k8s.aws "my-svc" not found', id="no-virtual-service"),
        pytest.param(lambda o: o[VS].update(spec={}), "Virtual-service is not associated with virtual-router", id="no-router-ref"),
        pytest.param(lambda o: o[VR]["spec"].update(routes=[]),
                     'spec.routes: Invalid value: "my-vrouter": No routes defined for AppMesh virtual-router my-vrouter', id="no-routes"),
        pytest.param(lambda o: o[VR]["spec"]["routes"][0]["httpRoute"]["action"]["weightedTargets"].pop(),
                     "Invalid number of weightedTargets (1) for AppMesh virtual-router my-vrouter and route primary, expected 2",
                     id="one-target"),
    ],
)  # fmt: skip
def test_reference_errors_with_argos_words(change: Any, message: str) -> None:
    objs = routers(copy.deepcopy(PRIMARY))
    change(objs)
    error = ingress_reference_error(rollout(), objs)
    assert error is not None and message in error
