"""The Rollout reconciler (observe → decide → apply) driven pass by pass against the sandbox.

Time for pauses and scale-down delays comes from an injected clock the test advances; pods become Ready through
the sandbox's simulator. The seed's canary (examples/istio-canary) without its analysis, so this exercises the
reconciler alone (the analysis reconciler and the real-Prometheus scenarios are in tests/e2e).
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from loguru import logger
from prometheus_client import CollectorRegistry

from rollouts.controller.metrics import ControllerMetrics
from rollouts.controller.reconciling import RolloutReconciler
from rollouts.kube import KubeClient, settings_for_url
from rollouts.kube.resources import EVENTS, REPLICA_SETS, ROLLOUTS, SERVICES, VIRTUAL_SERVICES, lookup
from rollouts.sandbox.running import Sandbox
from rollouts.strategy import decide
from rollouts.strategy.plan import Observed, Plan

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NS = "production"


def seed_canary() -> list[dict[str, Any]]:
    docs = []
    for name in ("services.yaml", "virtualservice.yaml", "rollout.yaml"):
        docs += [d for d in yaml.safe_load_all((EXAMPLES / "istio-canary" / name).read_text()) if d]
    for doc in docs:
        if doc["kind"] == "Rollout":
            canary = doc["spec"]["strategy"]["canary"]
            del canary["analysis"]  # no analysis here: see tests/e2e for the full seed scenario
            canary["scaleDownDelaySeconds"] = 5
    return docs


@dataclass
class ManualTime:
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
async def env() -> AsyncIterator[tuple[Sandbox, KubeClient]]:
    async with Sandbox(pod_ready_delay=0.0) as sandbox:
        client = KubeClient(settings_for_url(sandbox.url))
        try:
            yield sandbox, client
        finally:
            await client.close()


async def create_all(client: KubeClient, docs: list[dict[str, Any]]) -> None:
    for doc in docs:
        await client.create(lookup(doc["kind"], doc["apiVersion"]), copy.deepcopy(doc), NS)


def canary_weight(vs: dict[str, Any]) -> int:
    (route,) = vs["spec"]["http"]
    return int(
        next(d.get("weight", 0) for d in route["route"] if d["destination"]["host"] == "api-server-canary")
    )


async def drive(
    reconciler: RolloutReconciler,
    client: KubeClient,
    time: ManualTime,
    until: Callable[[dict[str, Any]], bool],
    weights: list[int] | None = None,
    status_weights: list[int] | None = None,
    name: str = "api-server",
    limit: int = 300,
) -> dict[str, Any]:
    """Reconcile until `until(rollout)`; a requeue of more than 0.5 s is skipped on the injected clock."""
    for _ in range(limit):
        requeue = await reconciler.reconcile((NS, name))
        rollout = await client.get(ROLLOUTS, name, NS)
        if weights is not None:
            weight = canary_weight(await client.get(VIRTUAL_SERVICES, "api-server-vsvc", NS))
            if not weights or weights[-1] != weight:
                weights.append(weight)
        if status_weights is not None:
            weight = int(
                ((rollout.get("status") or {}).get("canary") or {})
                .get("weights", {})
                .get("canary", {})
                .get("weight", 0)
            )
            if not status_weights or status_weights[-1] != weight:
                status_weights.append(weight)
        if until(rollout):
            return rollout
        if requeue is not None and requeue > 0.5:
            time.advance(requeue)
        else:
            await asyncio.sleep(0.01)  # let the simulator make pods Ready
    raise AssertionError(f"rollout never reached the condition; status: {rollout.get('status')}")


def healthy_on(pod_hash: str | None = None) -> Callable[[dict[str, Any]], bool]:
    def check(rollout: dict[str, Any]) -> bool:
        status = rollout.get("status") or {}
        done = status.get("phase") == "Healthy" and status.get("stableRS") == status.get("currentPodHash")
        return done and (pod_hash is None or status.get("stableRS") == pod_hash)

    return check


def settled(rollout: dict[str, Any]) -> bool:
    """Healthy on the new ReplicaSet, and the traffic handed back to the stable Service (weight 0, docs/semantics/controller.md#traffic-weights)."""
    weights = ((rollout.get("status") or {}).get("canary") or {}).get("weights") or {}
    return healthy_on()(rollout) and (weights.get("canary") or {}).get("weight", 0) == 0


async def test_seed_canary_steps_weights_in_order(env: tuple[Sandbox, KubeClient]) -> None:
    """docs/semantics/controller.md#canary-steps/docs/semantics/controller.md#traffic-weights: 5 → 20 → 50 → 80 → 100, then 0 once the new ReplicaSet is stable; old RS scaled down after
    scaleDownDelaySeconds."""
    _, client = env
    await create_all(client, seed_canary())
    time = ManualTime()
    reconciler = RolloutReconciler(client, clock=time)
    first = await drive(reconciler, client, time, healthy_on())
    old_hash = first["status"]["stableRS"]
    assert (
        first["status"]["currentStepIndex"] == 8
    )  # the initial deploy skips the steps (docs/semantics/controller.md#canary-steps)

    await client.patch(
        ROLLOUTS,
        "api-server",
        {
            "spec": {
                "template": {"spec": {"containers": [{"name": "api-server", "image": "api-server:v2.1.0"}]}}
            }
        },
        NS,
    )
    weights: list[int] = []
    status_weights: list[int] = []
    done = await drive(reconciler, client, time, healthy_on(), weights, status_weights)
    new_hash = done["status"]["stableRS"]
    assert new_hash != old_hash
    # The pass after promotion hands the traffic back to the stable Service (now on the new pods, docs/semantics/controller.md#traffic-weights).
    await drive(reconciler, client, time, settled, weights, status_weights, limit=5)
    assert status_weights == [0, 5, 20, 50, 80, 100, 0]
    assert weights == [0, 5, 20, 50, 80, 100, 0]
    stable = await client.get(SERVICES, "api-server-stable", NS)
    assert stable["spec"]["selector"]["rollouts-pod-template-hash"] == new_hash

    for _ in range(10):  # without moving the clock: the old ReplicaSet gets its deadline, and stays up
        await reconciler.reconcile((NS, "api-server"))
        old_rs = await client.get(REPLICA_SETS, f"api-server-{old_hash}", NS)
        if "scale-down-deadline" in old_rs["metadata"].get("annotations", {}):
            break
        await asyncio.sleep(0.01)
    assert "scale-down-deadline" in old_rs["metadata"]["annotations"]
    assert (
        old_rs["spec"]["replicas"] == 10
    )  # still up during scaleDownDelaySeconds (docs/semantics/controller.md#bluegreen step 6)
    time.advance(6)
    for _ in range(20):
        await reconciler.reconcile((NS, "api-server"))
        old_rs = await client.get(REPLICA_SETS, f"api-server-{old_hash}", NS)
        if old_rs["spec"]["replicas"] == 0:
            break
        await asyncio.sleep(0.01)
    assert old_rs["spec"]["replicas"] == 0

    reasons = [e["reason"] for e in (await client.list(EVENTS, NS)).items]
    assert "RolloutStepCompleted" in reasons or any("Step" in r for r in reasons)


async def test_no_op_pass_writes_nothing(env: tuple[Sandbox, KubeClient]) -> None:
    """A resync of a settled rollout makes zero API writes (status diff is empty, actions idempotent)."""
    sandbox, client = env
    await create_all(client, seed_canary())
    time = ManualTime()
    reconciler = RolloutReconciler(client, clock=time)
    await drive(reconciler, client, time, healthy_on())
    for _ in range(3):  # let the last scale-ups settle
        await reconciler.reconcile((NS, "api-server"))
        await asyncio.sleep(0.02)
    before = sandbox.requests.count(writes=True)
    for _ in range(5):
        await reconciler.reconcile((NS, "api-server"))
    assert sandbox.requests.count(writes=True) == before


async def test_invalid_spec_is_reported_and_others_keep_going(env: tuple[Sandbox, KubeClient]) -> None:
    """Bad input: InvalidSpec naming the field, phase Degraded, a backoff; the next rollout is still served."""
    _, client = env
    docs = seed_canary()
    await create_all(client, docs)
    bad = copy.deepcopy(next(d for d in docs if d["kind"] == "Rollout"))
    bad["metadata"]["name"] = "broken"
    bad["spec"]["strategy"]["canary"]["steps"][0] = {"setWeight": 150}
    await client.create(ROLLOUTS, bad, NS)
    unparsable = copy.deepcopy(bad)
    unparsable["metadata"]["name"] = "unparsable"
    unparsable["spec"]["replicas"] = "ten"
    await client.create(ROLLOUTS, unparsable, NS)

    time = ManualTime()
    reconciler = RolloutReconciler(client, clock=time)
    for name, field_name in (("broken", "steps[0].setWeight"), ("unparsable", "spec.replicas")):
        await reconciler.reconcile((NS, name))
        status = (await client.get(ROLLOUTS, name, NS))["status"]
        (condition,) = [c for c in status["conditions"] if c["type"] == "InvalidSpec"]
        assert field_name in condition["message"]
        assert status["phase"] == "Degraded"
    await drive(reconciler, client, time, healthy_on())


async def test_a_failing_decision_is_an_internal_error_not_the_users_invalid_spec(
    env: tuple[Sandbox, KubeClient],
) -> None:
    """`decide` raising is the controller's fault: the Rollout's status is left alone (no InvalidSpec, not
    Degraded), the error is logged with its traceback at error level, counted, and retried with a growing
    backoff; the other rollouts keep being served."""
    _, client = env
    docs = seed_canary()
    await create_all(client, docs)
    other = copy.deepcopy(next(d for d in docs if d["kind"] == "Rollout"))
    other["metadata"]["name"] = "poison"
    await client.create(ROLLOUTS, other, NS)

    def picky(observed: Observed, now: datetime) -> Plan:
        if observed.rollout_raw["metadata"]["name"] == "poison":
            raise ZeroDivisionError("boom")
        return decide(observed, now)

    registry = CollectorRegistry()
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="ERROR", format="{level} {message}\n{exception}")
    time = ManualTime()
    reconciler = RolloutReconciler(client, decide=picky, clock=time, metrics=ControllerMetrics(registry))
    try:
        backoffs = [await reconciler.reconcile((NS, "poison")) for _ in range(3)]
    finally:
        logger.remove(sink)
    assert backoffs == [1.0, 2.0, 4.0]
    poison = await client.get(ROLLOUTS, "poison", NS)
    assert "status" not in poison or not poison["status"], poison.get("status")  # nothing blamed on the spec
    assert registry.get_sample_value("controller_internal_error_total", {"kind": "Rollout"}) == 3
    assert (
        registry.get_sample_value("rollout_reconcile_error_total", {"namespace": NS, "name": "poison"}) == 3
    )
    assert len(lines) == 3
    assert lines[0].startswith("ERROR rollout production/poison: internal error while deciding")
    assert "Traceback" in lines[0] and "ZeroDivisionError: boom" in lines[0]
    await drive(reconciler, client, time, healthy_on())


