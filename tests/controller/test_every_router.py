"""Every traffic router, end to end through the controller (the `Manager`: informers, router watches, queues,
reconcilers, as `rollouts controller` runs them) against the sandbox, which serves each router's kind as a CRD.

For each router, the same canary (steps setWeight 30, pause, setWeight 60, pause) is deployed, updated and either
promoted at each pause until it is Healthy on the new version with the router back at 0 % canary, or aborted at
its first pause, which must end Degraded with the router at 0 % canary. The router objects are the shapes of
Argo's examples and docs (the per-router tests next to this file pin their exact contents)."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from rollouts.kube.client import KubeClient
from rollouts.kube.errors import NotFound
from rollouts.kube.resources import RESOURCES, ROLLOUTS, lookup
from rollouts.sandbox import Sandbox
from tests.controller import test_alb_canary, test_ambassador_canary, test_apisix_canary, test_appmesh_canary
from tests.controller.driving import plain_service, running_controller
from tests.controller.test_deploy import TRAFFIC_SPLIT_CRD

ROOT = Path(__file__).resolve().parents[2]
NS = "routers"
STEPS = [{"setWeight": 30}, {"pause": {}}, {"setWeight": 60}, {"pause": {}}]


def _load(*paths: str) -> list[dict[str, Any]]:
    return [d for p in paths for d in yaml.safe_load_all((ROOT / "examples" / p).read_text()) if d]


async def _get(client: KubeClient, kind: str, api_version: str, name: str) -> dict[str, Any] | None:
    try:
        return await client.get(lookup(kind, api_version), name, NS)
    except NotFound:
        return None


async def istio_weight(client: KubeClient) -> int:
    vs = await _get(client, "VirtualService", "networking.istio.io/v1beta1", "api-server-vsvc")
    assert vs is not None
    return sum(
        int(d.get("weight") or 0)
        for d in vs["spec"]["http"][0]["route"]
        if d["destination"]["host"] == "api-server-canary"
    )


async def smi_weight(client: KubeClient) -> int:
    split = await _get(client, "TrafficSplit", "split.smi-spec.io/v1alpha2", "shop-split")
    if split is None:
        return 0
    return sum(int(b.get("weight") or 0) for b in split["spec"]["backends"] if b["service"] == "shop-canary")


async def nginx_weight(client: KubeClient) -> int:
    ingress = await _get(client, "Ingress", "networking.k8s.io/v1", "shop-shop-canary")
    if ingress is None:
        return 0
    return int(
        (ingress["metadata"].get("annotations") or {}).get("nginx.ingress.kubernetes.io/canary-weight", 0)
    )


async def alb_weight(client: KubeClient) -> int:
    ingress = await _get(client, "Ingress", "networking.k8s.io/v1", "payments")
    assert ingress is not None
    return test_alb_canary.weights(ingress).get("payments-canary", 0)


async def traefik_weight(client: KubeClient) -> int:
    svc = await _get(client, "TraefikService", "traefik.io/v1alpha1", "search-weighted")
    assert svc is not None
    return sum(
        int(s.get("weight") or 0) for s in svc["spec"]["weighted"]["services"] if s["name"] == "search-canary"
    )


async def apisix_weight(client: KubeClient) -> int:
    route = await _get(client, "ApisixRoute", "apisix.apache.org/v2", "search-route")
    assert route is not None
    return sum(
        int(b.get("weight") or 0)
        for b in route["spec"]["http"][0]["backends"]
        if b["serviceName"] == "search-canary"
    )


async def ambassador_weight(client: KubeClient) -> int:
    mapping = await _get(client, "Mapping", "getambassador.io/v2", "echo-canary")
    return 0 if mapping is None else int(mapping["spec"].get("weight") or 0)


async def appmesh_weight(client: KubeClient) -> int:
    router = await _get(client, "VirtualRouter", "appmesh.k8s.aws/v1beta2", "my-vrouter")
    assert router is not None
    targets = router["spec"]["routes"][0]["httpRoute"]["action"]["weightedTargets"]
    return sum(int(t.get("weight") or 0) for t in targets if t["virtualNodeRef"]["name"] == "my-vn-canary")


async def gateway_weight(client: KubeClient) -> int:
    route = await _get(client, "HTTPRoute", "gateway.networking.k8s.io/v1", "search")
    assert route is not None
    return sum(
        int(b.get("weight") or 0)
        for b in route["spec"]["rules"][0]["backendRefs"]
        if b["name"] == "search-canary"
    )


def istio_docs() -> list[dict[str, Any]]:
    docs = _load(
        "istio-canary/services.yaml", "istio-canary/virtualservice.yaml", "istio-canary/rollout.yaml"
    )
    for doc in docs:
        if doc["kind"] == "Rollout":
            doc["spec"]["strategy"]["canary"].pop("analysis", None)
    return docs


def smi_docs() -> list[dict[str, Any]]:
    docs = [d for d in _load("nginx-canary/rollout.yaml") if d["kind"] != "Ingress"]
    for doc in docs:
        if doc["kind"] == "Rollout":
            doc["spec"]["strategy"]["canary"]["trafficRouting"] = {"smi": {"trafficSplitName": "shop-split"}}
    return docs


def gateway_docs() -> list[dict[str, Any]]:
    docs = _load("gatewayapi-canary/rollout.yaml")
    for doc in docs:
        if doc["kind"] == "Rollout":
            doc["spec"]["strategy"]["canary"]["trafficRouting"]["plugins"]["argoproj-labs/gatewayAPI"][
                "namespace"
            ] = NS
    return docs


@dataclass(frozen=True)
class Router:
    name: str
    docs: Callable[[], list[dict[str, Any]]]
    weight: Callable[[KubeClient], Awaitable[int]]


ROUTERS = [
    Router("istio", istio_docs, istio_weight),
    Router("smi", smi_docs, smi_weight),
    Router("nginx", lambda: _load("nginx-canary/rollout.yaml"), nginx_weight),
    Router("alb", test_alb_canary.docs, alb_weight),
    Router("traefik", lambda: _load("traefik-canary/rollout.yaml"), traefik_weight),
    Router("apisix", test_apisix_canary.docs, apisix_weight),
    Router(
        "ambassador",
        lambda: [
            test_ambassador_canary.BASE,
            test_ambassador_canary.ROLLOUT,
            *(plain_service(n, "echo") for n in ("echo-stable", "echo-canary")),
        ],
        ambassador_weight,
    ),
    Router("appmesh", test_appmesh_canary.objects, appmesh_weight),
    Router("gatewayapi", gateway_docs, gateway_weight),
]


@pytest.fixture
async def controller(async_sandbox: Sandbox) -> AsyncIterator[KubeClient]:
    """The test's client, with the controller running against the same sandbox until the test ends."""
    async with running_controller(async_sandbox.url) as client:
        await client.create(RESOURCES["CustomResourceDefinition"], copy.deepcopy(TRAFFIC_SPLIT_CRD))
        yield client


