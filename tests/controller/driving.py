"""Driving one Rollout through the reconciler pass by pass on an injected clock (the router tests' loop), and the
plain objects those tests create."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from rollouts.controller.reconciling import RolloutReconciler
from rollouts.kube import KubeClient
from rollouts.kube.resources import ROLLOUTS


async def drive_rollout(
    reconciler: RolloutReconciler,
    client: KubeClient,
    advance: Callable[[float], None],
    key: tuple[str, str],
    until: Callable[[dict[str, Any]], bool],
    note: Callable[[], Awaitable[None]] | None = None,
    limit: int = 300,
) -> dict[str, Any]:
    """Reconcile `key` until `until(rollout)`; `note()` runs after each pass (to record what a router says). A
    requeue of more than 0.5 s is skipped on the clock (`advance`); otherwise the simulator gets a moment to make
    pods ready."""
    rollout: dict[str, Any] = {}
    for _ in range(limit):
        requeue = await reconciler.reconcile(key)
        if note is not None:
            await note()
        rollout = await client.get(ROLLOUTS, key[1], key[0])
        if until(rollout):
            return rollout
        if requeue is not None and requeue > 0.5:
            advance(requeue)
        else:
            await asyncio.sleep(0.01)
    raise AssertionError(f"the rollout never reached the condition; status: {rollout.get('status')}")


def plain_service(name: str, app: str) -> dict[str, Any]:
    """A Service selecting the pods labelled `app: <app>` on port 80 (the stable/canary Services of a canary)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": app}, "ports": [{"port": 80, "targetPort": 8080}]},
    }


@contextlib.asynccontextmanager
async def running_controller(url: str) -> AsyncIterator[KubeClient]:
    """The test's own client, with the whole controller (a `Manager`: informers, queues, every reconciler) running
    against the API server at `url` until the block ends."""
    from prometheus_client import CollectorRegistry

    from rollouts.controller.manager import ControllerConfig, Manager
    from rollouts.kube.config import settings_for_url

    client = KubeClient(settings_for_url(url), qps=0, user_agent="test")
    ctl = KubeClient(settings_for_url(url), qps=0, user_agent="controller-under-test")
    config = ControllerConfig(
        leader_elect=False, healthz_port=0, metrics_port=0, bind="127.0.0.1", resync=3600
    )
    manager = Manager(ctl, config, registry=CollectorRegistry())
    await manager.start()
    try:
        yield client
    finally:
        await manager.stop(grace=1)
        await ctl.close()
        await client.close()
