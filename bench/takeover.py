"""Benchmark: leader takeover time. Two controller processes (default lease timings 15 s / 10 s / 2 s unless
given) against a sandbox process; the leader is killed with SIGKILL (no release) and a Rollout changed at once,
so the standby has work waiting. Prints, per run:

* last renewal → SIGKILL: how long before its death the leader last renewed the Lease (0–2 s: the retry period);
* SIGKILL → Lease taken: when the standby's write of the Lease reached the API server;
* SIGKILL → first write: the new leader's first write of anything else (the Rollout's status, a ReplicaSet);
* last renewal → Lease taken: what leader election promises to keep at about the lease duration.

Then the killed replica is started again as the next standby, and the next run kills the new leader.

    .venv/bin/python bench/takeover.py [--runs 5] [--lease-duration 15 --renew-deadline 10 --retry-period 2]
    .venv/bin/python bench/takeover.py --source /path/to/another/checkout   # the same, with its controller

Not a test; nothing asserted. Times are the sandbox's receipt times (time.time() on this machine).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rollouts.sandbox.spawning import spawn_sandbox  # noqa: E402

NS = "default"
WRITES = ("create", "update", "patch", "delete")


def rollout(image: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "app", "namespace": NS},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "app"}},
            "template": {
                "metadata": {"labels": {"app": "app"}},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
            "strategy": {"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}},
        },
    }


def call(url: str, method: str, path: str, body: Any = None, content_type: str = "application/json") -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url + path, data=data, method=method, headers={"Content-Type": content_type})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read() or b"{}")


class Controller:
    def __init__(self, name: str, url: str, workdir: Path, source: Path, timings: list[str]) -> None:
        self.name = name
        self.log = workdir / f"controller-{name}-{time.monotonic_ns()}.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rollouts.cli", "controller", "--server", url, "--healthz-port", "0",
             "--metrics-port", "0", "--bind", "127.0.0.1", "--log-level", "warning", *timings],
            cwd=source, stdout=self.log.open("wb"), stderr=subprocess.STDOUT,
            env=dict(os.environ, POD_NAME=name, PYTHONPATH=str(source)),
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            match = re.search(r"metrics (http://\S+/metrics)", self.log.read_text(errors="replace"))
            if match:
                self.metrics = match.group(1)
                return
            time.sleep(0.05)
        raise SystemExit(f"controller {name} did not start: " + self.log.read_text(errors="replace")[-2000:])

    def leads(self) -> bool:
        try:
            with urllib.request.urlopen(self.metrics, timeout=5) as resp:
                text = resp.read().decode()
        except OSError:
            return False
        return bool(re.search(r"^rollouts_controller_leader 1\.0$", text, re.M))


def wait(cond: Any, limit: float) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return False


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--lease-duration", type=float, default=15.0)
    parser.add_argument("--renew-deadline", type=float, default=10.0)
    parser.add_argument("--retry-period", type=float, default=2.0)
    parser.add_argument("--source", type=Path, default=ROOT, help="repository whose controller to run")
    args = parser.parse_args()
    timings = [
        f"--leader-election-lease-duration={args.lease_duration}",
        f"--leader-election-renew-deadline={args.renew_deadline}",
        f"--leader-election-retry-period={args.retry_period}",
    ]
    rows: list[tuple[float, float, float, float]] = []
    with tempfile.TemporaryDirectory(prefix="takeover-") as tmp:
        workdir = Path(tmp)
        sandbox = spawn_sandbox(workdir, "--pod-ready-delay", "0.05s", "--history", "100000")
        url = sandbox.url
        controllers: list[Controller] = []
        try:
            call(url, "POST", f"/apis/argoproj.io/v1alpha1/namespaces/{NS}/rollouts", rollout("app:0"))
            controllers = [Controller(n, url, workdir, args.source, timings) for n in ("a", "b")]
            for run in range(args.runs):
                if not wait(lambda: sum(c.leads() for c in controllers) == 1, 60):
                    raise SystemExit("no single leader")
                time.sleep(2 * args.retry_period + 1)  # the standby has seen renewals; caches warm
                leader = next(c for c in controllers if c.leads())
                renewals = [
                    r
                    for r in call(url, "GET", "/sandbox/requests?resource=leases&verb=update")["items"]
                    if r["status"] < 300
                ]
                killed = time.time()
                leader.process.send_signal(signal.SIGKILL)
                leader.process.wait(10)
                last_renewal = max(r["time"] for r in renewals if r["time"] < killed)
                patch = {"spec": {"template": {"metadata": {"annotations": {"run": str(run)}}}}}
                call(
                    url,
                    "PATCH",
                    f"/apis/argoproj.io/v1alpha1/namespaces/{NS}/rollouts/app",
                    patch,
                    "application/merge-patch+json",
                )
                standby = next(c for c in controllers if c is not leader)
                if not wait(standby.leads, 4 * args.lease_duration):
                    raise SystemExit("the standby did not take over")

                def first(resource: str | None, killed: float = killed) -> float | None:
                    items = call(url, "GET", "/sandbox/requests")["items"]
                    times = [
                        r["time"]
                        for r in items
                        if r["time"] > killed
                        and r["verb"] in WRITES
                        and r["status"] < 300
                        and r["user_agent"].startswith("rollouts-controller")
                        and ((r["resource"] == "leases") == (resource == "leases"))
                    ]
                    return min(times) if times else None

                wait(lambda: first("others") is not None, 30)
                lease, write = first("leases"), first("others")
                assert lease is not None and write is not None
                rows.append((killed - last_renewal, lease - killed, write - killed, lease - last_renewal))
                print(
                    f"run {run + 1}: last renewal → SIGKILL {killed - last_renewal:5.2f}s   "
                    f"SIGKILL → lease taken {lease - killed:5.2f}s   SIGKILL → first write {write - killed:5.2f}s   "
                    f"last renewal → lease taken {lease - last_renewal:5.2f}s",
                    flush=True,
                )
                controllers.remove(leader)
                controllers.append(Controller(leader.name, url, workdir, args.source, timings))
        finally:
            for c in controllers:
                if c.process.poll() is None:
                    c.process.send_signal(signal.SIGTERM)
                    c.process.wait(20)
            sandbox.stop()
    if rows:
        for i, label in enumerate(
            ("last renewal → SIGKILL", "SIGKILL → lease taken", "SIGKILL → first write")
        ):
            values = [r[i] for r in rows]
            print(
                f"{label:>24}: min {min(values):5.2f}s  median {statistics.median(values):5.2f}s  max {max(values):5.2f}s"
            )
        values = [r[3] for r in rows]
        print(
            f"{'last renewal → taken':>24}: min {min(values):5.2f}s  median {statistics.median(values):5.2f}s  max {max(values):5.2f}s"
        )


if __name__ == "__main__":
    main()
