"""Benchmark: `get rollout NAME` and `list rollouts` in a namespace of 1,000 Rollouts and 10,000 pods.

Loads the sandbox API server (in this process, a background thread) with 1,000 canary Rollouts, each owning one
ReplicaSet of 10 pods and one AnalysisRun, then times the plugin's commands and counts the API requests each
makes from the sandbox's request log. Two timings per command: in-process (the command's own work: client,
requests, rendering) and as a fresh `python -m rollouts.cli` process (what a user waits for, with interpreter
start and imports). Target: `get rollout` under 1 s with fewer than 10 requests.

    .venv/bin/python bench/plugin_get.py [--rollouts 1000] [--pods-per-rollout 10] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from click.testing import CliRunner

from rollouts.cli import cli
from rollouts.sandbox import Sandbox

NS = "bench"


def objects(n_rollouts: int, pods_per_rollout: int) -> list[dict[str, Any]]:
    objs: list[dict[str, Any]] = []
    ts = "2026-11-20T00:00:00Z"
    for i in range(n_rollouts):
        name, h = f"app-{i:04d}", f"h{i:06d}"
        uid = f"uid-ro-{i}"
        template = {
            "metadata": {"labels": {"app": name}},
            "spec": {"containers": [{"name": "app", "image": f"registry.example/{name}:1.0.{i % 7}"}]},
        }
        objs.append(
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Rollout",
                "metadata": {
                    "name": name,
                    "namespace": NS,
                    "uid": uid,
                    "generation": 1,
                    "creationTimestamp": ts,
                },
                "spec": {
                    "replicas": pods_per_rollout,
                    "selector": {"matchLabels": {"app": name}},
                    "template": template,
                    "strategy": {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}]}},
                },
                "status": {
                    "observedGeneration": "1",
                    "phase": "Healthy",
                    "currentStepIndex": 2,
                    "stableRS": h,
                    "currentPodHash": h,
                    "replicas": pods_per_rollout,
                    "updatedReplicas": pods_per_rollout,
                    "readyReplicas": pods_per_rollout,
                    "availableReplicas": pods_per_rollout,
                },
            }
        )
        owner = [
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Rollout",
                "name": name,
                "uid": uid,
                "controller": True,
            }
        ]
        rs_name = f"{name}-{h}"
        labels = {"app": name, "rollouts-pod-template-hash": h}
        objs.append(
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": rs_name,
                    "namespace": NS,
                    "uid": f"uid-rs-{i}",
                    "generation": 1,
                    "labels": labels,
                    "annotations": {"rollout.argoproj.io/revision": "1"},
                    "ownerReferences": owner,
                    "creationTimestamp": ts,
                },
                "spec": {
                    "replicas": pods_per_rollout,
                    "selector": {"matchLabels": labels},
                    "template": template,
                },
                "status": {
                    "replicas": pods_per_rollout,
                    "availableReplicas": pods_per_rollout,
                    "readyReplicas": pods_per_rollout,
                    "observedGeneration": 1,
                },
            }
        )
        rs_owner = [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": rs_name,
                "uid": f"uid-rs-{i}",
                "controller": True,
            }
        ]
        for p in range(pods_per_rollout):
            objs.append(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": f"{rs_name}-{p:05d}",
                        "namespace": NS,
                        "uid": f"uid-pod-{i}-{p}",
                        "labels": labels,
                        "ownerReferences": rs_owner,
                        "creationTimestamp": ts,
                    },
                    "spec": {"containers": [{"name": "app", "image": "x"}]},
                    "status": {
                        "phase": "Running",
                        "containerStatuses": [
                            {"name": "app", "ready": True, "restartCount": 0, "state": {"running": {}}}
                        ],
                    },
                }
            )
        objs.append(
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "AnalysisRun",
                "metadata": {
                    "name": f"{name}-{h}-1",
                    "namespace": NS,
                    "uid": f"uid-ar-{i}",
                    "labels": {**labels, "rollout-type": "Background"},
                    "annotations": {"rollout.argoproj.io/revision": "1"},
                    "ownerReferences": owner,
                    "creationTimestamp": ts,
                },
                "spec": {"metrics": [{"name": "m", "provider": {"web": {"url": "http://x"}}}]},
                "status": {
                    "phase": "Successful",
                    "metricResults": [{"name": "m", "phase": "Successful", "count": 1, "successful": 1}],
                },
            }
        )
    for rv, obj in enumerate(objs, start=1):
        obj["metadata"]["resourceVersion"] = str(rv)
    return objs


def in_process(sb: Sandbox, kubeconfig: Path, args: list[str], repeat: int) -> tuple[list[float], int, int]:
    runner = CliRunner()
    times, requests, out_lines = [], 0, 0
    for _ in range(repeat):
        sb.requests.reset()
        start = time.perf_counter()
        result = runner.invoke(cli, [*args, "--kubeconfig", str(kubeconfig), "-n", NS])
        times.append(time.perf_counter() - start)
        assert result.exit_code == 0, result.output
        requests = len(sb.requests.records())
        out_lines = result.output.count("\n")
    return times, requests, out_lines


def as_process(sb: Sandbox, kubeconfig: Path, args: list[str], repeat: int) -> tuple[list[float], int]:
    times, requests = [], 0
    for _ in range(repeat):
        sb.requests.reset()
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "rollouts.cli", *args, "--kubeconfig", str(kubeconfig), "-n", NS],
            check=True,
            capture_output=True,
        )
        times.append(time.perf_counter() - start)
        requests = len(sb.requests.records())
    return times, requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rollouts", type=int, default=1000)
    parser.add_argument("--pods-per-rollout", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    opts = parser.parse_args()
    objs = objects(opts.rollouts, opts.pods_per_rollout)
    with Sandbox(simulate=False, request_log_size=1000) as sb, TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        sb.call(sb.store.restore, objs, len(objs) + 1)
        kubeconfig = sb.write_kubeconfig(Path(tmp) / "kubeconfig")
        n_pods = sum(1 for o in objs if o["kind"] == "Pod")
        print(
            f"namespace {NS!r}: {opts.rollouts} Rollouts, {opts.rollouts} ReplicaSets, {n_pods} Pods, "
            f"{opts.rollouts} AnalysisRuns ({len(objs)} objects, loaded in {time.perf_counter() - t0:.2f} s)"
        )
        target = f"app-{opts.rollouts // 2:04d}"
        print(
            f"{'command':<32} {'requests':>8} {'in-process median':>18} {'(min-max)':>15} {'new process median':>19}"
        )
        for label, args in (
            (f"get rollout {target}", ["get", "rollout", target]),
            ("list rollouts", ["list", "rollouts"]),
        ):
            times, requests, lines = in_process(sb, kubeconfig, args, opts.repeat)
            ptimes, prequests = as_process(sb, kubeconfig, args, max(1, opts.repeat // 2))
            assert prequests == requests
            print(
                f"{label:<32} {requests:>8} {statistics.median(times):>16.3f} s "
                f"({min(times):.3f}-{max(times):.3f}) {statistics.median(ptimes):>17.3f} s   [{lines} lines]"
            )


if __name__ == "__main__":
    main()
