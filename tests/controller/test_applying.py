"""The applier against the sandbox API server through the real client: every action idempotent, one status patch."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import pytest

from rollouts.controller.applying import AdoptionError, Applier
from rollouts.kube import Conflict, KubeClient, settings_for_url
from rollouts.kube.resources import ANALYSIS_RUNS, EVENTS, REPLICA_SETS, ROLLOUTS, SERVICES, VIRTUAL_SERVICES
from rollouts.sandbox.running import Sandbox
from rollouts.strategy.plan import (
    CreateAnalysisRun,
    CreateReplicaSet,
    DeleteAnalysisRun,
    DeleteReplicaSet,
    EmitEvent,
    Plan,
    ScaleReplicaSet,
    SetServiceSelector,
    TerminateAnalysisRun,
    UpdateReplicaSetMeta,
)
from rollouts.traffic.base import EditRouter

NS = "prod"
ROLLOUT: dict[str, Any] = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Rollout",
    "metadata": {"name": "api", "namespace": NS},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "api"}},
        "template": {
            "metadata": {"labels": {"app": "api"}},
            "spec": {"containers": [{"name": "c", "image": "i:1"}]},
        },
        "strategy": {"canary": {"steps": [{"setWeight": 50}]}},
    },
}
CREATE_RS = CreateReplicaSet(
    name="api-abc",
    pod_template_hash="abc",
    replicas=1,
    template={
        "metadata": {"labels": {"app": "api", "rollouts-pod-template-hash": "abc"}},
        "spec": {"containers": [{"name": "c", "image": "i:1"}]},
    },
    selector={"matchLabels": {"app": "api", "rollouts-pod-template-hash": "abc"}},
    labels={"app": "api"},
    annotations={"rollout.argoproj.io/revision": "1"},
)
RUN_SPEC = {"metrics": [{"name": "m", "provider": {"web": {"url": "http://127.0.0.1:1/"}}}]}


@pytest.fixture
async def env() -> AsyncIterator[tuple[Sandbox, KubeClient, dict[str, Any]]]:
    async with Sandbox(pod_ready_delay=0.0) as sandbox:
        client = KubeClient(settings_for_url(sandbox.url))
        try:
            rollout = await client.create(ROLLOUTS, copy.deepcopy(ROLLOUT), NS)
            yield sandbox, client, rollout
        finally:
            await client.close()


def writes(sandbox: Sandbox, resource: str, subresource: str | None = None) -> int:
    return sandbox.requests.count(
        writes=True, resource=resource, **({"subresource": subresource} if subresource else {})
    )


async def test_create_replica_set_owned_and_idempotent(
    env: tuple[Sandbox, KubeClient, dict[str, Any]],
) -> None:
    _, client, rollout = env
    applier = Applier(client)
    await applier.apply_action(rollout, CREATE_RS)
    await applier.apply_action(rollout, CREATE_RS)  # a retried pass: AlreadyExists and ours → nothing
    rs = await client.get(REPLICA_SETS, "api-abc", NS)
    (owner,) = rs["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["uid"], owner["controller"], owner["blockOwnerDeletion"]) == (
        "Rollout",
        rollout["metadata"]["uid"],
        True,
        True,
    )
    assert rs["metadata"]["labels"]["rollouts-pod-template-hash"] == "abc"
    assert rs["spec"]["replicas"] == 1
    assert len((await client.list(REPLICA_SETS, NS)).items) == 1


async def test_orphan_replica_set_is_adopted(env: tuple[Sandbox, KubeClient, dict[str, Any]]) -> None:
    _, client, rollout = env
    orphan = {
        "metadata": {"name": "api-abc", "labels": {"app": "api"}},
        "spec": {"replicas": 0, "selector": CREATE_RS.selector, "template": CREATE_RS.template},
    }
    await client.create(REPLICA_SETS, orphan, NS)
    await Applier(client).apply_action(rollout, CREATE_RS)
    rs = await client.get(REPLICA_SETS, "api-abc", NS)
    assert [r["uid"] for r in rs["metadata"]["ownerReferences"]] == [rollout["metadata"]["uid"]]


async def test_replica_set_of_another_owner_is_an_error(
    env: tuple[Sandbox, KubeClient, dict[str, Any]],
) -> None:
    _, client, rollout = env
    other = {**rollout, "metadata": {**rollout["metadata"], "uid": "someone-else"}}
    await Applier(client).apply_action(other, CREATE_RS)
    with pytest.raises(AdoptionError, match="controlled by another owner"):
        await Applier(client).apply_action(rollout, CREATE_RS)


async def test_scale_sets_and_removes_annotations(env: tuple[Sandbox, KubeClient, dict[str, Any]]) -> None:
    _, client, rollout = env
    applier = Applier(client)
    await applier.apply_action(rollout, CREATE_RS)
    await applier.apply_action(
        rollout, ScaleReplicaSet("api-abc", 3, annotations={"scale-down-deadline": "2026-01-01T00:00:00Z"})
    )
    rs = await client.get(REPLICA_SETS, "api-abc", NS)
    assert rs["spec"]["replicas"] == 3
    assert rs["metadata"]["annotations"]["scale-down-deadline"] == "2026-01-01T00:00:00Z"
    await applier.apply_action(
        rollout, ScaleReplicaSet("api-abc", 0, annotations={"scale-down-deadline": None})
    )
    rs = await client.get(REPLICA_SETS, "api-abc", NS)
    assert rs["spec"]["replicas"] == 0
    assert "scale-down-deadline" not in rs["metadata"]["annotations"]
    assert rs["metadata"]["annotations"]["rollout.argoproj.io/revision"] == "1"
    await applier.apply_action(
        rollout, UpdateReplicaSetMeta("api-abc", annotations={"rollout.argoproj.io/revision": "3"})
    )
    rs = await client.get(REPLICA_SETS, "api-abc", NS)
    assert rs["metadata"]["annotations"]["rollout.argoproj.io/revision"] == "3"
    await applier.apply_action(rollout, DeleteReplicaSet("api-abc"))
    await applier.apply_action(rollout, DeleteReplicaSet("api-abc"))  # already gone: fine
    assert (await client.get_or_none(REPLICA_SETS, "api-abc", NS)) is None


async def test_service_selector_keeps_other_labels(env: tuple[Sandbox, KubeClient, dict[str, Any]]) -> None:
    """docs/semantics/controller.md#bluegreen step 4: selector hash plus the managed-by annotation."""
    _, client, rollout = env
    await client.create(
        SERVICES, {"metadata": {"name": "api-stable"}, "spec": {"selector": {"app": "api"}}}, NS
    )
    await Applier(client).apply_action(rollout, SetServiceSelector("api-stable", "abc", "api"))
    svc = await client.get(SERVICES, "api-stable", NS)
    assert svc["spec"]["selector"] == {"app": "api", "rollouts-pod-template-hash": "abc"}
    assert svc["metadata"]["annotations"]["argo-rollouts.argoproj.io/managed-by-rollouts"] == "api"


