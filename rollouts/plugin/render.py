"""Drawing for the plugin: the `get rollout` header and tree, the `list rollouts` table (docs/semantics/plugin.md#get-rollout-output).

Turns `info.RolloutInfo` (and rollout dicts, for the list) into `rich.text.Text`: the plain text is exactly
Argo's layout (17-column header labels, a tab-aligned tree with 2-space padding, the same icons), and colours
ride along as styles, so the same `Text` prints coloured on a terminal and plain with `--no-color`, `NO_COLOR`,
`TERM=dumb` or into a pipe (`console.py` decides). The analysis run page lives in `render_analysis.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from rich.text import Text

from rollouts.models.vocabulary import format_time
from rollouts.plugin.info import AnalysisRunInfo, ExperimentNode, ImageInfo, ReplicaSetInfo, RolloutInfo
from rollouts.plugin.phases import current_set_weight, get, rollout_phase, step_text

__all__ = ["Cell", "list_rows", "render_list", "render_rollout", "tabulate"]

# Colours (Argo cmd/get/get.go colorMapping)
STYLES: dict[str, str] = {
    "◷": "yellow",
    "◌": "bright_blue",
    "⚠": "red",
    "?": "yellow",
    "✔": "green",
    "✖": "red",
    "canary": "yellow",
    "stable": "green",
    "active": "green",
    "preview": "bright_blue",
    "ping": "bright_blue",
    "pong": "bright_blue",
    "Pending": "bright_blue",
    "Running": "bright_blue",
}

ICON_ROLLOUT, ICON_REVISION, ICON_RS, ICON_POD, ICON_JOB, ICON_ANALYSIS = "⟳", "#", "⧉", "□", "⊞", "α"
LABEL_WIDTH = 17

Cell = Text | str


def _t(s: str, style_key: str | None = None) -> Text:
    """`s`, coloured as Argo colours the word `style_key` (default: `s` itself)."""
    return Text(s, style=STYLES.get(style_key if style_key is not None else s, ""))


def _join(parts: Sequence[Cell], sep: str = "") -> Text:
    out = Text()
    for i, part in enumerate(parts):
        if i:
            out.append(sep)
        out.append(part if isinstance(part, Text) else Text(part))
    return out


def tabulate(rows: Sequence[Sequence[Cell]], padding: int = 2) -> Text:
    """Go's text/tabwriter (minwidth 0, padding 2, pad ' '): every cell but a row's last is padded to its
    column's widest cell + padding; width is counted in characters (runes), as tabwriter does. Trailing
    blanks are stripped from each line."""
    widths: list[int] = []
    for row in rows:
        for j, cell in enumerate(row[:-1]):
            n = len(cell.plain if isinstance(cell, Text) else cell)
            if j == len(widths):
                widths.append(n)
            else:
                widths[j] = max(widths[j], n)
    out = Text()
    for row in rows:
        line = Text()
        for j, cell in enumerate(row):
            cell_t = cell if isinstance(cell, Text) else Text(cell)
            line.append_text(cell_t)
            if j < len(row) - 1:
                line.append(" " * (widths[j] + padding - len(cell_t.plain)))
        line.rstrip()
        out.append_text(line)
        out.append("\n")
    return out


def _field(label: str, value: Cell) -> Text:
    line = Text(f"{label:<{LABEL_WIDTH}}")
    line.append_text(value if isinstance(value, Text) else Text(str(value)))
    line.rstrip()
    line.append("\n")
    return line


def _image(image: ImageInfo) -> Text:
    if not image.tags:
        return Text(image.image)
    return _join([image.image, " (", _join([_t(tag) for tag in image.tags], ", "), ")"])


def render_header(ri: RolloutInfo) -> Text:
    out = Text()
    out.append_text(_field("Name:", ri.name))
    out.append_text(_field("Namespace:", ri.namespace))
    out.append_text(_field("Status:", _join([_t(ri.icon), " ", ri.status])))
    if ri.message:
        out.append_text(_field("Message:", ri.message))
    out.append_text(_field("Strategy:", ri.strategy))
    if ri.strategy == "Canary":
        out.append_text(_field("  Step:", ri.step))
        out.append_text(_field("  SetWeight:", ri.set_weight))
        out.append_text(_field("  ActualWeight:", ri.actual_weight))
    for i, image in enumerate(ri.images):
        out.append_text(_field("Images:" if i == 0 else "", _image(image)))
    out.append("Replicas:\n")
    for label, value in (
        ("Desired", ri.desired),
        ("Current", ri.current),
        ("Updated", ri.updated),
        ("Ready", ri.ready),
        ("Available", ri.available),
    ):
        out.append_text(_field(f"  {label}:", str(value)))
    return out


def _prefixes(is_last: bool, sub: str) -> tuple[str, str]:
    return (sub + "└──", sub + "   ") if is_last else (sub + "├──", sub + "│  ")


def _rs_rows(rs: ReplicaSetInfo, prefix: str, sub: str) -> list[list[Cell]]:
    tags: list[Text] = []
    name = Text(rs.name)
    for tag, on in (("stable", rs.stable),):
        if on:
            tags.append(_t(tag))
            name = _t(rs.name, tag)
    for tag, on in (("canary", rs.canary), ("active", rs.active), ("preview", rs.preview)):
        if on:
            tags.append(_t(tag))
            name = _t(rs.name, tag)
            break
    for tag, on in (("ping", rs.ping), ("pong", rs.pong)):
        if on:
            tags.append(_t(tag))
            name = _t(rs.name, tag)
    info: list[Cell] = list(tags)
    if rs.delay:
        info.append(f"delay:{rs.delay}")
    rows: list[list[Cell]] = [
        [
            _join([f"{prefix}{ICON_RS} ", name]),
            "ReplicaSet",
            _join([_t(rs.icon), " ", rs.status]),
            rs.age,
            _join(info, ","),
        ]
    ]
    for i, pod in enumerate(rs.pods):
        pod_prefix, _ = _prefixes(i == len(rs.pods) - 1, sub)
        cols = [f"ready:{pod.ready}"] + ([f"restarts:{pod.restarts}"] if pod.restarts > 0 else [])
        rows.append(
            [
                f"{pod_prefix}{ICON_POD} {pod.name}",
                "Pod",
                _join([_t(pod.icon), " ", pod.status]),
                pod.age,
                ",".join(cols),
            ]
        )
    return rows


def _run_rows(ar: AnalysisRunInfo, prefix: str, sub: str) -> list[list[Cell]]:
    counts: list[Cell] = [
        _join([_t(icon), f" {n}"])
        for icon, n in (("✔", ar.successful), ("✖", ar.failed), ("?", ar.inconclusive), ("⚠", ar.error))
        if n > 0
    ]
    rows: list[list[Cell]] = [
        [
            _join([f"{prefix}{ICON_ANALYSIS} ", _t(ar.name, ar.status)]),
            "AnalysisRun",
            _join([_t(ar.icon), " ", ar.status]),
            ar.age,
            _join(counts, ","),
        ]
    ]
    for i, job in enumerate(ar.jobs):
        job_prefix, _ = _prefixes(i == len(ar.jobs) - 1, sub)
        rows.append(
            [
                _join([f"{job_prefix}{ICON_JOB} ", _t(job.name, job.status)]),
                "Job",
                _join([_t(job.icon), " ", job.status]),
                job.age,
                "",
            ]
        )
    return rows


ICON_EXPERIMENT = "Σ"


def experiment_rows(ex: ExperimentNode, prefix: str, sub: str) -> list[list[Cell]]:
    """An Experiment and, below it, its ReplicaSets (with their pods) and runs."""
    rows: list[list[Cell]] = [
        [
            _join([f"{prefix}{ICON_EXPERIMENT} ", _t(ex.name, ex.status)]),
            "Experiment",
            _join([_t(ex.icon), " ", ex.status]),
            ex.age,
            "",
        ]
    ]
    children: list[ReplicaSetInfo | AnalysisRunInfo] = [*ex.replica_sets, *ex.analysis_runs]
    for c, child in enumerate(children):
        child_prefix, child_sub = _prefixes(c == len(children) - 1, sub)
        if isinstance(child, ReplicaSetInfo):
            rows.extend(_rs_rows(child, child_prefix, child_sub))
        else:
            rows.extend(_run_rows(child, child_prefix, child_sub))
    return rows


def render_tree(ri: RolloutInfo) -> Text:
    rows: list[list[Cell]] = [["NAME", "KIND", "STATUS", "AGE", "INFO"]]
    rows.append([f"{ICON_ROLLOUT} {ri.name}", "Rollout", _join([_t(ri.icon), " ", ri.status]), ri.age, ""])
    revisions = ri.revisions()
    for r, revision in enumerate(revisions):
        prefix, sub = _prefixes(r == len(revisions) - 1, "")
        rows.append([f"{prefix}{ICON_REVISION} revision:{revision}", "", " ", "", ""])
        children: list[ReplicaSetInfo | ExperimentNode | AnalysisRunInfo] = [
            rs for rs in ri.replica_sets if rs.revision == revision
        ]
        children += [ex for ex in ri.experiments if ex.revision == revision]
        children += [ar for ar in ri.analysis_runs if ar.revision == revision]
        for c, child in enumerate(children):
            child_prefix, child_sub = _prefixes(c == len(children) - 1, sub)
            if isinstance(child, ReplicaSetInfo):
                rows.extend(_rs_rows(child, child_prefix, child_sub))
            elif isinstance(child, ExperimentNode):
                rows.extend(experiment_rows(child, child_prefix, child_sub))
            else:
                rows.extend(_run_rows(child, child_prefix, child_sub))
    return tabulate(rows)


def render_rollout(ri: RolloutInfo) -> Text:
    """`get rollout`: the header, a blank line, the tree."""
    out = render_header(ri)
    out.append("\n")
    out.append_text(render_tree(ri))
    return out


# ---- list rollouts -------------------------------------------------------------------------------------------

LIST_HEADER = [
    "NAME",
    "STRATEGY",
    "STATUS",
    "STEP",
    "SET-WEIGHT",
    "READY",
    "DESIRED",
    "UP-TO-DATE",
    "AVAILABLE",
]


def list_rows(ro: dict[str, Any]) -> dict[str, Any]:
    """The columns of one `list rollouts` line (Argo cmd/list/rollloutinfo.go), as a dict for -o json."""
    strategy, step, weight = "unknown", "-", "-"
    if get(ro, "spec", "strategy", "canary") is not None:
        strategy = "Canary"
        step = step_text(ro) or "-"
        weight = str(current_set_weight(ro))
    elif get(ro, "spec", "strategy", "blueGreen") is not None:
        strategy = "BlueGreen"
    status = ro.get("status") or {}
    replicas = get(ro, "spec", "replicas")
    return {
        "namespace": get(ro, "metadata", "namespace") or "",
        "name": get(ro, "metadata", "name") or "",
        "strategy": strategy,
        "status": rollout_phase(ro)[0],
        "step": step,
        "setWeight": weight,
        "ready": f"{int(status.get('readyReplicas') or 0)}/{int(status.get('replicas') or 0)}",
        "desired": int(replicas) if replicas is not None else 1,
        "upToDate": int(status.get("updatedReplicas") or 0),
        "available": int(status.get("availableReplicas") or 0),
    }


def _list_cells(row: dict[str, Any], namespaces: bool, timestamp: str | None) -> list[Cell]:
    cells: list[Cell] = [
        f"{row['name']:<10}",
        f"{row['strategy']:<9}",
        f"{row['status']:<12}",
        f"{row['step']:<4}",
        f"{row['setWeight']:<10}",
        f"{row['ready']:<5}",
        f"{row['desired']:<7}",
        f"{row['upToDate']:<10}",
        f"{row['available']:<9}",
    ]
    if namespaces:
        cells.insert(0, f"{row['namespace']:<9}")
    if timestamp is not None:
        cells.insert(0, f"{timestamp:<20}")
    return cells


def render_list(
    rollouts: Sequence[dict[str, Any]],
    *,
    namespaces: bool = False,
    timestamps: bool = False,
    now: datetime | None = None,
) -> Text:
    """`list rollouts`: the header and one line per rollout, tab-aligned like Argo's table."""
    header: list[Cell] = list(LIST_HEADER)
    if namespaces:
        header.insert(0, "NAMESPACE")
    stamp = None
    if timestamps:
        header.insert(0, "TIMESTAMP")
        stamp = format_time(now or datetime.now(UTC))
    rows = [header] + [_list_cells(list_rows(ro), namespaces, stamp) for ro in rollouts]
    return tabulate(rows)
