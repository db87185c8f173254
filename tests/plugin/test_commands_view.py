"""`get rollout`, `get analysisrun`, `list rollouts` and `status` against the sandbox API server (docs/semantics/plugin.md#get-rollout-output).

Through the real client: the output equals the golden files of test_render.py, `get rollout` makes 4 requests
(the rollout, then its ReplicaSets, AnalysisRuns and Pods by selector), and errors are one kubectl-like line.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from rollouts.cli import cli
from tests.plugin.conftest import Cluster
from tests.plugin.objects import SCENARIOS

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_get_rollout_matches_golden_with_four_requests(
    cluster: Cluster, fixed_now: object, scenario: str
) -> None:
    objs = SCENARIOS[scenario]()
    cluster.load(objs)
    cluster.sandbox.requests.reset()
    result = cluster.run("get", "rollout", objs[0]["metadata"]["name"], "--no-color")
    assert result.exit_code == 0, result.output
    assert result.output == (GOLDEN / f"get_rollout_{scenario}.txt").read_text(encoding="utf-8")
    reqs = cluster.requests()
    assert len(reqs) == 4
    assert sorted((r.verb, r.resource) for r in reqs) == [
        ("get", "rollouts"),
        ("list", "analysisruns"),
        ("list", "pods"),
        ("list", "replicasets"),
    ]
    assert all("labelSelector=" in r.query for r in reqs if r.verb == "list")  # never a namespace-wide list


@pytest.mark.parametrize("alias", ["ro", "rollouts"])
def test_get_rollout_aliases(cluster: Cluster, fixed_now: object, alias: str) -> None:
    cluster.load(SCENARIOS["paused_bluegreen"]())
    result = cluster.run("get", alias, "web-frontend")
    assert result.exit_code == 0
    assert result.output == (GOLDEN / "get_rollout_paused_bluegreen.txt").read_text(encoding="utf-8")


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_get_analysisrun_matches_golden(cluster: Cluster, scenario: str) -> None:
    objs = SCENARIOS[scenario]()
    cluster.load(objs)
    run = next(o for o in objs if o["kind"] == "AnalysisRun")
    result = cluster.run("get", "analysisrun", run["metadata"]["name"])
    assert result.exit_code == 0, result.output
    assert result.output == (GOLDEN / f"get_analysisrun_{scenario}.txt").read_text(encoding="utf-8")


def test_list_rollouts_matches_golden(cluster: Cluster) -> None:
    for make in SCENARIOS.values():
        cluster.load(make())
    cluster.sandbox.requests.reset()
    result = cluster.run("list", "rollouts")
    assert result.exit_code == 0, result.output
    assert result.output == (GOLDEN / "list_rollouts.txt").read_text(encoding="utf-8")
    assert [(r.verb, r.resource) for r in cluster.requests()] == [("list", "rollouts")]
    every = cluster.run("list", "rollouts", "-A")
    assert every.output == (GOLDEN / "list_rollouts_all_namespaces.txt").read_text(encoding="utf-8")


def test_list_rollouts_empty_namespace(cluster: Cluster) -> None:
    result = cluster.run("list", "rollouts", namespace="empty")
    assert result.exit_code == 0
    assert result.output.strip() == "No resources found."


def test_machine_readable_output(cluster: Cluster, fixed_now: object) -> None:
    cluster.load(SCENARIOS["canary_mid_rollout"]())
    got = json.loads(cluster.run("get", "rollout", "api-server", "-o", "json").output)
    assert (got["status"], got["step"], got["set_weight"]) == ("Paused", "1/6", "20")
    assert [rs["revision"] for rs in got["replica_sets"]] == [2, 1]
    rows = yaml.safe_load(cluster.run("list", "rollouts", "-o", "yaml").output)
    assert rows[0]["name"] == "api-server" and rows[0]["status"] == "Paused"
    status = json.loads(cluster.run("status", "api-server", "--watch=false", "-o", "json").output)
    assert status == {"name": "api-server", "status": "Paused", "message": "CanaryPauseStep"}
    run = json.loads(cluster.run("get", "analysisrun", "api-server-7b5c9d8f6-2", "-o", "json").output)
    assert run["metrics"][0]["limits"]["failureLimit"] == 1


def test_not_found_is_one_kubectl_line(cluster: Cluster) -> None:
    for args, kind in (
        (("get", "rollout", "nope"), "rollouts.argoproj.io"),
        (("get", "analysisrun", "nope"), "analysisruns.argoproj.io"),
        (("status", "nope"), "rollouts.argoproj.io"),
        (("abort", "nope"), "rollouts.argoproj.io"),
        (("promote", "nope"), "rollouts.argoproj.io"),
    ):
        result = cluster.run(*args)
        assert result.exit_code == 1
        assert result.output == f'Error: {kind} "nope" not found\n'


def test_unreachable_server_names_server_and_kubeconfig(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nobody listens there
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(cli, ["get", "rollout", "web", "--kubeconfig", str(path)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: unable to connect to the server")
    assert f"127.0.0.1:{port}" in lines[0] and str(path) in lines[0]
    assert "Traceback" not in result.output


def test_missing_kubeconfig_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["list", "rollouts", "--kubeconfig", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert result.output.startswith("Error: no kubeconfig found at") and result.output.count("\n") == 1


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["get", "rollout"], id="missing-name"),
        pytest.param(["get", "rollout", "x", "--bogus"], id="unknown-flag"),
        pytest.param(["status", "x", "--timeout", "soon"], id="bad-duration"),
        pytest.param(["set", "image", "x", "noequals"], id="bad-assignment"),
        pytest.param(["get", "deployment", "x"], id="unknown-subcommand"),
    ],
)
def test_bad_flags_print_usage(args: list[str]) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert "Usage:" in result.output and "Traceback" not in result.output


def test_status_once(cluster: Cluster) -> None:
    """docs/semantics/plugin.md#get-rollout-output status --watch=false: Healthy/Degraded alone (Degraded exits 1 with the message), else `S - M`."""
    for make in SCENARIOS.values():
        cluster.load(make())
    paused = cluster.run("status", "api-server", "--watch=false")
    assert (paused.exit_code, paused.output) == (0, "Paused - CanaryPauseStep\n")
    degraded = cluster.run("status", "checkout", "--watch=false")
    assert degraded.exit_code == 1
    assert degraded.output.splitlines() == [
        "Degraded",
        "Error: The rollout is in a degraded state with message: RolloutAborted: Rollout aborted update to "
        'revision 4: Metric "success-rate" assessed Failed due to failed (2) > failureLimit (1)',
    ]


