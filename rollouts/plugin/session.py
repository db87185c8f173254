"""The plugin's edge: kubectl flags, the client session, the console, and errors turned into kubectl's lines.

Every command that talks to a cluster takes `@kube_flags` (`--kubeconfig`, `--context`, `-n/--namespace`),
opens a `Session` (settings from `rollouts.kube.config`, one `KubeClient`, the namespace to use), and runs its
coroutine through `run_command`, which turns every failure into one line on stderr and exit 1 —
`Error: rollouts.argoproj.io "x" not found`, or one line naming the unreachable server and the kubeconfig — and
never a traceback. `make_console` decides colours (`--no-color`, `NO_COLOR`, `TERM=dumb`, not a terminal).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import click
from rich.console import Console

from analysis.durations import DurationError, parse_go_duration
from analysis.reading import one_line
from rollouts.kube import KubeClient, KubeSettings, RetryPolicy, load_settings
from rollouts.kube.errors import (
    AlreadyExists,
    Forbidden,
    Invalid,
    KubeConfigError,
    KubeError,
    NotFound,
    Unreachable,
)
from rollouts.kube.resources import Resource
from rollouts.plugin.intents import IntentError

__all__ = [
    "AliasGroup",
    "KubeFlags",
    "PluginError",
    "Session",
    "kube_flags",
    "make_console",
    "not_found",
    "parse_duration",
    "run_command",
]

P = ParamSpec("P")
T = TypeVar("T")


class PluginError(click.ClickException):
    """A user-facing failure: printed as `Error: <message>` on stderr, exit code 1."""

    exit_code = 1

    def show(self, file: Any = None) -> None:
        # one line whatever the message quotes (a name or value read from a file may hold a newline)
        click.echo(f"Error: {one_line(self.format_message())}", err=True)


@dataclass(frozen=True)
class KubeFlags:
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None


def kube_flags(f: Callable[..., Any]) -> Callable[..., Any]:
    """Add kubectl's connection flags; the command receives them as one `flags: KubeFlags` argument."""

    @click.option("--kubeconfig", metavar="PATH", help="Path to the kubeconfig file to use.")
    @click.option("--context", "kube_context", metavar="NAME", help="The kubeconfig context to use.")
    @click.option("-n", "--namespace", metavar="NS", help="The namespace (default: the context's namespace).")
    @functools.wraps(f)
    def wrapper(
        *args: Any, kubeconfig: str | None, kube_context: str | None, namespace: str | None, **kwargs: Any
    ) -> Any:
        # kubectl passes plugin arguments through unchanged, so `kubectl rollouts -n shop get rollout x` puts
        # the flags before the command: the root group keeps them in its context object as defaults.
        root = click.get_current_context().find_root().obj or {}
        flags = KubeFlags(
            kubeconfig or root.get("kubeconfig"),
            kube_context or root.get("context"),
            namespace or root.get("namespace"),
        )
        return f(*args, flags=flags, **kwargs)

    return wrapper


class Session:
    """One command's connection: the settings, the namespace in effect, and the client."""

    def __init__(self, settings: KubeSettings, namespace: str, client: KubeClient) -> None:
        self.settings = settings
        self.namespace = namespace
        self.client = client

    @classmethod
    async def open(cls, flags: KubeFlags) -> Session:
        settings = await load_settings(flags.kubeconfig, flags.context)
        # A CLI fails fast: one retry for a flaky answer, not the controller's long backoff.
        client = KubeClient(settings, retry=RetryPolicy(attempts=1, base=0.1), request_timeout=30.0)
        return cls(settings, flags.namespace or settings.namespace, client)

    async def close(self) -> None:
        await self.client.close()


def not_found(resource: Resource, name: str) -> PluginError:
    """kubectl's wording: `rollouts.argoproj.io "x" not found` (`pods "x" not found` for the core group)."""
    what = f"{resource.plural}.{resource.group}" if resource.group else resource.plural
    return PluginError(f'{what} "{name}" not found')


