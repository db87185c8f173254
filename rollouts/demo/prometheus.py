"""A real Prometheus for the demo: the Debian `prometheus` binary on a free loopback port, scraping every second.

Only the demo starts it (tests have their own fixture with backfilled data). The process gets a private data
directory and config, and is always stopped by `stop()` — nothing is left running after the demo exits.
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

    targets: list[str]
    scrape_interval: float = 1.0
    port: int = 0
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="rollouts-demo-prom-")))
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            raise PrometheusMissing(f"prometheus is not installed; install it with: {INSTALL_HINT}")
        self.port = self.port or free_port()
        interval = f"{max(int(self.scrape_interval * 1000), 100)}ms"
        targets = ", ".join(f"'{t}'" for t in self.targets)
        config = self.workdir / "prometheus.yml"
        config.write_text(
            f"global: {{scrape_interval: {interval}, evaluation_interval: {interval}}}\n"
            "scrape_configs:\n"
            "  - job_name: demo-app\n"
            f"    static_configs: [{{targets: [{targets}]}}]\n"
        )
        log = (self.workdir / "prometheus.log").open("wb")
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited with {self.process.returncode}; see {log.name}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"prometheus did not become ready within {timeout:.0f}s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        shutil.rmtree(self.workdir, ignore_errors=True)
