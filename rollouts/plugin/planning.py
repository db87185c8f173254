"""`rollouts plan -f FILE`: read a file, validate its Rollouts as the controller does, print their plans.

The command around the pure plan (`rollouts.plugin.preview`), printed by `rollouts.plugin.render_plan`. The file is read by `analysis.reading`
(bounded, UTF-8, `kind: List` expanded, ``-`` for stdin); a Rollout's `status` (as `kubectl get -o yaml` writes
it) is not read. Validation is the controller's (`rollouts.validation.load_rollout`): an invalid Rollout exits 2
with one line naming the file, the Rollout and the field. What the controller refuses or ignores
(`rollouts.support`, and the metric providers of the templates of the same file the Rollout runs,
`analysis.providers.registry`) is printed with the plan as warnings, in the controller's words.

Exit codes: 0 the plans were printed, 2 bad input (the file, a Rollout), as click's usage errors.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from typing import Any, NoReturn

import click
from rich.console import Console

from analysis.models import AnalysisTemplate, ClusterAnalysisTemplate
from analysis.providers.registry import provider_findings
from analysis.reading import ReadError, one_line, read_documents
from rollouts.models import Rollout
from rollouts.plugin.preview import build_plan
from rollouts.plugin.render_plan import render_text
from rollouts.support import rollout_findings
from rollouts.validation import load_rollout

__all__ = ["plan", "plan_warnings"]

REFUSED = "the controller refuses this Rollout (InvalidSpec): "


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {one_line(message)}", err=True)
    sys.exit(2)


def _template_refs(ro: Rollout) -> Iterator[tuple[str, bool]]:
    """(templateName, clusterScope) of every analysis the Rollout runs."""
    analyses = [step.analysis for step in ro.spec.steps if step.analysis is not None]
    canary, blue_green = ro.spec.strategy.canary, ro.spec.strategy.blue_green
    if canary is not None and canary.analysis is not None:
        analyses.append(canary.analysis)
    if blue_green is not None:
        analyses += [a for a in (blue_green.pre_promotion_analysis, blue_green.post_promotion_analysis) if a]
    for analysis in analyses:
        for ref in analysis.templates or ():
            yield ref.template_name, ref.is_cluster_scope


def plan_warnings(ro: Rollout, document: Mapping[str, Any], others: list[Any]) -> list[str]:
    """What the controller refuses or ignores in this Rollout, and in the templates of the file it runs."""
    warnings = [(REFUSED if f.refused else "") + f.message for f in rollout_findings(document)]
    wanted = set(_template_refs(ro))
    for doc in others:
        kind = doc.get("kind") if isinstance(doc, dict) else None
        if kind not in ("AnalysisTemplate", "ClusterAnalysisTemplate"):
            continue
        name = (doc.get("metadata") or {}).get("name") if isinstance(doc.get("metadata"), dict) else None
        if (name, kind == "ClusterAnalysisTemplate") not in wanted:
            continue
        try:
            model = AnalysisTemplate if kind == "AnalysisTemplate" else ClusterAnalysisTemplate
            template = model.model_validate(doc)
        except ValueError:
            continue  # `lint` names what is wrong with it; the plan is about the Rollout
        warnings += [f'{kind} "{name}": {w}' for w in provider_findings(template.spec.metrics)]
    return warnings


@click.command(
    name="plan",
    epilog="\b\nExamples:\n  rollouts plan -f examples/istio-canary/rollout.yaml\n"
    "  rollouts plan -f rollout.yaml --replicas 3\n"
    "  rollouts plan -f rollout.yaml -o json | jq '.steps[0]'",
)
@click.option(
    "-f", "--filename", "path", required=True, metavar="FILE", help="Rollout manifest ('-' for stdin)."
)
@click.option(
    "--replicas",
    type=click.IntRange(min=0, max=2**31 - 1),
    default=None,
    help="Plan for this many replicas instead.",
)
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def plan(path: str, replicas: int | None, output: str) -> None:
    """Print, without a cluster, what a Rollout will do step by step.

    Every Rollout of the file is validated as the controller validates it; an invalid one exits 2 naming the
    field. Features the controller refuses or ignores are printed as warnings with the plan.
    """
    try:
        documents = read_documents(path)
    except ReadError as e:
        _fail(str(e))
    rollouts = [d for d in documents if isinstance(d, dict) and d.get("kind") == "Rollout"]
    if not rollouts:
        _fail(f"{path}: no Rollout (kind: Rollout) found")
    others = [d for d in documents if not (isinstance(d, dict) and d.get("kind") == "Rollout")]
    plans = []
    for doc in rollouts:
        body = {k: v for k, v in doc.items() if k != "status"}
        ro, errors = load_rollout(body)
        if errors or ro is None:
            meta = doc.get("metadata")
            who = (
                meta.get("name")
                if isinstance(meta, dict) and isinstance(meta.get("name"), str)
                else "Rollout"
            )
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            _fail(f"{path}: Rollout {who}: {errors[0]}{more}")
        warnings = [one_line(w) for w in plan_warnings(ro, body, others)]
        plans.append(build_plan(ro, replicas, warnings))
    if output == "json":
        click.echo(json.dumps(plans[0] if len(plans) == 1 else plans, indent=2))
        return
    tty = sys.stdout.isatty()
    console = Console(no_color=not tty, highlight=False, markup=False, width=None if tty else 120)
    with console.capture() as captured:
        for i, p in enumerate(plans):
            if i:
                console.print()
            render_text(p, console)
    text = captured.get()
    if not tty:  # no table padding at line ends in files and pull-request comments
        text = "\n".join(line.rstrip() for line in text.splitlines()) + "\n"
    click.echo(text, nl=False)