async def test_a_missing_canary_service_is_invalid_spec_with_argos_prefix(
    env: tuple[Sandbox, KubeClient],
) -> None:
    """A canary Service that does not exist: InvalidSpec worded as Argo writes it, prefix included (the same
    wording as a missing blue-green Service); creating the Service lets the rollout go on."""
    _, client = env
    docs = seed_canary()
    services = [d for d in docs if d["kind"] == "Service"]
    canary = next(s for s in services if s["metadata"]["name"] == "api-server-canary")
    await create_all(client, [d for d in docs if d is not canary])

    time = ManualTime()
    reconciler = RolloutReconciler(client, clock=time)
    await reconciler.reconcile((NS, "api-server"))
    status = (await client.get(ROLLOUTS, "api-server", NS))["status"]
    (condition,) = [c for c in status["conditions"] if c["type"] == "InvalidSpec"]
    expected = (
        'The Rollout "api-server" is invalid: spec.strategy.canary.canaryService: Invalid value: '
        '"api-server-canary": service "api-server-canary" not found'
    )
    assert condition["message"] == expected
    assert (status["phase"], status["message"]) == ("Degraded", f"InvalidSpec: {expected}")
    assert await reconciler.applier.events.flush(within=30)  # Events are written off the pass
    events = [e for e in (await client.list(EVENTS, NS)) if e.get("reason") == "InvalidSpec"]
    assert [e["message"] for e in events] == [expected]

    await client.create(SERVICES, copy.deepcopy(canary), NS)
    await drive(reconciler, client, time, healthy_on())


