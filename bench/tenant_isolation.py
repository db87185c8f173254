"""Tenant isolation under a slow-endpoint attack: another namespace's query latency, with real sockets.

Not a test: it prints figures. One process, the controller's default provider settings (`Providers()`):

* namespace `team-a` reconciles, back to back, an AnalysisRun of `--attack-metrics` (16) Prometheus metrics
  whose address is a loopback server answering one byte a second (`tests/fixtures/slow_backends.py`), each
  with `timeout: --attack-timeout` (10 s);
* namespace `team-b` reconciles, every 0.5 s, an AnalysisRun of the seed's two metrics (success rate and p99
  latency of `api-server-canary`, default 30 s timeout) against a real, healthy Prometheus backfilled by
  `tests/fixtures/prometheus.py`.

Printed for team-b over `--duration` seconds: passes, measurements, errors (and their messages), p50/p99/max
of the pass latency; and for team-a how many connections its slow backend saw at once. Run it on two trees
to compare (the script only uses APIs both have):

    .venv/bin/python bench/tenant_isolation.py --duration 40
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.models import AnalysisPhase, AnalysisRun  # noqa: E402
from analysis.providers.registry import Providers  # noqa: E402
from analysis.runner import reconcile_run  # noqa: E402
from tests.fixtures.prometheus import healthy, start_prometheus  # noqa: E402
from tests.fixtures.slow_backends import TrickleServer  # noqa: E402

SUCCESS = 'sum(rate(http_requests_total{service="api-server-canary",status=~"2.."}[5m])) / sum(rate(http_requests_total{service="api-server-canary"}[5m]))'
P99 = 'histogram_quantile(0.99, sum(rate(http_request_duration_seconds_bucket{service="api-server-canary"}[5m])) by (le)) * 1000'


def run(namespace: str, metrics: list[dict[str, Any]]) -> AnalysisRun:
    return AnalysisRun.model_validate(
        {"metadata": {"name": f"{namespace}-run", "namespace": namespace}, "spec": {"metrics": metrics}}
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def measure(prometheus_url: str, slow: TrickleServer, options: argparse.Namespace) -> None:
    attacker = run(
        "team-a",
        [
            {
                "name": f"slow-{i}",
                "successCondition": "result[0] >= 0",
                "provider": {
                    "prometheus": {"address": slow.url, "query": "up", "timeout": options.attack_timeout}
                },
            }
            for i in range(options.attack_metrics)
        ],
    )
    victim = run(
        "team-b",
        [
            {
                "name": "success-rate",
                "successCondition": "result[0] >= 0.99",
                "provider": {"prometheus": {"address": prometheus_url, "query": SUCCESS}},
            },
            {
                "name": "latency",
                "successCondition": "result[0] < 500",
                "provider": {"prometheus": {"address": prometheus_url, "query": P99}},
            },
        ],
    )
    stop = asyncio.Event()
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()
    async with Providers() as providers:

        async def attack() -> None:
            while not stop.is_set():
                await reconcile_run(attacker, providers, datetime.now(UTC))

        attackers = [asyncio.create_task(attack()) for _ in range(options.attack_runs)]
        await asyncio.sleep(1.0)  # let the attack take hold
        end = time.monotonic() + options.duration
        while time.monotonic() < end:
            started = time.perf_counter()
            step = await reconcile_run(victim, providers, datetime.now(UTC))
            latencies.append(time.perf_counter() - started)
            for result in step.status.metric_results or []:
                for m in result.measurements:
                    key = m.phase.value if m.phase is not None else "?"
                    if m.phase is AnalysisPhase.ERROR:
                        key += f": {m.message}"
                    outcomes[key] += 1
            await asyncio.sleep(0.5)
        stop.set()
        for task in attackers:
            task.cancel()
        await asyncio.gather(*attackers, return_exceptions=True)
    print(
        f"team-b: {len(latencies)} passes, {sum(outcomes.values())} measurements; pass latency "
        f"p50 {statistics.median(latencies) * 1000:.1f} ms, p99 {percentile(latencies, 0.99) * 1000:.1f} ms, "
        f"max {max(latencies) * 1000:.1f} ms"
    )
    for outcome, count in outcomes.most_common():
        print(f"  {count:5d}  {outcome}")
    print(
        f"team-a: slow backend accepted {slow.accepted} connections, at most {slow.peak_open} at once, "
        f"{slow.dropped} dropped by the client"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=40.0, help="seconds team-b is measured (40)")
    parser.add_argument("--attack-metrics", type=int, default=16, help="slow metrics in team-a's run (16)")
    parser.add_argument("--attack-runs", type=int, default=1, help="team-a runs reconciled at once (1)")
    parser.add_argument("--attack-timeout", type=int, default=10, help="timeout of team-a's metrics, s (10)")
    options = parser.parse_args()
    server = start_prometheus(healthy())
    slow = TrickleServer(interval=1.0).start()
    try:
        asyncio.run(measure(server.url, slow, options))
    finally:
        slow.stop()
        server.stop()


if __name__ == "__main__":
    main()
