"""The kubectl plugin's commands, as named in `rollouts.cli.COMMANDS` (`kubectl rollouts <command>`).

This module is the plugin's public surface: the read-only commands live in `viewing.py`, the mutating ones in
`mutating.py`, `create` in `creating.py`, the lint rules in `linting.py`; `version`, `completion` and `lint`
are defined here. Every command follows Argo's `kubectl-argo-rollouts` (docs/semantics/plugin.md#plugin-commands): same names, flags and
output lines.
"""

from __future__ import annotations

import os
import platform
import sys

import click

from rollouts import __version__
from rollouts.plugin.creating import create
from rollouts.plugin.mutating import abort, pause, promote, restart, retry, set_, terminate, undo
from rollouts.plugin.session import PluginError, offline
from rollouts.plugin.viewing import get, list_, status

__all__ = [
    "abort",
    "completion",
    "create",
    "get",
    "lint",
    "list_",
    "pause",
    "promote",
    "restart",
    "retry",
    "set_",
    "status",
    "terminate",
    "undo",
    "version",
]


@click.command("version")
@click.option("--short", is_flag=True, help="Print just the version number.")
def version(short: bool) -> None:
    """Print the plugin's version and build information.

    \b
    Examples:
      kubectl rollouts version
      kubectl rollouts version --short
    """
    click.echo(f"kubectl-rollouts: v{__version__}")
    if not short:
        click.echo(f"  PythonVersion: {platform.python_version()}")
        click.echo(f"  Implementation: {platform.python_implementation()}")
        click.echo(f"  Platform: {sys.platform}/{platform.machine()}")


@click.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print a shell completion script.

    \b
    Examples:
      # bash: load now, or add to ~/.bashrc
      source <(rollouts completion bash)
      # zsh
      rollouts completion zsh > "${fpath[1]}/_rollouts"
      # fish
      rollouts completion fish > ~/.config/fish/completions/rollouts.fish
    """
    from click.shell_completion import get_completion_class

    root = ctx.find_root()
    prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "rollouts"
    if prog not in ("rollouts", "kubectl-rollouts"):
        prog = root.info_name or "rollouts"
    prog = prog.replace(" ", "-")
    cls = get_completion_class(shell)
    assert cls is not None
    var = f"_{prog.replace('-', '_').upper()}_COMPLETE"
    click.echo(cls(root.command, {}, prog, var).source())


@click.command("lint")
@click.option("-f", "--filename", "path", required=True, metavar="FILE", help="The manifest file to lint.")
def lint(path: str) -> None:
    """Validate Rollouts and analysis objects offline, with the controller's own rules.

    Unknown fields are errors; Argo's validation rules apply (the controller's, for analysis templates too); and
    the objects of the file are checked against each other (Services select the rollout's pods, VirtualService
    routes and Ingresses fit, templates get their arguments), and analysis templates are linted deeply (PromQL
    parsed, arguments, conditions, guards: codes AL001-AL009, docs/analysis-lint.md). What the controller refuses
    or ignores, and the deep lint's advice, are warnings on stderr. Prints every problem, then exits 1; exits 0
    when there is none. A file that cannot be read as manifests is one line and exit 1.

    \b
    Example:
      kubectl rollouts lint -f rollout.yaml
    """

    def body() -> None:
        from analysis.reading import ReadError, one_line
        from rollouts.plugin.linting import lint_file  # the models load only when linting

        try:
            problems, warnings = lint_file(path)
        except ReadError as e:
            raise PluginError(str(e)) from None
        for warning in warnings:
            click.echo(f"warning: {one_line(warning)}", err=True)
        for problem in problems:
            click.echo(one_line(problem))
        if problems:
            noun = "problem" if len(problems) == 1 else "problems"
            raise PluginError(f"{path}: {len(problems)} {noun}")

    offline(body)
