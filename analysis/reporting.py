"""How `rollouts analyze` shows a finished run: rich tables for people, the status JSON for programs.

The last stage of the CLI: it takes the `AnalysisRunStatus` the runner produced and renders, per metric, a
table of measurement time, value and phase (with the error or condition message when there is one), then
the verdict, when it was reached and why. Colour only on a terminal, never with `NO_COLOR` (rich honours both).
Exit codes: 0 Successful, 1 Failed, 3 Error, 4 Inconclusive (2 is bad input, raised earlier).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import IO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from analysis.durations import format_go_duration
from analysis.models import AnalysisPhase, AnalysisRunStatus, Measurement
from analysis.wire import format_time

__all__ = ["EXIT_CODES", "exit_code", "render_json", "render_text"]

EXIT_CODES: dict[AnalysisPhase, int] = {
    AnalysisPhase.SUCCESSFUL: 0,
    AnalysisPhase.FAILED: 1,
    AnalysisPhase.ERROR: 3,
    AnalysisPhase.INCONCLUSIVE: 4,
}

_STYLE = {
    AnalysisPhase.SUCCESSFUL: "green",
    AnalysisPhase.FAILED: "red",
    AnalysisPhase.ERROR: "magenta",
    AnalysisPhase.INCONCLUSIVE: "yellow",
    AnalysisPhase.RUNNING: "cyan",
    AnalysisPhase.PENDING: "dim",
}


def exit_code(status: AnalysisRunStatus) -> int:
    """The process exit code for a finished run (a run still Running/Pending counts as Inconclusive)."""
    return EXIT_CODES.get(status.phase or AnalysisPhase.INCONCLUSIVE, 4)


def _when(value: datetime | None) -> str:
    return format_time(value) if value else "-"


def _phase(phase: AnalysisPhase | None) -> Text:
    if phase is None:
        return Text("-")
    return Text(phase.value, style=_STYLE.get(phase, ""))


def render_text(
    status: AnalysisRunStatus,
    out: IO[str],
    *,
    title: str = "",
    history: Mapping[str, Sequence[Measurement]] | None = None,
) -> None:
    """Per metric a table (time, value, phase, message), then `Verdict: <phase> at <time>: <reason>`.

    `history` gives every measurement per metric (the status keeps only the last 10); default: the status'.
    """
    console = Console(file=out, highlight=False, soft_wrap=True)
    if title:
        console.print(Text(title, style="bold"))
    for result in status.metric_results or []:
        dry = " (dry run)" if result.dry_run else ""
        header = Text.assemble(
            ("Metric ", "bold"),
            (result.name, "bold"),
            (dry, ""),
            ": ",
            _phase(result.phase),
            f"  (measurements {result.count}, successful {result.successful}, failed {result.failed}, "
            f"inconclusive {result.inconclusive}, errors {result.error})",
        )
        console.print(header)
        if result.metadata and "ResolvedPrometheusQuery" in result.metadata:
            query = " ".join(result.metadata["ResolvedPrometheusQuery"].split())
            console.print(Text(f"  query: {query}", style="dim"))
        measurements = (history or {}).get(result.name) or result.measurements
        messages = any(m.message for m in measurements)
        table = Table(show_edge=False, box=None, pad_edge=False, padding=(0, 2, 0, 2))
        table.add_column("time")
        table.add_column("value")
        table.add_column("phase")
        if messages:
            table.add_column("message", overflow="fold")
        for m in measurements:
            row: list[str | Text] = [_when(m.finished_at or m.started_at), m.value or "", _phase(m.phase)]
            if messages:
                row.append(m.message or "")
            table.add_row(*row)
        if measurements:
            console.print(table)
        else:
            console.print("  (no measurement)")
        if result.message:
            console.print(Text(f"  {result.message}", style="dim"))
        console.print()
    phase = status.phase
    verdict = Text.assemble(("Verdict: ", "bold"), _phase(phase))
    if status.completed_at is not None:
        verdict.append(f" at {_when(status.completed_at)}")
        if status.started_at is not None and status.completed_at > status.started_at:
            verdict.append(f" (after {format_go_duration(status.completed_at - status.started_at)})")
    if status.message:
        verdict.append(f": {status.message}")
    console.print(verdict)


def render_json(status: AnalysisRunStatus, out: IO[str]) -> None:
    """The AnalysisRun status in wire form (camelCase, RFC 3339 times), indented."""
    out.write(json.dumps(status.to_wire(), indent=2) + "\n")
