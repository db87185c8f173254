"""`rollouts sandbox` as a subprocess: machine-readable first lines, kubeconfig, ready file, state saved on
SIGTERM and restored on start, clear one-line errors for bad input."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner
from kubernetes import client, config

from rollouts.sandbox.cli import sandbox as sandbox_command
from tests.fixtures.sandbox import SandboxProcess, start_sandbox_process
from tests.sandbox.helpers import NS, CustomObjects, G, P, V, rollout


def api_client(kubeconfig: Path) -> Any:
    """A client configured from the kubeconfig the sandbox wrote, as a user's tools would be."""
    return config.new_client_from_config(str(kubeconfig))  # type: ignore[no-untyped-call]


def api_for(sp: SandboxProcess) -> CustomObjects:
    return client.CustomObjectsApi(api_client(sp.kubeconfig_path))


def test_kubeconfig_has_a_sandbox_context(sandbox_process: SandboxProcess) -> None:
    doc = yaml.safe_load(sandbox_process.kubeconfig_path.read_text())
    assert doc["current-context"] == "sandbox"
    assert doc["clusters"][0]["cluster"]["server"] == sandbox_process.url
    crds: Any = client.ApiextensionsV1Api(api_client(sandbox_process.kubeconfig_path))
    names = {c.metadata.name for c in crds.list_custom_resource_definition().items}
    assert {"rollouts.argoproj.io", "analysisruns.argoproj.io", "analysistemplates.argoproj.io"} <= names


def test_first_lines_are_machine_readable(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rollouts.cli",
            "sandbox",
            "--port",
            "0",
            "--kubeconfig",
            str(tmp_path / "kc"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first, second = proc.stdout.readline().strip(), proc.stdout.readline().strip()
        assert first.startswith("SANDBOX_URL=http://127.0.0.1:")
        assert second == f"KUBECONFIG={tmp_path / 'kc'}"
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "sandbox stopped" in out
    assert "Traceback" not in err


def test_state_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    first = start_sandbox_process(tmp_path, "--state", str(state))
    try:
        created = api_for(first).create_namespaced_custom_object(G, V, NS, P, rollout("keep"))
    finally:
        assert first.stop() == 0
    assert state.exists()
    (tmp_path / "sandbox.ready.json").unlink()
    second = start_sandbox_process(tmp_path, "--state", str(state))
    try:
        co = api_for(second)
        got = co.get_namespaced_custom_object(G, V, NS, P, "keep")
        assert got["metadata"]["uid"] == created["metadata"]["uid"]
        assert got["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
        updated = co.patch_namespaced_custom_object(G, V, NS, P, "keep", {"spec": {"replicas": 1}})
        assert int(updated["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    finally:
        second.stop()


def test_unreadable_state_is_a_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "state.json"
    bad.write_text("{not json")
    result = CliRunner().invoke(
        sandbox_command, ["--port", "0", "--kubeconfig", str(tmp_path / "kc"), "--state", str(bad)]
    )
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: cannot read sandbox state {bad}:")
    assert "Traceback" not in result.output


def test_bad_duration_names_the_option(tmp_path: Path) -> None:
    result = CliRunner().invoke(sandbox_command, ["--pod-ready-delay", "soon"])
    assert result.exit_code == 2
    assert "Invalid value for '--pod-ready-delay': invalid duration 'soon'" in result.output


def test_busy_port_is_a_one_line_error(sandbox_process: SandboxProcess, tmp_path: Path) -> None:
    port = sandbox_process.url.rsplit(":", 1)[1]
    result = CliRunner().invoke(sandbox_command, ["--port", port, "--kubeconfig", str(tmp_path / "kc"), "-q"])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: cannot serve on 127.0.0.1:{port}:")


def test_admin_endpoints_reach_a_subprocess(sandbox_process: SandboxProcess) -> None:
    co = api_for(sandbox_process)
    sandbox_process.reset_requests()
    co.create_namespaced_custom_object(G, V, NS, P, rollout("sub"))
    writes = sandbox_process.requests(writes="true")
    assert [(r["verb"], r["resource"], r["status"]) for r in writes] == [("create", "rollouts", 201)]
    assert sandbox_process.set_faults(error_rate=1.0)["error_rate"] == 1.0
    try:
        co.get_namespaced_custom_object(G, V, NS, P, "sub")
        raise AssertionError("fault not applied")
    except client.ApiException as e:
        assert e.status == 500
    assert json.loads(json.dumps(sandbox_process.set_faults(error_rate=0.0)))["error_rate"] == 0.0
