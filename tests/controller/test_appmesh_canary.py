"""An App Mesh canary shaped as Argo's examples/appmesh (VirtualService → VirtualRouter `my-vrouter` with a
`primary` route to the canary and stable VirtualNodes; setWeight 25 → 50 → 75) driven pass by pass by the Rollout
reconciler against the sandbox: the VirtualRouter's weighted targets follow the steps, the VirtualNodes select
their ReplicaSet's pods by hash, and a VirtualService without a VirtualRouter is InvalidSpec with Argo's words."""

from __future__ import annotations

import copy
from typing import Any

from rollouts.controller.reconciling import RolloutReconciler
from rollouts.kube import KubeClient
from rollouts.kube.resources import APP_MESH_VIRTUAL_NODES, APP_MESH_VIRTUAL_ROUTERS, ROLLOUTS
from rollouts.sandbox.running import Sandbox
from tests.controller.driving import drive_rollout, plain_service
from tests.controller.test_reconciling import NS, ManualTime, create_all, env, healthy_on  # noqa: F401 - env is a fixture

API = "appmesh.k8s.aws/v1beta2"


def node(name: str, role: str) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "VirtualNode",
        "metadata": {"name": name},
        "spec": {
            "podSelector": {"matchLabels": {"app": "my-app", "rollouts-pod-template-hash": f"{role}-tbd"}},
            "listeners": [{"portMapping": {"port": 8080, "protocol": "http"}}],
        },
    }


VSVC = {"apiVersion": API, "kind": "VirtualService", "metadata": {"name": "my-svc"},
        "spec": {"provider": {"virtualRouter": {"virtualRouterRef": {"name": "my-vrouter"}}}}}  # fmt: skip
VROUTER = {
    "apiVersion": API,
    "kind": "VirtualRouter",
    "metadata": {"name": "my-vrouter"},
    "spec": {
        "listeners": [{"portMapping": {"port": 80, "protocol": "http"}}],
        "routes": [
            {
                "name": "primary",
                "httpRoute": {
                    "match": {"prefix": "/"},
                    "action": {
                        "weightedTargets": [
                            {"virtualNodeRef": {"name": "my-vn-canary"}, "weight": 0},
                            {"virtualNodeRef": {"name": "my-vn-stable"}, "weight": 100},
                        ]
                    },
                },
            }
        ],
    },
}
ROLLOUT = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Rollout",
    "metadata": {"name": "my-rollout"},
    "spec": {
        "replicas": 4,
        "selector": {"matchLabels": {"app": "my-app"}},
        "template": {"metadata": {"labels": {"app": "my-app"}},
                     "spec": {"containers": [{"name": "demo", "image": "argoproj/rollouts-demo:blue"}]}},
        "strategy": {"canary": {
            "canaryService": "my-svc-canary",
            "stableService": "my-svc-stable",
            "trafficRouting": {"appMesh": {
                "virtualService": {"name": "my-svc"},
                "virtualNodeGroup": {"canaryVirtualNodeRef": {"name": "my-vn-canary"},
                                     "stableVirtualNodeRef": {"name": "my-vn-stable"}},
            }},
            "steps": [{"setWeight": 25}, {"pause": {"duration": 60}}, {"setWeight": 50}, {"pause": {"duration": 60}},
                      {"setWeight": 75}, {"pause": {"duration": 60}}],
        }},
    },
}  # fmt: skip


def objects(vsvc: dict[str, Any] = VSVC) -> list[dict[str, Any]]:
    return copy.deepcopy(
        [plain_service("my-svc-canary", "my-app"), plain_service("my-svc-stable", "my-app"), vsvc, VROUTER,
         node("my-vn-canary", "canary"), node("my-vn-stable", "stable"), ROLLOUT]
    )  # fmt: skip


async def test_appmesh_canary_weights_and_virtual_nodes(env: tuple[Sandbox, KubeClient]) -> None:  # noqa: F811
    _, client = env
    await create_all(client, objects())
    time = ManualTime()
    reconciler = RolloutReconciler(client, clock=time)
    seen: list[int] = []

    async def note() -> None:
        router = await client.get(APP_MESH_VIRTUAL_ROUTERS, "my-vrouter", NS)
        targets = router["spec"]["routes"][0]["httpRoute"]["action"]["weightedTargets"]
        by_node = {t["virtualNodeRef"]["name"]: t["weight"] for t in targets}
        assert by_node["my-vn-canary"] + by_node["my-vn-stable"] == 100
        if not seen or seen[-1] != by_node["my-vn-canary"]:
            seen.append(by_node["my-vn-canary"])

    first = await drive_rollout(reconciler, client, time.advance, (NS, "my-rollout"), healthy_on(), note)
    v1 = first["status"]["stableRS"]
    body = {
        "spec": {
            "template": {"spec": {"containers": [{"name": "demo", "image": "argoproj/rollouts-demo:green"}]}}
        }
    }
    await client.patch(ROLLOUTS, "my-rollout", body, NS)
    seen.clear()
    mid = await drive_rollout(
        reconciler,
        client,
        time.advance,
        (NS, "my-rollout"),
        lambda r: (r.get("status") or {}).get("currentStepIndex") == 1,
        note,
    )
    v2 = mid["status"]["currentPodHash"]

    async def selected(name: str) -> str:
        vnode = await client.get(APP_MESH_VIRTUAL_NODES, name, NS)
        assert (
            vnode["metadata"]["annotations"]["argo-rollouts.argoproj.io/managed-by-rollouts"] == "my-rollout"
        )
        return str(vnode["spec"]["podSelector"]["matchLabels"]["rollouts-pod-template-hash"])

    assert (await selected("my-vn-stable"), await selected("my-vn-canary")) == (v1, v2)
    await drive_rollout(
        reconciler,
        client,
        time.advance,
        (NS, "my-rollout"),
        lambda r: healthy_on(v2)(r) and seen[-1] == 0,
        note,
    )
    assert seen == [0, 25, 50, 75, 100, 0]
    assert await selected("my-vn-stable") == v2


async def test_a_virtual_service_without_a_router_is_invalid_spec(env: tuple[Sandbox, KubeClient]) -> None:  # noqa: F811
    _, client = env
    await create_all(client, objects({**VSVC, "spec": {}}))
    await RolloutReconciler(client, clock=ManualTime()).reconcile((NS, "my-rollout"))
    status = (await client.get(ROLLOUTS, "my-rollout", NS))["status"]
    (condition,) = [c for c in status["conditions"] if c["type"] == "InvalidSpec"]
    assert (
        condition["message"]
        == 'The Rollout "my-rollout" is invalid: Virtual-service is not associated with virtual-router'
    )


async def test_a_missing_virtual_router_is_invalid_spec_with_argos_words(
    env: tuple[Sandbox, KubeClient],  # noqa: F811
) -> None:
    _, client = env
    await create_all(client, [o for o in objects() if o["kind"] != "VirtualRouter"])
    await RolloutReconciler(client, clock=ManualTime()).reconcile((NS, "my-rollout"))
    status = (await client.get(ROLLOUTS, "my-rollout", NS))["status"]
    (condition,) = [c for c in status["conditions"] if c["type"] == "InvalidSpec"]
    assert condition["message"] == (
        'The Rollout "my-rollout" is invalid: spec.strategy.canary.trafficRouting.appmesh.virtualService: Invalid '
        'value: "my-svc.production": virtualrouters.appmesh.k8s.aws "my-vrouter" not found'
    )
