"""Controller processes for the leader-election tests: `rollouts controller` started as a subprocess against a
sandbox process, its metrics read over HTTP, and the sandbox's request log split by replica (each replica's
user agent carries its identity, `rollouts-controller/<version> (<POD_NAME>_<suffix>)`)."""

from __future__ import annotations

import ctypes
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WRITES = ("create", "update", "patch", "delete")


@dataclass
class Controller:
    name: str  # POD_NAME: the prefix of its identity
    process: subprocess.Popen[str]
    metrics_port: int
    healthz_port: int

    def metric(self, series: str) -> float | None:
        """The value of an unlabelled series on /metrics (None when the process does not answer)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as resp:
                text = resp.read().decode()
        except OSError:
            return None
        match = re.search(rf"^{re.escape(series)} (\S+)$", text, re.M)
        return float(match.group(1)) if match else None

    def leads(self) -> bool:
        return self.metric("rollouts_controller_leader") == 1.0

    def mine(self, record: dict[str, Any]) -> bool:
        return f"({self.name}_" in str(record.get("user_agent") or "")


_LIBC = ctypes.CDLL("libc.so.6", use_errno=True)  # loaded here: the child only calls into it
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: SIGKILL when the test process dies (PR_SET_PDEATHSIG), so a test run that is
    itself killed leaves no controller behind."""
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def stop(process: subprocess.Popen[str], grace: float = 20.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `grace` seconds."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def start_controller(
    kubeconfig: Path, name: str, *args: str, env: dict[str, str] | None = None
) -> Controller:
    cmd = [
        sys.executable,
        "-m",
        "rollouts.cli",
        "controller",
        "--kubeconfig",
        str(kubeconfig),
        "--healthz-port",
        "0",
        "--metrics-port",
        "0",
        "--log-level",
        "warning",
        *args,
    ]
    environ = {"POD_NAME": name, "PYTHONUNBUFFERED": "1", "PATH": "/usr/bin:/bin", **(env or {})}
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environ,
        preexec_fn=_die_with_parent,  # async-signal-safe: one prctl call
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(
        r"healthz http://127\.0\.0\.1:(\d+)/healthz metrics http://127\.0\.0\.1:(\d+)/metrics", line
    )
    if match is None:
        proc.kill()
        raise AssertionError(
            f"controller did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}"
        )
    return Controller(name, proc, int(match.group(2)), int(match.group(1)))


@contextmanager
def controllers(
    kubeconfig: Path, *names: str, args: tuple[str, ...] = (), env: dict[str, str] | None = None
) -> Iterator[list[Controller]]:
    started = [start_controller(kubeconfig, name, *args, env=env) for name in names]
    try:
        yield started
    finally:
        for c in started:
            if c.process.poll() is None:
                c.process.kill()
                c.process.wait(10)
            for stream in (c.process.stdout, c.process.stderr):
                if stream:
                    stream.close()


def listening_addresses(port: int) -> set[str]:
    """The IPv4 addresses a TCP port of this machine listens on, from /proc/net/tcp ("0.0.0.0": all)."""
    found: set[str] = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        address, _, hex_port = fields[1].partition(":")
        if int(hex_port, 16) == port and fields[3] == "0A":  # TCP_LISTEN
            found.add(".".join(str(b) for b in reversed(bytes.fromhex(address))))
    return found


def wait(cond: Callable[[], object], limit: float) -> bool:
    """Poll `cond` until it is true (True) or `limit` seconds passed (False)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


FAST_LEASE = ("--lease-duration", "2", "--renew-deadline", "1.5", "--retry-period", "0.25")
