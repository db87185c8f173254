"""Load benchmark of the sandbox API server (not part of the test run): prints figures, asserts nothing.

Loads the sandbox like the controller benchmark will — N Rollouts (default 1,000), each with 2 ReplicaSets
of 5 pods (pods made by the simulator), 1 Service and 1 Istio VirtualService, spread over 10 namespaces —
then measures, from a separate client process over loopback HTTP:

- requests/s for GET of one Rollout, merge PATCH of one Rollout, and LIST of pods with a label selector;
- watch fan-out: 10 concurrent watchers of all Rollouts; latency from just before a PATCH is sent to each
  watcher receiving the MODIFIED event (p50, p99);
- resident memory of the server process (VmRSS) once loaded, and per stored object;
- the cost of starting and stopping an in-process sandbox (what a fresh sandbox per test costs).

The server runs as `rollouts sandbox --port 0` in its own process, so its figures are for one core.

    .venv/bin/python bench/sandbox_load.py [--rollouts 1000] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

G, V = "argoproj.io", "v1alpha1"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def manifests(i: int) -> tuple[str, list[tuple[str, dict[str, Any]]]]:
    ns = f"team-{i % 10}"
    name = f"app-{i}"
    ro = {
        "apiVersion": f"{G}/{V}",
        "kind": "Rollout",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": 5,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "app:1"}]},
            },
            "strategy": {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}]}},
        },
    }
    out: list[tuple[str, dict[str, Any]]] = [(f"/apis/{G}/{V}/namespaces/{ns}/rollouts", ro)]
    for h in ("aaa", "bbb"):
        labels = {"app": name, "rollouts-pod-template-hash": h}
        out.append(
            (
                f"/apis/apps/v1/namespaces/{ns}/replicasets",
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "metadata": {"name": f"{name}-{h}", "labels": labels},
                    "spec": {
                        "replicas": 5,
                        "selector": {"matchLabels": labels},
                        "template": {
                            "metadata": {"labels": labels},
                            "spec": {"containers": [{"name": "app", "image": f"app:{h}"}]},
                        },
                    },
                },
            )
        )
    out.append(
        (
            f"/api/v1/namespaces/{ns}/services",
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name},
                "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]},
            },
        )
    )
    out.append(
        (
            f"/apis/networking.istio.io/v1beta1/namespaces/{ns}/virtualservices",
            {
                "apiVersion": "networking.istio.io/v1beta1",
                "kind": "VirtualService",
                "metadata": {"name": name},
                "spec": {
                    "hosts": [name],
                    "http": [
                        {
                            "name": "primary",
                            "route": [
                                {"destination": {"host": f"{name}-stable"}, "weight": 100},
                                {"destination": {"host": f"{name}-canary"}, "weight": 0},
                            ],
                        }
                    ],
                },
            },
        )
    )
    return ns, out


async def timed(session: aiohttp.ClientSession, count: int, concurrency: int, make: Any) -> float:
    """Requests per second for `count` requests made by `make(session, i)` with `concurrency` in flight."""
    queue = list(range(count))
    started = time.perf_counter()

    async def worker() -> None:
        while queue:
            i = queue.pop()
            await make(session, i)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return count / (time.perf_counter() - started)


async def run(url: str, pid: int, n: int, concurrency: int) -> dict[str, Any]:
    results: dict[str, Any] = {"rollouts": n}
    connector = aiohttp.TCPConnector(limit=concurrency + 20)
    async with aiohttp.ClientSession(url, connector=connector) as s:
        rss_empty = rss_mb(pid)
        docs = [doc for i in range(n) for doc in manifests(i)[1]]

        async def create(session: aiohttp.ClientSession, i: int) -> None:
            path, body = docs[i]
            async with session.post(path, json=body) as r:
                assert r.status == 201, await r.text()

        t0 = time.perf_counter()
        results["create_per_s"] = await timed(s, len(docs), concurrency, create)
        # Wait for the simulator: every ReplicaSet reports 5 available pods.
        while True:
            async with s.get("/apis/apps/v1/replicasets") as r:
                rss = (await r.json())["items"]
            if sum((rs.get("status") or {}).get("availableReplicas", 0) for rs in rss) >= n * 10:
                break
            await asyncio.sleep(0.2)
        results["load_seconds"] = time.perf_counter() - t0
        async with s.get("/sandbox/state") as r:
            results["objects"] = len((await r.json())["items"])
        results["rss_mb"] = rss_mb(pid)
        results["rss_empty_mb"] = rss_empty
        results["kb_per_object"] = (results["rss_mb"] - rss_empty) * 1024 / results["objects"]

        rng = random.Random(1)

        async def get(session: aiohttp.ClientSession, i: int) -> None:
            k = rng.randrange(n)
            async with session.get(f"/apis/{G}/{V}/namespaces/team-{k % 10}/rollouts/app-{k}") as r:
                assert r.status == 200
                await r.read()

        async def patch(session: aiohttp.ClientSession, i: int) -> None:
            k = rng.randrange(n)
            async with session.patch(
                f"/apis/{G}/{V}/namespaces/team-{k % 10}/rollouts/app-{k}",
                data=json.dumps({"metadata": {"annotations": {"bench": str(i)}}}),
                headers={"Content-Type": "application/merge-patch+json"},
            ) as r:
                assert r.status == 200
                await r.read()

        async def select(session: aiohttp.ClientSession, i: int) -> None:
            k = rng.randrange(n)
            sel = f"app=app-{k},rollouts-pod-template-hash=bbb"
            async with session.get(
                f"/api/v1/namespaces/team-{k % 10}/pods", params={"labelSelector": sel}
            ) as r:
                assert r.status == 200
                assert len((await r.json())["items"]) == 5

        results["get_per_s"] = await timed(s, 3000, concurrency, get)
        results["patch_per_s"] = await timed(s, 2000, concurrency, patch)
        results["list_selector_per_s"] = await timed(s, 500, concurrency, select)

        # Watch fan-out: 10 watchers of all rollouts; 200 patches 10 ms apart.
        sent: dict[str, float] = {}
        latencies: list[float] = []
        ready = 0
        all_ready = asyncio.Event()

        async def watcher() -> None:
            nonlocal ready
            async with s.get(
                f"/apis/{G}/{V}/rollouts",
                params={"watch": "true", "resourceVersion": rv, "timeoutSeconds": "60"},
                timeout=aiohttp.ClientTimeout(total=None, sock_read=None),
            ) as r:
                ready += 1
                if ready == 10:
                    all_ready.set()
                async for line in r.content:
                    ev = json.loads(line)
                    mark = ev["object"]["metadata"].get("annotations", {}).get("fanout")
                    if mark is not None and mark in sent:
                        latencies.append(time.perf_counter() - sent[mark])
                        if mark == "done":
                            return

        async with s.get(f"/apis/{G}/{V}/rollouts?limit=1") as r:
            rv = (await r.json())["metadata"]["resourceVersion"]
        tasks = [asyncio.create_task(watcher()) for _ in range(10)]
        await asyncio.wait_for(all_ready.wait(), 30)
        for i in range(201):
            mark = "done" if i == 200 else str(i)
            k = i % n
            sent[mark] = time.perf_counter()
            async with s.patch(
                f"/apis/{G}/{V}/namespaces/team-{k % 10}/rollouts/app-{k}",
                data=json.dumps({"metadata": {"annotations": {"fanout": mark}}}),
                headers={"Content-Type": "application/merge-patch+json"},
            ) as r:
                assert r.status == 200
            await asyncio.sleep(0.01)
        await asyncio.wait_for(asyncio.gather(*tasks), 60)
        latencies.sort()
        results["fanout_events"] = len(latencies)
        results["fanout_p50_ms"] = statistics.median(latencies) * 1000
        results["fanout_p99_ms"] = latencies[int(len(latencies) * 0.99) - 1] * 1000
        results["rss_after_mb"] = rss_mb(pid)
    return results


def start_cost(samples: int = 30) -> float:
    from rollouts.sandbox import Sandbox

    Sandbox().start().stop()  # warm imports and the CRD cache
    started = time.perf_counter()
    for _ in range(samples):
        Sandbox().start().stop()
    return (time.perf_counter() - started) / samples * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--rollouts", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=8)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ready = Path(tmp) / "ready.json"
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rollouts.cli",
                "sandbox",
                "--port",
                "0",
                "-q",
                "--pod-ready-delay",
                "0",
                "--kubeconfig",
                str(Path(tmp) / "kc"),
                "--ready-file",
                str(ready),
            ],
            stdout=subprocess.DEVNULL,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )
        try:
            while not ready.exists():
                if proc.poll() is not None:
                    raise SystemExit("rollouts sandbox did not start")
                time.sleep(0.05)
            url = json.loads(ready.read_text())["url"]
            results = asyncio.run(run(url, proc.pid, args.rollouts, args.concurrency))
        finally:
            proc.terminate()
            proc.wait(10)
    results["start_stop_ms"] = start_cost()
    width = max(len(k) for k in results)
    for k, v in results.items():
        print(f"{k:<{width}}  {v:.1f}" if isinstance(v, float) else f"{k:<{width}}  {v}")


if __name__ == "__main__":
    main()
