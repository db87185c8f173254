"""Invariants of `decide` under random sequences of user actions, pod readiness, analysis outcomes and time.

* deterministic: the same (observed, now) gives the same plan;
* idempotent: applying a plan's actions and deciding again (same stored status, same now) yields actions that
  change nothing — every action is a target ("scale to N", "selector = hash"), never a delta (one documented
  exception: see `check_pass`);
* the step index never decreases except by abort/retry or a template/steps change (docs/semantics/controller.md#canary-steps);
* basic canary (docs/semantics/controller.md#fenceposts): Σ spec.replicas ≤ replicas + maxSurge, and the pods that were available stay at least
  replicas − maxUnavailable.
"""

from __future__ import annotations

import copy
import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollouts.strategy import decide
from rollouts.strategy.plan import EmitEvent, Plan
from tests.strategy.simulate import World

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SEED = (
    "examples/istio-canary/rollout.yaml",
    "examples/istio-canary/services.yaml",
    "examples/istio-canary/success-rate.yaml",
    "examples/istio-canary/latency.yaml",
    "examples/istio-canary/virtualservice.yaml",
)

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("tick"), st.integers(0, 900)),
        st.tuples(st.just("ready"), st.integers(0, 3)),
        st.tuples(
            st.sampled_from(["abort", "retry", "promote", "promote_full", "pause", "unpause"]), st.none()
        ),
        st.tuples(st.just("run"), st.sampled_from(["Successful", "Failed", "Inconclusive", "Error"])),
        st.tuples(st.just("image"), st.sampled_from(["v2", "v3", "v1"])),
        st.tuples(st.just("pass"), st.none()),
    ),
    min_size=1,
    max_size=15,
)


def world_state(world: World) -> Any:
    return (
        copy.deepcopy(world.rollout),
        dict(world.replica_sets),
        dict(world.services),
        dict(world.runs),
        copy.deepcopy(world.routers),
    )


def effects(plan: Plan) -> list[Any]:
    return [a for a in plan.actions if not isinstance(a, EmitEvent)]


def apply_op(world: World, op: str, arg: Any, now: datetime) -> datetime:
    if op == "tick":
        return now + timedelta(seconds=arg)
    if op == "ready":
        for _ in range(arg):
            world.make_available()
            world.step(now)
    elif op == "abort":
        world.patch_status(abort=True)
    elif op == "retry":
        world.patch_status(abort=False)
    elif op == "promote":
        world.patch_status(pauseConditions=None)
        world.rollout["spec"]["paused"] = False
    elif op == "promote_full":
        if world.status.get("currentPodHash") != world.status.get("stableRS"):
            world.patch_status(promoteFull=True)
    elif op == "pause":
        world.rollout["spec"]["paused"] = True
    elif op == "unpause":
        world.rollout["spec"]["paused"] = False
    elif op == "run":
        for name, run in world.runs.items():
            if run.phase in ("Running", "Pending", "") and not run.terminate:
                world.runs[name] = replace(run, phase=arg, message="m")
    elif op == "image":
        world.rollout["spec"]["template"]["spec"]["containers"][0]["image"] = arg
        world.bump_generation()
    return now


