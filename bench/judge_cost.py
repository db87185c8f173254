"""The statistical judge's cost per measurement: a 10-minute window at 30 s steps against one real Prometheus.

Not a test: it prints figures. Prometheus is backfilled with the judge tests' noisy data
(`tests/fixtures/prometheus.py`, `judge_scenario`); then:

* the statistics alone (`analysis.judging`): Mann-Whitney U on 21 + 21 values, Fisher's exact test on request
  counts, and the worst case the bounds allow (11,000 + 11,000 values), CPU µs per verdict;
* whole measurements through `JudgeProvider` (two range queries of 21 points each, then the test): wall time
  p50/p99 and this process's CPU per measurement, one at a time and `--concurrency` at once;
* the same for `test: proportions` (four instant queries).

    .venv/bin/python bench/judge_cost.py
    .venv/bin/python bench/judge_cost.py --measurements 500 --concurrency 50
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.judging import MAX_SAMPLES, judge_counts, judge_samples, parse_config  # noqa: E402
from analysis.models import Metric  # noqa: E402
from analysis.providers.registry import ProviderOptions, Providers  # noqa: E402
from tests.fixtures.prometheus import judge_scenario, start_prometheus  # noqa: E402

RATE = 'sum(rate(judge_requests_total{service="%s",status="500"}[1m])) / sum(rate(judge_requests_total{service="%s"}[1m]))'
COUNT_BAD = 'sum(increase(judge_requests_total{service="%s",status="500"}[10m]))'
COUNT_ALL = 'sum(increase(judge_requests_total{service="%s"}[10m]))'


def metric(address: str, test: str) -> Metric:
    if test == "mann-whitney":
        sides: dict[str, Any] = {
            "canary": RATE % ("bad-canary", "bad-canary"),
            "baseline": RATE % ("baseline", "baseline"),
        }
    else:
        sides = {
            side: {"bad": COUNT_BAD % service, "total": COUNT_ALL % service}
            for side, service in (("canary", "bad-canary"), ("baseline", "baseline"))
        }
    config = {"prometheus": {"address": address}, "window": "10m", "step": "30s", "test": test, **sides}
    return Metric.model_validate(
        {
            "name": "judge",
            "successCondition": 'result.verdict == "pass"',
            "failureCondition": 'result.verdict == "fail"',
            "provider": {"plugin": {"rollouts/judge": config}},
        }
    )


def per_call_us(fn: Any, repeat: int) -> float:
    fn()  # warm (scipy's import)
    cpu = time.process_time()
    for _ in range(repeat):
        fn()
    return (time.process_time() - cpu) / repeat * 1e6


def statistics_only() -> None:
    rng = random.Random(1)
    mw = parse_config({"canary": "c", "baseline": "b"})
    pr = parse_config(
        {"test": "proportions", "canary": {"bad": "a", "total": "b"}, "baseline": {"bad": "c", "total": "d"}}
    )
    c21 = [0.05 + rng.uniform(-0.01, 0.01) for _ in range(21)]
    b21 = [0.01 + rng.uniform(-0.005, 0.005) for _ in range(21)]
    c_max = [rng.random() for _ in range(MAX_SAMPLES)]
    b_max = [rng.random() for _ in range(MAX_SAMPLES)]
    print("statistics alone (CPU per verdict):")
    print(
        f"  mann-whitney, 21 + 21 values           {per_call_us(lambda: judge_samples(mw, c21, b21), 2000):9.0f} µs"
    )
    print(
        f"  mann-whitney, {MAX_SAMPLES} + {MAX_SAMPLES} (the bound) {per_call_us(lambda: judge_samples(mw, c_max, b_max), 20):9.0f} µs"
    )
    counts = ((1_500, 90_000), (900, 90_000))
    print(
        f"  proportions (Fisher), 90,000 events/side {per_call_us(lambda: judge_counts(pr, *counts), 2000):7.0f} µs"
    )
    big = ((150_000, 9_000_000), (90_000, 9_000_000))
    print(
        f"  proportions (z-test), 9,000,000/side    {per_call_us(lambda: judge_counts(pr, *big), 2000):9.0f} µs"
    )


async def measurements(address: str, test: str, n: int, concurrency: int) -> None:
    async with Providers(ProviderOptions(environ={}, rate=None)) as providers:
        m = metric(address, test)
        first = await providers.judge.measure(m)  # warm: connection, scipy
        assert first.result["verdict"] == "fail", first.result
        for width in (1, concurrency):
            walls: list[float] = []
            sem = asyncio.Semaphore(width)

            async def one(sem: asyncio.Semaphore = sem, walls: list[float] = walls) -> None:
                async with sem:
                    start = time.perf_counter()
                    result = await providers.judge.measure(m)
                    walls.append(time.perf_counter() - start)
                    assert result.phase is None, result.message

            cpu = time.process_time()
            wall = time.perf_counter()
            await asyncio.gather(*(one() for _ in range(n)))
            elapsed = time.perf_counter() - wall
            used = time.process_time() - cpu
            walls.sort()
            print(
                f"  {test:12} at {width:3} concurrent: {n / elapsed:7.1f} measurements/s, wall p50 "
                f"{statistics.median(walls) * 1e3:6.1f} ms p99 {walls[int(0.99 * (len(walls) - 1))] * 1e3:6.1f} ms, "
                f"CPU {used / n * 1e3:5.2f} ms per measurement (this process)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--measurements", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    statistics_only()
    anchor = datetime.now(UTC).replace(second=0, microsecond=0)
    server = start_prometheus(judge_scenario(anchor), anchor)
    try:
        print(f"whole measurements against {server.url} (window 10m, step 30s: 21 points per side):")
        for test in ("mann-whitney", "proportions"):
            asyncio.run(measurements(server.url, test, args.measurements, args.concurrency))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
