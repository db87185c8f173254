"""`rollouts plan`: the seed's canary and blue-green manifests, JSON output, and bad manifests (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from rollouts.cli import cli
from rollouts.models import Rollout
from rollouts.plugin.preview import _in_force, build_plan
from rollouts.strategy import counts as arith
from rollouts.strategy.weights import get_canary_replicas_or_weight, traffic_weight_to_replicas

ROOT = Path(__file__).resolve().parents[2]
CANARY = ROOT / "examples/istio-canary/rollout.yaml"
BLUE_GREEN = ROOT / "examples/bluegreen/rollout.yaml"


def run(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(cli, ["plan", *args], input=input)


def test_seed_canary_text() -> None:
    result = run("-f", str(CANARY))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Rollout production/api-server: canary, 10 replicas, traffic routing: istio"
    assert "\x1b[" not in result.output  # no colour when not a terminal
    assert all(line == line.rstrip() for line in lines)
    rows = [line.split() for line in lines if line[:1].isdigit()]
    # index, kind, value, canary pods, stable pods, traffic — docs/semantics/controller.md#traffic-routed-canary traffic-routed: ceil(w × 10 / 100), stable 10
    assert [(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows] == [
        ("0", "setWeight", "5", "1", "10", "5/95"),
        ("1", "pause", "5m", "1", "10", "5/95"),
        ("2", "setWeight", "20", "2", "10", "20/80"),
        ("3", "pause", "10m", "2", "10", "20/80"),
        ("4", "setWeight", "50", "5", "10", "50/50"),
        ("5", "pause", "10m", "5", "10", "50/50"),
        ("6", "setWeight", "80", "8", "10", "80/20"),
        ("7", "pause", "5m", "8", "10", "80/20"),
    ]
    assert "background analysis starts" in next(line for line in lines if line.startswith("1 "))
    assert "background analysis: success-rate, latency (service-name=api-server-canary), from step 1" in lines
    assert "timed pauses total 30m" in lines


def test_seed_canary_json_matches_replica_arithmetic() -> None:
    result = run("-f", str(CANARY), "-o", "json", "--replicas", "7")
    assert result.exit_code == 0, result.output
    p = json.loads(result.output)
    assert p["replicas"] == 7 and p["trafficRouting"] == ["istio"]
    assert [s["canaryPods"] for s in p["steps"] if "setWeight" in s] == [
        traffic_weight_to_replicas(7, w, 100) for w in (5, 20, 50, 80)
    ]
    assert {s["stablePods"] for s in p["steps"]} == {7}
    assert p["steps"][1]["pause"] == {"seconds": 300, "duration": "5m"}
    assert p["backgroundAnalysis"]["startingStep"] == 1
    assert [t["name"] for t in p["backgroundAnalysis"]["templates"]] == ["success-rate", "latency"]
    assert p["minimumPauseSeconds"] == 1800


def test_an_experiment_steps_weights_and_pods() -> None:
    """While the Experiment runs, its templates take their weights from the stable share (Argo's
    `calculateWeightDestinationsFromExperiment`), each on pods of its own."""
    path = ROOT / "examples/experiment-canary/rollout.yaml"
    p = json.loads(run("-f", str(path), "-o", "json").output)
    step = p["steps"][1]
    assert step["traffic"] == {"canary": 5, "stable": 55, "experiment": {"baseline": 20, "canary": 20}}
    assert step["experimentPods"] == {
        "baseline": {"replicas": 1, "specRef": "stable"},
        "canary": {"replicas": 1, "specRef": "canary"},
    }
    assert p["steps"][2]["traffic"] == {"canary": 5, "stable": 95}  # the Experiment is over
    text = run("-f", str(path)).output
    assert "5/55 + 20 + 20" in text and "experiment pods: baseline 1" in text


def test_seed_blue_green_text() -> None:
    result = run("-f", str(BLUE_GREEN))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "Rollout production/web-frontend: blueGreen, 5 replicas, active web-frontend-active, preview web-frontend-preview",
        "  1. create the new ReplicaSet with 5 pod(s); web-frontend-preview → new pods",
        "  2. pre-promotion analysis smoke-tests (preview-url=http://web-frontend-preview.production.svc:3000)",
        "  3. pause until promoted (BlueGreenPause)",
        "  4. switch web-frontend-active → new pods",
        "  5. post-promotion analysis success-rate (service-name=web-frontend-active)",
        "  6. scale the old ReplicaSet down after 5m",
        "on abort: web-frontend-active back to the stable pods; new ReplicaSet scaled down after 30s",
    ]


def test_blue_green_preview_replicas_and_auto_promotion() -> None:
    doc = yaml.safe_load(BLUE_GREEN.read_text())
    bg = doc["spec"]["strategy"]["blueGreen"]
    bg.update(previewReplicaCount=1, autoPromotionEnabled=True, autoPromotionSeconds=90)
    del bg["scaleDownDelaySeconds"]
    p = build_plan(Rollout.from_wire(doc))
    steps = [s["step"] for s in p["sequence"]]
    assert steps[0].startswith("create the new ReplicaSet with 1 pod(s)")
    assert "pause, auto-promote after 1m30s" in steps
    assert "scale the new ReplicaSet to 5 pods" in steps
    assert steps[-1] == "scale the old ReplicaSet down after post-promotion analysis succeeds"


def test_basic_canary_uses_pod_count_approximation() -> None:
    """docs/semantics/controller.md#fenceposts basic canary: weights approximated by pod counts, settled within maxSurge/maxUnavailable."""
    p = build_plan(
        Rollout.from_wire(yaml.safe_load((ROOT / "examples/basic-canary/rollout.yaml").read_text())), 3
    )
    weights = [s for s in p["steps"] if "setWeight" in s]
    assert [(s["canaryPods"], s["stablePods"]) for s in weights] == [
        arith.approximate_weighted_canary_stable_replica_counts(3, s["setWeight"], 100, p["maxSurge"])
        for s in weights
    ]
    assert all(s["traffic"]["byPodCount"] for s in p["steps"])


