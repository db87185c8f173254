"""Fixtures of the plugin tests: a sandbox API server loaded with hand-built objects, and a CLI runner.

`cluster` is a sandbox (no workload simulator: the objects stay exactly as built) whose kubeconfig the
commands use through the real `kubernetes` client; `cluster.load(objs)` stores objects as they are (uids,
timestamps and status kept — `Store.restore`), `cluster.run(*args)` invokes `kubectl rollouts …` in-process.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from rollouts.cli import cli
from rollouts.plugin import viewing
from rollouts.sandbox import Sandbox
from tests.plugin.objects import NOW

API_VERSIONS = {
    "Rollout": "argoproj.io/v1alpha1",
    "AnalysisRun": "argoproj.io/v1alpha1",
    "AnalysisTemplate": "argoproj.io/v1alpha1",
    "ReplicaSet": "apps/v1",
    "Deployment": "apps/v1",
    "Pod": "v1",
    "Service": "v1",
    "Experiment": "argoproj.io/v1alpha1",
}


@dataclass
class Cluster:
    sandbox: Sandbox
    kubeconfig: Path

    def load(self, objs: list[dict[str, Any]]) -> None:
        objs = copy.deepcopy(objs)
        rv = int(self.sandbox.store.rv) + 1
        for i, obj in enumerate(objs):
            obj["metadata"]["resourceVersion"] = str(rv + i)
        self.sandbox.call(self.sandbox.store.restore, objs, rv + len(objs))

    def get(self, kind: str, name: str, namespace: str = "shop") -> dict[str, Any]:
        obj = self.sandbox.get(API_VERSIONS[kind], kind, name, namespace)
        assert obj is not None, f"{kind} {namespace}/{name} not found"
        return obj

    def run(self, *args: str, namespace: str = "shop") -> Result:
        argv = [*args, "--kubeconfig", str(self.kubeconfig), "-n", namespace]
        return CliRunner().invoke(cli, argv, catch_exceptions=True)

    def requests(self) -> list[Any]:
        return list(self.sandbox.requests.records())


@pytest.fixture
def fixed_now(monkeypatch: pytest.MonkeyPatch) -> datetime:
    """The plugin's clock, pinned to the objects' NOW (ages in golden files are stable)."""
    monkeypatch.setattr(viewing, "_now", lambda: NOW)
    return NOW


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    with Sandbox(simulate=False) as sb:
        yield Cluster(sb, sb.write_kubeconfig(tmp_path / "kubeconfig"))
