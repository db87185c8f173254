"""Three sharded controller processes (`rollouts controller --sharding`) step 60 canaries against a sandbox
process; one replica is SIGKILLed in the middle of the update and a fourth joins. Every rollout reaches Healthy on
the new template, no step is taken twice (each `RolloutStepCompleted` of the update exists once, count 1, over
every replica's Events), and once membership is stable the live replicas split the rollouts within 20 % of even.

(A step taken by two replicas would show as two Events for one message — each process has its own event
correlator — or as a count of 2 on one.)"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from rollouts.kube import KubeClient, settings_for_url
from rollouts.kube.resources import EVENTS, ROLLOUTS
from tests.controller.processes import FAST_LEASE, Controller, controllers, start_controller, stop, wait

NS = "shard"
N = 60
STEPS: list[dict[str, Any]] = [
    {"setWeight": 25},
    {"pause": {"duration": "3s"}},
    {"setWeight": 50},
    {"pause": {"duration": "3s"}},
    {"setWeight": 75},
    {"pause": {"duration": "3s"}},
]


def rollout(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "app:1"}]},
            },
            "strategy": {"canary": {"steps": STEPS}},
        },
    }


class Cluster:
    """The sandbox seen through the real client, driven from a synchronous test."""

    def __init__(self, url: str) -> None:
        self.url = url

    def run(self, coro: Any) -> Any:
        async def go() -> Any:
            client = KubeClient(settings_for_url(self.url))
            try:
                return await coro(client)
            finally:
                await client.close()

        return asyncio.run(go())

    def rollouts(self) -> list[dict[str, Any]]:
        return list(self.run(lambda c: c.list(ROLLOUTS, NS)).items)

    def healthy_on(self, image: str) -> int:
        count = 0
        for ro in self.rollouts():
            st = ro.get("status") or {}
            gen = str((ro.get("metadata") or {}).get("generation"))
            container = ro["spec"]["template"]["spec"]["containers"][0]
            if (
                container["image"] == image
                and st.get("phase") == "Healthy"
                and st.get("observedGeneration") == gen
                and st.get("stableRS") == st.get("currentPodHash")
            ):
                count += 1
        return count


def owned(controller: Controller) -> float:
    return controller.metric("controller_shard_rollouts") or 0.0


@pytest.mark.slow
def test_three_replicas_share_60_rollouts_through_a_kill_and_a_join(
    sandbox_process: Any, tmp_path: Path
) -> None:
    cluster = Cluster(sandbox_process.url)
    kubeconfig = sandbox_process.kubeconfig_path

    async def create(client: KubeClient) -> None:
        for i in range(N):
            await client.create(ROLLOUTS, rollout(f"app-{i:02d}"), NS)

    cluster.run(create)
    args = ("--sharding", *FAST_LEASE)
    with controllers(kubeconfig, "a", "b", "c", args=args) as (a, b, c):
        live = [a, b, c]
        assert wait(lambda: cluster.healthy_on("app:1") == N, 90), cluster.healthy_on("app:1")
        assert wait(lambda: sum(owned(r) for r in live) == N and all(owned(r) > 0 for r in live), 30)

        async def update(client: KubeClient) -> None:
            for i in range(N):
                patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "app:2"}]}}}}
                await client.patch(ROLLOUTS, f"app-{i:02d}", patch, NS, patch_type="merge")

        cluster.run(update)
        # mid-update: every rollout has left its first step, none has finished
        assert wait(
            lambda: all((r.get("status") or {}).get("currentStepIndex", 0) >= 1 for r in cluster.rollouts()),
            30,
        )
        assert cluster.healthy_on("app:2") == 0
        killed_share = owned(b)
        b.process.send_signal(signal.SIGKILL)
        b.process.wait(10)
        d = start_controller(kubeconfig, "d", *args)
        try:
            live = [a, c, d]
            assert wait(lambda: cluster.healthy_on("app:2") == N, 120), cluster.healthy_on("app:2")
            # stable membership: three live replicas, every rollout owned once, each within 20 % of even (16–24)
            assert wait(
                lambda: (
                    all(r.metric("controller_shard_members") == 3 for r in live)
                    and sum(owned(r) for r in live) == N
                ),
                30,
            )
            split = sorted(owned(r) for r in live)
            print(f"\nsplit after the kill and the join: {split} (the killed replica had {killed_share:g})")
            assert split[0] >= 16 and split[-1] <= 24, split
            assert owned(d) > 0  # the replica that joined took its share
        finally:
            stop(d.process)

    time.sleep(0.5)
    events = cluster.run(lambda client: client.list(EVENTS, NS)).items
    completed = Counter[tuple[str, str]]()
    for event in events:
        if event.get("reason") == "RolloutStepCompleted":
            completed[(event["involvedObject"]["name"], event["message"])] += int(event.get("count") or 1)
    expected = {
        (f"app-{i:02d}", f"Rollout step {k}/6 completed ({text})")
        for i in range(N)
        for k, text in enumerate(
            ["setWeight: 25", "pause: 3s", "setWeight: 50", "pause: 3s", "setWeight: 75", "pause: 3s"], 1
        )
    }
    duplicates = {key: n for key, n in completed.items() if n > 1}
    assert not duplicates, duplicates
    assert set(completed) <= expected
    # Events leave a pass through the recorder's queue: the killed replica may have died with a few queued,
    # at most one per rollout it owned (a step completes per pass); every other step is on record.
    missing = expected - set(completed)
    print(f"RolloutStepCompleted: {len(completed)} of {len(expected)} on record, none twice")
    assert len(missing) <= killed_share and len({name for name, _ in missing}) == len(missing), missing