def test_analysis_step_args_resolved_from_manifest() -> None:
    p = build_plan(
        Rollout.from_wire(yaml.safe_load((ROOT / "examples/cluster-template/rollout.yaml").read_text()))
    )
    analysis = p["steps"][1]["analysis"]
    assert analysis["templates"] == [{"name": "success-rate", "clusterScope": True}]
    assert analysis["args"] == [
        {"name": "service-name", "value": "payments-canary"},
        {"name": "namespace", "value": "payments", "fieldRef": "metadata.namespace"},
    ]


def test_multi_document_file_and_stdin(tmp_path: Path) -> None:
    path = tmp_path / "all.yaml"
    path.write_text((ROOT / "examples/gatewayapi-canary/rollout.yaml").read_text())
    result = run("-f", str(path))
    assert result.exit_code == 0, result.output
    assert "traffic routing: plugin argoproj-labs/gatewayAPI" in result.output
    piped = run("-f", "-", input=CANARY.read_text())
    assert piped.exit_code == 0 and "api-server" in piped.output


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        pytest.param(
            CANARY.read_text().replace("setWeight: 5\n", "setWeight: 105\n"),
            "Rollout api-server: spec.strategy.canary.steps[0].setWeight: SetWeight needs to be between 0 and 100",
            id="invalid-set-weight",
        ),
        pytest.param(
            CANARY.read_text().replace("duration: 5m", "duration: 5 minutes"),
            "spec.strategy.canary.steps[1].pause.duration: Duration needs to be greater than 0",
            id="invalid-duration",
        ),
        pytest.param(
            CANARY.read_text().replace("replicas: 10", "replicas: ten"),
            "spec.replicas: Input should be a valid integer",
            id="unparseable-field",
        ),
        pytest.param("a: [\n", "line 2", id="not-yaml"),
        pytest.param("kind: Service\n", "no Rollout (kind: Rollout) found", id="no-rollout"),
    ],
)
def test_bad_manifest_exits_2_with_one_line(tmp_path: Path, content: str, fragment: str) -> None:
    path = tmp_path / "rollout.yaml"
    path.write_text(content)
    result = run("-f", str(path))
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line]
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"error: {path}: ")
    assert fragment in lines[0]
    assert "Traceback" not in result.output


@pytest.mark.parametrize("example", ["istio-canary", "bluegreen"])
def test_readme_section_shows_actual_output(example: str) -> None:
    """The README's `rollouts plan` section quotes the real output of both examples."""
    doc = (ROOT / "README.md").read_text()
    command = f"$ rollouts plan -f examples/{example}/rollout.yaml\n"
    quoted = doc.split(command, 1)[1].split("```", 1)[0]
    result = run("-f", str(ROOT / f"examples/{example}/rollout.yaml"))
    assert quoted == result.output