class ListSource:
    """An in-memory ObjectSource standing in for a lagging watch cache (what `Freshest` wraps)."""

    def __init__(self, objects: list[dict[str, Any]]) -> None:
        self.objects = objects

    async def get(self, resource: Any, name: str, namespace: str | None = None) -> dict[str, Any]:
        return next(o for o in self.objects if o["metadata"]["name"] == name)

    async def list(
        self, resource: Any, namespace: str | None = None, *, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        return list(self.objects)


def versioned(rv: str, step: int) -> dict[str, Any]:
    return {
        "metadata": {"name": "api", "namespace": NS, "resourceVersion": rv},
        "status": {"currentStepIndex": step},
    }


async def test_own_writes_win_over_a_lagging_cache() -> None:
    from rollouts.controller.reconciling import Freshest

    cache = ListSource([versioned("10", 1)])
    fresh = Freshest(cache)
    fresh.remember(ROLLOUTS, versioned("12", 2))  # what our status patch returned
    assert (await fresh.get(ROLLOUTS, "api", NS))["status"]["currentStepIndex"] == 2
    assert [o["status"]["currentStepIndex"] for o in await fresh.list(ROLLOUTS, NS)] == [2]
    cache.objects = [versioned("13", 0)]  # the cache caught up (and someone wrote after us): the cache wins
    assert (await fresh.get(ROLLOUTS, "api", NS))["status"]["currentStepIndex"] == 0
    cache.objects = [versioned("10", 1)]
    assert (await fresh.get(ROLLOUTS, "api", NS))["status"]["currentStepIndex"] == 1  # the entry is gone
    fresh.remember(EVENTS, {"metadata": {"name": "api.1", "namespace": NS, "resourceVersion": "14"}})
    assert fresh._written == {}  # Events are never read back: not kept
