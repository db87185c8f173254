"""`kubectl rollouts dashboard`: serve the dashboard on loopback (by default) until interrupted."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Any

import click
from aiohttp import web

from rollouts.dashboard.charts import metric_chart
from rollouts.dashboard.data import Cluster
from rollouts.dashboard.serving import Dashboard
from rollouts.kube.client import KubeClient, RetryPolicy
from rollouts.kube.config import load_settings
from rollouts.plugin.session import KubeFlags, PluginError, _describe_failure, kube_flags

LOOPBACK = ("127.0.0.1", "localhost", "::1")


async def serve(
    client: KubeClient,
    *,
    namespace: str,
    all_namespaces: bool,
    context: str,
    address: str,
    port: int,
    ready: asyncio.Future[str] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Watch, serve, and print the address; until `stop` is set (or the task is cancelled)."""
    cluster = Cluster(client, None if all_namespaces else namespace, analysis_chart=metric_chart)
    await cluster.start()
    dashboard = Dashboard(
        client,
        cluster,
        namespace=namespace,
        all_namespaces=all_namespaces,
        context=context,
        host=address,
        port=port,
    )
    runner = web.AppRunner(dashboard.app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, address, port)
        await site.start()
        bound = runner.addresses[0][1] if runner.addresses else port
        dashboard.port = int(bound)
        host = f"[{address}]" if ":" in address else address
        url = f"http://{host}:{bound}/"
        if ready is not None and not ready.done():
            ready.set_result(url)
        await (stop or asyncio.Event()).wait()
    finally:
        await runner.cleanup()
        await cluster.stop()


@click.command("dashboard")
@click.option("--address", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    "-p",
    type=click.IntRange(0, 65535),
    default=3100,
    show_default=True,
    help="Port (0: any free one).",
)
@click.option("-A", "--all-namespaces", is_flag=True, help="Show the rollouts of every namespace.")
@kube_flags
def dashboard(address: str, port: int, all_namespaces: bool, flags: KubeFlags) -> None:
    """Serve a web dashboard: the rollouts of a namespace, each rollout's steps, revisions and Services, each
    analysis run's measurements drawn against its conditions, live; and the plugin's actions as buttons.

    It acts with your kubeconfig's credentials. It listens on loopback unless told otherwise: anyone who can
    reach the address can press its buttons with your rights.

    \b
    Examples:
      kubectl rollouts dashboard                 # http://127.0.0.1:3100/
      kubectl rollouts dashboard -n shop -p 0    # any free port
      kubectl rollouts dashboard -A
    """

    async def main() -> None:
        settings = await load_settings(flags.kubeconfig, flags.context)
        client = KubeClient(settings, retry=RetryPolicy(attempts=2, base=0.2), request_timeout=30.0)
        ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        namespace = flags.namespace or settings.namespace
        task = asyncio.create_task(
            serve(
                client,
                namespace=namespace,
                all_namespaces=all_namespaces,
                context=settings.context or settings.host,
                address=address,
                port=port,
                ready=ready,
                stop=stop,
            )
        )
        try:
            waited: set[asyncio.Future[Any]] = {task, ready}
            done, _ = await asyncio.wait(waited, return_when=asyncio.FIRST_COMPLETED)
            if ready in done:
                where = "every namespace" if all_namespaces else f"namespace {namespace}"
                click.echo(f"Dashboard: {ready.result()} ({where}; Ctrl-C to stop)", err=False)
                if address not in LOOPBACK:
                    click.echo(
                        f"warning: listening on {address}, not loopback: whoever reaches it acts with your "
                        "kubeconfig's rights",
                        err=True,
                    )
            await task
        finally:
            await client.close()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    except OSError as e:
        raise PluginError(f"cannot listen on {address}:{port}: {e.strerror or e}") from None
    except click.ClickException:
        raise
    except Exception as e:
        raise PluginError(_describe_failure(e, None)) from e
