"""`rollouts sandbox`: serve the embedded API server on loopback until Ctrl-C or SIGTERM.

Where it sits: the user-facing and subprocess face of `running.Sandbox`. The first line printed on stdout is
machine-readable, `SANDBOX_URL=http://127.0.0.1:PORT`, and the second `KUBECONFIG=PATH`; with `--ready-file`
a JSON document `{"url", "kubeconfig", "pid"}` is written once the server listens, so tests and
`rollouts demo` can start it with `--port 0` and find it. With `--state FILE` the objects are loaded at
start and saved at shutdown. Bound beyond loopback (`--host 0.0.0.0`), the sandbox logs a warning on start
(stderr, even with `--quiet`): there is no authentication.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from pathlib import Path
from typing import Any

import click

from rollouts.sandbox.faults import Faults
from rollouts.sandbox.objects import parse_duration
from rollouts.sandbox.running import Sandbox
from rollouts.sandbox.view import SandboxOptions

DEFAULT_KUBECONFIG = Path("~/.kube/rollouts-sandbox.yaml")


class Duration(click.ParamType):  # type: ignore[type-arg]
    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            return parse_duration(value)
        except ValueError as e:
            self.fail(str(e), param, ctx)


DURATION = Duration()


@click.command("sandbox")
@click.option(
    "--port",
    default=8001,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port on 127.0.0.1; 0 picks a free one (printed on the first line).",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind. Keep it loopback: there is no authentication (anything else warns).",
)
@click.option(
    "--advertise-host",
    default=None,
    help="Host written into the kubeconfig and SANDBOX_URL (default: --host, or 127.0.0.1 for 0.0.0.0).",
)
@click.option(
    "--max-connections",
    type=click.IntRange(1),
    default=1000,
    show_default=True,
    help="Open connections at most; more are answered 429 TooManyRequests.",
)
@click.option(
    "--kubeconfig",
    "kubeconfig",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"Where to write the kubeconfig (default {DEFAULT_KUBECONFIG}).",
)
@click.option(
    "--pod-ready-delay",
    type=DURATION,
    default="1s",
    show_default=True,
    help="How long a simulated pod stays Pending before it is Running and Ready.",
)
@click.option(
    "--job-duration",
    type=DURATION,
    default="2s",
    show_default=True,
    help="How long a simulated Job runs unless it says otherwise.",
)
@click.option(
    "--state",
    "state_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Load objects from this JSON file on start and save them there on shutdown.",
)
@click.option(
    "--ready-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write {url, kubeconfig, pid} as JSON here once serving.",
)
@click.option("--no-crds", is_flag=True, help="Do not install the project's CRDs on start.")
@click.option(
    "--history",
    type=click.IntRange(1),
    default=1000,
    show_default=True,
    help="Watch events kept per resource; older versions get 410 Gone.",
)
@click.option(
    "--error-rate", type=click.FloatRange(0, 1), default=0.0, help="Fraction of requests answered 500."
)
@click.option(
    "--throttle-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    help="Fraction of requests answered 429 with Retry-After.",
)
@click.option("--latency", type=DURATION, default="0", help="Added to every API request.")
@click.option(
    "--watch-cut-after", type=DURATION, default="0", help="Close every watch stream after this long."
)
@click.option("--seed", type=int, default=None, help="Seed for names, uids and fault draws.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the two machine-readable lines.")
def sandbox(
    port: int,
    host: str,
    advertise_host: str | None,
    max_connections: int,
    kubeconfig: Path | None,
    pod_ready_delay: float,
    job_duration: float,
    state_file: Path | None,
    ready_file: Path | None,
    no_crds: bool,
    history: int,
    error_rate: float,
    throttle_rate: float,
    latency: float,
    watch_cut_after: float,
    seed: int | None,
    quiet: bool,
) -> None:
    """Serve an embedded Kubernetes API server on loopback, with simulated pods, for kubectl and the controller.

    \b
    Example:
      rollouts sandbox --kubeconfig ./sandbox.kubeconfig &
      kubectl --kubeconfig ./sandbox.kubeconfig apply -f examples/istio-canary/
      kubectl --kubeconfig ./sandbox.kubeconfig get rollouts -w
    """
    options = SandboxOptions(
        host=host,
        port=port,
        advertise_host=advertise_host,
        max_connections=max_connections,
        pod_ready_delay=pod_ready_delay,
        job_duration=job_duration,
        history=history,
        install_crds=not no_crds,
        state_file=state_file,
        seed=seed,
        faults=Faults(
            error_rate=error_rate,
            throttle_rate=throttle_rate,
            latency=latency,
            watch_cut_after=watch_cut_after,
            seed=seed,
        ),
    )
    path = (kubeconfig or DEFAULT_KUBECONFIG).expanduser()
    try:
        asyncio.run(_serve(options, path, ready_file, quiet))
    except ValueError as e:  # an unreadable state file
        raise click.ClickException(str(e)) from None
    except OSError as e:
        raise click.ClickException(f"cannot serve on {host}:{port}: {e.strerror or e}") from None


async def _serve(options: SandboxOptions, kubeconfig: Path, ready_file: Path | None, quiet: bool) -> None:
    sb = Sandbox(options)
    await sb.start_async()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        sb.write_kubeconfig(kubeconfig)
        click.echo(f"SANDBOX_URL={sb.url}")
        click.echo(f"KUBECONFIG={kubeconfig}")
        if not quiet:
            click.echo(f"Serving a Kubernetes API sandbox on {sb.url} (context 'sandbox', plain http).")
            click.echo("Try:")
            click.echo(f"  kubectl --kubeconfig {kubeconfig} get rollouts -w")
            click.echo(f"  kubectl --kubeconfig {kubeconfig} apply -f examples/istio-canary/")
            if options.state_file:
                click.echo(f"Objects are saved to {options.state_file} on shutdown.")
            click.echo("Press Ctrl-C to stop.")
        if ready_file is not None:
            tmp = ready_file.with_suffix(ready_file.suffix + ".tmp")
            tmp.write_text(json.dumps({"url": sb.url, "kubeconfig": str(kubeconfig), "pid": os.getpid()}))
            tmp.replace(ready_file)
        await stop.wait()
    finally:
        await sb.stop_async()
        if not quiet:
            click.echo(
                "sandbox stopped" + (f"; state saved to {options.state_file}" if options.state_file else "")
            )