def _server_message(e: KubeError) -> str:
    message = e.body.get("message") if isinstance(e.body, dict) else None
    return str(message or e.message)


def _describe_failure(e: BaseException, settings: KubeSettings | None) -> str:
    if isinstance(e, Unreachable):
        cause = str(e.__cause__ or e).splitlines()[0] if (e.__cause__ or str(e)) else type(e).__name__
        where = f"{settings.host} (kubeconfig {settings.source}" if settings else "the API server ("
        if settings and settings.context:
            where += f", context {settings.context}"
        return f"unable to connect to the server {where}): {cause}"
    if isinstance(e, KubeConfigError):
        return e.message
    if isinstance(e, NotFound | AlreadyExists | Invalid | Forbidden):
        return _server_message(e)
    if isinstance(e, KubeError):
        return _server_message(e)
    if isinstance(e, IntentError | DurationError):
        return str(e)
    if isinstance(e, OSError):
        return f"{e.strerror or e}: {e.filename}" if e.filename else str(e)
    return f"{type(e).__name__}: {e}"


def run_command(flags: KubeFlags | None, body: Callable[[Session], Coroutine[Any, Any, T]]) -> T:
    """Open a session, run `body(session)`, close; any failure becomes `Error: …` and exit 1."""

    async def main() -> T:
        assert flags is not None
        session = await Session.open(flags)
        try:
            return await body(session)
        except Exception as e:
            if isinstance(e, click.ClickException):
                raise
            raise PluginError(_describe_failure(e, session.settings)) from e
        finally:
            await session.close()

    try:
        return asyncio.run(main())
    except click.ClickException:
        raise
    except KeyboardInterrupt:
        raise click.exceptions.Exit(130) from None
    except Exception as e:
        raise PluginError(_describe_failure(e, None)) from e


def offline(body: Callable[[], T]) -> T:
    """Run a command that needs no cluster with the same error discipline."""
    try:
        return body()
    except click.ClickException:
        raise
    except Exception as e:
        raise PluginError(_describe_failure(e, None)) from e


def make_console(no_color: bool = False, file: Any = None) -> Console:
    """A rich console: coloured only on a terminal, and not with --no-color, NO_COLOR or TERM=dumb."""
    out = file if file is not None else sys.stdout
    plain = no_color or bool(os.environ.get("NO_COLOR")) or os.environ.get("TERM") == "dumb"
    return Console(
        file=out,
        no_color=plain,
        color_system=None if plain else "auto",
        highlight=False,
        markup=False,
        emoji=False,
        soft_wrap=True,
    )


def parse_duration(value: str | None, flag: str) -> float:
    """A Go duration flag (`30s`, `5m`, `1h`) in seconds; a bare number is seconds."""
    if not value:
        return 0.0
    try:
        return (
            float(value) if value.replace(".", "", 1).isdigit() else parse_go_duration(value).total_seconds()
        )
    except DurationError as e:
        raise click.BadParameter(str(e), param_hint=flag) from e


def is_terminal(stream: Any = None) -> bool:
    stream = stream if stream is not None else sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)())


class AliasGroup(click.Group):
    """A group whose sub-commands answer to aliases too (`get ro`, `get rollouts`), listed in their help."""

    aliases: dict[str, str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.aliases = {}

    def add_aliased(self, command: click.Command, *aliases: str) -> None:
        self.add_command(command)
        for alias in aliases:
            self.aliases[alias] = command.name or ""
        if aliases and command.help is not None:
            command.help = (
                inspect.cleandoc(command.help) + "\n\nAliases: " + ", ".join([command.name or "", *aliases])
            )

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, self.aliases.get(cmd_name, cmd_name))

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        _, cmd, rest = super().resolve_command(ctx, args)
        return (cmd.name if cmd else None), cmd, rest
