"""examples/dashboard.json: every query is valid PromQL (checked by `promtool`) and names only series the
controller exports (rollouts.controller.metrics) or Prometheus' built-ins."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest

from rollouts.controller.metrics import ControllerMetrics
from rollouts.kube.client import RequestRecord

DASHBOARD = Path(__file__).resolve().parents[2] / "examples" / "dashboard.json"
PROCESS = {"process_resident_memory_bytes", "process_cpu_seconds_total", "process_start_time_seconds"}
FUNCTIONS = {
    "on",
    "instance",
    "sum",
    "rate",
    "increase",
    "histogram_quantile",
    "max",
    "count",
    "vector",
    "by",
    "or",
    "le",
    "and",
}


def expressions(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["expr"]] if isinstance(node.get("expr"), str) else []
        return found + [e for v in node.values() for e in expressions(v)]
    if isinstance(node, list):
        return [e for v in node for e in expressions(v)]
    return []


def concrete(expr: str) -> str:
    """Grafana's variables replaced by values Prometheus accepts."""
    return expr.replace("$__rate_interval", "5m").replace("$namespace", ".*").replace("$name", ".*")


def exported_names() -> set[str]:
    reg = CollectorRegistry()
    m = ControllerMetrics(reg)
    m.observe_rollout(
        {
            "metadata": {"namespace": "n", "name": "r"},
            "spec": {},
            "status": {"canary": {"weights": {"canary": {"weight": 5}}}, "currentStepIndex": 1},
        }
    )
    m.observe_reconcile("Rollout", "n", "r", 0.1, error=True)
    m.observe_reconcile("AnalysisRun", "n", "a", 0.1, error=True)
    m.count_event("n", "r", "Normal", "X")
    m.leader.set(1)
    m.on_request(RequestRecord("Rollout", "n", "r", "Get", 200))
    for observe in (m.on_add, m.on_retry):
        observe("Rollouts")
    m.on_depth("Rollouts", 1)
    m.on_latency("Rollouts", 0.1)
    m.on_work("Rollouts", 0.1)
    m.observe_analysis_run(
        {
            "metadata": {"namespace": "n", "name": "r-1"},
            "spec": {
                "metrics": [{"name": "m", "successCondition": "result[0] > 1", "provider": {"web": {}}}]
            },
            "status": {"metricResults": [{"name": "m", "measurements": [{"value": "2"}]}]},
        }
    )
    text = generate_latest(reg).decode()
    return {re.split(r"[{ ]", line)[0] for line in text.splitlines() if line and not line.startswith("#")}


def test_dashboard_names_only_exported_series() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = expressions(dashboard["panels"])
    assert len(exprs) >= 20
    names = exported_names()
    for expr in exprs:
        no_strings = re.sub(r'"[^"]*"', '""', concrete(expr))
        no_labels = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", no_strings)
        no_groupings = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", no_labels)
        for ident in re.findall(r"[a-zA-Z_][a-zA-Z0-9_]*", no_groupings):
            if ident in FUNCTIONS or ident in PROCESS:  # PROCESS: main.py adds ProcessCollector
                continue
            assert ident in names, f"{ident!r} in {expr!r} is not exported"
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert {"namespace", "name"} <= variables


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    exprs = expressions(json.loads(DASHBOARD.read_text())["panels"])
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query{i}", "expr": concrete(e)} for i, e in enumerate(exprs)
                ],
            }
        ]
    }
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(rules))
    out = subprocess.run(
        ["promtool", "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stdout + out.stderr
