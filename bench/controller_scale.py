"""Benchmark: N canaries driven by one controller process (or `--replicas K` sharded ones) against the sandbox in
its own process.

Each Rollout is a basic canary (2 replicas) with 3 setWeight steps separated by pauses, and background analysis
with one Prometheus metric (a real `prometheus` over backfilled data). The benchmark deploys N rollouts, waits
for the initial deploys, changes every image, and waits until all N are Healthy on the new ReplicaSet. It then
waits through two resync periods with nothing to do. Prints (not a test; nothing asserted):

* wall ÷ ideal: from the first image change to the last rollout Healthy, over the sum of the pauses (and when
  the first rollout, and half of them, were seen Healthy: the status is polled each second);
* API writes per step transition: controller writes during the update (sandbox request log, by user agent)
  ÷ (N × number of steps), with and without Events and AnalysisRun status writes;
* Events: created and patched (a repeated Event is a patch of its count) during the update, the writes per
  rollout; occurrences (sum of `count`) and Event objects per rollout over the whole run (initial deploy and
  update); Events the controller dropped (`controller_events_dropped_total`);
* writes on a no-op resync (must be 0);
* reconcile latency p50/p99: exact, from every pass's duration (the controller writes them to the file named
  by ROLLOUTS_RECONCILE_TIMINGS), and as `histogram_quantile` would read the coarse `rollout_reconcile`
  histogram;
* controller CPU seconds (user+system, /proc; summed over replicas) and per step transition, peak RSS (VmHWM;
  the largest replica's); `controller_cpu_*` is the whole run (initial deploys, quiet period and the final
  scrapes of /metrics included), `update_cpu_*` and `update_passes_per_rollout` only the update window (from
  the first image change to the last rollout Healthy on it);
* with `--replicas K --kill-after S`: the first replica is SIGKILLed S seconds into the update, and `takeover_s`
  is the time from the kill until the survivors own every rollout (`controller_shard_rollouts`).

    .venv/bin/python bench/controller_scale.py --rollouts 100 [--pause 10] [--resync 10] [--traffic istio]
    .venv/bin/python bench/controller_scale.py --rollouts 1000 --replicas 3 --kill-after 12

With `--traffic istio` each canary routes through its own Istio VirtualService (and canary/stable Services), and
the controller's reads are counted too (all requests, and GETs of VirtualServices). `BENCH_SOURCE=DIR` runs the
controller of another checkout (same flags) against the same scenario.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rollouts.kube.client import KubeClient  # noqa: E402
from rollouts.kube.config import settings_for_url  # noqa: E402
from rollouts.kube.resources import (  # noqa: E402
    ANALYSIS_RUNS,
    ANALYSIS_TEMPLATES,
    EVENTS,
    REPLICA_SETS,
    ROLLOUTS,
    SERVICES,
    VIRTUAL_SERVICES,
)
from rollouts.sandbox.spawning import spawn_sandbox  # noqa: E402
from tests.fixtures.prometheus import HEALTHY, start_prometheus  # noqa: E402

NS = "bench"
SOURCE = Path(os.environ.get("BENCH_SOURCE") or ROOT)  # the checkout whose controller runs
WEIGHTS = (25, 50, 75)
COMPONENT = "rollouts-controller"  # source.component of the controller's Events


def routed(name: str) -> list[tuple[Any, dict[str, Any]]]:
    """The canary and stable Services and the VirtualService of an Istio-routed canary."""
    services = [
        (SERVICES, {"metadata": {"name": f"{name}-{role}", "namespace": NS}, "spec": {"selector": {"app": name},
         "ports": [{"port": 80, "targetPort": 8080}]}})
        for role in ("stable", "canary")
    ]  # fmt: skip
    vs = {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "VirtualService",
        "metadata": {"name": f"{name}-vsvc", "namespace": NS},
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
    }
    return [*services, (VIRTUAL_SERVICES, vs)]


def rollout(name: str, pause: int, image: str, traffic: str = "") -> dict[str, Any]:
    steps: list[dict[str, Any]] = []
    for weight in WEIGHTS:
        steps += [{"setWeight": weight}, {"pause": {"duration": f"{pause}s"}}]
    canary: dict[str, Any] = {
        "steps": steps,
        "analysis": {
            "templates": [{"templateName": "success-rate"}],
            "args": [{"name": "service-name", "value": "api-server-canary"}],
        },
    }
    if traffic == "istio":
        canary.update(
            canaryService=f"{name}-canary",
            stableService=f"{name}-stable",
            trafficRouting={"istio": {"virtualServices": [{"name": f"{name}-vsvc", "routes": ["primary"]}]}},
        )
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
            "strategy": {"canary": canary},
        },
    }


def template(prometheus: str, interval: int) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "success-rate", "namespace": NS},
        "spec": {
            "args": [{"name": "service-name"}],
            "metrics": [
                {
                    "name": "success-rate",
                    "interval": f"{interval}s",
                    "count": 3,
                    "successCondition": "result[0] >= 0.99",
                    "failureLimit": 3,
                    "provider": {
                        "prometheus": {
                            "address": prometheus,
                            "query": 'sum(rate(http_requests_total{service="{{args.service-name}}",status=~"2.."}[5m]))'
                            ' / sum(rate(http_requests_total{service="{{args.service-name}}"}[5m]))',
                        }
                    },
                }
            ],
        },
    }


# ---------------------------------------------------------------------------------------------------------------


def start_sandbox(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    spawned = spawn_sandbox(workdir, "--pod-ready-delay", "0.2s", "--history", "100000")
    return spawned.process, spawned.url


def start_controller(
    workdir: Path, url: str, resync: float, name: str = "", sharding: bool = False
) -> tuple[subprocess.Popen[bytes], str]:
    """One controller process; with `sharding`, a replica named `name` of a sharded group (its own log and
    timings file), else the single replica without leader election."""
    log = workdir / f"controller{'-' + name if name else ''}.log"
    profile = ["-m", "cProfile", "-o", os.environ["BENCH_PROFILE"]] if os.environ.get("BENCH_PROFILE") else []
    mode = ["--sharding"] if sharding else ["--no-leader-elect"]
    timings = workdir / f"timings{'-' + name if name else ''}.txt"
    proc = subprocess.Popen(
        [sys.executable, *profile, "-m", "rollouts.cli", "controller", "--server", url, *mode,
         "--metrics-port", "0", "--healthz-port", "0", "--bind", "127.0.0.1", "--qps", "2000", "--burst", "4000",
         "--rollout-workers", "20", "--analysis-workers", "30", "--resync", str(resync), "--log-level",
         os.environ.get("BENCH_LOG_LEVEL", "warning")],
        cwd=SOURCE, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        env=dict(os.environ, ROLLOUTS_RECONCILE_TIMINGS=str(timings), PYTHONPATH=str(SOURCE),
                 POD_NAME=name or "bench"),
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        match = re.search(r"metrics (http://\S+/metrics)", log.read_text(errors="replace"))
        if match:
            return proc, match.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise SystemExit("the controller did not start: " + log.read_text(errors="replace")[-3000:])


def requests(url: str, **query: str) -> list[dict[str, Any]]:
    q = "&".join(f"{k}={v}" for k, v in query.items())
    with urllib.request.urlopen(f"{url}/sandbox/requests?{q}", timeout=60) as response:
        items: list[dict[str, Any]] = json.loads(response.read())["items"]
    return items


def proc_stats(pid: int) -> tuple[float, float]:
    """(CPU seconds user+system, peak RSS MB) of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    peak = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    return cpu, peak


