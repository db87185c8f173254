"""The independent API contract check (`shared/tools/kube_api_contract.py`, beside the repository or one of its
parent folders, or wherever `KUBE_API_CONTRACT` points) against `rollouts sandbox`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.sandbox import SandboxProcess

REPO = Path(__file__).resolve().parents[2]


def _contract_tool() -> Path:
    """`$KUBE_API_CONTRACT`, else the first `shared/tools/kube_api_contract.py` beside the repository or an ancestor
    (a worktree or a clone elsewhere finds the same tool)."""
    if os.environ.get("KUBE_API_CONTRACT"):
        return Path(os.environ["KUBE_API_CONTRACT"])
    candidates = [folder / "shared" / "tools" / "kube_api_contract.py" for folder in REPO.parents]
    return next((c for c in candidates if c.exists()), candidates[0])


CONTRACT = _contract_tool()


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
