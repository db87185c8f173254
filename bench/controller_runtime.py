"""Benchmark: the controller runtime alone (informers, caches, work queue, timer heap, metrics) at scale.

N Rollouts with two ReplicaSets each live in the sandbox (its own process). A manager runs with a stand-in
reconciler that does what a real pass reads (the Rollout and its ReplicaSets from the cache) and asks to be
requeued after `--period` seconds, for `--seconds`. Prints: initial sync time, reconciles per second against the
ideal (N / period), queue wait p50/p99, API requests during the steady state (should be 0: everything comes from
the caches), CPU seconds and peak RSS of this process. Not a test.

    .venv/bin/python bench/controller_runtime.py --rollouts 1000 --period 2 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import subprocess
import tempfile
import time
from pathlib import Path

from prometheus_client import CollectorRegistry

from rollouts.controller.manager import ControllerConfig, Manager, Runtime
from rollouts.controller.queueing import ObjectKey
from rollouts.kube.client import KubeClient
from rollouts.kube.config import settings_for_url
from rollouts.kube.resources import REPLICA_SETS, ROLLOUTS
from rollouts.sandbox.spawning import spawn_sandbox


class StandIn:
    def __init__(self, rt: Runtime, period: float) -> None:
        self.rt = rt
        self.period = period
        self.passes = 0
        self.all_seen = asyncio.Event()
        self.last: dict[ObjectKey, float] = {}
        self.gaps: list[float] = []
        self.n = 0

    async def reconcile(self, key: ObjectKey) -> float | None:
        ro = await self.rt.source.get(ROLLOUTS, key.name, key.namespace)
        labels = ro["spec"]["selector"]["matchLabels"]
        selector = ",".join(f"{k}={v}" for k, v in labels.items())
        rs = await self.rt.source.list(REPLICA_SETS, key.namespace, label_selector=selector)
        assert len(rs) == 2
        self.passes += 1
        now = time.monotonic()
        if key in self.last:
            self.gaps.append(now - self.last[key])
        self.last[key] = now
        if self.passes >= self.n:
            self.all_seen.set()
        return self.period


def rollout(i: int) -> dict:
    return {
        "metadata": {"name": f"r{i}", "namespace": "bench"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": f"r{i}"}},
            "template": {
                "metadata": {"labels": {"app": f"r{i}"}},
                "spec": {"containers": [{"name": "c", "image": "i:1"}]},
            },
            "strategy": {"canary": {"steps": [{"setWeight": 10}, {"pause": {"duration": "1s"}}]}},
        },
    }


def replica_set(i: int, h: str, uid: str) -> dict:
    labels = {"app": f"r{i}", "rollouts-pod-template-hash": h}
    return {
        "metadata": {
            "name": f"r{i}-{h}",
            "namespace": "bench",
            "labels": labels,
            "ownerReferences": [
                {
                    "apiVersion": "argoproj.io/v1alpha1",
                    "kind": "Rollout",
                    "name": f"r{i}",
                    "uid": uid,
                    "controller": True,
                }
            ],
        },
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": "i"}]},
            },
        },
    }


def start_sandbox(tmp: str) -> tuple[subprocess.Popen[bytes], str]:
    spawned = spawn_sandbox(Path(tmp))
    return spawned.process, spawned.url


async def main(url: str, n: int, period: float, seconds: float) -> None:
    setup = KubeClient(settings_for_url(url), qps=0)
    sem = asyncio.Semaphore(20)

    async def make(i: int) -> None:
        async with sem:
            ro = await setup.create(ROLLOUTS, rollout(i))
            for h in ("aaa", "bbb"):
                await setup.create(REPLICA_SETS, replica_set(i, h, ro["metadata"]["uid"]))

    t0 = time.perf_counter()
    await asyncio.gather(*(make(i) for i in range(n)))
    print(f"created {n} rollouts + {2 * n} replicasets in {time.perf_counter() - t0:.1f}s")
    await setup.close()

    client = KubeClient(settings_for_url(url), qps=40, burst=80)
    standins: list[StandIn] = []

    def factory(rt: Runtime) -> StandIn:
        standins.append(StandIn(rt, period))
        standins[-1].n = n
        return standins[-1]

    config = ControllerConfig(leader_elect=False, healthz_port=0, metrics_port=0, bind="127.0.0.1")
    registry = CollectorRegistry()
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    manager = Manager(client, config, registry=registry, rollout_reconciler=factory, analysis_reconciler=None)
    await manager.start()
    await manager.leading.wait()
    synced = time.perf_counter() - t0
    await standins[0].all_seen.wait()
    first_pass = time.perf_counter() - t0
    while client.stats.by_verb.get("Watch", 0) < len(manager.informers):  # noqa: ASYNC110 - watches open lazily
        await asyncio.sleep(0.01)
    requests0, passes0 = client.stats.requests, standins[0].passes
    t1 = time.perf_counter()
    await asyncio.sleep(seconds)
    elapsed = time.perf_counter() - t1
    passes = standins[0].passes - passes0
    requests = client.stats.requests - requests0
    waits = []
    for metric in registry.collect():
        if metric.name == "workqueue_queue_duration_seconds":
            buckets = [
                (float(s.labels["le"]), s.value)
                for s in metric.samples
                if s.name.endswith("_bucket") and s.labels.get("name") == "Rollouts"
            ]
            waits = buckets
    cpu = time.process_time() - cpu0
    await manager.stop(grace=1)
    await client.close()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    total = waits[-1][1] if waits else 0

    def quantile(q: float) -> float:
        return next((le for le, c in waits if c >= q * total), float("inf"))

    print(f"caches synced in {synced:.2f}s; first pass over all {n} in {first_pass:.2f}s")
    gaps = sorted(standins[0].gaps)
    p50, p99 = gaps[len(gaps) // 2], gaps[min(len(gaps) - 1, int(len(gaps) * 0.99))]
    print(
        f"steady state {elapsed:.1f}s: {passes} passes; requeue interval asked {period}s, got p50 {p50:.3f}s "
        f"p99 {p99:.3f}s; API requests {requests}"
    )
    print(f"queue wait p50 <= {quantile(0.5)}s, p99 <= {quantile(0.99)}s (histogram bucket bounds)")
    print(f"CPU {cpu:.1f}s ({cpu / (first_pass + elapsed) * 100:.0f}% of one core); peak RSS {rss:.0f} MB")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rollouts", type=int, default=1000)
    p.add_argument("--period", type=float, default=2.0)
    p.add_argument("--seconds", type=float, default=20.0)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sandbox, url = start_sandbox(tmp)
        try:
            asyncio.run(main(url, a.rollouts, a.period, a.seconds))
        finally:
            sandbox.terminate()
            sandbox.wait(10)
