"""Two sharded managers (`ControllerConfig(sharding=True)`) in-process against the sandbox: each pass of a key
runs on one replica only, its AnalysisRuns go with it, the gauges say the split, /readyz waits for membership,
and every pass's write is a read-modify-write of a counter on the Rollout that would lose increments if two
replicas stepped the same Rollout at once (the counter must equal the passes that wrote it)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry

from rollouts.controller.manager import ControllerConfig, Manager, Runtime
from rollouts.controller.queueing import ObjectKey
from rollouts.kube.client import KubeClient
from rollouts.kube.resources import ANALYSIS_RUNS, ROLLOUTS

COUNTER = "test.rollouts/steps"


class Stepper:
    """Each pass: read the counter, yield to the loop, write counter + 1 without a precondition."""

    def __init__(self, name: str, wrote: Counter[str]) -> None:
        self.name = name
        self.wrote = wrote
        self.passes: Counter[str] = Counter()
        self.client: KubeClient | None = None

    def factory(self, rt: Runtime) -> Stepper:
        self.client = rt.client
        return self

    async def reconcile(self, key: ObjectKey) -> float | None:
        assert self.client is not None
        self.passes[str(key)] += 1
        obj = await self.client.get(ROLLOUTS, key.name, key.namespace)
        count = int(((obj["metadata"].get("annotations") or {}).get(COUNTER)) or 0)
        await asyncio.sleep(0.01)
        patch = {"metadata": {"annotations": {COUNTER: str(count + 1)}}}
        await self.client.patch(ROLLOUTS, key.name, patch, key.namespace, patch_type="merge")
        self.wrote[str(key)] += 1
        return 0.05 if count + 1 < 30 else None


class Runs:
    def __init__(self) -> None:
        self.keys: list[ObjectKey] = []

    def factory(self, rt: Runtime) -> Runs:
        return self

    async def reconcile(self, key: ObjectKey) -> float | None:
        self.keys.append(key)
        return None


def rollout(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "i"}]},
            },
            "strategy": {"canary": {}},
        },
    }


async def until(cond: Callable[[], bool], limit: float) -> None:
    async with asyncio.timeout(limit):
        while not cond():  # noqa: ASYNC110 - driven by the managers' tasks
            await asyncio.sleep(0.02)


def sharded(kube: KubeClient, identity: str, stepper: Stepper, runs: Runs) -> Manager:
    config = ControllerConfig(
        sharding=True,
        identity=identity,
        lease_namespace="default",
        healthz_port=0,
        metrics_port=0,
        bind="127.0.0.1",
        lease_duration=2.0,
        renew_deadline=1.5,
        retry_period=0.2,
    )
    return Manager(
        kube,
        config,
        registry=CollectorRegistry(),
        rollout_reconciler=stepper.factory,
        analysis_reconciler=runs.factory,
    )


async def test_two_sharded_replicas_split_the_rollouts_and_never_step_one_at_once(kube: KubeClient) -> None:
    names = [f"app-{i}" for i in range(12)]
    for name in names:
        await kube.create(ROLLOUTS, rollout(name), "default")
    run = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisRun",
        "metadata": {
            "name": "app-0-run",
            "namespace": "default",
            "ownerReferences": [
                {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "app-0", "uid": "u"}
            ],
        },
        "spec": {"metrics": []},
    }
    await kube.create(ANALYSIS_RUNS, run, "default")
    wrote: Counter[str] = Counter()
    steppers = [Stepper("a", wrote), Stepper("b", wrote)]
    runs = [Runs(), Runs()]
    managers = [sharded(kube, n, s, r) for n, s, r in zip("ab", steppers, runs, strict=True)]
    try:
        await managers[0].start()
        assert not managers[0].ready()  # membership not known yet
        await until(managers[0].ready, 10)
        await asyncio.sleep(0.5)
        await managers[1].start()  # joins while the first is stepping: keys move to it mid-way
        await until(lambda: all(wrote[f"default/{n}"] >= 30 for n in names), 60)
        for name in names:
            obj = await kube.get(ROLLOUTS, name, "default")
            assert int(obj["metadata"]["annotations"][COUNTER]) == wrote[f"default/{name}"], name
        await until(
            lambda: all(m.shard_gauges and m.shard_gauges.members._value.get() == 2 for m in managers), 10
        )
        split = [m.shard_gauges.rollouts._value.get() for m in managers if m.shard_gauges]
        assert sum(split) == len(names) and min(split) >= 0.8 * len(names) / 2, split
        owner = next(m for m in managers if m.member and m.member.owns("default/app-0"))
        assert (
            ObjectKey("default", "app-0-run") in runs[managers.index(owner)].keys
        )  # it went with its Rollout
    finally:
        for m in managers:
            await m.stop()
