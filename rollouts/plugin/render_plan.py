"""`rollouts plan`'s text: one plan (`rollouts.plugin.preview.build_plan`) printed for people with rich.

Part of the `rollouts plan` command (`rollouts.plugin.planning`); the plan itself is pure and built in the
strategy core, this module only lays it out (a table of the canary steps, the blue-green sequence, warnings).
"""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from rollouts.plugin.preview import args_text, duration_text

__all__ = ["render_text"]

JSON = dict[str, Any]


def render_text(p: JSON, console: Console) -> None:
    """Print one plan for people."""
    count = p["replicas"]
    head = f"Rollout {p['namespace']}/{p['rollout']}: {p['strategy']}, {count} replica{'' if count == 1 else 's'}"
    if p["strategy"] == "canary":
        routing = ", ".join(p["trafficRouting"]) or "none (weights approximated by pod counts)"
        console.print(f"{head}, traffic routing: {routing}")
        console.print(
            f"services: canary {p['services']['canary'] or '-'}, stable {p['services']['stable'] or '-'}; "
            f"maxSurge {p['maxSurge']}, maxUnavailable {p['maxUnavailable']}"
        )
        table = Table(box=box.SIMPLE, show_edge=False, pad_edge=False)
        for col, justify in (
            ("#", "right"),
            ("step", "left"),
            ("canary pods", "right"),
            ("stable pods", "right"),
        ):
            # only the step and the note wrap: measuring wrappable cells is most of a long table's time
            table.add_column(col, justify=justify, no_wrap=col != "step")  # type: ignore[arg-type]
        table.add_column("traffic canary/stable", justify="right", no_wrap=True)
        table.add_column("note")
        for row in p["steps"]:
            t = row["traffic"]
            traffic = f"{t['canary']}/{t['stable']}" + (" ≈" if t.get("byPodCount") else "")
            notes = []
            if t.get("experiment"):
                traffic += " + " + " + ".join(str(w) for w in t["experiment"].values())
            if row.get("experimentPods"):
                pods = ", ".join(
                    f"{name} {e['replicas']} ({e['specRef']}"
                    + (f", {t['experiment'][name]} %" if name in t.get("experiment", {}) else "")
                    + ")"
                    for name, e in row["experimentPods"].items()
                )
                notes.append(f"experiment pods: {pods}")
            if row.get("analysis"):
                notes.append(args_text(row["analysis"]["args"]).strip(" ()"))
            if row.get("backgroundAnalysisStarts"):
                notes.append("background analysis starts")
            note = "; ".join(n for n in notes if n)
            table.add_row(
                str(row["index"]), row["step"], str(row["canaryPods"]), str(row["stablePods"]), traffic, note
            )
        promo = p["promotion"]
        table.add_row(
            "",
            "promote",
            str(promo["canaryPods"]),
            str(promo["stablePods"]),
            "100/0" if p["trafficRouting"] else "100/0 ≈",
            "new pods become stable",
        )
        console.print(table)
        bg = p.get("backgroundAnalysis")
        if bg:
            names = ", ".join(t["name"] for t in bg["templates"])
            console.print(
                f"background analysis: {names}{args_text(bg['args'])}, from step {bg['startingStep']}"
            )
        delay = promo["scaleDownDelaySeconds"]
        if delay:
            console.print(f"after promotion the old ReplicaSet is scaled down after {duration_text(delay)}")
        waits = p["waitsFor"]
        console.print(
            f"timed pauses total {duration_text(p['minimumPauseSeconds'])}"
            + (f"; also waits for: {', '.join(waits)}" if waits else "")
        )
        console.print(f"on abort: {p['onAbort']['step']}")
    else:
        console.print(f"{head}, active {p['services']['active']}, preview {p['services']['preview'] or '-'}")
        for i, item in enumerate(p["sequence"], 1):
            console.print(f"  {i}. {item['step']}")
        console.print(f"on abort: {p['onAbort']['step']}")
    for warning in p.get("warnings") or ():
        console.print(f"warning: {warning}", soft_wrap=True)
