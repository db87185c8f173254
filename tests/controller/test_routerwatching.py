"""Router objects watched and confined (rollouts.controller.routerwatching, the cross-namespace rule).

The real manager and reconcilers against an in-loop sandbox, with the resync far away (an hour), so whatever is
put right here is put right by a watch event, not by a periodic replay:

* a VirtualService hand-edited under a paused canary gets its weights back;
* the controller reads router objects from its caches, not one GET per pass;
* a Rollout naming another namespace's VirtualService gets InvalidSpec naming the field, and that
  VirtualService is neither read nor written — unless --allow-cross-namespace-routing;
* a router CRD installed after the controller started is discovered and watched; one deleted stops being.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from rollouts.controller.manager import ControllerConfig, Manager
from rollouts.controller.queueing import ObjectKey
from rollouts.controller.routerwatching import RouterIndex, router_ids
from rollouts.kube.client import KubeClient
from rollouts.kube.config import settings_for_url
from rollouts.kube.resources import REPLICA_SETS, RESOURCES, ROLLOUTS, VIRTUAL_SERVICES, lookup
from rollouts.sandbox import Sandbox
from tests.controller.test_deploy import TRAFFIC_SPLIT_CRD

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "istio-canary"
VS_ID = ("VirtualService", "production", "api-server-vsvc")


def istio_canary(namespace: str = "production", vs_name: str = "api-server-vsvc") -> list[dict[str, Any]]:
    """The seed's Istio canary without analysis, paused indefinitely at 20 % after its first step."""
    docs: list[dict[str, Any]] = []
    for name in ("services.yaml", "virtualservice.yaml", "rollout.yaml"):
        docs += [d for d in yaml.safe_load_all((EXAMPLES / name).read_text()) if d]
    for doc in docs:
        doc["metadata"]["namespace"] = namespace
        if doc["kind"] == "Rollout":
            doc["spec"]["replicas"] = 2
            canary = doc["spec"]["strategy"]["canary"]
            del canary["analysis"]
            canary["steps"] = [{"setWeight": 20}, {"pause": {}}]
            canary["trafficRouting"]["istio"]["virtualServices"][0]["name"] = vs_name
    return docs


def weights(vs: dict[str, Any]) -> dict[str, int]:
    (route,) = vs["spec"]["http"]
    return {d["destination"]["host"]: int(d.get("weight") or 0) for d in route["route"]}


async def until(cond: Callable[[], Awaitable[bool]], limit: float = 20.0) -> None:
    async with asyncio.timeout(limit):
        while not await cond():  # noqa: ASYNC110 - the controller under test drives the condition
            await asyncio.sleep(0.02)


@pytest.fixture
async def kube(async_sandbox: Sandbox) -> AsyncIterator[KubeClient]:
    client = KubeClient(settings_for_url(async_sandbox.url), qps=0, user_agent="test")
    try:
        yield client
    finally:
        await client.close()


Start = Callable[..., Awaitable[Manager]]


@pytest.fixture
async def start(async_sandbox: Sandbox) -> AsyncIterator[Start]:
    """Start a manager (real reconcilers, resync in an hour) with its own client; stopped after the test."""
    started: list[tuple[Manager, KubeClient]] = []

    async def make(**settings: Any) -> Manager:
        client = KubeClient(settings_for_url(async_sandbox.url), qps=0, user_agent="controller-under-test")
        config = ControllerConfig(
            leader_elect=False, healthz_port=0, metrics_port=0, bind="127.0.0.1", resync=3600, **settings
        )
        manager = Manager(client, config, registry=CollectorRegistry())
        await manager.start()
        started.append((manager, client))
        return manager

    try:
        yield make
    finally:
        for manager, client in started:
            await manager.stop(grace=1)
            await client.close()


async def create(kube: KubeClient, docs: list[dict[str, Any]]) -> None:
    for doc in docs:
        await kube.create(
            lookup(doc["kind"], doc["apiVersion"]), copy.deepcopy(doc), doc["metadata"]["namespace"]
        )


async def paused_at_20(kube: KubeClient, namespace: str = "production") -> None:
    async def healthy() -> bool:
        status = (await kube.get(ROLLOUTS, "api-server", namespace)).get("status") or {}
        return status.get("phase") == "Healthy" and bool(status.get("stableRS"))

    await until(healthy)
    patch = {"spec": {"template": {"metadata": {"annotations": {"version": "2"}}}}}
    await kube.patch(ROLLOUTS, "api-server", patch, namespace)

    async def paused() -> bool:
        status = (await kube.get(ROLLOUTS, "api-server", namespace)).get("status") or {}
        return status.get("phase") == "Paused" and status.get("currentStepIndex") == 1

    await until(paused)


async def vs_weights(kube: KubeClient, namespace: str = "production") -> dict[str, int]:
    return weights(await kube.get(VIRTUAL_SERVICES, "api-server-vsvc", namespace))


