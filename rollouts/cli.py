"""The command line: one click group installed as both `rollouts` and `kubectl-rollouts`.

Sub-commands are loaded lazily (`module:attribute`), so `kubectl rollouts get …` does not pay for importing the
controller, the sandbox or the analysis providers. Each face owns its module; this file only lists them.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from rollouts import __version__

# name -> (import path "module:attr", one-line help shown by --help without importing the module)
COMMANDS: dict[str, tuple[str, str]] = {
    # kubectl plugin (rollouts.plugin)
    "get": (
        "rollouts.plugin.commands:get",
        "Show a rollout (tree of revisions, pods, analysis), an analysis run or an experiment.",
    ),
    "list": ("rollouts.plugin.commands:list_", "List rollouts or experiments."),
    "status": (
        "rollouts.plugin.commands:status",
        "Print a rollout's status until it is Healthy or Degraded.",
    ),
    "promote": ("rollouts.plugin.commands:promote", "Promote a paused rollout (or fully, with --full)."),
    "abort": ("rollouts.plugin.commands:abort", "Abort a rollout: all traffic back to the stable version."),
    "retry": ("rollouts.plugin.commands:retry", "Retry an aborted rollout."),
    "pause": ("rollouts.plugin.commands:pause", "Pause a rollout."),
    "restart": ("rollouts.plugin.commands:restart", "Restart the pods of a rollout."),
    "set": ("rollouts.plugin.commands:set_", "Set fields of a rollout (set image)."),
    "undo": ("rollouts.plugin.commands:undo", "Roll back to a previous revision."),
    "terminate": ("rollouts.plugin.commands:terminate", "Terminate an analysis run or an experiment."),
    "create": ("rollouts.plugin.commands:create", "Create an analysis run from a template."),
    "lint": ("rollouts.plugin.commands:lint", "Validate Rollout and analysis manifests offline."),
    "version": ("rollouts.plugin.commands:version", "Print the version."),
    "completion": ("rollouts.plugin.commands:completion", "Print a shell completion script."),
    "dashboard": (
        "rollouts.dashboard.command:dashboard",
        "Serve a web dashboard of the rollouts, their analysis charts and actions.",
    ),
    # local tools
    "analyze": (
        "analysis.cli:analyze",
        "Run AnalysisTemplates against Prometheus now, at a time, or over a past window.",
    ),
    "plan": (
        "rollouts.plugin.planning:plan",
        "Print, without a cluster, what a Rollout will do step by step.",
    ),
    "sandbox": ("rollouts.sandbox.cli:sandbox", "Serve an embedded Kubernetes API server on loopback."),
    "demo": ("rollouts.demo:demo", "Run the whole system on the embedded sandbox with a real Prometheus."),
    # in-cluster
    "controller": (
        "rollouts.controller.main:controller",
        "Run the controller (in a cluster or against a kubeconfig).",
    ),
}


class LazyGroup(click.Group):
    """A click group whose sub-commands are imported only when invoked (or when their help is asked for)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module_name, attr = entry[0].split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name and (e.name == module_name or module_name.startswith(e.name + ".")):
                return _unavailable(cmd_name, entry[1])
            raise
        command = getattr(module, attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Short help from the table: --help must not import every face of the package.
        rows = [(name, help_) for name, (_, help_) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _unavailable(name: str, help_: str) -> click.Command:
    @click.command(name=name, help=help_, context_settings={"ignore_unknown_options": True})
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def command(args: tuple[str, ...]) -> None:
        raise click.ClickException(f"'{name}' is not available in this build")

    return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="rollouts")
@click.option("--kubeconfig", metavar="PATH", help="Path to the kubeconfig file (for every command).")
@click.option("--context", "kube_context", metavar="NAME", help="The kubeconfig context (for every command).")
@click.option("-n", "--namespace", metavar="NS", help="The namespace (for every command).")
@click.pass_context
def cli(ctx: click.Context, kubeconfig: str | None, kube_context: str | None, namespace: str | None) -> None:
    """Progressive delivery for Kubernetes: canary and blue-green rollouts driven by analysis.

    Reads Argo Rollouts manifests (argoproj.io/v1alpha1) unchanged. Installed as `rollouts` and as the kubectl
    plugin `kubectl-rollouts`, so `kubectl rollouts get rollout NAME` works.
    """
    ctx.obj = {"kubeconfig": kubeconfig, "context": kube_context, "namespace": namespace}


def main(argv: list[str] | None = None) -> Any:
    as_plugin = bool(sys.argv) and sys.argv[0].endswith("kubectl-rollouts")
    # Shell completion keys on the executable's name, whatever the help calls the program.
    complete_var = "_KUBECTL_ROLLOUTS_COMPLETE" if as_plugin else "_ROLLOUTS_COMPLETE"
    prog = "kubectl rollouts" if as_plugin else "rollouts"
    return cli.main(args=argv, prog_name=prog, complete_var=complete_var)


if __name__ == "__main__":  # pragma: no cover
    main()