def check_pass(world: World, now: datetime) -> Plan:
    """One pass with the invariants that hold for every pass."""
    observed = world.observed()
    plan = decide(observed, now)
    assert decide(world.observed(), now) == plan  # deterministic
    # idempotent: actions applied, stored status unchanged → the next plan's actions are no-ops
    probe = copy.deepcopy(world)
    probe._clock = now
    for action in plan.actions:
        probe.apply_action(action)
    again = decide(probe.observed(), now)
    before = world_state(probe)
    for action in effects(again):
        probe.apply_action(action)
    # Exception: a ReplicaSet scaled back up onto pods that are still running (available > spec while a scale-down
    # is in flight) is at its desired count as soon as the scale is applied; traffic is decided before scaling
    # (Argo's order, docs/semantics/controller.md#reconcile-skeleton), so the weight follows one pass later.
    rescaled = any(rs.available_replicas > rs.spec_replicas for rs in world.replica_sets.values())
    if not rescaled:
        assert world_state(probe) == before, effects(again)
    old_index = world.status.get("currentStepIndex")
    old_status = copy.deepcopy(world.status)
    world.apply(plan, now)
    new_index = world.status.get("currentStepIndex")
    if old_index is not None and new_index is not None and new_index < old_index:
        assert (
            world.status.get("abort")
            or old_status.get("abort")
            or old_status.get("currentPodHash") != world.status.get("currentPodHash")
            or old_status.get("currentStepHash") != world.status.get("currentStepHash")
        ), (old_index, new_index)
    return plan


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPS, st.booleans())
def test_traffic_routed_canary_invariants(ops: list[tuple[str, Any]], dynamic: bool) -> None:
    world = World.from_files(*SEED)
    world.rollout["spec"]["strategy"]["canary"]["dynamicStableScale"] = dynamic
    world.rollout["spec"]["template"]["spec"]["containers"][0]["image"] = "v1"
    world.auto_available = False
    now = T0
    world.make_available()
    for op, arg in ops:
        now = apply_op(world, op, arg, now)
        check_pass(world, now)
        world.make_available()
        check_pass(world, now)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    replicas=st.integers(1, 12),
    surge=st.sampled_from([0, 1, 2, "25%", "50%"]),
    unavailable=st.sampled_from([0, 1, "25%", "50%"]),
    weights=st.lists(st.integers(0, 100), min_size=1, max_size=4),
    ready_batches=st.lists(st.integers(0, 2), min_size=1, max_size=30),
)
def test_basic_canary_surge_and_availability(
    replicas: int, surge: Any, unavailable: Any, weights: list[int], ready_batches: list[int]
) -> None:
    """docs/semantics/controller.md#fenceposts: canary + stable (+ older) ≤ replicas + maxSurge; availability ≥ replicas − maxUnavailable."""
    if surge in (0, "0%") and unavailable in (0, "0%"):
        unavailable = 1
    world = World.from_files("examples/istio-canary/rollout.yaml")
    canary = world.rollout["spec"]["strategy"]["canary"]
    for key in ("trafficRouting", "analysis", "canaryService", "stableService"):
        canary.pop(key)
    canary["maxSurge"], canary["maxUnavailable"] = surge, unavailable
    canary["steps"] = [{"setWeight": w} for w in weights]
    world.rollout["spec"]["replicas"] = replicas
    world.auto_available = False
    now = T0
    for _ in range(6):
        check_pass(world, now)
        world.make_available()
    max_surge = surge if isinstance(surge, int) else math.ceil(int(surge[:-1]) * replicas / 100)
    max_unavail = unavailable if isinstance(unavailable, int) else int(unavailable[:-1]) * replicas // 100
    if max_surge == 0 and max_unavail == 0:
        max_unavail = 1
    max_unavail = min(max_unavail, replicas)
    world.set_image("v2")
    for batch in ready_batches:
        for _ in range(batch):
            world.make_available()
        available_before = sum(
            min(rs.available_replicas, rs.spec_replicas) for rs in world.replica_sets.values()
        )
        check_pass(world, now)
        total = sum(rs.spec_replicas for rs in world.replica_sets.values())
        assert total <= replicas + max_surge, (
            total,
            {n: r.spec_replicas for n, r in world.replica_sets.items()},
        )
        still = sum(min(rs.available_replicas, rs.spec_replicas) for rs in world.replica_sets.values())
        if available_before >= replicas - max_unavail:
            assert still >= replicas - max_unavail


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPS)
def test_bluegreen_invariants(ops: list[tuple[str, Any]]) -> None:
    world = World.from_files(
        "examples/bluegreen/rollout.yaml",
        "examples/bluegreen/services.yaml",
        "examples/bluegreen/smoke-tests.yaml",
        "examples/istio-canary/success-rate.yaml",
    )
    world.rollout["spec"]["template"]["spec"]["containers"][0]["image"] = "v1"
    world.auto_available = False
    now = T0
    world.make_available()
    for op, arg in ops:
        now = apply_op(world, op, arg, now)
        check_pass(world, now)
        world.make_available()
        check_pass(world, now)
        replicas = world.rollout["spec"]["replicas"]
        for rs in world.replica_sets.values():
            assert rs.spec_replicas <= replicas


STEP = st.one_of(
    st.builds(lambda w: {"setWeight": w}, st.integers(-5, 120)),
    st.builds(
        lambda d: {"pause": {"duration": d}},
        st.one_of(st.integers(-5, 100), st.sampled_from(["5m", "x", "1h", "10"])),
    ),
    st.just({"pause": {}}),
    st.builds(lambda r: {"setCanaryScale": {"replicas": r}}, st.integers(-1, 20)),
    st.just({"analysis": {"templates": [{"templateName": "success-rate"}]}}),
    st.just({"analysis": {"templates": [{"templateName": "nope"}]}}),
    st.just({"setHeaderRoute": {"name": "x"}}),
    st.just({"experiment": {"templates": []}}),
    st.just({}),
    st.just({"setWeight": 10, "pause": {}}),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(STEP, max_size=6),
    replicas=st.integers(-1, 15),
    surge=st.sampled_from([0, 2, "25%", "x", "200%"]),
    traffic=st.booleans(),
)
def test_bad_specs_never_raise(steps: list[dict[str, Any]], replicas: int, surge: Any, traffic: bool) -> None:
    """Any Rollout the models accept gets a plan: invalid ones an InvalidSpec condition, never an exception."""
    world = World.from_files(*SEED)
    canary = world.rollout["spec"]["strategy"]["canary"]
    canary["steps"] = steps
    canary["maxSurge"] = surge
    if not traffic:
        canary.pop("trafficRouting")
    world.rollout["spec"]["replicas"] = replicas
    try:
        world.observed()
    except ValueError:  # the manifest does not even parse (pydantic): the observer reports that, not decide
        return
    now = T0
    for image in ("v1", "v2"):
        world.rollout["spec"]["template"]["spec"]["containers"][0]["image"] = image
        for _ in range(4):
            plan = world.step(now)
            assert plan.new_status["phase"] in ("Healthy", "Progressing", "Paused", "Degraded")
            now += timedelta(minutes=11)