async def hand_edit(kube: KubeClient, to: dict[str, int], namespace: str = "production") -> None:
    vs = await kube.get(VIRTUAL_SERVICES, "api-server-vsvc", namespace)
    for dest in vs["spec"]["http"][0]["route"]:
        dest["weight"] = to[dest["destination"]["host"]]
    await kube.replace(VIRTUAL_SERVICES, vs, namespace)


PAUSED = {"api-server-stable": 80, "api-server-canary": 20}
HIJACKED = {"api-server-stable": 0, "api-server-canary": 100}


async def test_a_hand_edited_virtual_service_is_put_back_without_a_resync(
    kube: KubeClient, async_sandbox: Sandbox, start: Start
) -> None:
    await create(kube, istio_canary())
    manager = await start()
    await paused_at_20(kube)
    await until(lambda: _eq(vs_weights(kube), PAUSED))
    await until(lambda: _true(manager.routers.informers.get("VirtualService") is not None))
    gets_before = _router_gets(async_sandbox)
    edited = time.monotonic()
    await hand_edit(kube, HIJACKED)
    await until(lambda: _eq(vs_weights(kube), PAUSED))
    print(f"VirtualService weights restored {time.monotonic() - edited:.3f}s after the edit")
    assert manager.routers.router_events >= 1
    # the passes read the VirtualService from the watch cache: not one GET of it
    assert _router_gets(async_sandbox) == gets_before


def _router_gets(sandbox: Sandbox) -> int:
    return len(
        [
            r
            for r in sandbox.requests.records(resource="virtualservices", verb="get")
            if r.user_agent.startswith("controller-under-test")
        ]
    )


async def _eq(value: Awaitable[Any], expected: Any) -> bool:
    return (await value) == expected


async def _true(value: bool) -> bool:
    return value


async def test_a_rollout_naming_another_namespaces_virtual_service_is_refused(
    kube: KubeClient, async_sandbox: Sandbox, start: Start
) -> None:
    await create(kube, istio_canary())
    bad = [d for d in istio_canary("bad", "production/api-server-vsvc") if d["kind"] != "VirtualService"]
    await create(kube, bad)
    await start()
    await paused_at_20(kube)

    async def refused() -> bool:
        status = (await kube.get(ROLLOUTS, "api-server", "bad")).get("status") or {}
        conditions = {c["type"]: c for c in status.get("conditions") or ()}
        return "InvalidSpec" in conditions and status.get("phase") == "Degraded"

    await until(refused)
    status = (await kube.get(ROLLOUTS, "api-server", "bad"))["status"]
    message = next(c["message"] for c in status["conditions"] if c["type"] == "InvalidSpec")
    assert message.startswith(
        'The Rollout "api-server" is invalid: spec.strategy.canary.trafficRouting.istio.virtualServices[0].name: '
        'Invalid value: "production/api-server-vsvc": VirtualService production/api-server-vsvc is outside the '
        "Rollout's namespace bad"
    ), message
    assert "--allow-cross-namespace-routing" in message
    assert await kube.list(REPLICA_SETS, "bad") == []  # refused before anything was created
    assert await vs_weights(kube) == PAUSED  # production's traffic untouched


async def test_with_cross_namespace_routing_allowed_a_hijack_is_undone_as_soon_as_it_stops(
    kube: KubeClient, start: Start
) -> None:
    await create(kube, istio_canary())
    await start(allow_cross_namespace_routing=True)
    await paused_at_20(kube)
    # another namespace's Rollout routes through production's VirtualService, as the flag allows: its first
    # deploy wants stable 100 / canary 0 there, production's paused canary wants 80 / 20
    other = [d for d in istio_canary("other", "production/api-server-vsvc") if d["kind"] != "VirtualService"]
    await create(kube, other)
    await until(lambda: _eq(vs_weights(kube), {"api-server-stable": 100, "api-server-canary": 0}))
    await kube.delete(ROLLOUTS, "api-server", "other")
    await until(lambda: _eq(vs_weights(kube), PAUSED))  # put back by production's rollout, with no resync


async def test_a_router_crd_installed_later_is_watched_and_one_deleted_is_not(
    kube: KubeClient, start: Start
) -> None:
    manager = await start(router_discovery_period=0.1)
    crds = RESOURCES["CustomResourceDefinition"]
    await until(lambda: _true(manager.routers.informers.get("VirtualService") is not None))
    assert "TrafficSplit" not in manager.routers.informers  # the sandbox serves no SMI
    await kube.create(crds, TRAFFIC_SPLIT_CRD)
    await until(lambda: _true(manager.routers.informers.get("TrafficSplit") is not None))
    informer = manager.routers.informers["TrafficSplit"]
    await until(lambda: _true(informer.synced.is_set()))
    split = {
        "apiVersion": "split.smi-spec.io/v1alpha2",
        "kind": "TrafficSplit",
        "metadata": {"name": "s", "namespace": "default"},
        "spec": {"service": "x", "backends": []},
    }
    await kube.create(lookup("TrafficSplit"), split, "default")
    await until(lambda: _true(informer.store.get("default", "s") is not None))
    await kube.delete(crds, "trafficsplits.split.smi-spec.io")
    await until(lambda: _true("TrafficSplit" not in manager.routers.informers))
    assert not informer.synced.is_set() and len(informer.store) == 0
    await kube.create(crds, TRAFFIC_SPLIT_CRD)  # and back again
    await until(lambda: _true(manager.routers.informers.get("TrafficSplit") is not None))


