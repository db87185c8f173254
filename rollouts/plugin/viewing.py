"""Read-only commands: `get rollout`, `get analysisrun`, `list rollouts`, `status` (docs/semantics/plugin.md#get-rollout-output).

Each reads only what it shows (`fetching.py`), builds the view (`info.py`), and prints it with `render*.py`
— or as JSON/YAML with `-o`. `-w` keeps watching and redraws in place, at most every 200 ms.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import click
import yaml
from rich.console import Console
from rich.text import Text

from rollouts.kube.errors import Gone, NotFound
from rollouts.kube.resources import ANALYSIS_RUNS, ROLLOUTS
from rollouts.models.vocabulary import RolloutPhase
from rollouts.plugin.experiments import get_experiment, list_experiments
from rollouts.plugin.fetching import Tree, read_tree, watch_tree
from rollouts.plugin.info import build_rollout_info
from rollouts.plugin.phases import rollout_phase
from rollouts.plugin.render import list_rows, render_list, render_rollout
from rollouts.plugin.render_analysis import analysis_run_view, render_analysis_run
from rollouts.plugin.session import (
    AliasGroup,
    KubeFlags,
    PluginError,
    Session,
    is_terminal,
    kube_flags,
    make_console,
    not_found,
    parse_duration,
    run_command,
)

__all__ = ["get", "list_", "status"]

REDRAW_INTERVAL = 0.2  # seconds: at most five redraws a second (Argo's anti-flicker throttle)
OUTPUT = click.option(
    "-o", "--output", type=click.Choice(["json", "yaml"]), help="Print machine-readable JSON or YAML instead."
)


def dump(value: Any, output: str) -> str:
    if output == "json":
        return json.dumps(value, indent=2, default=str)
    return yaml.safe_dump(value, sort_keys=False, default_flow_style=False).rstrip("\n")


def _now() -> datetime:
    return datetime.now(UTC)


async def _throttled_loop(
    changed: asyncio.Event,
    worker: asyncio.Task[Any],
    draw: Callable[[], bool],
    limit_seconds: float,
) -> None:
    """Call `draw()` after changes, at most every REDRAW_INTERVAL, until `draw` returns True, the watch task
    fails, or `limit_seconds` pass (0 = forever)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_seconds if limit_seconds > 0 else None
    last = 0.0
    while True:
        remaining = None if deadline is None else deadline - loop.time()
        if remaining is not None and remaining <= 0:
            return
        waiter = asyncio.ensure_future(changed.wait())
        done, _ = await asyncio.wait({waiter, worker}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if worker in done:
            worker.result()  # raises the watch's failure
            return
        if waiter not in done:
            return  # timed out
        pause = last + REDRAW_INTERVAL - loop.time()
        if pause > 0:
            await asyncio.sleep(pause if remaining is None else min(pause, max(remaining, 0)))
        changed.clear()
        last = loop.time()
        if draw():
            return


# ---- get ------------------------------------------------------------------------------------------------------


@click.group(cls=AliasGroup)
def get() -> None:
    """Show a rollout as a tree of revisions, ReplicaSets, pods and analysis runs, one analysis run, or an
    experiment.

    \b
    Tree icons: ⟳ Rollout  Σ Experiment  # revision  ⧉ ReplicaSet  □ Pod  α AnalysisRun  ⊞ Job
    Status icons: ✔ Healthy/Successful  ◌ Progressing/Running  ॥ Paused  ✖ Degraded/Failed
                  ⚠ Error  ? Inconclusive  • ScaledDown  ◷ Pending

    \b
    Examples:
      kubectl rollouts get rollout guestbook
      kubectl rollouts get rollout guestbook -w
      kubectl rollouts get analysisrun guestbook-6d4f8-2-1
      kubectl rollouts get experiment guestbook-6d4f8-2-1
    """


@click.command("rollout")
@click.argument("name")
@click.option("-w", "--watch", is_flag=True, help="Keep watching and redraw on every change.")
@click.option("--no-color", is_flag=True, help="Do not colourise the output.")
@click.option(
    "--timeout-seconds",
    type=click.IntRange(min=0),
    default=0,
    metavar="N",
    help="Stop watching after N seconds.",
)
@OUTPUT
@kube_flags
def get_rollout(
    name: str, watch: bool, no_color: bool, timeout_seconds: int, output: str | None, flags: KubeFlags
) -> None:
    """Show a rollout: status, strategy, step and weights, images, replicas, and the tree of what it owns.

    \b
    Examples:
      # Show a rollout
      kubectl rollouts get rollout guestbook
      # Watch it progress, for at most 60 seconds
      kubectl rollouts get rollout guestbook -w --timeout-seconds 60
    """
    console = make_console(no_color)
    terminal = is_terminal(console.file)

    def show(tree: Tree, first: bool) -> None:
        ro, rss, pods, runs, experiments = tree.lists()
        info = build_rollout_info(ro, rss, pods, runs, _now(), experiments)
        if output:
            console.print(Text(dump(asdict(info), output)))
            return
        if not first:
            if terminal:
                console.clear()
            else:
                console.print()
        console.print(render_rollout(info), end="")

    async def body(s: Session) -> None:
        try:
            tree = await read_tree(s.client, s.namespace, name)
        except NotFound:
            raise not_found(ROLLOUTS, name) from None
        show(tree, True)
        if not watch:
            return
        changed = asyncio.Event()
        worker = asyncio.create_task(watch_tree(s.client, s.namespace, tree, changed.set))
        try:

            def draw() -> bool:
                show(tree, False)
                return False

            await _throttled_loop(changed, worker, draw, timeout_seconds)
        finally:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)

    run_command(flags, body)


