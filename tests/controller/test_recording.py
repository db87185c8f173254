"""The event recorder against the sandbox through the real client: Events leave the reconcile through a bounded
queue, repeats become a count on one object, each object's Events keep their order, shutdown drains what it can.

Rules: docs/semantics/controller.md#events.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import pytest

from rollouts.controller.applying import Applier
from rollouts.controller.recording import EventRecorder, RecorderOptions
from rollouts.kube import KubeClient, settings_for_url
from rollouts.kube.resources import ROLLOUTS
from rollouts.sandbox.running import Sandbox
from rollouts.strategy.plan import EmitEvent, Plan

NS = "prod"
ROLLOUT: dict[str, Any] = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Rollout",
    "metadata": {"name": "api", "namespace": NS},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "api"}},
        "template": {
            "metadata": {"labels": {"app": "api"}},
            "spec": {"containers": [{"name": "c", "image": "i"}]},
        },
        "strategy": {"canary": {}},
    },
}


@pytest.fixture
async def env() -> AsyncIterator[tuple[Sandbox, KubeClient, dict[str, Any]]]:
    async with Sandbox(pod_ready_delay=0.0) as sandbox:
        client = KubeClient(settings_for_url(sandbox.url))
        try:
            yield sandbox, client, await client.create(ROLLOUTS, copy.deepcopy(ROLLOUT), NS)
        finally:
            await client.close()


def stored(sandbox: Sandbox) -> list[dict[str, Any]]:
    events = sandbox.list("v1", "Event", NS)
    return sorted(events, key=lambda e: int(e["metadata"]["resourceVersion"]))


async def test_a_repeated_event_is_one_object_with_a_count(
    env: tuple[Sandbox, KubeClient, dict[str, Any]],
) -> None:
    sandbox, client, rollout = env
    recorder = EventRecorder(client)
    for _ in range(3):
        assert recorder.emit(rollout, "Normal", "RolloutPaused", "Rollout is paused (CanaryPauseStep)")
        assert await recorder.flush(within=30)
    (event,) = stored(sandbox)
    assert (event["reason"], event["count"], event["message"]) == (
        "RolloutPaused",
        3,
        "Rollout is paused (CanaryPauseStep)",
    )
    assert event["involvedObject"]["uid"] == rollout["metadata"]["uid"]
    assert (recorder.created, recorder.patched) == (1, 2)
    assert sandbox.requests.count(resource="events", verb="patch") == 2
    await recorder.stop()


async def test_emitting_never_waits_and_a_full_queue_drops(
    env: tuple[Sandbox, KubeClient, dict[str, Any]],
) -> None:
    """With the API server taking 2 s per Event, a pass that emits three Events returns with none written; a queue
    of 3 takes no fourth: it is dropped and counted (`cause="queue_full"`), the others are written later."""
    sandbox, client, rollout = env
    dropped: list[tuple[str, ...]] = []
    recorder = EventRecorder(
        client, options=RecorderOptions(queue_size=3), on_dropped=lambda *labels: dropped.append(labels)
    )
    applier = Applier(client, events=recorder)
    sandbox.faults.update(latency=2.0, verbs=["create"])
    try:
        plan = Plan(
            new_status={"phase": "Progressing"},
            actions=tuple(EmitEvent("Normal", f"Reason{i}", f"message {i}") for i in range(3)),
        )
        await applier.apply(rollout, plan)
        assert stored(sandbox) == []  # the status is written; the Events are still on their way
        assert not recorder.emit(rollout, "Warning", "RolloutAborted", "one too many")
        assert dropped == [("Rollout", "Warning", "RolloutAborted", "queue_full")]
        assert await recorder.flush(within=60)
    finally:
        sandbox.faults.reset()
    assert sorted(e["reason"] for e in stored(sandbox)) == ["Reason0", "Reason1", "Reason2"]
    await recorder.stop()


async def test_the_events_of_one_object_keep_their_order(
    env: tuple[Sandbox, KubeClient, dict[str, Any]],
) -> None:
    sandbox, client, rollout = env
    other = await client.create(
        ROLLOUTS, {**copy.deepcopy(ROLLOUT), "metadata": {"name": "web", "namespace": NS}}, NS
    )
    recorder = EventRecorder(client, options=RecorderOptions(lanes=8))
    sandbox.faults.update(latency=0.01, verbs=["create"])
    try:
        for i in range(20):
            recorder.emit(rollout, "Normal", f"Step{i}", f"api {i}")
            recorder.emit(other, "Normal", f"Step{i}", f"web {i}")
        assert await recorder.flush(within=60)
    finally:
        sandbox.faults.reset()
    for name in ("api", "web"):
        reasons = [e["reason"] for e in stored(sandbox) if e["involvedObject"]["name"] == name]
        assert reasons == [f"Step{i}" for i in range(20)]
    await recorder.stop()


async def test_stop_writes_what_it_can_then_counts_the_rest(
    env: tuple[Sandbox, KubeClient, dict[str, Any]],
) -> None:
    sandbox, client, rollout = env
    dropped: list[tuple[str, ...]] = []
    recorder = EventRecorder(
        client, options=RecorderOptions(lanes=1), on_dropped=lambda *labels: dropped.append(labels)
    )
    sandbox.faults.update(latency=0.3, verbs=["create"])
    try:
        for i in range(10):
            recorder.emit(rollout, "Normal", f"Step{i}", f"message {i}")
        await recorder.stop(deadline=1.0)
    finally:
        sandbox.faults.reset()
    written = len(stored(sandbox))
    assert 0 < written < 10
    assert all(cause == "shutdown" for *_, cause in dropped)
    assert written + len(dropped) >= 9  # the one being written at the deadline may land or not