# ---------------------------------------------------------------------------------------------------- the index


def rollout_naming(*vs: str, namespace: str = "production", name: str = "api-server") -> dict[str, Any]:
    (doc,) = [d for d in istio_canary(namespace) if d["kind"] == "Rollout"]
    doc["metadata"]["name"] = name
    doc["spec"]["strategy"]["canary"]["trafficRouting"]["istio"]["virtualServices"] = [
        {"name": v, "routes": ["primary"]} for v in vs
    ]
    return doc


def test_router_ids_name_what_observing_reads() -> None:
    assert router_ids(rollout_naming("api-server-vsvc", "edge/gateway-vsvc")) == {
        VS_ID,
        ("VirtualService", "edge", "gateway-vsvc"),
    }
    invalid = rollout_naming("api-server-vsvc")
    invalid["spec"]["replicas"] = (
        "many"  # does not parse: no router is read or edited until the spec is fixed
    )
    assert router_ids(invalid) == frozenset()  # (and fixing the spec is itself an event on the Rollout)
    assert router_ids({"metadata": {"name": "x"}, "spec": {"strategy": {"canary": {}}}}) == frozenset()


def test_the_index_follows_rollouts_as_they_change() -> None:
    index = RouterIndex()
    a, b = ObjectKey("production", "a"), ObjectKey("production", "b")
    index.set(a, [VS_ID])
    index.set(b, [VS_ID, ("VirtualService", "production", "other")])
    assert index.rollouts(VS_ID) == [a, b]
    index.set(b, [("VirtualService", "production", "other")])
    assert index.rollouts(VS_ID) == [a]
    index.remove(a)
    assert index.rollouts(VS_ID) == [] and len(index) == 1
    index.remove(b)
    assert len(index) == 0 and index.rollouts(("VirtualService", "production", "other")) == []


def test_router_events_are_spaced_per_rollout() -> None:
    from rollouts.controller.caching import CachedSource
    from rollouts.controller.clocks import ManualClock
    from rollouts.controller.routerwatching import RouterWatch

    clock = ManualClock()
    queued: list[tuple[ObjectKey, float]] = []
    watch = RouterWatch(
        None,  # type: ignore[arg-type]  # no requests in this test
        CachedSource(None),  # type: ignore[arg-type]
        lambda key, delay: queued.append((key, delay)),
        min_interval=1.0,
        clock=clock,
    )
    watch.on_rollout("ADDED", rollout_naming("api-server-vsvc"), None)
    vs = {"kind": "VirtualService", "metadata": {"namespace": "production", "name": "api-server-vsvc"}}
    for _ in range(3):  # a fight over the route: three edits in the same instant
        watch._on_router("MODIFIED", vs, vs)
    key = ObjectKey("production", "api-server")
    assert queued == [(key, 0.0), (key, 1.0), (key, 2.0)]
    watch._on_router("MODIFIED", {**vs, "metadata": {"namespace": "production", "name": "unrelated"}}, vs)
    assert len(queued) == 3


async def test_deployments_are_watched_from_the_first_workload_ref_and_an_edit_is_a_new_revision(
    kube: KubeClient, start: Start
) -> None:
    """The Deployment informer starts with the first Rollout naming a Deployment (a cluster's Deployments may be
    many), and a change of the Deployment's template reaches the Rollout at once (resync is an hour here)."""
    manager = await start()
    await until(lambda: _true(manager.routers.informers.get("VirtualService") is not None))
    assert "Deployment" not in manager.routers.informers
    docs = [
        d for d in yaml.safe_load_all((EXAMPLES.parent / "workload-ref" / "rollout.yaml").read_text()) if d
    ]
    for doc in docs:
        doc["metadata"]["namespace"] = "production"
    await create(kube, docs)

    async def healthy() -> bool:
        status = (await kube.get(ROLLOUTS, "web", "production")).get("status") or {}
        return status.get("phase") == "Healthy" and bool(status.get("stableRS"))

    await until(healthy)
    assert "Deployment" in manager.routers.informers
    first = (await kube.get(ROLLOUTS, "web", "production"))["status"]["currentPodHash"]
    await kube.patch(
        lookup("Deployment"),
        "web",
        {"spec": {"template": {"metadata": {"annotations": {"revision": "2"}}}}},
        "production",
    )

    async def new_revision() -> bool:
        status = (await kube.get(ROLLOUTS, "web", "production")).get("status") or {}
        return status.get("currentPodHash") not in (None, first) and status.get("phase") == "Paused"

    await until(new_revision)
