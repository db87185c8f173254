"""Restarts in the pure core (`rollouts.strategy.restarts`, Argo's rollout/restart.go): which pods are evicted, how
many at once, when `status.restartedAt` is written, and that a canary pass that evicted stops there. The sandbox
test (tests/controller/test_restart.py) evicts real pods."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from rollouts.strategy import decide
from rollouts.strategy.plan import EvictPod, PodState
from tests.strategy.simulate import World

T0 = datetime(2026, 1, 1, tzinfo=UTC)
RESTART_AT = T0 + timedelta(hours=1)
NOW = RESTART_AT + timedelta(seconds=5)


def healthy_world(replicas: int = 4, **canary: object) -> World:
    world = World.from_files("examples/basic-canary/rollout.yaml")
    world.rollout["spec"]["replicas"] = replicas
    world.rollout["spec"]["strategy"]["canary"].update(canary)
    world.settle(T0)
    world.rollout["spec"]["restartAt"] = "2026-01-01T01:00:00Z"
    return world


def pods(n: int, *, created: datetime = T0, ready: bool = True, prefix: str = "p") -> tuple[PodState, ...]:
    return tuple(PodState(f"{prefix}{i}", created, created if ready else None) for i in range(n))


def evicted(plan: object) -> list[str]:
    return [a.name for a in plan.actions if isinstance(a, EvictPod)]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("canary", "observed", "expected"),
    [
        # 4 replicas, maxUnavailable 25 % = 1: one at a time, the first by name
        ({}, pods(4), ["p0"]),
        # maxUnavailable 0 still restarts one at a time (max(maxUnavailable, 1))
        ({"maxUnavailable": 0, "maxSurge": 1}, pods(4), ["p0"]),
        ({"maxUnavailable": 2, "maxSurge": 0}, pods(4), ["p0", "p1"]),
        # a pod not ready: nothing may be taken down now
        ({}, (*pods(3), PodState("p3", T0, None)), []),
        # a pod already being deleted is not counted as available, nor evicted again
        (
            {"maxUnavailable": 2, "maxSurge": 0},
            (PodState("p0", T0, T0, deleting=True), *pods(3, prefix="q")),
            ["q0"],
        ),
    ],
)
def test_pods_older_than_restart_at_are_evicted_within_max_unavailable(
    canary: dict[str, object], observed: tuple[PodState, ...], expected: list[str]
) -> None:
    world = healthy_world(**canary)
    before = dict(world.status)
    plan = decide(replace(world.observed(), pods=observed), NOW)
    assert evicted(plan) == expected
    assert "restartedAt" not in plan.new_status
    assert plan.requeue_after == 30.0  # restart.go restartPodCheckTime: look again while pods are left
    if expected:  # the canary pass ends where it evicted: nothing else is decided, the status is not written
        assert plan.new_status == before
        assert not [
            a for a in plan.actions if not isinstance(a, EvictPod) and type(a).__name__ != "EmitEvent"
        ]


def test_when_every_pod_is_newer_the_restart_is_acknowledged() -> None:
    world = healthy_world()
    plan = decide(replace(world.observed(), pods=pods(4, created=RESTART_AT)), NOW)
    assert evicted(plan) == []
    assert plan.new_status["restartedAt"] == "2026-01-01T01:00:00Z"
    assert plan.new_status["phase"] == "Healthy"


def test_the_last_pods_evicted_acknowledge_at_once() -> None:
    """Argo writes restartedAt in the pass that evicts the last old pods (restart.go: remaining == 0)."""
    world = healthy_world(maxUnavailable=2, maxSurge=0)
    observed = (*pods(2, created=RESTART_AT, prefix="new"), *pods(2, prefix="old"))
    plan = decide(replace(world.observed(), pods=observed), NOW)
    assert evicted(plan) == ["old0", "old1"]
    # a canary pass that evicted ends unwritten; the next pass (pods newer) acknowledges
    plan = decide(replace(world.observed(), pods=pods(4, created=RESTART_AT)), NOW)
    assert plan.new_status["restartedAt"] == "2026-01-01T01:00:00Z"


def test_a_restart_in_the_future_only_wakes_the_rollout_then() -> None:
    world = healthy_world()
    plan = decide(replace(world.observed(), pods=pods(4)), RESTART_AT - timedelta(seconds=40))
    assert evicted(plan) == []
    assert plan.requeue_after == 40.0
    assert plan.new_status["phase"] == "Progressing" and plan.new_status["message"] == "rollout is restarting"


def test_an_acknowledged_restart_does_nothing() -> None:
    world = healthy_world()
    world.status["restartedAt"] = "2026-01-01T01:00:00Z"
    plan = decide(replace(world.observed(), pods=pods(4)), NOW)
    assert evicted(plan) == [] and plan.new_status["phase"] == "Healthy"


def test_a_blue_green_pass_goes_on_after_evicting() -> None:
    world = World.from_files("examples/bluegreen/rollout.yaml", "examples/bluegreen/services.yaml")
    world.rollout["spec"]["strategy"]["blueGreen"].pop("prePromotionAnalysis")
    world.rollout["spec"]["strategy"]["blueGreen"].pop("postPromotionAnalysis")
    world.settle(T0)
    world.rollout["spec"]["restartAt"] = "2026-01-01T01:00:00Z"
    plan = decide(replace(world.observed(), pods=pods(5)), NOW)
    assert evicted(plan) == ["p0"]  # blue-green maxUnavailable defaults to 0: one at a time
    assert plan.new_status["phase"] == "Progressing" and plan.new_status["message"] == "rollout is restarting"
