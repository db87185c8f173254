"""A real Prometheus: the Debian `prometheus` binary on a free loopback port.

The demo starts it scraping its versions every second; the tests start it over data backfilled with promtool
(`tests/fixtures/prometheus.py`, no scrape targets). The process gets a private work directory (config, data,
log) and is always stopped by `stop()`, which removes the directory: nothing is left running or on disk.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

INSTALL_HINT = "apt-get install -y --no-install-recommends prometheus"


class PrometheusMissing(RuntimeError):
    """The `prometheus` binary is not installed."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PrometheusProcess:
    """A running Prometheus scraping `targets` (host:port strings) every `scrape_interval` seconds."""

    targets: list[str] = field(default_factory=list)
    scrape_interval: float = 1.0
    port: int = 0
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="rollouts-demo-prom-")))
    retention: str | None = None  # e.g. "10y" for backfilled data that lies in the past (or future)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> None:
        """Start over `workdir/data` (empty, or a TSDB made beforehand, e.g. by promtool) and wait for /-/ready.

        A free port can be taken between probing and binding: then it tries again on another one.
        """
        binary = shutil.which("prometheus")
        if binary is None:
            raise PrometheusMissing(f"prometheus is not installed; install it with: {INSTALL_HINT}")
        interval = f"{max(int(self.scrape_interval * 1000), 100)}ms"
        config = self.workdir / "prometheus.yml"
        if self.targets:
            targets = ", ".join(f"'{t}'" for t in self.targets)
            scrape = (
                f"scrape_configs:\n  - job_name: demo-app\n    static_configs: [{{targets: [{targets}]}}]\n"
            )
        else:
            scrape = "scrape_configs: []\n"
        config.write_text(
            f"global: {{scrape_interval: {interval}, evaluation_interval: {interval}}}\n{scrape}"
        )
        fixed_port = self.port
        failure = ""
        for _ in range(1 if fixed_port else 3):
            self.port = fixed_port or free_port()
            args = [binary, f"--config.file={config}", f"--storage.tsdb.path={self.workdir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"]  # fmt: skip
            if self.retention:
                args.append(f"--storage.tsdb.retention.time={self.retention}")
            log_path = self.workdir / "prometheus.log"
            with log_path.open("wb") as log:
                self.process = subprocess.Popen(
                    args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
                )
            if self._wait_ready(timeout):
                return
            failure = log_path.read_text(errors="replace")[-2000:] or f"not ready within {timeout:.0f}s"
            self._terminate()
        self.stop()
        raise RuntimeError(f"prometheus did not become ready: {failure}")

    def _wait_ready(self, timeout: float) -> bool:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as resp:
                    if resp.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.02)
        return False

    def _terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def stop(self) -> None:
        self._terminate()
        shutil.rmtree(self.workdir, ignore_errors=True)
