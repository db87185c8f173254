"""The `rollouts demo` command: argument handling, the run, the summary and the exit status."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from rollouts.demo.prometheus import INSTALL_HINT

SCENARIO_CHOICES = ("canary", "bad-canary", "experiment", "bluegreen", "all")


@click.command(
    epilog="\b\nExamples:\n  rollouts demo\n  rollouts demo --scenario bad-canary --speed 60\n"
    "  rollouts demo --keep\n"
    "  # and meanwhile, in another terminal:\n"
    "  kubectl rollouts --kubeconfig <printed path> -n production list rollouts"
)
@click.option(
    "--scenario",
    type=click.Choice(SCENARIO_CHOICES),
    default="all",
    show_default=True,
    help="canary: a good release promoted step by step; bad-canary: a bad release aborted by analysis; "
    "experiment: the bad release judged by an experiment (baseline against canary); "
    "bluegreen: preview, smoke tests, promotion; all: the four in order.",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=1.0, max=600.0),
    default=30.0,
    show_default=True,
    help="Divide the guide's durations (pauses, analysis intervals, rate windows, delays) by this factor.",
)
@click.option("--keep", is_flag=True, help="Leave everything running at the end, until Ctrl-C.")
@click.option("--no-color", is_flag=True, help="No colours (also NO_COLOR, TERM=dumb or a non-terminal).")
@click.option("--no-live", is_flag=True, hidden=True, help="Do not draw the live tree (for logs).")
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the outcome as JSON.",
)
def demo(
    scenario: str, speed: float, keep: bool, no_color: bool, no_live: bool, report_path: Path | None
) -> None:
    """Run the whole system on this machine: the embedded Kubernetes sandbox, the controller, a traffic
    simulator and a real Prometheus, with the Argo Rollouts manifests of the GitOps guide.

    A good release of `api-server` is promoted 5 → 20 → 50 → 80 → 100 % on live metrics; a bad one is caught
    by analysis and rolled back (Degraded), then caught again by an Experiment that compares it with a baseline;
    `web-frontend` goes blue-green with smoke tests and a promotion.
    Exits 0 when every scenario ends as expected, 1 otherwise, 2 when Prometheus is missing.
    """
    if shutil.which("prometheus") is None:
        click.echo(f"Error: the demo needs Prometheus. Install it with: {INSTALL_HINT}", err=True)
        sys.exit(2)
    from rollouts.demo.running import Settings

    color = not no_color and sys.stdout.isatty()
    # A log or a pipe has no width: use a wide one rather than cutting the summary at 80 columns.
    console = Console(
        no_color=not color, highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 130
    )
    settings = Settings(
        scenario=scenario, speed=speed, keep=keep, color=color, live=color and not no_live, console=console
    )
    try:
        report = asyncio.run(_run(settings))
    except KeyboardInterrupt:
        console.print("interrupted; everything was stopped")
        sys.exit(130)
    if report_path is not None:
        report_path.write_text(json.dumps(report.to_json(), indent=2, default=str))
    sys.exit(0 if report.ok else 1)


async def _run(settings: Any) -> Any:
    from rollouts.demo.running import SCENARIOS, Demo, DemoError, Outcome
    from rollouts.demo.scenarios import release_bluegreen, release_canary, release_experiment

    demo_ = Demo(settings)
    console = demo_.console
    try:
        await demo_.start()
        wanted = SCENARIOS if settings.scenario == "all" else (settings.scenario,)
        for name in wanted:
            console.rule(name)
            try:
                if name == "canary":
                    outcome = await release_canary(demo_, "v2.1.0", good=True)
                elif name == "bad-canary":
                    outcome = await release_canary(demo_, "v2.2.0", good=False)
                elif name == "experiment":
                    outcome = await release_experiment(demo_)
                else:
                    outcome = await release_bluegreen(demo_)
            except DemoError as e:
                outcome = Outcome(name, "", "", "Error", False, str(e))
                demo_.say(f"{name}: {e}")
            demo_.report.outcomes.append(outcome)
        demo_.report.objects = _snapshot(demo_)
        _summary(console, demo_.report)
        if settings.keep:
            console.print(
                "everything is still running (--keep): the dashboard is at "
                f"{demo_.report.urls.get('dashboard')}; press Ctrl-C to stop"
            )
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.Event().wait()
    finally:
        await demo_.stop(keep_logs=not demo_.report.ok)
    return demo_.report


def _snapshot(demo_: Any) -> dict[str, Any]:
    objects: dict[str, Any] = {}
    for kind, names in {
        "Rollout": ["api-server", "web-frontend"],
        "VirtualService": ["api-server-vsvc"],
        "Service": ["api-server-stable", "api-server-canary", "web-frontend-active", "web-frontend-preview"],
    }.items():
        for name in names:
            obj = demo_.obj(kind, name)
            if obj is not None:
                objects[f"{kind}/{name}"] = obj
    for rs in demo_.sandbox.list("apps/v1", "ReplicaSet", "production"):
        objects[f"ReplicaSet/{rs['metadata']['name']}"] = rs
    for ex in demo_.sandbox.list("argoproj.io/v1alpha1", "Experiment", "production"):
        objects[f"Experiment/{ex['metadata']['name']}"] = ex
    return objects


def _summary(console: Console, report: Any) -> None:
    table = Table(title="What happened", show_lines=False)
    for col in ("scenario", "release", "result", "new version's share of traffic", "took"):
        table.add_column(col, no_wrap=True)
    for o in report.outcomes:
        shares = " → ".join(f"{s}%" for s in o.weights) if o.weights else "-"
        result = ("✔ " if o.ok else "✖ ") + o.phase
        table.add_row(o.scenario, f"{o.rollout} {o.release}", result, shares, f"{o.seconds:.0f}s")
    console.print(table)
    for o in report.outcomes:
        if o.message:
            console.print(f"why {o.scenario} ended {o.phase}: {o.message}")
    total = report.story[-1].at if report.story else 0.0
    console.print(f"{'all scenarios ended as expected' if report.ok else 'NOT as expected'} in {total:.0f}s")


__all__ = ["demo"]