async def deploy(client: KubeClient, router: Router) -> str:
    """The router's canary created with the common steps and driven to Healthy; returns the Rollout's name."""
    name = ""
    for doc in copy.deepcopy(router.docs()):
        doc["metadata"]["namespace"] = NS
        if doc["kind"] == "Rollout":
            name = doc["metadata"]["name"]
            doc["spec"]["replicas"] = 2
            doc["spec"]["strategy"]["canary"]["steps"] = copy.deepcopy(STEPS)
        await client.create(lookup(doc["kind"], doc["apiVersion"]), doc, NS)
    await until(client, name, lambda s: s.get("phase") == "Healthy" and bool(s.get("stableRS")))
    return name


async def until(
    client: KubeClient, name: str, cond: Callable[[dict[str, Any]], bool], limit: float = 20.0
) -> dict[str, Any]:
    status: dict[str, Any] = {}
    try:
        async with asyncio.timeout(limit):
            while True:
                status = (await client.get(ROLLOUTS, name, NS)).get("status") or {}
                if cond(status):
                    return status
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"{name}: condition not reached; status {json.dumps(status)[:600]}") from None


async def update(client: KubeClient, name: str) -> None:
    await client.patch(
        ROLLOUTS, name, {"spec": {"template": {"metadata": {"annotations": {"version": "2"}}}}}, NS
    )


def paused_at(index: int) -> Callable[[dict[str, Any]], bool]:
    return lambda s: s.get("currentStepIndex") == index and s.get("phase") == "Paused"


async def weight_becomes(client: KubeClient, router: Router, weight: int, limit: float = 10.0) -> None:
    seen = -1
    try:
        async with asyncio.timeout(limit):
            while (seen := await router.weight(client)) != weight:  # noqa: ASYNC110 - the controller drives it
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"{router.name}: canary weight {seen}, expected {weight}") from None


@pytest.mark.parametrize("router", ROUTERS, ids=[r.name for r in ROUTERS])
async def test_a_canary_through_each_router_reaches_healthy(controller: KubeClient, router: Router) -> None:
    client = controller
    name = await deploy(client, router)
    first = (await client.get(ROLLOUTS, name, NS))["status"]["stableRS"]
    await update(client, name)
    await until(client, name, paused_at(1))
    await weight_becomes(client, router, 30)
    await client.patch_status(ROLLOUTS, name, {"status": {"pauseConditions": None}}, NS)  # promote
    await until(client, name, paused_at(3))
    await weight_becomes(client, router, 60)
    await client.patch_status(ROLLOUTS, name, {"status": {"pauseConditions": None}}, NS)
    done = await until(
        client, name, lambda s: s.get("phase") == "Healthy" and s.get("stableRS") not in (None, first)
    )
    assert done["stableRS"] == done["currentPodHash"]
    await weight_becomes(client, router, 0)


@pytest.mark.parametrize("router", ROUTERS, ids=[r.name for r in ROUTERS])
async def test_a_canary_through_each_router_aborts_back_to_stable(
    controller: KubeClient, router: Router
) -> None:
    client = controller
    name = await deploy(client, router)
    first = (await client.get(ROLLOUTS, name, NS))["status"]["stableRS"]
    await update(client, name)
    await until(client, name, paused_at(1))
    await weight_becomes(client, router, 30)
    await client.patch_status(ROLLOUTS, name, {"status": {"abort": True}}, NS)
    aborted = await until(client, name, lambda s: s.get("phase") == "Degraded")
    assert aborted["stableRS"] == first and aborted["message"].startswith("RolloutAborted")
    await weight_becomes(client, router, 0)
