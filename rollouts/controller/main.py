"""`rollouts controller`: the in-cluster controller process (flags → settings → `Manager`).

The outermost layer: parses flags (each also read from `ROLLOUTS_<FLAG>`, e.g. `ROLLOUTS_QPS=20`), sets up
loguru, finds the cluster (`--kubeconfig`/`--context`, or the pod's service account), builds the client with
the `--qps`/`--burst` limiter and runs a `rollouts.controller.manager.Manager` until SIGTERM/SIGINT, on which
it finishes running reconciles, releases the Lease and exits 0. Bad flags or config → one-line error, exit 1.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click
from loguru import logger

from rollouts import __version__

F = TypeVar("F", bound=Callable[..., Any])


def _env(flag: str) -> str:
    return "ROLLOUTS_" + flag.upper().replace("-", "_")


def option(flag: str, *names: str, **kwargs: Any) -> Callable[[F], F]:
    """A click option also read from ROLLOUTS_<FLAG>."""
    name = flag.split("/")[0].lstrip("-")
    kwargs.setdefault("show_default", True)
    kwargs.setdefault("show_envvar", True)
    decorator: Callable[[F], F] = click.option(flag, *names, envvar=_env(name), **kwargs)
    return decorator


def setup_logging(level: str, fmt: str) -> None:
    logger.remove()
    if fmt == "json":

        def sink(message: Any) -> None:
            record = message.record
            entry = {
                "time": record["time"].isoformat(),
                "level": record["level"].name.lower(),
                "msg": record["message"],
                "logger": record["name"],
            }
            if record["exception"] is not None:
                entry["error"] = str(record["exception"].value)
            sys.stderr.write(json.dumps(entry) + "\n")

        logger.add(sink, level=level.upper())
    else:
        logger.add(
            sys.stderr, level=level.upper(), format="{time:YYYY-MM-DDTHH:mm:ss.SSSZ} {level:<7} {message}"
        )


@click.command(  # type: ignore[untyped-decorator]
    name="controller",
    epilog="\b\nExamples:\n  rollouts controller                       # in a pod: in-cluster config, leader election\n"
    "  rollouts controller --kubeconfig ~/.kube/config --no-leader-elect --namespace shop\n"
    "  ROLLOUTS_LOG_FORMAT=json rollouts controller --metrics-port 9090",
)
@option(
    "--kubeconfig",
    default=None,
    help="Path to a kubeconfig (default: KUBECONFIG, ~/.kube/config, in-cluster).",
)
@option("--context", "kube_context", default=None, help="kubeconfig context to use.")
@option(
    "--server", default=None, help="API server URL without a kubeconfig (e.g. the sandbox, kubectl proxy)."
)
@option("--namespace", default=None, help="Watch only this namespace (default: all namespaces).")
@option("--instance-id", default="", help="Only handle objects labelled controller-instance-id=<id>.")
@option("--leader-elect/--no-leader-elect", default=True, help="Elect a leader among replicas with a Lease.")
@option(
    "--sharding/--no-sharding",
    default=False,
    help="Active-active: replicas split the Rollouts between them through Leases (replaces leader election).",
)
@option(
    "--leader-election-namespace",
    default=None,
    help="Namespace of the Lease, or of the shard Leases (default: the pod's).",
)
@option(
    "--leader-election-lease-duration",
    "--lease-duration",
    "leader_election_lease_duration",
    type=float,
    default=15.0,
    help="Lease duration (s).",
)
@option(
    "--leader-election-renew-deadline",
    "--renew-deadline",
    "leader_election_renew_deadline",
    type=float,
    default=10.0,
    help="Give up leading after (s).",
)
@option(
    "--leader-election-retry-period",
    "--retry-period",
    "leader_election_retry_period",
    type=float,
    default=2.0,
    help="Acquire/renew every (s).",
)
@option("--qps", type=float, default=40.0, help="Requests per second toward the API server.")
@option("--burst", type=int, default=80, help="Burst of requests toward the API server.")
@option(
    "--rollout-workers", type=click.IntRange(1, 1000), default=10, help="Rollouts reconciled concurrently."
)
@option(
    "--analysis-workers",
    type=click.IntRange(1, 1000),
    default=30,
    help="AnalysisRuns reconciled concurrently.",
)
@option(
    "--rollout-namespace-workers",
    type=click.IntRange(1, 1000),
    default=None,
    help="Rollout workers one namespace may hold at once [default: all of --rollout-workers].",
)
@option(
    "--analysis-namespace-workers",
    type=click.IntRange(1, 1000),
    default=None,
    help="AnalysisRun workers one namespace may hold at once [default: a third of --analysis-workers].",
)
@option(
    "--analysis-namespace-concurrency",
    type=click.IntRange(1, 10000),
    default=8,
    help="Metric queries in flight for one namespace (its share of the query threads).",
)
@option(
    "--analysis-backend-concurrency",
    type=click.IntRange(1, 10000),
    default=16,
    help="Metric queries in flight towards one backend address (Prometheus, web endpoint).",
)
@option(
    "--analysis-backend-rate",
    type=click.FloatRange(min=0.0, min_open=True),
    default=100.0,
    help="Metric queries per second towards one backend address.",
)
@option(
    "--analysis-coalesce-window",
    type=click.FloatRange(min=0.0),
    default=1.0,
    help="Identical metric queries (same backend, query, credentials) asked within one window of this many "
    "seconds share one request (0: off).",
)
@option(
    "--analysis-breaker-failures",
    type=click.IntRange(0, 10000),
    default=5,
    help="Consecutive failures (no answer, timeout, 5xx) after which a metric backend's measurements fail at "
    "once until a probe (0: no circuit breaker).",
)
@option(
    "--analysis-breaker-cooldown",
    type=click.FloatRange(min=0.0, min_open=True),
    default=30.0,
    help="Seconds a metric backend's open circuit breaker waits before letting one probe through.",
)
@option(
    "--analysis-query-threads",
    type=click.IntRange(1, 10000),
    default=64,
    help="Prometheus query threads (and web connections) shared by every namespace.",
)
@option(
    "--metrics-port", type=click.IntRange(0, 65535), default=8090, help="/metrics port (0: pick a free one)."
)
@option(
    "--healthz-port", type=click.IntRange(0, 65535), default=8080, help="/healthz, /readyz port (0: free)."
)
@option(
    "--bind",
    default=None,
    show_default="0.0.0.0 in a pod, else 127.0.0.1",
    help="Address the metrics and health servers listen on.",
)
@option(
    "--allow-cross-namespace-routing",
    is_flag=True,
    default=False,
    help="Let a Rollout name router objects (VirtualService, DestinationRule, HTTPRoute) in other namespaces.",
)
@option(
    "--self-service-notification-enabled",
    is_flag=True,
    default=False,
    help="Also read argo-rollouts-notification-configmap/-secret in each Rollout's own namespace.",
)
@option(
    "--notifications-namespace",
    default=None,
    show_default="$POD_NAMESPACE, else argo-rollouts",
    help="Namespace of the controller's argo-rollouts-notification-configmap and -secret.",
)
@option(
    "--notification-timeout",
    type=click.FloatRange(min=0.0, min_open=True),
    default=10.0,
    help="Seconds one notification attempt may take before it is retried.",
)
@option(
    "--notification-attempts",
    type=click.IntRange(1, 100),
    default=5,
    help="Attempts per notification (retryable failures: no answer, timeout, 408, 429, 5xx).",
)
@option("--resync", type=click.FloatRange(min=1.0), default=900.0, help="Replay every object every (s).")
@option("--log-format", type=click.Choice(["text", "json"]), default="text", help="Log format.")
@option(
    "--log-level",
    type=click.Choice(["trace", "debug", "info", "warning", "error"], case_sensitive=False),
    default="info",
    help="Log level.",
)
def controller(**opts: Any) -> None:
    """Run the controller (in a cluster or against a kubeconfig)."""
    setup_logging(opts["log_level"], opts["log_format"])
    try:
        code = asyncio.run(_run(opts))
    except ValueError as e:  # settings that do not fit together
        raise click.ClickException(str(e)) from e
    sys.exit(code)


async def _run(opts: dict[str, Any]) -> int:
    from rollouts.controller.leadership import default_identity
    from rollouts.controller.manager import ControllerConfig, Manager, default_bind
    from rollouts.kube.client import KubeClient
    from rollouts.kube.config import load_settings, settings_for_url
    from rollouts.kube.errors import KubeConfigError, KubeError, Unreachable

    try:
        if opts["server"]:
            settings = settings_for_url(opts["server"])
        else:
            settings = await load_settings(opts["kubeconfig"], opts["kube_context"])
    except KubeConfigError as e:
        raise click.ClickException(e.message) from e
    lease_ns = (
        opts["leader_election_namespace"]
        or os.environ.get("POD_NAMESPACE")
        or opts["namespace"]
        or settings.namespace
    )
    identity = default_identity()  # the Lease holder, and in the user agent: audit logs tell replicas apart
    config = ControllerConfig(
        namespace=opts["namespace"] or None,
        identity=identity,
        instance_id=opts["instance_id"],
        leader_elect=opts["leader_elect"],
        sharding=opts["sharding"],
        lease_namespace=lease_ns,
        lease_duration=opts["leader_election_lease_duration"],
        renew_deadline=opts["leader_election_renew_deadline"],
        retry_period=opts["leader_election_retry_period"],
        rollout_workers=opts["rollout_workers"],
        analysis_workers=opts["analysis_workers"],
        rollout_namespace_workers=opts["rollout_namespace_workers"],
        analysis_namespace_workers=opts["analysis_namespace_workers"],
        resync=opts["resync"],
        metrics_port=opts["metrics_port"],
        healthz_port=opts["healthz_port"],
        bind=opts["bind"] or default_bind(),
        allow_cross_namespace_routing=opts["allow_cross_namespace_routing"],
        analysis_backend_concurrency=opts["analysis_backend_concurrency"],
        analysis_backend_rate=opts["analysis_backend_rate"],
        analysis_namespace_concurrency=opts["analysis_namespace_concurrency"],
        analysis_query_threads=opts["analysis_query_threads"],
        analysis_coalesce_window=opts["analysis_coalesce_window"],
        analysis_breaker_failures=opts["analysis_breaker_failures"],
        analysis_breaker_cooldown=opts["analysis_breaker_cooldown"],
        notifications_namespace=opts["notifications_namespace"] or None,
        self_service_notifications=opts["self_service_notification_enabled"],
        notification_timeout=opts["notification_timeout"],
        notification_attempts=opts["notification_attempts"],
    )
    if config.sharding:
        from rollouts.controller.sharding import ShardConfig

        ShardConfig(
            namespace=lease_ns,
            lease_duration=config.lease_duration,
            renew_deadline=config.renew_deadline,
            retry_period=config.retry_period,
        ).validate()
    elif config.leader_elect:
        from rollouts.controller.leadership import ElectionConfig

        ElectionConfig(
            namespace=lease_ns,
            lease_duration=config.lease_duration,
            renew_deadline=config.renew_deadline,
            retry_period=config.retry_period,
        ).validate()
    client = KubeClient(
        settings,
        qps=opts["qps"],
        burst=opts["burst"],
        user_agent=f"rollouts-controller/{__version__} ({identity})",
    )
    try:
        from rollouts.kube.resources import ROLLOUTS

        await client.list(ROLLOUTS, config.namespace, limit=1)
    except KubeError as e:
        await client.close()
        where = (
            "" if isinstance(e, Unreachable) else f" {settings.describe()}"
        )  # Unreachable already names it
        raise click.ClickException(f"cannot use the API server{where}: {e.message}") from e
    from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector

    registry = CollectorRegistry()
    ProcessCollector(
        registry=registry
    )  # process_resident_memory_bytes, process_cpu_seconds_total, start time
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    manager = Manager(client, config, registry=registry)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        try:
            await manager.start()
        except OSError as e:  # a port taken, an address not on this machine
            raise click.ClickException(
                f"cannot serve /healthz and /metrics on {config.bind} (--bind) ports {config.healthz_port} "
                f"(--healthz-port) and {config.metrics_port} (--metrics-port): {e.strerror or e}"
            ) from e
        host = "127.0.0.1" if config.bind in ("0.0.0.0", "") else config.bind
        print(
            f"rollouts controller {__version__}: healthz http://{host}:{manager.health.healthz_port}/healthz "
            f"metrics http://{host}:{manager.health.metrics_port}/metrics",
            flush=True,
        )
        if manager.member is not None:
            how = f"sharding over the leases labelled {manager.member.config.group} in {lease_ns}"
        elif manager.elector is not None:
            how = f"leader election on lease {lease_ns}/{manager.elector.config.name}"
        else:
            how = "leader election off"
        logger.info(
            "watching {} via {} ({}, identity {})",
            config.namespace or "all namespaces",
            settings.describe(),
            how,
            identity,
        )
        await stop.wait()
        logger.info("shutting down")
    finally:
        await manager.stop()
        await client.close()
    return 0
