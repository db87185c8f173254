"""Fairness of the controller's AnalysisRun queue: another namespace's wait while one namespace's queries hang.

Not a test: it prints figures. One process runs the sandbox API server (its own thread) and the controller's
manager with its real AnalysisRun reconciler (`--analysis-workers`, default 30):

* namespace `team-a` has `--attack-runs` (60) AnalysisRuns whose web metric calls a loopback endpoint that
  holds every request `--hang` seconds (10) before answering, three measurements each, one a second;
* namespace `team-b` creates an AnalysisRun every 0.5 s whose web metric calls a healthy loopback endpoint
  (one measurement), and the script times each from creation to phase Successful.

Printed for team-b over `--duration` seconds (30): runs finished, p50/p99/max of creation → Successful, and the
most requests team A's endpoint had open at once. Compare `--namespace-workers 30` (no cap: team A may hold
every worker) with the default (a third of the workers). Run on an older tree (the script only passes the flag
when the tree knows it) to see the FIFO queue:

    .venv/bin/python bench/queue_fairness.py
    .venv/bin/python bench/queue_fairness.py --namespace-workers 30
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from loguru import logger  # noqa: E402
from prometheus_client import CollectorRegistry  # noqa: E402

from rollouts.controller.manager import ControllerConfig, Manager  # noqa: E402
from rollouts.kube.client import KubeClient  # noqa: E402
from rollouts.kube.config import settings_for_url  # noqa: E402
from rollouts.kube.resources import ANALYSIS_RUNS  # noqa: E402
from rollouts.sandbox import Sandbox  # noqa: E402
from tests.fixtures.json_endpoint import JsonEndpoint  # noqa: E402


def run(namespace: str, name: str, url: str, count: int) -> dict[str, Any]:
    metric: dict[str, Any] = {
        "name": "ok",
        "successCondition": "result.ok == true",
        "provider": {"web": {"url": url, "jsonPath": "{$}", "timeoutSeconds": 60}},
    }
    if count > 1:
        metric.update(count=count, interval="1s")
    return {"metadata": {"name": name, "namespace": namespace}, "spec": {"metrics": [metric]}}


async def victim_latencies(kube: KubeClient, url: str, duration: float) -> tuple[list[float], int]:
    created: dict[str, float] = {}
    done: dict[str, float] = {}
    end = time.monotonic() + duration
    i = 0
    next_create = time.monotonic()
    while time.monotonic() < end:
        if time.monotonic() >= next_create:
            name = f"fast-{i}"
            i += 1
            await kube.create(ANALYSIS_RUNS, run("team-b", name, url, 1))
            created[name] = time.monotonic()
            next_create += 0.5
        for obj in await kube.list(ANALYSIS_RUNS, "team-b"):
            key = obj["metadata"]["name"]
            if key not in done and (obj.get("status") or {}).get("phase") == "Successful":
                done[key] = time.monotonic()
        await asyncio.sleep(0.02)  # the figures are good to about 20 ms plus one LIST
    return sorted(done[k] - created[k] for k in done), len(created)


async def main(args: argparse.Namespace) -> None:
    logger.remove()
    logger.add(sys.stderr, level="ERROR")
    sandbox = Sandbox().start()
    hanging, healthy = JsonEndpoint(hold=args.hang), JsonEndpoint()
    kube = KubeClient(settings_for_url(sandbox.url), qps=0)
    options: dict[str, Any] = dict(
        leader_elect=False, healthz_port=0, metrics_port=0, bind="127.0.0.1", analysis_workers=args.workers
    )
    fields = {f.name for f in dataclasses.fields(ControllerConfig)}
    if args.namespace_workers is not None and "analysis_namespace_workers" in fields:
        options["analysis_namespace_workers"] = args.namespace_workers
    config = ControllerConfig(**options)
    share = config.namespace_workers("AnalysisRuns") if hasattr(config, "namespace_workers") else "FIFO queue"
    manager = Manager(kube, config, registry=CollectorRegistry(), rollout_reconciler=None)
    for i in range(args.attack_runs):
        await kube.create(ANALYSIS_RUNS, run("team-a", f"slow-{i}", hanging.url, 3))
    await manager.start()
    try:
        while hanging.open < 1:  # noqa: ASYNC110 - the attack has begun
            await asyncio.sleep(0.05)
        latencies, created = await victim_latencies(kube, healthy.url, args.duration)
    finally:
        await manager.stop(grace=0)
        await kube.close()
        sandbox.stop()
    print(
        f"workers {args.workers}, team A's share {share}; team A: {args.attack_runs} runs on an endpoint holding "
        f"{args.hang:g}s, at most {hanging.peak_open} requests open at once"
    )
    if not latencies:
        print(f"team B: 0 of {created} runs finished in {args.duration:g}s")
        return
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(
        f"team B: {len(latencies)} of {created} runs Successful; creation → Successful "
        f"p50 {statistics.median(latencies) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=30)
    parser.add_argument("--namespace-workers", type=int, default=None)
    parser.add_argument("--attack-runs", type=int, default=60)
    parser.add_argument("--hang", type=float, default=10.0)
    parser.add_argument("--duration", type=float, default=30.0)
    asyncio.run(main(parser.parse_args()))
