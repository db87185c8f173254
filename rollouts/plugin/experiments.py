"""`get experiment`, `list experiments`, `terminate experiment` (docs/semantics/plugin.md#experiment-commands).

Argo: pkg/kubectl-argo-rollouts/cmd/get/get_experiment.go, cmd/list/list_experiments.go,
cmd/terminate/terminate.go, pkg/kubectl-argo-rollouts/info/experiment_info.go. The tree is the Experiment, its
templates' ReplicaSets with their pods, and its AnalysisRuns, drawn as `get rollout` draws a revision.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import click
from rich.text import Text

from rollouts.kube.client import KubeClient
from rollouts.kube.errors import NotFound
from rollouts.kube.resources import ANALYSIS_RUNS, EXPERIMENTS, PODS, REPLICA_SETS
from rollouts.models.vocabulary import POD_TEMPLATE_HASH_LABEL
from rollouts.plugin.info import (
    AnalysisRunInfo,
    ReplicaSetInfo,
    _analysis_run_infos,
    _replicaset_infos,
    icon_for,
)
from rollouts.plugin.phases import age
from rollouts.plugin.render import Cell, _field, _join, _prefixes, _rs_rows, _run_rows, _t, tabulate
from rollouts.plugin.session import KubeFlags, Session, kube_flags, make_console, not_found, run_command

__all__ = [
    "ExperimentInfo",
    "build_experiment_info",
    "get_experiment",
    "list_experiments",
    "render_experiment",
]

ICON_EXPERIMENT = "Σ"


@dataclass
class ExperimentInfo:
    name: str
    namespace: str
    status: str
    icon: str
    message: str
    age: str
    images: list[str] = field(default_factory=list)
    replica_sets: list[ReplicaSetInfo] = field(default_factory=list)
    analysis_runs: list[AnalysisRunInfo] = field(default_factory=list)


def build_experiment_info(
    ex: dict[str, Any],
    replica_sets: list[dict[str, Any]],
    pods: list[dict[str, Any]],
    runs: list[dict[str, Any]],
    now: datetime,
) -> ExperimentInfo:
    """`NewExperimentInfo`: the Experiment and what it owns (by ownerReference)."""
    meta, status = ex.get("metadata") or {}, ex.get("status") or {}
    phase = str(status.get("phase") or "Pending")
    rss = _replicaset_infos(ex, replica_sets, pods, now)
    images = sorted({image for rs in rss for image in rs.images})
    return ExperimentInfo(
        name=str(meta.get("name") or ""),
        namespace=str(meta.get("namespace") or ""),
        status=phase,
        icon=icon_for(phase),
        message=str(status.get("message") or ""),
        age=age(ex, now),
        images=images,
        replica_sets=sorted(rss, key=lambda r: r.name),
        analysis_runs=_analysis_run_infos(ex, runs, now),
    )


def render_experiment(info: ExperimentInfo) -> Text:
    """The header (name, namespace, status, message, images), a blank line, the tree."""
    out = Text()
    out.append_text(_field("Name:", info.name))
    out.append_text(_field("Namespace:", info.namespace))
    out.append_text(_field("Status:", _join([_t(info.icon), " ", info.status])))
    if info.message:
        out.append_text(_field("Message:", info.message))
    for i, image in enumerate(info.images):
        out.append_text(_field("Images:" if i == 0 else "", image))
    out.append("\n")
    rows: list[list[Cell]] = [["NAME", "KIND", "STATUS", "AGE", "INFO"]]
    rows.append(
        [
            f"{ICON_EXPERIMENT} {info.name}",
            "Experiment",
            _join([_t(info.icon), " ", info.status]),
            info.age,
            "",
        ]
    )
    children: list[ReplicaSetInfo | AnalysisRunInfo] = [*info.replica_sets, *info.analysis_runs]
    for c, child in enumerate(children):
        prefix, sub = _prefixes(c == len(children) - 1, "")
        if isinstance(child, ReplicaSetInfo):
            rows.extend(_rs_rows(child, prefix, sub))
        else:
            rows.extend(_run_rows(child, prefix, sub))
    out.append_text(tabulate(rows))
    return out


async def read_experiment(client: KubeClient, namespace: str, name: str) -> ExperimentInfo:
    try:
        ex = await client.get(EXPERIMENTS, name, namespace)
    except NotFound:
        raise not_found(EXPERIMENTS, name) from None
    replica_sets, pods, runs = await asyncio.gather(
        client.list(REPLICA_SETS, namespace, label_selector=POD_TEMPLATE_HASH_LABEL),
        client.list(PODS, namespace, label_selector=POD_TEMPLATE_HASH_LABEL),
        client.list(ANALYSIS_RUNS, namespace),
    )
    return build_experiment_info(ex, replica_sets.items, pods.items, runs.items, datetime.now(UTC))


@click.command("experiment")
@click.argument("name")
@click.option("-w", "--watch", is_flag=True, help="Keep watching and redraw on every change.")
@click.option("--no-color", is_flag=True, help="Do not colourise the output.")
@kube_flags
def get_experiment(name: str, watch: bool, no_color: bool, flags: KubeFlags) -> None:
    """Show an experiment: its templates' ReplicaSets and pods, and its analysis runs.

    \b
    Example:
      kubectl rollouts get experiment rollout-experiment-6d4f8-2-1
    """
    console = make_console(no_color)

    async def body(s: Session) -> None:
        shown = None
        while True:
            info = await read_experiment(s.client, s.namespace, name)
            text = render_experiment(info)
            if text.plain != shown:
                console.print(text, end="")
                shown = text.plain
            if not watch:
                return
            await asyncio.sleep(1.0)

    run_command(flags, body)


@click.command("experiments")
@click.option("-A", "--all-namespaces", is_flag=True, help="List experiments of every namespace.")
@kube_flags
def list_experiments(all_namespaces: bool, flags: KubeFlags) -> None:
    """List experiments: NAME STATUS AGE (NAMESPACE first with -A).

    \b
    Example:
      kubectl rollouts list experiments
    """

    async def body(s: Session) -> None:
        items = (await s.client.list(EXPERIMENTS, None if all_namespaces else s.namespace)).items
        if not items:
            click.echo("No resources found.", err=True)
            return
        now = datetime.now(UTC)
        header: list[Cell] = [*(["NAMESPACE"] if all_namespaces else []), "NAME", "STATUS", "AGE"]
        rows: list[list[Cell]] = [header]
        for ex in sorted(items, key=lambda e: (e["metadata"].get("namespace", ""), e["metadata"]["name"])):
            phase = str((ex.get("status") or {}).get("phase") or "Pending")
            row: list[Cell] = [ex["metadata"].get("namespace", "")] if all_namespaces else []
            rows.append([*row, ex["metadata"]["name"], phase, age(ex, now)])
        click.echo(tabulate(rows).plain, nl=False)

    run_command(flags, body)