async def test_edit_router_is_guarded_by_resource_version(
    env: tuple[Sandbox, KubeClient, dict[str, Any]],
) -> None:
    _, client, rollout = env
    vs = await client.create(
        VIRTUAL_SERVICES,
        {"metadata": {"name": "vs"}, "spec": {"http": [{"name": "primary", "route": [{"weight": 100}]}]}},
        NS,
    )
    edited = copy.deepcopy(vs)
    edited["spec"]["http"][0]["route"][0]["weight"] = 95
    action = EditRouter(VIRTUAL_SERVICES.api_version, "VirtualService", NS, "vs", obj=edited)
    applier = Applier(client)
    await applier.apply_action(rollout, action)
    assert (await client.get(VIRTUAL_SERVICES, "vs", NS))["spec"]["http"][0]["route"][0]["weight"] == 95
    with pytest.raises(Conflict):  # decided from the old object: the pass must re-read
        await applier.apply_action(rollout, action)
    await applier.apply_action(
        rollout, EditRouter(VIRTUAL_SERVICES.api_version, "VirtualService", NS, "vs", delete=True)
    )
    assert (await client.get_or_none(VIRTUAL_SERVICES, "vs", NS)) is None


async def test_analysis_run_collisions(env: tuple[Sandbox, KubeClient, dict[str, Any]]) -> None:
    """docs/semantics/controller.md#rollout-analysis: an equal unfinished run of ours is reused; any other collision gets `.1`, `.2`…"""
    _, client, rollout = env
    action = CreateAnalysisRun("api-abc-1", RUN_SPEC, {"rollout-type": "Background"}, {})
    applier = Applier(client)
    await applier.apply_action(rollout, action)
    await applier.apply_action(rollout, action)
    names = sorted(r["metadata"]["name"] for r in (await client.list(ANALYSIS_RUNS, NS)).items)
    assert names == ["api-abc-1"]
    other_spec = CreateAnalysisRun(
        "api-abc-1", {"metrics": [{"name": "n", "provider": {"web": {"url": "x"}}}]}, {}, {}
    )
    await applier.apply_action(rollout, other_spec)
    await applier.apply_action(rollout, CreateAnalysisRun("api-abc-1", {"metrics": []}, {}, {}))
    names = sorted(r["metadata"]["name"] for r in (await client.list(ANALYSIS_RUNS, NS)).items)
    assert names == ["api-abc-1", "api-abc-1.1", "api-abc-1.2"]
    run = await client.get(ANALYSIS_RUNS, "api-abc-1.1", NS)
    assert run["metadata"]["ownerReferences"][0]["uid"] == rollout["metadata"]["uid"]
    await applier.apply_action(rollout, TerminateAnalysisRun("api-abc-1"))
    assert (await client.get(ANALYSIS_RUNS, "api-abc-1", NS))["spec"]["terminate"] is True
    await applier.apply_action(rollout, TerminateAnalysisRun("missing"))  # nothing to terminate
    await applier.apply_action(rollout, DeleteAnalysisRun("api-abc-1.2"))
    assert (await client.get_or_none(ANALYSIS_RUNS, "api-abc-1.2", NS)) is None


