"""Pure derivations of metric labels and values from Rollout and AnalysisRun objects (docs/semantics/metrics.md#controller-metrics).

Used by `rollouts.controller.metrics`; kept apart and free of I/O so the tables in `test_metrics.py` pin the
semantics: the *metrics* phase of a rollout (which differs from `status.phase`), the strategy and traffic
router labels, provider types of analysis metrics, the latest measured value, and the threshold of a simple
condition.
"""

from __future__ import annotations

import math
import re
from typing import Any

#: docs/semantics/metrics.md#metrics-phase: the metrics phase, from the Progressing condition's reason and the InvalidSpec condition.
ROLLOUT_METRIC_PHASES = ("Completed", "Progressing", "Paused", "Timeout", "Error", "Abort", "InvalidSpec")
_REASON_PHASE = {
    "NewReplicaSetAvailable": "Completed",
    "RolloutPaused": "Paused",
    "ReplicaSetCreateError": "Error",
    "ProgressDeadlineExceeded": "Timeout",
    "RolloutAborted": "Abort",
}
ANALYSIS_PHASES = ("Pending", "Running", "Successful", "Failed", "Error", "Inconclusive")

_ROUTERS = {
    "alb": "ALB",
    "ambassador": "Ambassador",
    "istio": "Istio",
    "nginx": "Nginx",
    "smi": "SMI",
    "appMesh": "AppMesh",
    "traefik": "Traefik",
    "apisix": "Apisix",
    "plugins": "Plugin",
}
_PROVIDERS = {
    "prometheus": "Prometheus",
    "job": "Job",
    "web": "Web",
    "datadog": "Datadog",
    "newRelic": "NewRelic",
    "wavefront": "Wavefront",
    "kayenta": "Kayenta",
    "cloudWatch": "CloudWatch",
    "graphite": "Graphite",
    "influxdb": "Influxdb",
    "skywalking": "SkyWalking",
    "plugin": "RPCPlugin",
}


def _conditions(rollout: dict[str, Any]) -> dict[str, dict[str, Any]]:
    status = rollout.get("status") or {}
    return {str(c.get("type")): c for c in status.get("conditions") or [] if isinstance(c, dict)}


def metrics_phase(rollout: dict[str, Any]) -> str:
    """docs/semantics/metrics.md#controller-metrics: Completed / Paused / Error / Timeout / Abort from the Progressing reason, InvalidSpec wins, else
    Progressing.

    >>> metrics_phase({"status": {"conditions": [{"type": "Progressing", "reason": "RolloutPaused"}]}})
    'Paused'
    """
    conditions = _conditions(rollout)
    if "InvalidSpec" in conditions:
        return "InvalidSpec"
    progressing = conditions.get("Progressing") or {}
    return _REASON_PHASE.get(str(progressing.get("reason") or ""), "Progressing")


def strategy_of(rollout: dict[str, Any]) -> str:
    strategy = (rollout.get("spec") or {}).get("strategy") or {}
    if strategy.get("blueGreen") is not None:
        return "blueGreen"
    if strategy.get("canary") is not None:
        return "canary"
    return "none"


def traffic_router_of(rollout: dict[str, Any]) -> str:
    """The first configured traffic router (`Istio`, `Nginx`, `SMI`, …; `GatewayAPI` for its plugin), or ""."""
    canary = ((rollout.get("spec") or {}).get("strategy") or {}).get("canary") or {}
    routing = canary.get("trafficRouting") or {}
    for field, label in _ROUTERS.items():
        if routing.get(field):
            if field == "plugins" and any("gatewayapi" in str(k).lower() for k in routing["plugins"]):
                return "GatewayAPI"
            return label
    return ""


def analysis_metric_types(run: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(metric name, provider type, dry run) for each metric of an AnalysisRun's spec."""
    spec = run.get("spec") or {}
    dry = {str(d.get("metricName")) for d in spec.get("dryRun") or [] if isinstance(d, dict)}
    out = []
    for metric in spec.get("metrics") or []:
        if not isinstance(metric, dict):
            continue
        name = str(metric.get("name"))
        provider = metric.get("provider") or {}
        type_ = next((label for field, label in _PROVIDERS.items() if field in provider), "Unknown")
        out.append((name, type_, name in dry or "*" in dry or ".*" in dry))
    return out


def parse_value(text: Any) -> float | None:
    """A measurement value as a float: "0.95", "[0.95]", "[0.95, 0.9]" (the first), "NaN"; None otherwise.

    >>> parse_value("[0.9500000000000001]")
    0.9500000000000001
    """
    if isinstance(text, int | float) and not isinstance(text, bool):
        return float(text)
    if not isinstance(text, str):
        return None
    s = text.strip()
    if s.startswith("[") and s.endswith("]"):
        s = s[1:-1].split(",")[0].strip()
    try:
        return float(s)
    except ValueError:
        return None


def latest_value(metric_result: dict[str, Any]) -> float | None:
    """The value of the newest measurement with a numeric value (NaN included: it is what Prometheus said)."""
    for measurement in reversed(metric_result.get("measurements") or []):
        if isinstance(measurement, dict):
            value = parse_value(measurement.get("value"))
            if value is not None:
                return value
    return None


_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_RESULT = r"(?:result(?:\[0\])?|asFloat\(result(?:\[0\])?\)|float\(result(?:\[0\])?\))"
_OPS = r"(>=|<=|==|>|<)"
_LEFT = re.compile(rf"^\s*{_RESULT}\s*{_OPS}\s*({_NUM})\s*$")
_RIGHT = re.compile(rf"^\s*({_NUM})\s*{_OPS}\s*{_RESULT}\s*$")


def condition_threshold(condition: Any, args: dict[str, str] | None = None) -> float | None:
    """The number a simple condition compares `result` (or `result[0]`) with; None for anything richer.

    `{{args.x}}` placeholders are substituted first.

    >>> condition_threshold("result[0] >= 0.95")
    0.95
    >>> condition_threshold("{{args.limit}} > result[0]", {"limit": "500"})
    500.0
    >>> condition_threshold("len(result) == 0 || result[0] < 1") is None
    True
    """
    if not isinstance(condition, str):
        return None
    text = condition
    for name, replacement in (args or {}).items():
        pattern = r"\{\{\s*args\." + re.escape(name) + r"\s*\}\}"
        text = re.sub(pattern, replacement.replace("\\", "\\\\"), text)
    match = _LEFT.match(text) or _RIGHT.match(text)
    if match is None:
        return None
    number = match.group(2) if match.re is _LEFT else match.group(1)
    threshold = float(number)
    return threshold if math.isfinite(threshold) else None