def exported_samples(metrics_urls: list[str]) -> dict[str, int]:
    """Samples per metric family on the replicas' /metrics (the largest families; what a scrape carries)."""
    from prometheus_client.parser import text_string_to_metric_families

    counts: dict[str, int] = {}
    for url in metrics_urls:
        with urllib.request.urlopen(url, timeout=60) as response:
            text = response.read().decode()
        for family in text_string_to_metric_families(text):
            counts[family.name] = counts.get(family.name, 0) + len(family.samples)
    top = sorted(counts.items(), key=lambda kv: -kv[1])[:12]
    return {"total": sum(counts.values()), **dict(top)}


def current_rss(pid: int) -> float:
    """Resident set size now (VmRSS), MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def counter_total(metrics_url: str, name: str) -> float:
    """A counter summed over all its label sets (0 when the controller does not export it)."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(metrics_url, timeout=30) as response:
        text = response.read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == name
        for sample in family.samples
        if sample.name == f"{name}_total"
    )


def histogram_quantiles(metrics_url: str, name: str, quantiles: tuple[float, ...]) -> tuple[list[float], int]:
    """Quantiles of a histogram summed over all label sets (linear within buckets, like histogram_quantile)."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(metrics_url, timeout=30) as response:
        text = response.read().decode()
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != name:
            continue
        for sample in family.samples:
            if sample.name == f"{name}_bucket":
                le = float(sample.labels["le"])
                buckets[le] = buckets.get(le, 0.0) + sample.value
    bounds = sorted(buckets)
    total = buckets.get(math.inf, 0.0)
    out = []
    for q in quantiles:
        rank, lower, below = q * total, 0.0, 0.0
        value = math.nan
        for le in bounds:
            count = buckets[le]
            if count >= rank:
                value = (
                    le
                    if math.isinf(le)
                    else lower + (le - lower) * ((rank - below) / max(count - below, 1e-9))
                )
                break
            lower, below = (le if not math.isinf(le) else lower), count
        out.append(value)
    return out, int(total)


async def wait_all(
    client: KubeClient,
    n: int,
    predicate: Any,
    limit: float,
    what: str,
    progress: list[tuple[float, int]] | None = None,
) -> float:
    """The time when all `n` rollouts satisfy `predicate` (polled each second; `progress` gets (time, done))."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        items = await client.list(ROLLOUTS, NS)
        done = sum(1 for r in items if predicate(r))
        if progress is not None:
            progress.append((time.monotonic(), done))
        if done >= n:
            return time.monotonic()
        await asyncio.sleep(1.0)  # listing N rollouts is work for the sandbox too: poll gently
    raise SystemExit(f"timed out waiting for {what}")


