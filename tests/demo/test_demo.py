"""`rollouts demo` end to end: the sandbox, the controller process, the traffic simulator and a real Prometheus.

The demo runs as a user runs it (a subprocess of the installed CLI) at a speed that keeps the test short; its
JSON report carries the outcome and the objects as they were in the sandbox before shutdown.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from rollouts.demo import manifests

REPO = Path(__file__).resolve().parents[2]
needs_prometheus = pytest.mark.skipif(
    shutil.which("prometheus") is None,
    reason="needs the prometheus binary: apt-get install -y --no-install-recommends prometheus",
)


def _rs_hash_for_image(objects: dict[str, Any], image: str) -> str:
    for key, obj in objects.items():
        if key.startswith("ReplicaSet/"):
            containers = obj["spec"]["template"]["spec"]["containers"]
            if containers[0]["image"] == image:
                return str(obj["metadata"]["labels"]["rollouts-pod-template-hash"])
    raise AssertionError(f"no ReplicaSet runs {image}")


@pytest.mark.e2e
@pytest.mark.xdist_group("demo")
@needs_prometheus
def test_demo_all_scenarios(tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "rollouts.cli", "demo", "--scenario", "all", "--speed", "60",
         "--no-color", "--report", str(report_path)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    tail = "\n".join(proc.stdout.splitlines()[-80:]) + "\n--- stderr ---\n" + proc.stderr[-3000:]
    assert proc.returncode == 0, tail
    assert "all scenarios ended as expected" in proc.stdout
    report = json.loads(report_path.read_text())
    outcomes = {o["scenario"]: o for o in report["outcomes"]}
    assert set(outcomes) == {"canary", "bad-canary", "experiment", "bluegreen"}
    objects = report["objects"]

    # The good canary: the new version's share of traffic went 5 → 20 → 50 → 80 → 100, then Healthy with the
    # new version as the stable ReplicaSet.
    good = outcomes["canary"]
    assert good["ok"] and good["phase"] == "Healthy"
    assert good["weights"] == [5, 20, 50, 80, 100]
    good_hash = _rs_hash_for_image(objects, "myregistry.com/api-server:v2.1.0")
    status = good["snapshot"]["status"]
    assert status["stableRS"] == status["currentPodHash"] == good_hash
    assert status["canary"]["weights"]["stable"]["weight"] == 100
    assert status["canary"]["weights"]["stable"]["podTemplateHash"] == good_hash

    # The bad canary: aborted by analysis, all traffic back to the (good) stable version, Degraded.
    bad = outcomes["bad-canary"]
    assert bad["ok"] and bad["phase"] == "Degraded"
    assert bad["weights"][0] == 5 and bad["weights"][-1] == 0
    assert "RolloutAborted: Rollout aborted update to revision 3" in bad["message"]
    assert "assessed Failed due to failed (4) > failureLimit (3)" in bad["message"]
    api = objects["Rollout/api-server"]
    assert api["status"]["abort"] is True and api["status"]["phase"] == "Degraded"
    assert api["status"]["stableRS"] == good_hash
    route = objects["VirtualService/api-server-vsvc"]["spec"]["http"][0]["route"]
    weights = {d["destination"]["host"]: d["weight"] for d in route}
    assert weights == {"api-server-stable": 100, "api-server-canary": 0}
    stable_svc = objects["Service/api-server-stable"]["spec"]["selector"]
    assert stable_svc["rollouts-pod-template-hash"] == good_hash

    # The experiment: the same bad release, judged by a baseline and a canary compared in Prometheus: the
    # Experiment fails and the rollout aborts with its reason; its Services took 20 % each while it ran.
    experiment = outcomes["experiment"]
    assert experiment["ok"] and experiment["phase"] == "Degraded"
    assert "Experiment analysis phase is error/failed: " in experiment["message"]
    assert 'Metric "error-rate-difference" assessed Failed' in experiment["message"]
    shares = experiment["weights"]
    assert shares[0] == 5 and 25 in shares and shares[-1] == 0, shares
    (ex_name,) = [k.split("/", 1)[1] for k in objects if k.startswith("Experiment/")]
    assert objects[f"Experiment/{ex_name}"]["status"]["phase"] == "Failed"

    # The blue-green: promoted, the active Service selects the new version, Healthy.
    bg = outcomes["bluegreen"]
    assert bg["ok"] and bg["phase"] == "Healthy"
    new_web = _rs_hash_for_image(objects, "myregistry.com/web-frontend:v3.1.0")
    web = objects["Rollout/web-frontend"]
    assert web["status"]["blueGreen"]["activeSelector"] == new_web
    active = objects["Service/web-frontend-active"]["spec"]["selector"]
    assert active["rollouts-pod-template-hash"] == new_web

    # Everything it started is gone: no prometheus or controller left behind.
    leftover = subprocess.run(["pgrep", "-f", str(report_path.parent)], capture_output=True, text=True)
    assert leftover.stdout.strip() == ""


def test_demo_without_prometheus_says_how_to_install(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    env = {**os.environ, "PATH": str(bin_dir)}
    proc = subprocess.run(
        [sys.executable, "-m", "rollouts.cli", "demo"], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 2
    assert "apt-get install -y --no-install-recommends prometheus" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("demo_file", "example"),
    [
        pytest.param("canary-rollout.yaml", "istio-canary/rollout.yaml", id="canary-rollout"),
        pytest.param("success-rate.yaml", "istio-canary/success-rate.yaml", id="success-rate"),
        pytest.param("latency.yaml", "istio-canary/latency.yaml", id="latency"),
        pytest.param("canary-services.yaml", "istio-canary/services.yaml", id="canary-services"),
        pytest.param("virtualservice.yaml", "istio-canary/virtualservice.yaml", id="virtualservice"),
        pytest.param("bluegreen-rollout.yaml", "bluegreen/rollout.yaml", id="bluegreen-rollout"),
        pytest.param("bluegreen-services.yaml", "bluegreen/services.yaml", id="bluegreen-services"),
        pytest.param("smoke-tests.yaml", "bluegreen/smoke-tests.yaml", id="smoke-tests"),
        pytest.param(
            "canary-vs-baseline.yaml", "experiment-canary/canary-vs-baseline.yaml", id="canary-vs-baseline"
        ),
    ],
)
def test_demo_manifests_are_the_examples(demo_file: str, example: str) -> None:
    shipped = manifests.load(demo_file)
    expected = [d for d in yaml.safe_load_all((REPO / "examples" / example).read_text()) if d]
    assert shipped == expected


def test_speed_up_changes_only_durations_and_addresses() -> None:
    rollout = manifests.load(manifests.CANARY_ROLLOUT)[0]
    fast = manifests.speed_up(rollout, 30, "http://127.0.0.1:9090")
    steps = fast["spec"]["strategy"]["canary"]["steps"]
    assert [s.get("setWeight") for s in steps if "setWeight" in s] == [5, 20, 50, 80]
    assert [s["pause"]["duration"] for s in steps if "pause" in s] == [10, 20, 20, 10]
    template = manifests.speed_up(manifests.load("success-rate.yaml")[0], 30, "http://127.0.0.1:9090")
    metric = template["spec"]["metrics"][0]
    assert metric["interval"] == "2s"
    assert metric["successCondition"] == "result[0] >= 0.99" and metric["failureLimit"] == 3
    assert metric["provider"]["prometheus"]["address"] == "http://127.0.0.1:9090"
    assert manifests.window_seconds(metric["provider"]["prometheus"]["query"]) == [10, 10]