@click.command("analysisrun")
@click.argument("name")
@click.option("--no-color", is_flag=True, help="Do not colourise the output.")
@OUTPUT
@kube_flags
def get_analysisrun(name: str, no_color: bool, output: str | None, flags: KubeFlags) -> None:
    """Show an analysis run: each metric's verdict and why, its query, conditions, limits and measurements.

    \b
    Example:
      kubectl rollouts get analysisrun api-server-6d4f8-2-1
    """
    console = make_console(no_color)

    async def body(s: Session) -> None:
        try:
            run = await s.client.get(ANALYSIS_RUNS, name, s.namespace)
        except NotFound:
            raise not_found(ANALYSIS_RUNS, name) from None
        if output:
            console.print(Text(dump(analysis_run_view(run), output)))
        else:
            console.print(render_analysis_run(run), end="")

    run_command(flags, body)


get.add_aliased(get_rollout, "ro", "rollouts")  # type: ignore[attr-defined]
get.add_aliased(get_analysisrun, "ar", "analysisruns")  # type: ignore[attr-defined]
get.add_aliased(get_experiment, "exp", "experiments")  # type: ignore[attr-defined]


# ---- list -----------------------------------------------------------------------------------------------------


@click.group("list", cls=AliasGroup)
def list_() -> None:
    """List rollouts or experiments.

    \b
    Examples:
      kubectl rollouts list rollouts
      kubectl rollouts list rollouts -A -w
      kubectl rollouts list experiments
    """


@click.command("rollouts")
@click.option("--name", "only", metavar="NAME", help="Only show the rollout with this name.")
@click.option("-A", "--all-namespaces", is_flag=True, help="List rollouts of every namespace.")
@click.option("-w", "--watch", is_flag=True, help="Keep watching and print a line for every change.")
@click.option("--timestamps", is_flag=True, help="Print a timestamp before each line.")
@click.option("--no-color", is_flag=True, help="Do not colourise the output.")
@OUTPUT
@kube_flags
def list_rollouts(
    only: str | None,
    all_namespaces: bool,
    watch: bool,
    timestamps: bool,
    no_color: bool,
    output: str | None,
    flags: KubeFlags,
) -> None:
    """List rollouts: NAME STRATEGY STATUS STEP SET-WEIGHT READY DESIRED UP-TO-DATE AVAILABLE.

    \b
    Examples:
      # Rollouts of the current namespace
      kubectl rollouts list rollouts
      # Of every namespace, then one line per change
      kubectl rollouts list rollouts -A --watch
    """
    console = make_console(no_color)

    async def body(s: Session) -> None:
        namespace = None if all_namespaces else s.namespace
        field = f"metadata.name={only}" if only else None
        rollouts = await s.client.list(ROLLOUTS, namespace, field_selector=field)
        items = sorted(rollouts, key=lambda r: (r["metadata"].get("namespace", ""), r["metadata"]["name"]))
        if output:
            console.print(Text(dump([list_rows(r) for r in items], output)))
        elif not items and not watch:
            click.echo("No resources found.", err=True)
        else:
            table = render_list(items, namespaces=all_namespaces, timestamps=timestamps, now=_now())
            console.print(table, end="")
        if not watch:
            return
        seen = {(r["metadata"].get("namespace"), r["metadata"]["name"]): list_rows(r) for r in items}
        rv = rollouts.resource_version
        while True:
            try:
                async for etype, obj in s.client.watch(
                    ROLLOUTS, namespace, resource_version=rv, field_selector=field
                ):
                    rv = str(obj.get("metadata", {}).get("resourceVersion") or rv)
                    if etype in ("BOOKMARK", "DELETED"):
                        continue
                    key = (obj["metadata"].get("namespace"), obj["metadata"]["name"])
                    row = list_rows(obj)
                    if seen.get(key) != row:
                        seen[key] = row
                        if output:
                            console.print(Text(json.dumps(row) if output == "json" else dump(row, output)))
                        else:
                            line = render_list(
                                [obj], namespaces=all_namespaces, timestamps=timestamps, now=_now()
                            )
                            console.print(Text("\n").join(line.split("\n")[1:2]))
            except Gone:
                rv = (await s.client.list(ROLLOUTS, namespace, field_selector=field)).resource_version

    run_command(flags, body)


