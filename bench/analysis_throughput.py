"""Analysis throughput: N AnalysisRuns × 2 Prometheus metrics at 1 s intervals against one real Prometheus.

Not a test: it prints figures. For each N (100, 300, 1000, … until measurements fall behind) one process
runs N runs concurrently through `analysis.runner.run_to_completion` on the system clock for `--duration`
seconds, with the seed's two queries (success rate and p99 latency of `api-server-canary`) against a
Prometheus backfilled by `tests/fixtures/prometheus.py`. Per N it prints:

* measurements per second, p50/p99 lag between a measurement's due time (the previous one's completion +
  interval, docs/semantics/analysis.md#analysis-scheduling) and its completion, and the CPU seconds of this process;
* the engine's CPU cost per measurement next to a bare loop of the same queries through
  prometheus-api-client (`custom_query`), and the overhead in percent;
* the requests Prometheus itself counted (`prometheus_http_requests_total{handler="/api/v1/query"}`),
  sampled every 0.1 s by a separate sampler *process* (so that its CPU is not charged to the engine),
  checked against the configured rate limit;
* the machine's load average before and after, and the CPU seconds Prometheus itself used: on a shared
  machine the figures move with the load, so read them together.

The capacity is the largest N whose p99 lag stays under one interval. A last phase checks the rate limiter
where it actually bites: N runs whose demand exceeds a low limit (`--limit-check`), counted at Prometheus.

    .venv/bin/python bench/analysis_throughput.py --duration 60
    .venv/bin/python bench/analysis_throughput.py --duration 10 --runs 100,300   # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import sys
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from prometheus_api_client import PrometheusConnect  # noqa: E402

from analysis.models import AnalysisPhase, AnalysisRunSpec, Measurement, Metric  # noqa: E402
from analysis.providers.base import MetricProvider  # noqa: E402
from analysis.providers.deadlines import SocketDeadline  # noqa: E402
from analysis.providers.prometheus import _Connection  # noqa: E402
from analysis.providers.registry import ProviderOptions, Providers  # noqa: E402
from analysis.runner import WallClock, run_to_completion  # noqa: E402
from tests.fixtures.prometheus import healthy, start_prometheus  # noqa: E402

SERVICE = "api-server-canary"
QUERIES = {
    "success-rate": (
        f'sum(rate(http_requests_total{{service="{SERVICE}",status=~"2.."}}[5m])) / '
        f'sum(rate(http_requests_total{{service="{SERVICE}"}}[5m]))',
        "result[0] >= 0.99",
    ),
    "p99-latency": (
        f'histogram_quantile(0.99, sum(rate(http_request_duration_seconds_bucket{{service="{SERVICE}"}}[5m])) by (le)) * 1000',
        "result[0] < 500",
    ),
}
INTERVAL = 1.0


def run_spec(address: str) -> AnalysisRunSpec:
    metrics = [
        Metric.model_validate(
            {
                "name": name,
                "interval": "1s",
                "successCondition": condition,
                "failureLimit": 3,
                "provider": {"prometheus": {"address": address, "query": query}},
            }
        )
        for name, (query, condition) in QUERIES.items()
    ]
    return AnalysisRunSpec(metrics=metrics)


class Recording:
    """Wraps the shared Prometheus provider for one run: records each measurement's lag behind its due time."""

    kind = "prometheus"

    def __init__(
        self, inner: MetricProvider, lags: list[float], outcomes: dict[str, int], start: float
    ) -> None:
        self.inner = inner
        self.lags = lags
        self.outcomes = outcomes
        self.due: dict[str, float] = {}
        self.start = start

    async def measure(self, metric: Metric, *, at: datetime | None = None) -> Measurement:
        measurement = await self.inner.measure(metric, at=at)
        done = time.monotonic()
        self.lags.append(done - self.due.get(metric.name, self.start))
        error = measurement.phase is AnalysisPhase.ERROR
        self.outcomes["error" if error else "ok"] += 1
        self.due[metric.name] = done + (
            10.0 if error else INTERVAL
        )  # docs/semantics/analysis.md#analysis-scheduling: 10 s after an error
        return measurement

    async def resume(self, metric: Metric, measurement: Measurement) -> Measurement:
        return measurement

    async def terminate(self, metric: Metric, measurement: Measurement) -> Measurement:
        return measurement

    def metadata(self, metric: Metric) -> dict[str, str] | None:
        return self.inner.metadata(metric)


