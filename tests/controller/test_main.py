"""`rollouts controller` flags: environment variables, one-line errors for bad input, clean start and stop."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from rollouts.cli import cli
from rollouts.sandbox import Sandbox
from tests.controller.processes import listening_addresses, start_controller


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        pytest.param(
            ["--kubeconfig", "/nonexistent/kc"],
            {},
            "no kubeconfig found at /nonexistent/kc",
            id="no-kubeconfig",
        ),
        pytest.param(
            [],
            {"ROLLOUTS_KUBECONFIG": "/nonexistent/env"},
            "no kubeconfig found at /nonexistent/env",
            id="kubeconfig-from-env",
        ),
        pytest.param(["--qps", "fast"], {}, "'fast' is not a valid float", id="bad-number"),
        pytest.param(["--log-format", "xml"], {}, "'xml' is not one of 'text', 'json'", id="bad-choice"),
        pytest.param(
            ["--server", "http://127.0.0.1:9"],
            {"ROLLOUTS_LEADER_ELECTION_LEASE_DURATION": "5"},
            "lease duration > renew deadline > retry period",
            id="timings-from-env",
        ),
        pytest.param(
            ["--server", "http://127.0.0.1:9", "--no-leader-elect"],
            {},
            "http://127.0.0.1:9 (--server) unreachable",
            id="unreachable",
        ),
    ],
)
def test_bad_input_is_a_one_line_error(args: list[str], env: dict[str, str], message: str) -> None:
    result = CliRunner().invoke(cli, ["controller", *args], env=env)
    assert result.exit_code in (1, 2)
    assert message in result.output
    assert "Traceback" not in result.output


def test_start_serve_and_stop_on_sigterm(sandbox: Sandbox, tmp_path: Path) -> None:
    kubeconfig = sandbox.write_kubeconfig(tmp_path / "kc")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rollouts.cli",
            "controller",
            "--healthz-port",
            "0",
            "--metrics-port",
            "0",
            "--bind",
            "127.0.0.1",
            "--log-format",
            "json",
            "--namespace",
            "team-a",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={
            "ROLLOUTS_KUBECONFIG": str(kubeconfig),
            "ROLLOUTS_LEADER_ELECT": "false",
            "PATH": "/usr/bin:/bin",
        },
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        ports = re.search(
            r"healthz http://127\.0\.0\.1:(\d+)/healthz metrics http://127\.0\.0\.1:(\d+)/metrics", line
        )
        assert ports, line
        with urllib.request.urlopen(f"http://127.0.0.1:{ports.group(1)}/healthz", timeout=5) as r:
            assert r.status == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{ports.group(2)}/metrics", timeout=5) as r:
            text = r.read().decode()
        assert "rollouts_controller_info" in text and "process_resident_memory_bytes" in text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        assert proc.stderr is not None
        logs = proc.stderr.read()
        assert '"msg": "shutting down"' in logs  # JSON log lines
        assert "team-a" in logs
        # only namespaced requests: --namespace confines the watches (discovery, `/apis/<group>/<version>`, names
        # no objects and is open to every user)
        paths = {
            r.path
            for r in sandbox.requests.records()
            if r.user_agent.startswith("rollouts-controller") and r.resource
        }
        assert paths and all("/namespaces/team-a/" in p for p in paths), paths
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()


@pytest.mark.parametrize(
    ("env", "address"),
    [
        pytest.param({}, "127.0.0.1", id="outside-a-cluster"),
        pytest.param({"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, "0.0.0.0", id="in-a-pod"),
    ],
)
def test_bind_defaults_to_loopback_outside_a_pod(
    sandbox: Sandbox, tmp_path: Path, env: dict[str, str], address: str
) -> None:
    kubeconfig = sandbox.write_kubeconfig(tmp_path / "kc")
    c = start_controller(kubeconfig, "bind", "--no-leader-elect", env=env)
    try:
        assert listening_addresses(c.healthz_port) == {address}
        assert listening_addresses(c.metrics_port) == {address}
        c.process.send_signal(signal.SIGTERM)
        assert c.process.wait(20) == 0
    finally:
        if c.process.poll() is None:
            c.process.kill()
            c.process.wait(10)
        for stream in (c.process.stdout, c.process.stderr):
            if stream:
                stream.close()


def test_a_port_in_use_is_a_one_line_error(sandbox: Sandbox, tmp_path: Path) -> None:
    kubeconfig = sandbox.write_kubeconfig(tmp_path / "kc")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            cli,
            ["controller", "--kubeconfig", str(kubeconfig), "--no-leader-elect", "--healthz-port", str(port)],
        )
    assert result.exit_code == 1
    assert (
        f"cannot serve /healthz and /metrics on 127.0.0.1 (--bind) ports {port} (--healthz-port)"
        in result.output
    )
    assert "address already in use" in result.output and "Traceback" not in result.output