def test_unsupported_router_is_flagged(tmp_path: Path) -> None:
    doc = yaml.safe_load(CANARY.read_text())
    doc["spec"]["strategy"]["canary"]["trafficRouting"] = {"plugins": {"acme/router": {}}}
    path = tmp_path / "plugin-router.yaml"
    path.write_text(yaml.safe_dump(doc))
    result = run("-f", str(path))
    assert result.exit_code == 0, result.output
    assert (
        "warning: the controller refuses this Rollout (InvalidSpec): spec.strategy.canary.trafficRouting.plugins."
        "acme/router: Forbidden: plugins/acme/router traffic routing is not supported yet; Argo's plugins are Go "
        "binaries served over its Go plugin RPC, which this controller cannot load; this controller drives istio, "
        "smi, nginx, alb, traefik, apisix, ambassador, appMesh, plugins/argoproj-labs/gatewayAPI"
    ) in result.output.splitlines()


def test_ignored_features_and_template_providers_are_warned(tmp_path: Path) -> None:
    """The same sentences as `lint` and the controller (rollouts.support, analysis.providers.registry)."""
    ro = yaml.safe_load(CANARY.read_text())
    del ro["spec"]["template"]
    ro["spec"]["workloadRef"] = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "name": "web",
        "scaleDown": "onsuccess",
    }
    latency = yaml.safe_load((ROOT / "examples/istio-canary/latency.yaml").read_text())
    latency["spec"]["metrics"][0]["provider"] = {"plugin": {"acme/metrics": {"query": "SELECT 1"}}}
    unrelated = {**latency, "metadata": {"name": "unrelated"}}
    path = tmp_path / "all.yaml"
    path.write_text(yaml.safe_dump_all([ro, latency, unrelated]))
    result = run("-f", str(path), "-o", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["warnings"] == [
        "spec.workloadRef.scaleDown: scaleDown of a workload other than a Deployment is not supported yet and "
        "ignored: only a Deployment is scaled down; this object keeps its pods",
        'AnalysisTemplate "latency": spec.metrics[0].provider.plugin.acme/metrics: Forbidden: the plugin/acme/metrics '
        "metric provider is not supported yet (supported: prometheus, web, job, datadog, newRelic, cloudWatch, graphite, influxdb, wavefront, skywalking, kayenta, plugin/rollouts/judge); "
        "its measurements end in Error",
    ]
    text = run("-f", str(path)).output.splitlines()
    assert text[-2].startswith("warning: spec.workloadRef.scaleDown: scaleDown of a workload other than")
    assert text[-1].startswith(
        'warning: AnalysisTemplate "latency": spec.metrics[0].provider.plugin.acme/metrics'
    )


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        pytest.param(b"kind: Rollout\xff\n", "not UTF-8 text (byte 0xff at offset 13)", id="not-utf8"),
        pytest.param("spec: " + "{a: " * 2000, "nested more than 100 levels deep", id="deep"),
        pytest.param(
            "kind: Rollout\nmetadata: web\nspec: 3\n",
            "Rollout Rollout: metadata: Input should be",
            id="types",
        ),
    ],
)
def test_unreadable_files_exit_2_with_one_line(tmp_path: Path, content: str | bytes, fragment: str) -> None:
    path = tmp_path / "rollout.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = run("-f", str(path))
    assert result.exit_code == 2
    (line,) = [line for line in result.output.splitlines() if line]
    assert line.startswith(f"error: {path}: ") and fragment in line, line


def _step(kind: str, value: int | bool) -> dict[str, Any]:
    if kind == "setWeight":
        return {"setWeight": value}
    if kind == "pause":
        return {"pause": {}}
    if kind == "match":
        return {"setCanaryScale": {"matchTrafficWeight": True}}
    return {"setCanaryScale": {"weight" if kind == "scaleWeight" else "replicas": value}}


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["setWeight", "pause", "scaleWeight", "scaleReplicas", "match"]),
            st.integers(0, 10),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_the_steps_in_force_give_the_weight_of_the_full_list(steps: list[tuple[str, int]]) -> None:
    """`plan` computes each step on the short list `_in_force` keeps (linear in steps); the replica arithmetic
    must read the same weight and scale from it as from the whole list at that index."""
    doc = yaml.safe_load(CANARY.read_text())
    doc["spec"]["strategy"]["canary"]["steps"] = [
        _step(k, v * 10 if k != "scaleReplicas" else v) for k, v in steps
    ]
    ro = Rollout.from_wire(doc)
    ro.status.stable_rs, ro.status.current_pod_hash = "stable", "canary"
    work = ro.model_copy(deep=True)
    for i, short in enumerate(_in_force(ro.spec.steps)):
        ro.status.current_step_index = i
        assert work.spec.strategy.canary is not None
        work.spec.strategy.canary.steps = short
        work.status.current_step_index = len(short) - 1
        assert get_canary_replicas_or_weight(work, None, None) == get_canary_replicas_or_weight(
            ro, None, None
        )
