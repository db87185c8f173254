"""The manager (rollouts.controller.manager) in-process against the sandbox: informers feed the queues, owned
objects enqueue their owner, requeue_after is honoured, health/metrics are served, and the instance id
selects which objects are ours."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from rollouts.controller.leadership import NotLeader
from rollouts.controller.manager import ControllerConfig, Manager, Runtime
from rollouts.controller.queueing import ObjectKey
from rollouts.kube.client import KubeClient
from rollouts.kube.errors import AlreadyExists, ServerError
from rollouts.kube.resources import ANALYSIS_RUNS, EVENTS, LEASES, REPLICA_SETS, ROLLOUTS


class Recording:
    def __init__(self) -> None:
        self.keys: list[ObjectKey] = []
        self.runtime: Runtime | None = None

    def factory(self, rt: Runtime) -> Recording:
        self.runtime = rt
        return self

    async def reconcile(self, key: ObjectKey) -> float | None:
        self.keys.append(key)
        return None


async def until(cond: Callable[[], bool], limit: float = 10.0) -> None:
    async with asyncio.timeout(limit):
        while not cond():  # noqa: ASYNC110 - driven by the server and the manager's tasks
            await asyncio.sleep(0.005)


def rollout(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "default", "labels": labels or {}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "i"}]},
            },
            "strategy": {"canary": {}},
        },
    }


@pytest.fixture
async def started(kube: KubeClient) -> AsyncIterator[tuple[Manager, Recording, Recording]]:
    rollouts, runs = Recording(), Recording()
    config = ControllerConfig(
        leader_elect=True,
        lease_namespace="default",
        healthz_port=0,
        metrics_port=0,
        bind="127.0.0.1",
        retry_period=0.2,
        renew_deadline=1.0,
        lease_duration=2.0,
    )
    manager = Manager(
        kube,
        config,
        registry=CollectorRegistry(),
        rollout_reconciler=rollouts.factory,
        analysis_reconciler=runs.factory,
    )
    await manager.start()
    try:
        await asyncio.wait_for(manager.leading.wait(), 10)
        yield manager, rollouts, runs
    finally:
        await manager.stop(grace=1)


async def test_events_reach_the_reconcilers_and_owned_objects_enqueue_their_owner(
    kube: KubeClient, started: tuple[Manager, Recording, Recording]
) -> None:
    manager, rollouts, runs = started
    ro = await kube.create(ROLLOUTS, rollout("api"))
    await until(lambda: ObjectKey("default", "api") in rollouts.keys)
    owner = [
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Rollout",
            "name": "api",
            "uid": ro["metadata"]["uid"],
            "controller": True,
        }
    ]
    n = len(rollouts.keys)
    await kube.create(
        REPLICA_SETS,
        {
            "metadata": {
                "name": "api-abc",
                "namespace": "default",
                "ownerReferences": owner,
                "labels": {"app": "api", "rollouts-pod-template-hash": "abc"},
            },
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {"app": "api"}},
                "template": {
                    "metadata": {"labels": {"app": "api"}},
                    "spec": {"containers": [{"name": "c", "image": "i"}]},
                },
            },
        },
    )
    await until(lambda: len(rollouts.keys) > n)
    await kube.create(
        ANALYSIS_RUNS,
        {
            "metadata": {"name": "api-run", "namespace": "default", "ownerReferences": owner},
            "spec": {"metrics": [{"name": "m", "provider": {"web": {"url": "x"}}}]},
        },
    )
    await until(lambda: ObjectKey("default", "api-run") in runs.keys)
    await until(lambda: len(rollouts.keys) > n + 1)
    assert manager.source.store(REPLICA_SETS) is not None
    assert rollouts.runtime is not None and rollouts.runtime.client is manager.writer
    assert (
        manager.writer.write_fence is not None and kube.write_fence is None
    )  # only the reconcilers are fenced


async def test_health_and_metrics_served(
    kube: KubeClient, started: tuple[Manager, Recording, Recording]
) -> None:
    manager, _, _ = started
    async with aiohttp.ClientSession() as s:
        async with s.get(f"http://127.0.0.1:{manager.health.healthz_port}/readyz") as r:
            assert r.status == 200
        async with s.get(f"http://127.0.0.1:{manager.health.metrics_port}/metrics") as r:
            text = await r.text()
    assert "rollouts_controller_leader 1.0" in text
    assert 'controller_clientset_k8s_request_total{kind="Lease"' in text
    assert 'workqueue_depth{name="Rollouts"}' in text or "workqueue_adds_total" in text


async def test_instance_id_selects_objects(kube: KubeClient) -> None:
    rollouts = Recording()
    config = ControllerConfig(
        leader_elect=False, instance_id="blue", healthz_port=0, metrics_port=0, bind="127.0.0.1"
    )
    manager = Manager(
        kube,
        config,
        registry=CollectorRegistry(),
        rollout_reconciler=rollouts.factory,
        analysis_reconciler=None,
    )
    await manager.start()
    try:
        await asyncio.wait_for(manager.leading.wait(), 10)
        await kube.create(ROLLOUTS, rollout("theirs"))
        await kube.create(
            ROLLOUTS, rollout("ours", {"argo-rollouts.argoproj.io/controller-instance-id": "blue"})
        )
        await until(lambda: ObjectKey("default", "ours") in rollouts.keys)
        assert ObjectKey("default", "theirs") not in rollouts.keys
    finally:
        await manager.stop(grace=1)


async def test_lost_lease_stops_workers_and_the_manager_stands_by_until_it_is_free(kube: KubeClient) -> None:
    rollouts = Recording()
    config = ControllerConfig(
        leader_elect=True,
        lease_namespace="default",
        identity="me",
        healthz_port=0,
        metrics_port=0,
        bind="127.0.0.1",
        retry_period=0.1,
        renew_deadline=1.0,
        lease_duration=30.0,  # "someone-else" never expires during the test: only the release hands it back
    )
    manager = Manager(
        kube,
        config,
        registry=CollectorRegistry(),
        rollout_reconciler=rollouts.factory,
        analysis_reconciler=None,
    )
    await manager.start()
    try:
        await asyncio.wait_for(manager.leading.wait(), 10)
        lease = await kube.get(LEASES, "rollouts-controller-lock", "default")
        lease["spec"]["holderIdentity"] = "someone-else"  # as if we had paused past the lease duration
        await kube.replace(LEASES, lease)
        await until(lambda: not manager.leading.is_set())  # the next renewal finds the lease taken
        assert manager.registry.get_sample_value("rollouts_controller_leader") == 0
        assert manager.elector is not None and not manager.elector.may_write()
        with pytest.raises(NotLeader, match="does not hold the lease default/rollouts-controller-lock"):
            await manager.writer.create(ROLLOUTS, rollout("fenced"))
        assert await kube.get_or_none(ROLLOUTS, "fenced", "default") is None
        assert manager.registry.get_sample_value(
            "rollouts_controller_fenced_writes_total", {"kind": "Rollout"}
        )
        await kube.create(ROLLOUTS, rollout("while-standing-by"))
        with pytest.raises(NotLeader):  # status writes too (they take their own path through the client)
            await manager.writer.patch_status(
                ROLLOUTS, "while-standing-by", {"status": {"phase": "X"}}, "default"
            )
        assert "status" not in await kube.get(ROLLOUTS, "while-standing-by", "default")
        await until(
            lambda: (
                manager.source.stores[("argoproj.io", "rollouts")].get("default", "while-standing-by")
                is not None
            )
        )
        assert ObjectKey("default", "while-standing-by") not in rollouts.keys  # standby does not act
        lease = await kube.get(LEASES, "rollouts-controller-lock", "default")
        lease["spec"]["holderIdentity"] = ""  # the other one released it
        await kube.replace(LEASES, lease)
        await asyncio.wait_for(manager.leading.wait(), 10)  # the lease watch sees the release at once
        await until(lambda: ObjectKey("default", "while-standing-by") in rollouts.keys)
    finally:
        await manager.stop(grace=1)


async def test_event_recorder_writes_events_and_counts_them(kube: KubeClient) -> None:
    config = ControllerConfig(leader_elect=False, healthz_port=0, metrics_port=0, bind="127.0.0.1")
    registry = CollectorRegistry()
    manager = Manager(kube, config, registry=registry, rollout_reconciler=None, analysis_reconciler=None)
    ro = await kube.create(ROLLOUTS, rollout("evented"))
    await manager.events.record(
        ro, "Normal", "RolloutStepCompleted", "Rollout step 1/2 completed (setWeight: 20)"
    )
    assert await manager.events.flush(within=30)
    (event,) = await kube.list(EVENTS, "default")
    assert (
        event["involvedObject"]["name"] == "evented"
        and event["involvedObject"]["uid"] == ro["metadata"]["uid"]
    )
    assert event["reason"] == "RolloutStepCompleted" and event["source"]["component"] == "rollouts-controller"
    labels = {"namespace": "default", "name": "evented", "type": "Normal", "reason": "RolloutStepCompleted"}
    assert registry.get_sample_value("rollout_events_total", labels) == 1
    await manager.events.stop()
    await manager.events_client.close()


@pytest.mark.sandbox(
    faults={"error_rate": 0.05, "throttle_rate": 0.05, "retry_after": 0, "watch_cut_after": 0.3, "seed": 11}
)
async def test_caches_converge_and_every_rollout_is_seen_under_api_faults(kube: KubeClient) -> None:
    rollouts = Recording()
    config = ControllerConfig(leader_elect=False, healthz_port=0, metrics_port=0, bind="127.0.0.1")
    manager = Manager(
        kube,
        config,
        registry=CollectorRegistry(),
        rollout_reconciler=rollouts.factory,
        analysis_reconciler=None,
    )
    await manager.start()
    try:

        async def create(name: str) -> None:
            while True:  # creates are not retried by the client (not idempotent): the caller decides
                try:
                    await kube.create(ROLLOUTS, rollout(name))
                except (ServerError, AlreadyExists):
                    if await kube.get_or_none(ROLLOUTS, name, "default") is None:
                        continue
                return

        names = [f"r{i}" for i in range(20)]
        for name in names[:10]:
            await create(name)
        informer = manager.informers["Rollout"]
        await until(lambda: informer.watches > 1)  # the server cut the first watch; it was resumed
        for name in names[10:]:
            await create(name)
        await until(lambda: {k.name for k in rollouts.keys} >= set(names), limit=30)
        await until(lambda: {o["metadata"]["name"] for o in informer.store} == set(names), limit=30)
    finally:
        await manager.stop(grace=1)
