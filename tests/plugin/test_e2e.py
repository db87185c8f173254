"""The plugin driving the REAL controller (a subprocess) on the sandbox: the commands' effects of docs/semantics/controller.md#abort, docs/semantics/controller.md#promote, docs/semantics/controller.md#pause.

promote completes a pause step (docs/semantics/controller.md#promote), abort sends the canary weight to 0 and the stable ReplicaSet back to
full size (docs/semantics/controller.md#retry), retry resumes the update, `promote --full` skips to 100 % and `status` then exits 0;
on blue-green, promote completes the BlueGreenPause and the active service switches (docs/semantics/controller.md#bluegreen).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from rollouts.cli import cli
from rollouts.sandbox import Sandbox

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
NS = "default"


@dataclass
class Stack:
    sandbox: Sandbox
    kubeconfig: Path
    log: Path
    process: subprocess.Popen[bytes]

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(cli, [*args, "--kubeconfig", str(self.kubeconfig), "-n", NS])

    def rollout(self, name: str) -> dict[str, Any]:
        obj = self.sandbox.get("argoproj.io/v1alpha1", "Rollout", name, NS)
        assert obj is not None
        return obj

    def status(self, name: str) -> dict[str, Any]:
        return dict(self.rollout(name).get("status") or {})

    def wait(self, what: str, predicate: Callable[[], Any], limit: float = 30.0) -> Any:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            assert self.process.poll() is None, f"controller exited:\n{self.log.read_text()[-3000:]}"
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}\n{self.log.read_text()[-3000:]}")


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    monkeypatch.setenv("NO_COLOR", "1")
    log = tmp_path / "controller.log"
    with Sandbox(pod_ready_delay=0.05) as sb, log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rollouts.cli",
                "controller",
                "--server",
                sb.url,
                "--no-leader-elect",
                "--metrics-port",
                "0",
                "--healthz-port",
                "0",
                "--bind",
                "127.0.0.1",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        try:
            yield Stack(sb, sb.write_kubeconfig(tmp_path / "kubeconfig"), log, process)
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def _canary() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "examples/basic-canary/rollout.yaml").read_text())
    doc["spec"]["replicas"] = 4
    return doc


def _replicas(stack: Stack, pod_hash: str) -> int:
    rs = stack.sandbox.get("apps/v1", "ReplicaSet", f"checkout-{pod_hash}", NS)
    return int(((rs or {}).get("spec") or {}).get("replicas") or 0)


def test_canary_promote_abort_retry_full(stack: Stack) -> None:
    stack.sandbox.create(_canary(), NS)
    stack.wait("the first revision to be Healthy", lambda: stack.status("checkout").get("phase") == "Healthy")
    stable = stack.status("checkout")["stableRS"]

    assert stack.run("set", "image", "checkout", "checkout=myregistry.com/checkout:v1.5.0").exit_code == 0
    paused = stack.wait(
        "the canary to pause at step 1",
        lambda: (
            (st := stack.status("checkout")).get("phase") == "Paused"
            and st.get("currentStepIndex") == 1
            and st
        ),
    )
    canary = paused["currentPodHash"]
    assert canary != stable

    # docs/semantics/controller.md#promote: promote completes the (2 min) pause step; the rollout runs on to the indefinite pause at step 3.
    assert stack.run("promote", "checkout").output == "rollout 'checkout' promoted\n"
    stack.wait(
        "step 3 (setWeight 50 done)",
        lambda: (
            stack.status("checkout").get("currentStepIndex") == 3
            and stack.status("checkout").get("phase") == "Paused"
        ),
    )
    assert _replicas(stack, canary) == 2  # 50 % of 4

    # docs/semantics/controller.md#abort: abort → weight 0: the canary is scaled away and the stable ReplicaSet back to all replicas.
    assert stack.run("abort", "checkout").output == "rollout 'checkout' aborted\n"
    stack.wait(
        "the canary scaled to 0", lambda: _replicas(stack, canary) == 0 and _replicas(stack, stable) == 4
    )
    view = json.loads(stack.run("get", "rollout", "checkout", "-o", "json").output)
    assert (view["status"], view["set_weight"], view["actual_weight"]) == ("Degraded", "0", "0")
    degraded = stack.run("status", "checkout", "--watch=false")
    assert degraded.exit_code == 1 and "RolloutAborted" in degraded.output

    # retry: the update starts again from the first step.
    assert stack.run("retry", "rollout", "checkout").output == "rollout 'checkout' retried\n"
    stack.wait(
        "the canary to come back",
        lambda: _replicas(stack, canary) >= 1 and not stack.status("checkout").get("abort"),
    )

    # promote --full: straight to 100 %, then `status` watches it to Healthy and exits 0.
    assert stack.run("promote", "checkout", "--full").output == "rollout 'checkout' fully promoted\n"
    done = stack.run("status", "checkout", "--timeout", "30s")
    assert done.exit_code == 0, done.output
    assert done.output.splitlines()[-1] == "Healthy"
    final = stack.status("checkout")
    assert final["stableRS"] == final["currentPodHash"] == canary
    assert _replicas(stack, canary) == 4


BLUE_GREEN = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Rollout",
    "metadata": {"name": "web"},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "web:1"}]},
        },
        "strategy": {
            "blueGreen": {
                "activeService": "web-active",
                "previewService": "web-preview",
                "autoPromotionEnabled": False,
            }
        },
    },
}


def _service(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }


def test_bluegreen_promote_switches_active(stack: Stack) -> None:
    for svc in ("web-active", "web-preview"):
        stack.sandbox.create(_service(svc), NS)
    stack.sandbox.create(BLUE_GREEN, NS)
    stack.wait("blue to be Healthy", lambda: stack.status("web").get("phase") == "Healthy")
    assert stack.run("set", "image", "web", "web=web:2").exit_code == 0
    paused = stack.wait(
        "the BlueGreenPause",
        lambda: (st := stack.status("web")).get("phase") == "Paused" and st,
    )
    assert paused["pauseConditions"][0]["reason"] == "BlueGreenPause"
    green = paused["currentPodHash"]
    assert stack.run("status", "web", "--watch=false").output == "Paused - BlueGreenPause\n"

    assert stack.run("promote", "web").output == "rollout 'web' promoted\n"

    def active() -> str | None:
        svc = stack.sandbox.get("v1", "Service", "web-active", NS) or {}
        value = (svc.get("spec") or {}).get("selector", {}).get("rollouts-pod-template-hash")
        return None if value is None else str(value)

    stack.wait("the active service to switch to green", lambda: active() == green)
    assert stack.run("status", "web", "--timeout", "30s").exit_code == 0
