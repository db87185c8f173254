"""`get analysisrun NAME`: why a run passed or failed, metric by metric.

For each metric: its status and the reason of the verdict (the controller's message, or — when it wrote none —
the rule of docs/semantics/analysis.md#metric-status that decided it: `failed (2) > failureLimit (1)`, the count reached, …), the
provider and query, the success and failure conditions, the limits with their defaults filled in, and every
measurement kept (time, value, phase, message). Pure: works on the run's dict; `-o json` gives
`analysis_run_view(run)`.
"""

from __future__ import annotations

import re
from typing import Any

from rich.text import Text

from rollouts.plugin.info import icon_for
from rollouts.plugin.phases import get
from rollouts.plugin.render import STYLES, Cell, tabulate

__all__ = ["analysis_run_view", "render_analysis_run", "verdict_reason"]

LABEL_WIDTH = 17


def _int(value: Any, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def limits(metric: dict[str, Any]) -> dict[str, Any]:
    """The metric's limits with Argo's defaults (docs/semantics/objects.md#analysis-objects): failure 0, inconclusive 0, consecutive errors 4."""
    count = _int(metric.get("count"), 0)
    effective: int | None = count if count else (None if metric.get("interval") else 1)
    return {
        "count": effective,
        "interval": metric.get("interval") or "",
        "initialDelay": metric.get("initialDelay") or "",
        "failureLimit": _int(metric.get("failureLimit"), 0),
        "inconclusiveLimit": _int(metric.get("inconclusiveLimit"), 0),
        "consecutiveErrorLimit": _int(metric.get("consecutiveErrorLimit"), 4),
        "consecutiveSuccessLimit": _int(metric.get("consecutiveSuccessLimit"), 0),
    }


def verdict_reason(
    metric: dict[str, Any], result: dict[str, Any] | None, run_terminated: bool = False
) -> str:
    """Why the metric is in its phase: the controller's message, else the deciding rule of docs/semantics/analysis.md#metric-status."""
    result = result or {}
    lim = limits(metric)
    if result.get("message"):
        count_reached = lim["count"] is not None and _int(result.get("count"), 0) >= lim["count"]
        if run_terminated and result.get("phase") == "Successful" and not count_reached:
            # the message is the last measurement's (an error, say), not why the metric ended Successful
            return f"run terminated before the count was reached (last message: {result['message']})"
        return str(result["message"])
    phase = str(result.get("phase") or "Pending")
    failed, inconclusive = _int(result.get("failed"), 0), _int(result.get("inconclusive"), 0)
    count, consecutive_errors = _int(result.get("count"), 0), _int(result.get("consecutiveError"), 0)
    fl, il, cel, csl = (
        lim["failureLimit"],
        lim["inconclusiveLimit"],
        lim["consecutiveErrorLimit"],
        lim["consecutiveSuccessLimit"],
    )
    if phase == "Error" and consecutive_errors > cel:
        return f"consecutiveErrors ({consecutive_errors}) > consecutiveErrorLimit ({cel})"
    if phase == "Inconclusive" and inconclusive > il:
        return f"inconclusive ({inconclusive}) > inconclusiveLimit ({il})"
    if phase == "Failed" and fl >= 0 and failed > fl:
        return f"failed ({failed}) > failureLimit ({fl})"
    if phase == "Successful":
        if csl > 0 and _int(result.get("consecutiveSuccess"), 0) >= csl:
            return (
                f"consecutiveSuccess ({result.get('consecutiveSuccess')}) >= consecutiveSuccessLimit ({csl})"
            )
        if lim["count"] is not None and count >= lim["count"]:
            return f"count ({count}) reached with failed ({failed}) <= failureLimit ({fl})"
        if run_terminated:
            return "run terminated before the count was reached"
    if phase in ("Pending", "Running"):
        total = lim["count"] if lim["count"] is not None else "∞"
        return f"{count} of {total} measurements taken"
    return ""


def _provider(metric: dict[str, Any]) -> tuple[str, str]:
    provider = metric.get("provider") or {}
    if not isinstance(provider, dict) or not provider:
        return "", ""
    kind = next(iter(provider))
    body = provider.get(kind) or {}
    if kind == "prometheus":
        detail = str(body.get("query") or "")
    elif kind == "web":
        detail = " ".join(p for p in (str(body.get("url") or ""), str(body.get("jsonPath") or "")) if p)
    elif kind == "job":
        detail = str(get(body, "metadata", "name") or "")
    else:
        detail = ""
    return kind, re.sub(r"\s+", " ", detail).strip()


def analysis_run_view(run: dict[str, Any]) -> dict[str, Any]:
    """The run as the page shows it (also `-o json|yaml`)."""
    results = {r.get("name"): r for r in get(run, "status", "metricResults") or []}
    terminated = bool(get(run, "spec", "terminate"))
    metrics = []
    for metric in get(run, "spec", "metrics") or []:
        result = results.get(metric.get("name")) or {}
        kind, detail = _provider(metric)
        metrics.append(
            {
                "name": metric.get("name"),
                "phase": result.get("phase") or "Pending",
                "reason": verdict_reason(metric, result, terminated),
                "dryRun": bool(result.get("dryRun")),
                "provider": kind,
                "query": detail,
                "successCondition": metric.get("successCondition") or "",
                "failureCondition": metric.get("failureCondition") or "",
                "limits": limits(metric),
                "counts": {
                    k: _int(result.get(k), 0)
                    for k in ("count", "successful", "failed", "inconclusive", "error")
                },
                "measurements": [
                    {
                        "startedAt": m.get("startedAt") or "",
                        "finishedAt": m.get("finishedAt") or "",
                        "value": m.get("value") or "",
                        "phase": m.get("phase") or "",
                        "message": m.get("message") or "",
                    }
                    for m in result.get("measurements") or []
                ],
            }
        )
    return {
        "name": get(run, "metadata", "name"),
        "namespace": get(run, "metadata", "namespace") or "",
        "phase": get(run, "status", "phase") or "Pending",
        "message": get(run, "status", "message") or "",
        "startedAt": get(run, "status", "startedAt") or "",
        "completedAt": get(run, "status", "completedAt") or "",
        "terminate": terminated,
        "args": [
            {"name": a.get("name"), "value": a.get("value") if "value" in a else "<valueFrom>"}
            for a in get(run, "spec", "args") or []
        ],
        "metrics": metrics,
    }


def _field(label: str, value: Cell, indent: str = "") -> Text:
    line = Text(f"{indent}{label:<{LABEL_WIDTH - len(indent)}}")
    line.append_text(value if isinstance(value, Text) else Text(value))
    line.rstrip()
    line.append("\n")
    return line


def _status(phase: str) -> Text:
    icon = icon_for(phase)
    return Text.assemble((icon, STYLES.get(icon, "")), " ", phase)


def _counts(counts: dict[str, int]) -> Text:
    parts = [
        Text.assemble((icon, STYLES.get(icon, "")), f" {counts[key]}")
        for icon, key in (("✔", "successful"), ("✖", "failed"), ("?", "inconclusive"), ("⚠", "error"))
    ]
    return Text(", ").join(parts)


def _limits_text(lim: dict[str, Any]) -> str:
    count = "unbounded" if lim["count"] is None else str(lim["count"])
    parts = [f"count {count}"]
    if lim["interval"]:
        parts.append(f"interval {lim['interval']}")
    if lim["initialDelay"]:
        parts.append(f"initialDelay {lim['initialDelay']}")
    parts.append(f"failureLimit {lim['failureLimit']}")
    parts.append(f"inconclusiveLimit {lim['inconclusiveLimit']}")
    parts.append(f"consecutiveErrorLimit {lim['consecutiveErrorLimit']}")
    if lim["consecutiveSuccessLimit"]:
        parts.append(f"consecutiveSuccessLimit {lim['consecutiveSuccessLimit']}")
    return ", ".join(parts)


def render_analysis_run(run: dict[str, Any]) -> Text:
    view = analysis_run_view(run)
    out = Text()
    out.append_text(_field("Name:", str(view["name"])))
    out.append_text(_field("Namespace:", str(view["namespace"])))
    out.append_text(_field("Status:", _status(str(view["phase"]))))
    if view["message"]:
        out.append_text(_field("Message:", str(view["message"])))
    if view["terminate"]:
        out.append_text(_field("Terminate:", "requested"))
    if view["startedAt"]:
        out.append_text(_field("Started:", str(view["startedAt"])))
    if view["completedAt"]:
        out.append_text(_field("Completed:", str(view["completedAt"])))
    for i, arg in enumerate(view["args"]):
        out.append_text(_field("Args:" if i == 0 else "", f"{arg['name']}={arg['value']}"))
    for metric in view["metrics"]:
        out.append("\n")
        name = str(metric["name"]) + (" (dry-run)" if metric["dryRun"] else "")
        out.append_text(_field("Metric:", name))
        out.append_text(_field("Status:", _status(str(metric["phase"])), "  "))
        if metric["reason"]:
            out.append_text(_field("Reason:", str(metric["reason"]), "  "))
        if metric["provider"]:
            label = "Query:" if metric["provider"] == "prometheus" else "Provider:"
            detail = (
                metric["query"] if label == "Query:" else f"{metric['provider']} {metric['query']}".strip()
            )
            out.append_text(_field(label, str(detail), "  "))
        out.append_text(_field("Success:", str(metric["successCondition"] or "-"), "  "))
        out.append_text(_field("Failure:", str(metric["failureCondition"] or "-"), "  "))
        out.append_text(_field("Limits:", _limits_text(metric["limits"]), "  "))
        out.append_text(_field("Measurements:", _counts(metric["counts"]), "  "))
        if metric["measurements"]:
            rows: list[list[Cell]] = [["    TIME", "VALUE", "STATUS", "MESSAGE"]]
            for m in metric["measurements"]:
                rows.append(
                    [
                        "    " + str(m["startedAt"] or "-"),
                        str(m["value"] or "-"),
                        _status(str(m["phase"])),
                        str(m["message"]),
                    ]
                )
            out.append_text(tabulate(rows))
    return out