def healthy_on(image: str) -> Any:
    def check(r: dict[str, Any]) -> bool:
        st = r.get("status") or {}
        return bool(
            st.get("phase") == "Healthy"
            and st.get("stableRS")
            and st.get("stableRS") == st.get("currentPodHash")
            and r["spec"]["template"]["spec"]["containers"][0]["image"] == image
            and int(st.get("observedGeneration") or 0) == r["metadata"].get("generation")
        )

    return check


def gauge(metrics_url: str, name: str) -> float | None:
    """An unlabelled gauge (None when the process does not answer)."""
    try:
        with urllib.request.urlopen(metrics_url, timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return None
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    return float(match.group(1)) if match else None


def owned(metrics_urls: list[str]) -> float:
    return sum(gauge(m, "controller_shard_rollouts") or 0 for m in metrics_urls)


async def until(cond: Any, limit: float, what: str) -> None:
    for _ in range(int(limit / 0.1)):
        if cond():
            return
        await asyncio.sleep(0.1)
    raise SystemExit(f"timed out waiting for {what}")


async def held(
    client: KubeClient,
    n: int,
    replicas: int,
    hold: float,
    initial: float,
    controllers: list[tuple[subprocess.Popen[bytes], str]],
    sandbox: subprocess.Popen[bytes],
) -> dict[str, Any]:
    """The summary of `--hold`: what the API server holds and the processes' CPU and peak RSS, mid-update."""
    stats = [proc_stats(p.pid) for p, _ in controllers if p.poll() is None]
    sandbox_cpu, sandbox_rss = proc_stats(sandbox.pid)
    rollouts = (await client.list(ROLLOUTS, NS)).items
    return {
        "rollouts": n,
        "replicas": replicas,
        "hold_s": hold,
        "initial_deploy_s": round(initial, 1),
        "replica_sets": len((await client.list(REPLICA_SETS, NS)).items),
        "analysis_runs": len((await client.list(ANALYSIS_RUNS, NS)).items),
        "rollouts_past_step_0": sum(
            1 for r in rollouts if int((r.get("status") or {}).get("currentStepIndex") or 0) > 0
        ),
        "controller_cpu_s": round(sum(c for c, _ in stats), 1),
        "controller_peak_rss_mb": round(max(r for _, r in stats), 1),
        "controller_rss_mb": round(max(current_rss(p.pid) for p, _ in controllers if p.poll() is None), 1),
        "metrics_samples_by_family": exported_samples([m for p, m in controllers if p.poll() is None]),
        "sandbox_cpu_s": round(sandbox_cpu, 1),
        "sandbox_peak_rss_mb": round(sandbox_rss, 1),
    }


def timing_lines(workdir: Path) -> list[list[str]]:
    """Every replica's per-pass timings (`ROLLOUTS_RECONCILE_TIMINGS`), split into fields."""
    return [
        line.split()
        for path in sorted(workdir.glob("timings*.txt"))
        for line in path.read_text().splitlines()
        if line.strip()
    ]


async def bench(
    n: int,
    pause: int,
    resync: float,
    interval: int,
    traffic: str = "",
    replicas: int = 1,
    kill_after: float = 0,
    quiet: float | None = None,
    hold: float = 0.0,
) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="controller-scale-"))
    prometheus = start_prometheus(HEALTHY)
    sandbox, url = start_sandbox(workdir)
    controllers: list[tuple[subprocess.Popen[bytes], str]] = []
    takeover: float | None = None
    killed: tuple[float, float] = (0.0, 0.0)
    client = KubeClient(settings_for_url(url), qps=5000, burst=5000, user_agent="bench")
    try:
        await client.create(ANALYSIS_TEMPLATES, template(prometheus.url, interval), NS)
        sem = asyncio.Semaphore(32)

        async def create(i: int) -> None:
            async with sem:
                if traffic:
                    for resource, body in routed(f"app-{i:04d}"):
                        await client.create(resource, body, NS)
                await client.create(ROLLOUTS, rollout(f"app-{i:04d}", pause, "app:v1", traffic), NS)

        await asyncio.gather(*(create(i) for i in range(n)))
        sharded = replicas > 1
        for i in range(replicas):
            controllers.append(start_controller(workdir, url, resync, f"r{i}" if sharded else "", sharded))
        t0 = time.monotonic()
        await wait_all(client, n, healthy_on("app:v1"), 600, "the initial deploys")
        initial = time.monotonic() - t0
        if sharded:  # every rollout owned once before the update starts
            await until(
                lambda: owned([m for _, m in controllers]) == n, 120, "the replicas to split the rollouts"
            )

        since = time.time()
        cpu_at_start = sum(proc_stats(p.pid)[0] for p, _ in controllers)
        passes_at_start = len(timing_lines(workdir))
        start = time.monotonic()

        async def update(i: int) -> None:
            body = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "app:v2"}]}}}}
            async with sem:
                await client.patch(ROLLOUTS, f"app-{i:04d}", body, NS)

        await asyncio.gather(*(update(i) for i in range(n)))
        patched = time.monotonic() - start
        if hold > 0:  # memory: the controller's footprint mid-update (two ReplicaSets and a run per rollout)
            await asyncio.sleep(hold)
            return await held(client, n, replicas, hold, initial, controllers, sandbox)
        if sharded and kill_after > 0:
            await asyncio.sleep(max(0.0, kill_after - (time.monotonic() - start)))
            victim, _ = controllers[0]
            killed = proc_stats(victim.pid)
            victim.kill()
            victim.wait(30)
            killed_at = time.monotonic()
            survivors = [m for _, m in controllers[1:]]
            await until(lambda: owned(survivors) == n, 120, "the survivors to take the rollouts over")
            takeover = time.monotonic() - killed_at
        progress: list[tuple[float, int]] = []
        end = await wait_all(
            client, n, healthy_on("app:v2"), 600 + 10 * pause, "all rollouts Healthy on v2", progress
        )
        first_done = next((t - start for t, done in progress if done > 0), 0.0)
        half_done = next((t - start for t, done in progress if 2 * done >= n), 0.0)
        wall = end - start
        # the update window alone: the initial deploys, the quiet period and the final scrapes are not steps
        update_cpu = (
            sum(proc_stats(p.pid)[0] for p, _ in controllers if p.poll() is None) + killed[0] - cpu_at_start
        )
        update_passes = len(timing_lines(workdir)) - passes_at_start
        during = [r for r in requests(url, since=str(since)) if "rollouts-controller" in r["user_agent"]]
        writes = [r for r in during if r["verb"] in ("create", "update", "patch", "delete")]
        router_gets = [r for r in during if r["resource"] == "virtualservices" and r["verb"] == "get"]

        # No-op resync: everything settled; wait for in-flight analysis to finish, then two resync periods.
        await asyncio.sleep(max(interval * 3, 5))
        quiet_since = time.time()
        await asyncio.sleep(2 * resync + 2 if quiet is None else quiet)
        idle = [
            r
            for r in requests(url, writes="true", since=str(quiet_since))
            if "rollouts-controller" in r["user_agent"]
        ]
        # sharded replicas renew their membership Leases all the time: those are not rollout writes
        idle_writes = [r for r in idle if r["resource"] != "leases"]
        idle_lease_writes = len(idle) - len(idle_writes)
        # Events leave the reconcile through a queue: count them once it has drained, up to the quiet period.
        event_writes = [
            r
            for r in requests(url, resource="events", writes="true", since=str(since))
            if "rollouts-controller" in r["user_agent"] and r["time"] < quiet_since
        ]
        stored_events = [
            e
            for e in (await client.list(EVENTS, NS)).items
            if (e.get("source") or {}).get("component") == COMPONENT
        ]
        live = [(p, m) for p, m in controllers if p.poll() is None]
        dropped = sum(counter_total(m, "controller_events_dropped") for _, m in live)
        passes = 0
        h50 = h99 = 0.0
        for _, m in live:  # one replica: its histogram; several: the largest quantiles, the passes summed
            (q50, q99), count = histogram_quantiles(m, "rollout_reconcile", (0.5, 0.99))
            passes += count
            h50, h99 = max(h50, q50), max(h99, q99)
        lines = timing_lines(workdir)
        timings = sorted(float(line[0]) for line in lines)
        no_op = sum(1 for line in lines if len(line) > 1 and line[1] == "0")
        p50, p99 = timings[len(timings) // 2], timings[min(len(timings) - 1, int(len(timings) * 0.99))]
        stats = [proc_stats(p.pid) for p, _ in live]
        cpu = sum(c for c, _ in stats) + killed[0]
        rss = max([r for _, r in stats] + [killed[1]])
        sandbox_cpu, sandbox_rss = proc_stats(sandbox.pid)
    finally:
        await client.close()
        for controller, _ in controllers:
            if controller.poll() is None:
                controller.terminate()
                controller.wait(30)
        sandbox.terminate()
        sandbox.wait(30)
        prometheus.stop()
        if os.environ.get("BENCH_KEEP"):
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    steps = 2 * len(WEIGHTS)
    by_kind: dict[str, int] = {}
    for r in writes:
        key = r["resource"] + (f"/{r['subresource']}" if r["subresource"] else "")
        by_kind[key] = by_kind.get(key, 0) + 1
    rollout_side = sum(v for k, v in by_kind.items() if not k.startswith(("events", "analysisruns")))
    without_events = sum(v for k, v in by_kind.items() if not k.startswith("events"))
    created = sum(1 for r in event_writes if r["verb"] == "create")
    events_patched = sum(1 for r in event_writes if r["verb"] in ("patch", "update"))
    return {
        "rollouts": n,
        "replicas": replicas,
        "takeover_s": None if takeover is None else round(takeover, 1),
        "pause_s": pause,
        "ideal_s": steps // 2 * pause,
        "initial_deploy_s": round(initial, 1),
        "patch_all_s": round(patched, 2),
        "wall_s": round(wall, 1),
        "wall_over_ideal": round(wall / (steps // 2 * pause), 3),
        "first_healthy_s": round(first_done, 1),
        "half_healthy_s": round(half_done, 1),
        "traffic": traffic or "none",
        "requests_total": len(during),
        "virtualservice_gets": len(router_gets),
        "writes_total": len(writes),
        "writes_by_resource": dict(sorted(by_kind.items())),
        "writes_per_step_transition": round(len(writes) / (n * steps), 2),
        "writes_per_step_without_events": round(without_events / (n * steps), 2),
        "writes_per_step_without_events_and_runs": round(rollout_side / (n * steps), 2),
        "events_created": created,
        "events_patched": events_patched,
        "event_writes_per_rollout": round((created + events_patched) / n, 2),
        "events_per_rollout": round(sum(int(e.get("count") or 1) for e in stored_events) / n, 2),
        "event_objects_per_rollout": round(len(stored_events) / n, 2),
        "events_dropped": int(dropped),
        "noop_resync_writes": len(idle_writes),
        "noop_resync_lease_writes": idle_lease_writes,
        "reconcile_passes": passes,
        "reconcile_passes_without_writes": no_op,
        "reconcile_p50_s": round(p50, 4),
        "reconcile_p99_s": round(p99, 4),
        "reconcile_histogram_p50_p99_s": [round(h50, 3), round(h99, 3)],
        "controller_cpu_s": round(cpu, 1),
        "controller_cpu_ms_per_step_transition": round(1000 * cpu / (n * steps), 2),
        "update_cpu_s": round(update_cpu, 1),
        "update_cpu_ms_per_step_transition": round(1000 * update_cpu / (n * steps), 2),
        "update_passes_per_rollout": round(update_passes / n, 2),
        "controller_peak_rss_mb": round(rss, 1),
        "sandbox_cpu_s": round(sandbox_cpu, 1),
        "sandbox_peak_rss_mb": round(sandbox_rss, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rollouts", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--pause", type=int, default=10, help="seconds of each of the 3 pauses")
    parser.add_argument("--resync", type=float, default=10.0)
    parser.add_argument("--interval", type=int, default=10, help="analysis metric interval (s)")
    parser.add_argument(
        "--traffic", choices=["", "istio"], default="", help="route each canary through Istio"
    )
    parser.add_argument(
        "--replicas", type=int, default=1, help="controller replicas (more than 1: --sharding)"
    )
    parser.add_argument(
        "--kill-after", type=float, default=0.0,
        help="with --replicas > 1: SIGKILL the first replica this many seconds into the update (takeover_s: "
        "from the kill until the survivors own every rollout)",
    )  # fmt: skip
    parser.add_argument(
        "--quiet", type=float, default=None,
        help="seconds watched for writes once everything is Healthy (default: two resync periods + 2 s; with a "
        "long --resync, e.g. Argo's 900, a shorter watch that then includes no resync)",
    )  # fmt: skip
    parser.add_argument(
        "--hold", type=float, default=0.0,
        help="memory: hold the update this many seconds after the image change, then print the footprint "
        "(objects, CPU, peak RSS) and stop, without waiting for the rollouts to finish; use with a long --pause",
    )  # fmt: skip
    args = parser.parse_args()
    for n in args.rollouts:
        result = asyncio.run(
            bench(
                n,
                args.pause,
                args.resync,
                args.interval,
                args.traffic,
                args.replicas,
                args.kill_after,
                args.quiet,
                args.hold,
            )
        )
        print(json.dumps(result, indent=2), flush=True)


if __name__ == "__main__":
    main()
