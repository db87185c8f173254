"""The independent API contract check (../shared/tools/kube_api_contract.py) against `rollouts sandbox`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.sandbox import SandboxProcess

REPO = Path(__file__).resolve().parents[2]
CONTRACT = REPO.parent / "shared" / "tools" / "kube_api_contract.py"


@pytest.mark.slow
@pytest.mark.skipif(
    not CONTRACT.exists(), reason=f"contract tool not found at {CONTRACT} (shared folder absent)"
)
def test_contract_passes_against_the_cli_server(sandbox_process: SandboxProcess) -> None:
    result = subprocess.run(
        [sys.executable, str(CONTRACT), "--url", sandbox_process.url],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "55 passed, 0 failed"
