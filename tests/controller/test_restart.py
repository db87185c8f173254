"""Restarts against the sandbox with the real reconciler (docs/semantics/controller.md#restart): `kubectl rollouts
restart` sets spec.restartAt; the controller evicts the pods created before it through the Eviction API, one at a
time for 3 replicas, the ReplicaSet brings new ones, and `status.restartedAt` is written when none is left."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from rollouts.controller.reconciling import RolloutReconciler
from rollouts.kube import KubeClient
from rollouts.kube.errors import NotFound
from rollouts.kube.resources import PODS, ROLLOUTS
from rollouts.models.vocabulary import format_time, parse_time
from rollouts.sandbox.running import Sandbox
from tests.controller.driving import drive_rollout
from tests.controller.test_ephemeral_metadata import rollout
from tests.controller.test_reconciling import NS, ManualTime, create_all, env, healthy_on  # noqa: F401 - env is a fixture

KEY = (NS, "shop")


async def live_pods(client: KubeClient) -> dict[str, dict[str, Any]]:
    items = (await client.list(PODS, NS, label_selector="app=shop")).items
    return {p["metadata"]["name"]: p for p in items if not p["metadata"].get("deletionTimestamp")}


async def test_restart_evicts_every_older_pod_then_acknowledges(env: tuple[Sandbox, KubeClient]) -> None:  # noqa: F811
    _, client = env
    shop = rollout()
    shop["spec"]["replicas"] = 3
    await create_all(client, [shop])
    time = ManualTime()
    reconciler = RolloutReconciler(client, clock=time)
    await drive_rollout(reconciler, client, time.advance, KEY, healthy_on())
    before = await live_pods(client)
    assert len(before) == 3
    # `kubectl rollouts restart shop`: restartAt = now (whole seconds), and the pods are older than that
    restart_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    await asyncio.sleep((restart_at - datetime.now(UTC)).total_seconds() + 0.05)
    await client.patch(ROLLOUTS, "shop", {"spec": {"restartAt": format_time(restart_at)}}, NS)
    time.now = datetime.now(UTC)
    counts: list[int] = []

    async def note() -> None:
        counts.append(len(set(before) & set(await live_pods(client))))

    done = await drive_rollout(
        reconciler,
        client,
        time.advance,
        KEY,
        lambda r: (r.get("status") or {}).get("restartedAt") == format_time(restart_at),
        note,
    )
    after = await live_pods(client)
    assert not set(before) & set(after) and len(after) == 3  # every pod replaced
    assert all(parse_time(p["metadata"]["creationTimestamp"]) >= restart_at for p in after.values())  # type: ignore[operator]
    assert counts[0] == 2 and sorted(set(counts), reverse=True) == [2, 1, 0]  # one eviction at a time
    assert done["status"]["phase"] == "Healthy"


async def test_the_sandbox_serves_the_eviction_subresource(env: tuple[Sandbox, KubeClient]) -> None:  # noqa: F811
    _, client = env
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "lonely"},
        "spec": {"containers": [{"name": "c", "image": "x"}]},
    }
    await client.create(PODS, pod, NS)
    answer = await client.evict("lonely", NS)
    assert answer["status"] == "Success"
    try:
        gone = await client.get(PODS, "lonely", NS)
    except NotFound:
        return
    assert gone["metadata"].get("deletionTimestamp")  # or being deleted