_COUNTER = re.compile(r'^prometheus_http_requests_total\{[^}]*handler="/api/v1/query"[^}]*\} (\S+)', re.M)


def request_count(url: str) -> int:
    """Requests Prometheus has served on /api/v1/query, read from its own /metrics (a cheap line scan)."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
        text = response.read().decode()
    return int(sum(float(v) for v in _COUNTER.findall(text)))


def _sample(url: str, period: float, stop: Any, out: Any) -> None:
    """The sampler process: (monotonic time, requests so far) every `period` s until `stop` is set."""
    samples: list[tuple[float, int]] = []
    out.send(request_count(url))  # ready
    while not stop.is_set():
        samples.append((time.monotonic(), request_count(url)))
        stop.wait(period)
    out.send(samples)


class RequestSampler:
    """Samples Prometheus' own query counter every `period` s in a separate process (its CPU is not ours)."""

    def __init__(self, url: str, period: float = 0.1) -> None:
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._receive, send = context.Pipe(duplex=False)
        self._process = context.Process(target=_sample, args=(url, period, self._stop, send), daemon=True)
        self.samples: list[tuple[float, int]] = []

    def start(self) -> None:
        self._process.start()
        self._receive.recv()  # wait until it is sampling

    def finish(self) -> None:
        self._stop.set()
        self.samples = self._receive.recv()
        self._process.join(timeout=10)

    def max_in_window(self, window: float = 1.0) -> tuple[int, float]:
        """The most requests counted between two samples at most `window` apart, and that span.

        The limiter admits at most `rate` requests in any window of one second, so two samples less than a
        second apart may differ by at most `rate`, plus the requests admitted before the first sample and
        still in flight when it was taken (at most the concurrency cap).
        """
        best, span = 0, window
        for i, (t0, c0) in enumerate(self.samples):
            for t1, c1 in self.samples[i + 1 :]:
                if t1 - t0 > window:
                    break
                if c1 - c0 > best:
                    best, span = c1 - c0, t1 - t0
        return best, span


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by process `pid` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def bare_loop(url: str, count: int) -> tuple[float, float]:
    """Wall and CPU seconds per query of `count` sequential `custom_query` calls of the same queries."""
    client = PrometheusConnect(url=url, disable_ssl=True)
    queries = [q for q, _ in QUERIES.values()]
    for q in queries:  # warm the connection
        client.custom_query(q)
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(count):
        client.custom_query(queries[i % 2])
    return (time.perf_counter() - wall) / count, (time.process_time() - cpu) / count


def leg_loop(url: str, count: int) -> tuple[float, float]:
    """Wall and CPU seconds per query of `count` sequential queries through the engine's own HTTP leg
    (`prometheus._Connection.fetch`: the library's session, prepared requests reused) in this thread."""
    connection = _Connection(url, None, None, False, 1)
    queries = [q for q, _ in QUERIES.values()]
    for q in queries:
        connection.fetch("query", {"query": q}, SocketDeadline(30.0))
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(count):
        connection.fetch("query", {"query": queries[i % 2]}, SocketDeadline(30.0))
    connection.close()
    return (time.perf_counter() - wall) / count, (time.process_time() - cpu) / count


async def provider_loop(url: str, count: int) -> tuple[float, float]:
    """Wall and CPU seconds per measurement of `count` sequential `PrometheusProvider.measure` calls."""
    metrics = run_spec(url).metrics
    async with Providers(ProviderOptions(rate=None)) as providers:
        for m in metrics:
            await providers.prometheus.measure(m)
        wall, cpu = time.perf_counter(), time.process_time()
        for i in range(count):
            await providers.prometheus.measure(metrics[i % 2])
    return (time.perf_counter() - wall) / count, (time.process_time() - cpu) / count


