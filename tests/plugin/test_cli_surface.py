"""The plugin's surface: every command's help reads well (with examples), colour rules, version, completion,
`list -w`, and `set image` retrying on a real 409 Conflict."""

from __future__ import annotations

import io
import itertools
import threading
import time
from typing import Any

import click
import pytest
from click.testing import CliRunner

from rollouts.cli import COMMANDS, cli
from rollouts.plugin import commands, session
from rollouts.plugin.render import render_rollout
from rollouts.plugin.session import make_console
from tests.plugin.conftest import Cluster
from tests.plugin.objects import NOW, SCENARIOS, split

PLUGIN = [name for name, (target, _) in COMMANDS.items() if target.startswith("rollouts.plugin.commands:")]


def _leaves(prefix: list[str], command: click.Command) -> list[list[str]]:
    if isinstance(command, click.Group):
        out = [prefix]
        for name, sub in command.commands.items():
            out += _leaves([*prefix, name], sub)
        return out
    return [prefix]


ALL = [
    path for name in PLUGIN for path in _leaves([name], getattr(commands, COMMANDS[name][0].split(":")[1]))
]


@pytest.mark.parametrize("path", ALL, ids=" ".join)
def test_every_help_has_examples(path: list[str]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output and "Example" in result.output
    assert "rollouts " in result.output.split("Example", 1)[1]


@pytest.mark.parametrize(
    "path",
    [
        p
        for p in ALL
        if p[0] not in ("lint", "version", "completion")
        and len(p) > (1 if p[0] in ("get", "list", "retry", "terminate", "set") else 0)
    ],
    ids=" ".join,
)
def test_cluster_commands_take_kubectl_flags(path: list[str]) -> None:
    text = CliRunner().invoke(cli, [*path, "--help"]).output
    if "Commands:" in text:
        return
    for flag in ("--kubeconfig", "--context", "-n, --namespace"):
        assert flag in text


def test_aliases_are_listed() -> None:
    assert "Aliases: rollout, ro, rollouts" in CliRunner().invoke(cli, ["get", "rollout", "--help"]).output
    assert "Aliases: analysisrun, ar, analysisruns" in CliRunner().invoke(cli, ["get", "ar", "--help"]).output


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _print(no_color: bool, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tty: bool = True) -> str:
    for key in ("NO_COLOR", "TERM", "FORCE_COLOR", "COLORTERM"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    out: io.StringIO = _Tty() if tty else io.StringIO()
    ro, rss, pods, runs = split(SCENARIOS["canary_mid_rollout"]())
    from rollouts.plugin.info import build_rollout_info

    make_console(no_color, out).print(render_rollout(build_rollout_info(ro, rss, pods, runs, NOW)), end="")
    return out.getvalue()


@pytest.mark.parametrize(
    ("no_color", "env", "tty", "coloured"),
    [
        pytest.param(False, {}, True, True, id="terminal"),
        pytest.param(True, {}, True, False, id="--no-color"),
        pytest.param(False, {"NO_COLOR": "1"}, True, False, id="NO_COLOR"),
        pytest.param(False, {"TERM": "dumb"}, True, False, id="TERM=dumb"),
        pytest.param(False, {}, False, False, id="not-a-terminal"),
    ],
)
def test_colour_rules(
    monkeypatch: pytest.MonkeyPatch, no_color: bool, env: dict[str, str], tty: bool, coloured: bool
) -> None:
    text = _print(no_color, env, monkeypatch, tty)
    assert ("\x1b[" in text) is coloured
    assert "canary" in text


def test_version() -> None:
    result = CliRunner().invoke(cli, ["version", "--short"])
    assert result.exit_code == 0 and result.output.startswith("kubectl-rollouts: v")


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts(shell: str) -> None:
    result = CliRunner().invoke(cli, ["completion", shell])
    assert result.exit_code == 0 and "_COMPLETE" in result.output


def test_list_watch_prints_changed_lines(cluster: Cluster) -> None:
    for make in SCENARIOS.values():
        cluster.load(make())
    box: dict[str, Any] = {}

    def run() -> None:
        box["result"] = cluster.run("list", "rollouts", "-w")

    # `list -w` never ends on its own: the test stops the server, which ends the command with an error line
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not any(r.verb == "watch" for r in cluster.requests()):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    rt = cluster.sandbox.store.registry.by_kind("argoproj.io/v1alpha1", "Rollout")
    assert rt is not None
    status = dict(cluster.get("Rollout", "api-server")["status"], currentStepIndex=2)
    cluster.sandbox.call(cluster.sandbox.store.put_status, rt.key, "shop", "api-server", status)
    time.sleep(0.5)  # CliRunner shows the output only at the end: give the event time to arrive
    cluster.sandbox.stop()
    thread.join(15)
    output = box["result"].output
    assert "Traceback" not in output and output.splitlines()[-1].startswith("Error: ")
    lines = output.splitlines()
    assert lines[0].startswith("NAME ")
    assert any(line.startswith("api-server") and " 2/6 " in line for line in lines[4:]), output


def test_set_image_retries_on_conflict(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    """A concurrent writer bumps the rollout between our read and our write: 409, re-read, retry."""
    cluster.load(SCENARIOS["canary_mid_rollout"]())
    rt = cluster.sandbox.store.registry.by_kind("argoproj.io/v1alpha1", "Rollout")
    assert rt is not None
    interfered = {"count": 0}
    original_open = session.Session.open.__func__  # type: ignore[attr-defined]

    async def open_with_interference(cls: type[session.Session], flags: session.KubeFlags) -> session.Session:
        s: session.Session = await original_open(cls, flags)

        def hook(record: Any) -> None:
            if record.verb == "Get" and record.kind == "Rollout" and interfered["count"] < 2:
                interfered["count"] += 1
                obj = cluster.get("Rollout", "api-server")
                obj["metadata"].setdefault("annotations", {})["touched"] = str(interfered["count"])
                cluster.sandbox.call(cluster.sandbox.store.replace, rt, "shop", "api-server", obj)

        s.client.add_hook(hook)
        return s

    monkeypatch.setattr(session.Session, "open", classmethod(open_with_interference))
    cluster.sandbox.requests.reset()
    result = cluster.run("set", "image", "api-server", "api-server=registry.example/api-server:1.7.0")
    assert (result.exit_code, result.output) == (0, 'rollout "api-server" image updated\n')
    puts = [r.status for r in cluster.requests() if r.verb == "update"]
    assert puts == [409, 409, 200]
    ro = cluster.get("Rollout", "api-server")
    assert ro["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/api-server:1.7.0"
    assert ro["metadata"]["annotations"]["touched"] == "2"  # the concurrent write was kept


async def test_redraws_are_throttled_to_every_200ms() -> None:
    """docs/semantics/plugin.md#get-rollout-output: `get rollout -w` redraws at most every 200 ms however fast the events come."""
    import asyncio

    from rollouts.plugin.viewing import REDRAW_INTERVAL, _throttled_loop

    changed = asyncio.Event()
    draws: list[float] = []
    loop = asyncio.get_running_loop()

    async def events() -> None:
        for _ in range(60):
            changed.set()
            await asyncio.sleep(0.005)
        await asyncio.sleep(REDRAW_INTERVAL * 2)

    worker = asyncio.create_task(events())

    def draw() -> bool:
        draws.append(loop.time())
        return False

    await _throttled_loop(changed, worker, draw, limit_seconds=0)
    gaps = [b - a for a, b in itertools.pairwise(draws)]
    assert draws and all(gap >= REDRAW_INTERVAL * 0.99 for gap in gaps), gaps
    assert len(draws) < 60
