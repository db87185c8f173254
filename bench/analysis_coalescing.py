"""Query coalescing: N AnalysisRuns sharing 10 distinct queries at 1 s intervals against one real Prometheus.

Not a test: it prints figures. Each run has one metric, `interval: 1s`, whose query is one of 10 distinct
queries (run i asks query i mod 10), all live, through one `Providers` as the controller holds it. Prometheus
is backfilled by `tests/fixtures/prometheus.py`. For coalescing on (the controller's default window, 1 s) and
off, it prints:

* the requests Prometheus itself counted (`prometheus_http_requests_total{handler="/api/v1/query"}`, sampled
  every 0.1 s by a separate process): on average per second, and the most in one wall-clock second;
* what the engine asked (measurements) and how many were answered by another's request;
* measurement lag behind the due time (the previous measurement's completion + interval), p50 and p99;
* the CPU seconds of this process and of Prometheus per second.

The target: at most 10 requests per interval (one per distinct query) with the lag's p99 under one interval.

    .venv/bin/python bench/analysis_coalescing.py
    .venv/bin/python bench/analysis_coalescing.py --runs 1000 --duration 30
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from analysis_throughput import Recording, RequestSampler, load, process_cpu, request_count  # noqa: E402

from analysis.models import AnalysisRunSpec, Metric  # noqa: E402
from analysis.providers.governance import GovernanceConfig  # noqa: E402
from analysis.providers.registry import ProviderOptions, Providers  # noqa: E402
from analysis.runner import WallClock, run_to_completion  # noqa: E402
from tests.fixtures.prometheus import healthy, start_prometheus  # noqa: E402

DISTINCT = 10


def query(i: int) -> str:
    window = 5 + i  # ten distinct queries: the same success rate over 5m … 14m
    return (
        f'sum(rate(http_requests_total{{service="api-server-canary",status=~"2.."}}[{window}m])) / '
        f'sum(rate(http_requests_total{{service="api-server-canary"}}[{window}m]))'
    )


def spec(address: str, i: int) -> AnalysisRunSpec:
    metric = Metric.model_validate(
        {
            "name": "success-rate",
            "interval": "1s",
            "successCondition": "result[0] >= 0.99",
            "failureLimit": 3,
            "provider": {"prometheus": {"address": address, "query": query(i % DISTINCT)}},
        }
    )
    return AnalysisRunSpec(metrics=[metric])


def per_wall_second(samples: list[tuple[float, int]], offset: float) -> list[int]:
    """Requests per aligned wall-clock second, from (monotonic, count) samples (`offset` = wall − monotonic)."""
    buckets: dict[int, int] = {}
    for (_, c0), (t1, c1) in itertools.pairwise(samples):
        second = int(t1 + offset)
        buckets[second] = buckets.get(second, 0) + (c1 - c0)
    full = sorted(buckets)[1:-1]  # the first and last seconds are partial
    return [buckets[s] for s in full]


async def measure(url: str, n: int, duration: float, window: float, server_pid: int) -> dict[str, Any]:
    lags: list[float] = []
    outcomes = {"ok": 0, "error": 0}
    stop = asyncio.Event()
    sampler = RequestSampler(url)
    options = ProviderOptions(rate=None, concurrency=16, governance=GovernanceConfig(coalesce_window=window))
    async with Providers(options) as shared:
        sampler.start()
        offset = time.time() - time.monotonic()
        before = request_count(url)
        load_before = load()
        server_cpu = process_cpu(server_pid)
        cpu, wall = time.process_time(), time.monotonic()
        tasks = [
            asyncio.create_task(
                run_to_completion(
                    spec(url, i),
                    {"prometheus": Recording(shared.prometheus, lags, outcomes, wall)},
                    WallClock(),
                    terminate=stop,
                )
            )
            for i in range(n)
        ]
        await asyncio.sleep(duration)
        measured = len(lags)
        stop.set()
        await asyncio.gather(*tasks)
        cpu_used = time.process_time() - cpu
        server_used = process_cpu(server_pid) - server_cpu
        sampler.finish()
        after = request_count(url)
        coalesced = shared.prometheus.coalescer.coalesced
    lags.sort()
    seconds = per_wall_second(sampler.samples, offset)
    return {
        "window": window,
        "measurements": measured,
        "coalesced": coalesced,
        "server_requests": after - before,
        "per_second": (after - before) / duration,
        "max_second": max(seconds) if seconds else 0,
        "p50": lags[len(lags) // 2] if lags else float("nan"),
        "p99": lags[min(len(lags) - 1, int(len(lags) * 0.99))] if lags else float("nan"),
        "errors": outcomes["error"],
        "cpu_per_s": cpu_used / duration,
        "server_cpu_per_s": server_used / duration,
        "load": f"{load_before} → {load()}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=30.0)
    args = parser.parse_args()
    server = start_prometheus(healthy())
    assert server.process is not None
    try:
        print(
            f"{args.runs} runs, {DISTINCT} distinct queries, interval 1 s, {args.duration:g} s each, {server.url}"
        )
        for window in (1.0, 0.0):
            r = asyncio.run(measure(server.url, args.runs, args.duration, window, server.process.pid))
            label = f"coalescing window {window:g} s" if window else "coalescing off"
            print(
                f"{label:26}: {r['measurements'] / args.duration:7.1f} measurements/s, "
                f"{r['coalesced']} answered by another's request; Prometheus counted {r['server_requests']} "
                f"requests = {r['per_second']:.1f}/s, at most {r['max_second']} in one wall-clock second; "
                f"lag p50 {r['p50'] * 1e3:.0f} ms p99 {r['p99'] * 1e3:.0f} ms; errors {r['errors']}; "
                f"CPU {r['cpu_per_s']:.2f} s/s here, {r['server_cpu_per_s']:.2f} s/s Prometheus; load {r['load']}"
            )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