async def engine(
    url: str, n: int, duration: float, rate: float | None, concurrency: int, server_pid: int
) -> dict[str, Any]:
    lags: list[float] = []
    outcomes = {"ok": 0, "error": 0}
    spec = run_spec(url)
    stop = asyncio.Event()
    sampler = RequestSampler(url)
    async with Providers(ProviderOptions(rate=rate, concurrency=concurrency)) as shared:
        sampler.start()
        before = request_count(url)
        load_before = load()
        server_cpu = process_cpu(server_pid)
        cpu, loop_cpu, wall = time.process_time(), time.thread_time(), time.monotonic()
        tasks = [
            asyncio.create_task(
                run_to_completion(
                    spec,
                    {"prometheus": Recording(shared.prometheus, lags, outcomes, wall)},
                    WallClock(),
                    terminate=stop,
                )
            )
            for _ in range(n)
        ]
        await asyncio.sleep(duration)
        measured = len(lags)
        stop.set()
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - wall
        cpu_used, loop_used = time.process_time() - cpu, time.thread_time() - loop_cpu
        server_used = process_cpu(server_pid) - server_cpu
        sampler.finish()
        after = request_count(url)
        limiter_requests = sum(shared.limiters.requests().values())
    lags.sort()
    peak, span = sampler.max_in_window()
    return {
        "n": n,
        "measurements": measured,
        "per_second": measured / duration,
        "p50": lags[len(lags) // 2] if lags else float("nan"),
        "p99": lags[min(len(lags) - 1, int(len(lags) * 0.99))] if lags else float("nan"),
        "cpu": cpu_used,
        "cpu_per_measurement": cpu_used / max(1, len(lags)),
        "loop_per_measurement": loop_used / max(1, len(lags)),
        "server_cpu": server_used,
        "errors": outcomes["error"],
        "server_requests": after - before,
        "client_requests": len(lags),
        "limiter_requests": limiter_requests,
        "peak": peak,
        "peak_span": span,
        "elapsed": elapsed,
        "load_before": load_before,
        "load_after": load(),
    }


def rate_verdict(r: dict[str, Any], rate: float | None, concurrency: int) -> str:
    if rate is None:
        return f"no rate limit configured; at most {r['peak']} requests within {r['peak_span']:.2f} s"
    bound = rate + concurrency  # spans are at most one second (see max_in_window)
    verdict = "respected" if r["peak"] <= bound else "EXCEEDED"
    return (
        f"rate limit {verdict}: at most {r['peak']} requests counted by Prometheus within "
        f"{r['peak_span']:.2f} s (limit {rate:g}/s + {concurrency} in flight); engine sent "
        f"{r['client_requests']}, server counted {r['server_requests']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per N (default 60)")
    parser.add_argument("--runs", default="100,300,1000,3000", help="comma-separated N values")
    parser.add_argument(
        "--rate", type=float, default=2000.0, help="rate limit, requests/s towards Prometheus"
    )
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight towards Prometheus")
    parser.add_argument(
        "--bare", type=int, default=2000, help="queries in the bare prometheus-api-client loop"
    )
    parser.add_argument(
        "--limit-check",
        type=int,
        default=200,
        help="runs in the final rate-limit check, whose limit (N/s) is half their demand (0: skip)",
    )
    options = parser.parse_args()

    print(
        f"machine: {os.cpu_count()} cores, load average (1/5/15 min) {load()}; Python "
        f"{sys.version.split()[0]}; CPU figures are this process (event loop + query threads) unless named"
    )
    server = start_prometheus(healthy())
    try:
        wall_q, cpu_q = bare_loop(server.url, options.bare)
        wall_l, cpu_l = leg_loop(server.url, options.bare)
        wall_p, cpu_p = asyncio.run(provider_loop(server.url, options.bare))
        print(f"Prometheus {server.url}; rate limit {options.rate:g}/s, concurrency {options.concurrency}")
        print(
            f"bare loop:     {options.bare} sequential custom_query calls: {wall_q * 1000:.3f} ms wall, "
            f"{cpu_q * 1000:.3f} ms CPU per query"
        )
        print(
            f"leg loop:      {options.bare} sequential engine HTTP-leg calls (_Connection.fetch): "
            f"{wall_l * 1000:.3f} ms wall, {cpu_l * 1000:.3f} ms CPU per query "
            f"({(cpu_l - cpu_q) / cpu_q * 100:+.0f}% vs bare)"
        )
        print(
            f"provider loop: {options.bare} sequential PrometheusProvider.measure calls: {wall_p * 1000:.3f} ms "
            f"wall, {cpu_p * 1000:.3f} ms CPU per measurement ({(cpu_p - cpu_q) / cpu_q * 100:+.0f}% vs bare)"
        )
        header = (
            f"{'N':>6} {'meas/s':>8} {'target/s':>8} {'lag p50':>8} {'lag p99':>8} {'CPU s':>7} "
            f"{'ms/meas':>8} {'(loop)':>7} {'bare ms':>7} {'vs bare':>8} {'vs leg':>7} {'errors':>6} "
            f"{'prom CPU s':>10} {'peak/1s':>8} {'load before→after':>20}"
        )
        print(header)
        capacity, fell_behind = 0, None
        for n in (int(x) for x in options.runs.split(",")):
            # The references are measured again next to each N: on a shared machine they drift with the load.
            _, cpu_q = bare_loop(server.url, options.bare)
            _, cpu_l = leg_loop(server.url, options.bare)
            r = asyncio.run(
                engine(server.url, n, options.duration, options.rate, options.concurrency, server.process.pid)
            )
            per = r["cpu_per_measurement"]
            print(
                f"{n:>6} {r['per_second']:>8.1f} {2 * n / INTERVAL:>8.0f} {r['p50'] * 1000:>6.0f}ms "
                f"{r['p99'] * 1000:>6.0f}ms {r['cpu']:>7.1f} {per * 1000:>8.3f} "
                f"{r['loop_per_measurement'] * 1000:>7.3f} {cpu_q * 1000:>7.3f} {(per - cpu_q) / cpu_q * 100:>+7.0f}% "
                f"{(per - cpu_l) / cpu_l * 100:>+6.0f}% {r['errors']:>6} "
                f"{r['server_cpu']:>10.1f} {r['peak']:>8} {r['load_before'] + '→' + r['load_after']:>20}",
                flush=True,
            )
            print(f"       {rate_verdict(r, options.rate, options.concurrency)}", flush=True)
            if r["p99"] < INTERVAL:
                capacity = n
            else:
                fell_behind = n
                print(f"       N={n} falls behind (p99 lag ≥ {INTERVAL:g} s): stopping")
                break
        print(
            f"capacity: {capacity} runs × 2 metrics at {INTERVAL:g} s (largest N with p99 lag < 1 interval"
            + (f"; N={fell_behind} fell behind)" if fell_behind else "; no N tried fell behind)")
        )
        print(
            "lag = completion - due time (previous completion + interval); ms/meas = CPU ms of this process per "
            "measurement, (loop) = of which the event-loop thread; bare ms = CPU ms per query of the bare "
            "custom_query loop measured just before; vs bare = ms/meas against it (the target: < +20%); vs leg = "
            "against the engine's own HTTP leg alone, i.e. what scheduling, limiting, threads and assessment add"
        )
        if options.limit_check > 0:
            n = options.limit_check  # demand 2n/s against a limit of n/s
            seconds = min(options.duration, 10.0)
            r = asyncio.run(engine(server.url, n, seconds, float(n), options.concurrency, server.process.pid))
            print(
                f"rate-limit check: {n} runs (demand {2 * n}/s) under a limit of {n}/s for {seconds:g} s: "
                f"{r['per_second']:.1f} meas/s"
            )
            print(f"       {rate_verdict(r, float(n), options.concurrency)}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