list_.add_aliased(list_rollouts, "ro", "rollout")  # type: ignore[attr-defined]
list_.add_aliased(list_experiments, "exp", "experiment")  # type: ignore[attr-defined]


# ---- status ---------------------------------------------------------------------------------------------------


class _BoolEqualsCommand(click.Command):
    """Accepts cobra's `--watch=false` / `--watch=true` spelling of a boolean flag."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        spelled = {"--watch=false": "--no-watch", "-w=false": "--no-watch", "--watch=true": "--watch"}
        return super().parse_args(ctx, [spelled.get(a.lower(), a) for a in args])


@click.command("status", cls=_BoolEqualsCommand)
@click.argument("name")
@click.option(
    "-w",
    "--watch/--no-watch",
    default=True,
    help="Watch until the rollout is Healthy or Degraded (--watch=false / --no-watch: print once).",
)
@click.option(
    "-t",
    "--timeout",
    "timeout",
    metavar="DURATION",
    default="0",
    help="Give up after this long (e.g. 30s, 5m, 1h; 0 = wait forever).",
)
@OUTPUT
@kube_flags
def status(name: str, watch: bool, timeout: str, output: str | None, flags: KubeFlags) -> None:
    """Print a rollout's status, one line per change, until it is Healthy (exit 0) or Degraded (exit 1).

    For CI pipelines: `--timeout` makes it give up with a non-zero exit.

    \b
    Examples:
      # Wait until the rollout is done
      kubectl rollouts status guestbook
      # Print the status once
      kubectl rollouts status guestbook --watch=false
      # Fail if it takes more than a minute
      kubectl rollouts status guestbook --timeout 60s
    """
    seconds = parse_duration(timeout, "'-t' / '--timeout'")
    console = make_console(True)
    state: dict[str, Any] = {"last": None, "phase": None, "message": ""}

    def report(ro: dict[str, Any]) -> bool:
        phase, message = rollout_phase(ro)
        state["phase"], state["message"] = phase, message
        if output:
            line = dump({"name": name, "status": phase, "message": message}, output)
            line = json.dumps(json.loads(line)) if output == "json" else line
        elif not watch and phase in (RolloutPhase.HEALTHY, RolloutPhase.DEGRADED):
            line = phase
        else:
            line = f"{phase} - {message}" if message else phase
        if line != state["last"]:
            _print(console, line)
            state["last"] = line
        return phase in (RolloutPhase.HEALTHY, RolloutPhase.DEGRADED)

    async def body(s: Session) -> None:
        try:
            ro = await s.client.get(ROLLOUTS, name, s.namespace)
        except NotFound:
            raise not_found(ROLLOUTS, name) from None
        done = report(ro)
        if watch and not done:
            await _watch_status(s, name, ro, report, seconds)
        if state["phase"] == RolloutPhase.DEGRADED:
            raise PluginError(f"The rollout is in a degraded state with message: {state['message']}")
        if watch and state["phase"] != RolloutPhase.HEALTHY:
            raise PluginError("Rollout status watch exceeded timeout")

    run_command(flags, body)


def _print(console: Console, line: str) -> None:
    console.print(Text(line))


async def _watch_status(
    s: Session, name: str, ro: dict[str, Any], report: Callable[[dict[str, Any]], bool], seconds: float
) -> None:
    rv = str(ro["metadata"].get("resourceVersion") or "")

    async def follow() -> None:
        nonlocal rv
        while True:
            try:
                async for etype, obj in s.client.watch(
                    ROLLOUTS, s.namespace, resource_version=rv, field_selector=f"metadata.name={name}"
                ):
                    rv = str(obj.get("metadata", {}).get("resourceVersion") or rv)
                    if etype in ("ADDED", "MODIFIED") and report(obj):
                        return
            except Gone:
                fresh = await s.client.get(ROLLOUTS, name, s.namespace)
                rv = str(fresh["metadata"].get("resourceVersion") or "")
                if report(fresh):
                    return

    try:
        await asyncio.wait_for(follow(), timeout=seconds if seconds > 0 else None)
    except TimeoutError:
        return