def test_status_watch_times_out(cluster: Cluster) -> None:
    cluster.load(SCENARIOS["canary_mid_rollout"]())
    result = cluster.run("status", "api-server", "--timeout", "300ms")
    assert result.exit_code == 1
    assert result.output == "Paused - CanaryPauseStep\nError: Rollout status watch exceeded timeout\n"


def _run_in_thread(cluster: Cluster, *args: str) -> tuple[threading.Thread, dict[str, object]]:
    box: dict[str, object] = {}

    def target() -> None:
        box["result"] = cluster.run(*args)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, box


def _wait_for_watch(cluster: Cluster, resource: str) -> None:
    deadline = time.monotonic() + 10
    while not any(r.verb == "watch" and r.resource == resource for r in cluster.requests()):
        assert time.monotonic() < deadline, "the command never started watching"
        time.sleep(0.02)


def test_status_watch_prints_each_change_until_healthy(cluster: Cluster) -> None:
    objs = SCENARIOS["canary_mid_rollout"]()
    cluster.load(objs)
    thread, box = _run_in_thread(cluster, "status", "api-server", "--timeout", "20s")
    _wait_for_watch(cluster, "rollouts")
    status = dict(objs[0]["status"])
    store = cluster.sandbox.store
    key = ("argoproj.io", "Rollout")
    rt = store.registry.by_kind("argoproj.io/v1alpha1", "Rollout")
    assert rt is not None
    for phase, message in (("Progressing", "more replicas need to be updated"), ("Healthy", "")):
        status.update(phase=phase, message=message)
        cluster.sandbox.call(store.put_status, rt.key, "shop", "api-server", dict(status))
        time.sleep(0.05)
    thread.join(20)
    result = box["result"]
    assert not thread.is_alive() and key
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert result.output == (  # type: ignore[attr-defined]
        "Paused - CanaryPauseStep\nProgressing - more replicas need to be updated\nHealthy\n"
    )


def test_get_rollout_watch_redraws_on_change(cluster: Cluster, fixed_now: object) -> None:
    objs = SCENARIOS["canary_mid_rollout"]()
    cluster.load(objs)
    thread, box = _run_in_thread(cluster, "get", "rollout", "api-server", "-w", "--timeout-seconds", "2")
    _wait_for_watch(cluster, "rollouts")
    rt = cluster.sandbox.store.registry.by_kind("argoproj.io/v1alpha1", "Rollout")
    assert rt is not None
    status = dict(objs[0]["status"], phase="Progressing", message="waiting for rollout to unpause")
    cluster.sandbox.call(cluster.sandbox.store.put_status, rt.key, "shop", "api-server", status)
    thread.join(20)
    output = box["result"].output  # type: ignore[attr-defined]
    first = (GOLDEN / "get_rollout_canary_mid_rollout.txt").read_text(encoding="utf-8")
    assert output.startswith(first)
    redraw = output[len(first) :]
    assert "Status:          ◌ Progressing" in redraw
    assert redraw.count("Name:            api-server") >= 1


def test_connection_flags_before_the_command(cluster: Cluster) -> None:
    # kubectl passes a plugin's arguments through as typed: `kubectl rollouts -n shop get rollout x`.
    argv = ["--kubeconfig", str(cluster.kubeconfig), "-n", "shop", "get", "rollout", "nope"]
    result = CliRunner().invoke(cli, argv, catch_exceptions=True)
    assert result.exit_code == 1
    assert result.output == 'Error: rollouts.argoproj.io "nope" not found\n'
    # a flag after the command wins over the same flag before it
    argv = [
        "-n",
        "elsewhere",
        "get",
        "rollout",
        "nope",
        "--kubeconfig",
        str(cluster.kubeconfig),
        "-n",
        "shop",
    ]
    result = CliRunner().invoke(cli, argv, catch_exceptions=True)
    assert result.output == 'Error: rollouts.argoproj.io "nope" not found\n'
    assert all(r.namespace in ("shop", None, "") for r in cluster.requests())
