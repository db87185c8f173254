"""Start `rollouts sandbox` as a separate process and wait until it serves.

For whatever needs the sandbox in its own process (benchmarks that must not share a CPU with it, tests of the
CLI, tools): `--port 0` picks a free port and `--ready-file` reports the URL once the server listens, so there is
no port to guess and no race. The process's output goes to `<workdir>/sandbox.log`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class SpawnedSandbox:
    process: subprocess.Popen[bytes]
    url: str
    kubeconfig_path: Path
    log_path: Path

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode


def spawn_sandbox(workdir: Path, *args: str, timeout: float = 30.0) -> SpawnedSandbox:
    """`rollouts sandbox --port 0 --quiet … ARGS` with its kubeconfig and ready file in `workdir`.

    Raises RuntimeError with the end of the sandbox's log when it exits or is not serving within `timeout`.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    ready = workdir / "sandbox.ready.json"
    ready.unlink(missing_ok=True)
    log_path = workdir / "sandbox.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "rollouts.cli", "sandbox", "--port", "0", "--quiet",
             "--kubeconfig", str(workdir / "sandbox.kubeconfig"), "--ready-file", str(ready), *args],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )  # fmt: skip
    deadline = time.monotonic() + timeout
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait(5)
            tail = log_path.read_text(errors="replace").strip()[-2000:]
            raise RuntimeError(f"rollouts sandbox did not start: {tail or 'no output'}")
        time.sleep(0.02)
    info = json.loads(ready.read_text())
    return SpawnedSandbox(process, info["url"], Path(info["kubeconfig"]), log_path)
