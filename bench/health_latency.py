"""Benchmark: /healthz latency and Lease renewals while the reconcilers keep the event loop busy.

One controller `Manager` in this process (leader election on, default timings 15 s / 10 s / 2 s) against a
sandbox in a thread, with a stand-in reconciler that burns CPU on the event loop: every pass computes for
`--pass-ms` milliseconds and asks to run again at once, over `--keys` Rollouts with `--workers` workers, and
every `--stall-every` seconds one pass computes for `--stall-ms` (a heavy Rollout). A thread asks /healthz
every 100 ms for `--seconds`. Prints the /healthz latency (p50, p99, max, timeouts at 5 s) and the largest gap
between two Lease renewals (the sandbox's request log).

    .venv/bin/python bench/health_latency.py [--seconds 20]
    BENCH_SOURCE=/path/to/another/checkout .venv/bin/python bench/health_latency.py   # its Manager instead

Not a test; nothing asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(os.environ.get("BENCH_SOURCE") or Path(__file__).resolve().parents[1])
sys.path.insert(0, str(ROOT))

from prometheus_client import CollectorRegistry  # noqa: E402

from rollouts.controller.manager import ControllerConfig, Manager  # noqa: E402
from rollouts.kube.client import KubeClient  # noqa: E402
from rollouts.kube.config import settings_for_url  # noqa: E402
from rollouts.kube.resources import ROLLOUTS  # noqa: E402
from rollouts.sandbox import Sandbox  # noqa: E402


class Burner:
    """Computes on the event loop: `pass_ms` per pass, `stall_ms` once every `stall_every` seconds."""

    def __init__(self, pass_ms: float, stall_ms: float, stall_every: float) -> None:
        self.pass_s, self.stall_s, self.stall_every = pass_ms / 1000, stall_ms / 1000, stall_every
        self.next_stall = time.monotonic() + stall_every
        self.passes = 0

    def factory(self, runtime: Any) -> Burner:
        return self

    async def reconcile(self, key: Any) -> float | None:
        budget = self.pass_s
        if time.monotonic() >= self.next_stall:
            self.next_stall = time.monotonic() + self.stall_every
            budget = self.stall_s
        end = time.perf_counter() + budget
        x = 0
        while time.perf_counter() < end:
            x += 1
        self.passes += 1
        return 0.001


def probe(url: str, seconds: float, out: list[float | None], errors: list[str]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                resp.read()
            out.append(time.perf_counter() - started)
        except OSError as e:
            out.append(None)
            errors.append(str(e))
        time.sleep(0.1)


async def run(args: argparse.Namespace) -> None:
    sandbox = Sandbox().start()
    client = KubeClient(settings_for_url(sandbox.url), qps=0)
    burner = Burner(args.pass_ms, args.stall_ms, args.stall_every)
    config = ControllerConfig(
        leader_elect=True,
        lease_namespace="default",
        healthz_port=0,
        metrics_port=0,
        bind="127.0.0.1",
        rollout_workers=args.workers,
    )
    manager = Manager(
        client,
        config,
        registry=CollectorRegistry(),
        rollout_reconciler=burner.factory,
        analysis_reconciler=None,
    )
    for i in range(args.keys):
        await client.create(
            ROLLOUTS,
            {
                "metadata": {"name": f"r{i}", "namespace": "default"},
                "spec": {
                    "selector": {"matchLabels": {"app": "x"}},
                    "template": {},
                    "strategy": {"canary": {}},
                },
            },
        )
    await manager.start()
    await asyncio.wait_for(manager.leading.wait(), 60)
    latencies: list[float | None] = []
    errors: list[str] = []
    started = time.time()
    url = f"http://127.0.0.1:{manager.health.healthz_port}/healthz"
    await asyncio.to_thread(probe, url, args.seconds, latencies, errors)
    lease_requests = [r for r in sandbox.requests.records(resource="leases") if r.time >= started]
    renewals = sorted(r.time for r in lease_requests if r.verb == "update" and r.status < 300)
    lease_verbs = sorted({f"{r.verb} {r.status}" for r in lease_requests})
    await manager.stop(grace=1)
    await client.close()
    sandbox.stop()
    answered = sorted(x for x in latencies if x is not None) or [float("nan")]
    gaps = [b - a for a, b in itertools.pairwise(renewals)] or [float("nan")]
    quantile = (
        statistics.quantiles(answered, n=100, method="inclusive")
        if len(answered) > 1
        else [float("nan")] * 99
    )
    print(
        f"source {ROOT}\n"
        f"reconcile passes: {burner.passes} in {args.seconds:g}s ({args.pass_ms:g} ms each, one of "
        f"{args.stall_ms:g} ms every {args.stall_every:g}s)\n"
        f"/healthz: {len(latencies)} probes, p50 {1000 * statistics.median(answered):.1f} ms, "
        f"p99 {1000 * quantile[98]:.1f} ms, max {1000 * answered[-1]:.1f} ms, "
        f"{latencies.count(None)} without an answer within 5 s {sorted(set(errors))[:2]}\n"
        f"lease renewals: {len(renewals)}, largest gap {max(gaps):.2f}s (retry period 2 s, renew deadline 10 s); "
        f"lease requests {lease_verbs}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--keys", type=int, default=200)
    parser.add_argument("--workers", type=int, default=10)
    parser.add_argument("--pass-ms", type=float, default=20.0)
    parser.add_argument("--stall-ms", type=float, default=3000.0)
    parser.add_argument("--stall-every", type=float, default=6.0)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