async def test_one_status_patch_and_none_when_equal(env: tuple[Sandbox, KubeClient, dict[str, Any]]) -> None:
    sandbox, client, rollout = env
    events: list[tuple[str, str, str, str]] = []
    applier = Applier(client, on_event=lambda *e: events.append(e))
    status = {"phase": "Progressing", "currentStepIndex": 0, "observedGeneration": "1"}
    plan = Plan(new_status=status, actions=(EmitEvent("Normal", "RolloutUpdated", "hello"),))
    before = writes(sandbox, "rollouts", "status")
    result = await applier.apply(rollout, plan)
    assert result.rollout is not None
    assert result.rollout["status"] == status
    assert writes(sandbox, "rollouts", "status") == before + 1
    assert events == [(NS, "api", "Normal", "RolloutUpdated")]
    assert await applier.events.flush(within=30)  # Events are written off the pass
    (event,) = (await client.list(EVENTS, NS)).items
    assert (event["reason"], event["involvedObject"]["name"], event["type"]) == (
        "RolloutUpdated",
        "api",
        "Normal",
    )

    again = await applier.apply(result.rollout, Plan(new_status=status))
    assert again.rollout is None and again.writes == 0
    assert writes(sandbox, "rollouts", "status") == before + 1

    with pytest.raises(Conflict):  # a status decided from a stale Rollout is refused
        await applier.apply(rollout, Plan(new_status={**status, "currentStepIndex": 1}))
    stored = await client.get(ROLLOUTS, "api", NS)
    assert stored["status"]["currentStepIndex"] == 0


async def test_events_are_retried_then_dropped_counted_and_logged(
    env: tuple[Sandbox, KubeClient, dict[str, Any]],
) -> None:
    """An Event the API server fails to take (500) is retried with the client's bounded backoff (off the pass,
    by the recorder); when every attempt fails it is dropped: one WARNING naming it, one
    `controller_events_dropped_total{cause="refused"}`; emitting never waits for the API server."""
    from loguru import logger

    from rollouts.kube.client import RetryPolicy

    sandbox, client, rollout = env
    client.retry = RetryPolicy(attempts=3, base=0.001, cap=0.01)
    dropped: list[tuple[str, str, str]] = []
    applier = Applier(client, on_event_dropped=lambda *labels: dropped.append(labels))
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="WARNING", format="{message}")
    try:
        sandbox.faults.update(error_rate=1.0, verbs=["create"])
        applier.emit(rollout, EmitEvent("Normal", "RolloutPaused", "paused"))
        assert await applier.events.flush(within=30)
        assert sandbox.requests.count(resource="events", verb="create") == 4  # 1 + 3 retries, then dropped
        assert dropped == [("Rollout", "Normal", "RolloutPaused", "refused")]
        (line,) = [line for line in lines if "dropped" in line]
        assert line.startswith(
            f"event RolloutPaused on rollout {NS}/api dropped after 4 attempts: create events {NS}/api."
        )
        assert line.endswith(": Internal error occurred: injected fault (sandbox)\n")

        sandbox.faults.update(error_rate=0.5, seed=1)  # half the answers fail: the retries get them through
        sandbox.requests.reset()
        for i in range(5):
            applier.emit(rollout, EmitEvent("Normal", "RolloutResumed", f"resumed {i}"))
        assert await applier.events.flush(within=30)
        assert sandbox.requests.count(resource="events", verb="create") == 5 + 6  # 6 failed answers retried
    finally:
        logger.remove(sink)
        sandbox.faults.reset()
    events = sandbox.list("v1", "Event", NS)
    assert sorted(e["message"] for e in events) == [f"resumed {i}" for i in range(5)]
    assert len(dropped) == 1
