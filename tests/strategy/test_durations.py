"""`status.duration` (Argo 1.10 `RolloutDurationStatus`, pkg/apis/rollouts/v1alpha1/types.go) as Argo's
`calculateStatusDuration` (rollout/sync.go) and `requiresManualAction` (rollout/pause.go) keep it: start of an
attempt, manual pauses, the outcome, and the attempts reported for the duration histograms (`Plan.completed`).

Driven through the in-memory world; `promote`, `abort`, `retry` and `pause` are the plugin's own patches.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rollouts.plugin import intents
from rollouts.strategy import durations
from rollouts.strategy.context import build_context
from rollouts.strategy.durations import requires_manual_action
from rollouts.strategy.plan import CompletedAttempt, Plan
from tests.strategy.simulate import World

T0 = datetime(2026, 1, 1, tzinfo=UTC)
BASIC = (
    "examples/basic-canary/rollout.yaml",
)  # setWeight 20, pause 2m, setWeight 50, pause {}, 80, pause 2m
CANARY = (
    "examples/istio-canary/rollout.yaml",
    "examples/istio-canary/services.yaml",
    "examples/istio-canary/success-rate.yaml",
    "examples/istio-canary/latency.yaml",
    "examples/istio-canary/virtualservice.yaml",
)
BLUE_GREEN = (
    "examples/bluegreen/rollout.yaml",
    "examples/bluegreen/services.yaml",
    "examples/bluegreen/smoke-tests.yaml",
    "examples/istio-canary/success-rate.yaml",
)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def stamp(seconds: float) -> str:
    return at(seconds).strftime("%Y-%m-%dT%H:%M:%SZ")


def apply(world: World, patches: Any) -> None:
    """The merge patches `kubectl rollouts …` sends, applied to the world's Rollout."""
    for patch in patches if isinstance(patches, list) else [patches]:
        for section, fields in patch.body.items():
            target = world.rollout.setdefault(section, {})
            for key, value in fields.items():
                if value is None:
                    target.pop(key, None)
                else:
                    target[key] = value
            if section == "spec":
                world.bump_generation()


def completed(world: World) -> list[CompletedAttempt]:
    return [c for plan in world.plans for c in plan.completed]


def settle(world: World, seconds: float) -> Plan:
    return world.settle(at(seconds))


# ---------------------------------------------------------------------------------------------------------------
# start and Promoted
# ---------------------------------------------------------------------------------------------------------------


def test_initial_deploy_is_an_attempt() -> None:
    """No stored pod hash → an attempt starts; it ends Promoted once the new ReplicaSet has all its pods."""
    world = World.from_files(*CANARY)
    first = world.step(T0)
    assert first.new_status["duration"] == {"rolloutStartedAt": stamp(0)}
    settle(world, 0)
    assert world.status["duration"] == {
        "rolloutStartedAt": stamp(0),
        "finishedAt": stamp(0),
        "completionStatus": "Promoted",
    }
    assert completed(world) == [CompletedAttempt("Promoted", 0.0, 0.0)]


def test_update_with_a_manual_pause() -> None:
    """Timed pauses are progression; the indefinite pause waits for a person: manualPauseStartedAt while it
    waits, its length added to totalManualPauseDurationSeconds on `promote`. Promoted when the last step is
    done and every pod of the new ReplicaSet is available (finishedAt); reported once."""
    world = World.from_files(*BASIC)
    settle(world, 0)
    before = len(completed(world))
    world.set_image("checkout:v2")
    settle(world, 10)
    assert world.status["duration"] == {"rolloutStartedAt": stamp(10)}
    settle(world, 10 + 121)  # the 2m pause has passed; on to setWeight 50, then the indefinite pause
    assert world.status["phase"] == "Paused"
    assert world.status["duration"] == {"rolloutStartedAt": stamp(10), "manualPauseStartedAt": stamp(131)}
    apply(world, intents.promote(world.rollout))
    settle(world, 731)  # promoted ten minutes later
    assert world.status["duration"] == {"rolloutStartedAt": stamp(10), "totalManualPauseDurationSeconds": 600}
    settle(world, 731 + 121)  # the last 2m pause
    assert world.status["duration"] == {
        "rolloutStartedAt": stamp(10),
        "totalManualPauseDurationSeconds": 600,
        "finishedAt": stamp(852),
        "completionStatus": "Promoted",
    }
    (attempt,) = completed(world)[before:]
    assert attempt == CompletedAttempt("Promoted", 842.0, 600.0) and attempt.progression_seconds == 242.0
    assert settle(world, 900).completed == ()  # nothing is reported twice


def test_user_pause_is_manual() -> None:
    """`kubectl rollouts pause` (spec.paused) during a timed step counts as waiting on a person."""
    world = World.from_files(*BASIC)
    settle(world, 0)
    world.set_image("checkout:v2")
    settle(world, 0)
    apply(world, intents.pause(world.rollout))
    settle(world, 30)
    assert world.status["duration"]["manualPauseStartedAt"] == stamp(30)
    apply(world, intents.promote(world.rollout))  # unpauses the spec and skips the timed pause
    settle(world, 90)
    # 60 s of waiting counted; the indefinite pause that comes next is a new wait
    assert world.status["duration"] == {
        "rolloutStartedAt": stamp(0),
        "manualPauseStartedAt": stamp(90),
        "totalManualPauseDurationSeconds": 60,
    }


def test_promote_full_is_fast_promoted() -> None:
    world = World.from_files(*BASIC)
    settle(world, 0)
    world.set_image("checkout:v2")
    settle(world, 5)
    apply(world, intents.promote(world.rollout, full=True))
    settle(world, 65)
    assert world.status["duration"]["completionStatus"] == "FastPromoted"
    assert completed(world)[-1] == CompletedAttempt("FastPromoted", 60.0, 0.0)


# ---------------------------------------------------------------------------------------------------------------
# Aborted, retry, Superseded, rollbacks
# ---------------------------------------------------------------------------------------------------------------


def test_abort_then_retry_starts_a_new_attempt() -> None:
    world = World.from_files(*BASIC)
    settle(world, 0)
    world.set_image("checkout:v2")
    settle(world, 0)
    apply(world, intents.abort(world.rollout))
    settle(world, 40)
    assert world.status["duration"] == {
        "rolloutStartedAt": stamp(0),
        "finishedAt": stamp(40),
        "completionStatus": "Aborted",
    }
    assert completed(world)[-1] == CompletedAttempt("Aborted", 40.0, 0.0)
    settle(world, 100)
    assert world.status["duration"]["finishedAt"] == stamp(40)  # the ended attempt stays as it was
    apply(world, intents.retry(world.rollout))
    settle(world, 120)
    assert world.status["duration"] == {"rolloutStartedAt": stamp(120)}


def test_a_new_template_supersedes_the_running_attempt() -> None:
    """Superseded is reported (metrics, logs) but never stored: the new attempt replaces it in the same write."""
    world = World.from_files(*BASIC)
    settle(world, 0)
    world.set_image("checkout:v2")
    settle(world, 0)
    world.set_image("checkout:v3")
    plan = world.step(at(50))
    assert plan.completed == (CompletedAttempt("Superseded", 50.0, 0.0),)
    assert plan.new_status["duration"] == {"rolloutStartedAt": stamp(50)}


def test_back_to_the_stable_template_is_a_fast_rollback() -> None:
    world = World.from_files(*BASIC)
    settle(world, 0)
    image = world.rollout["spec"]["template"]["spec"]["containers"][0]["image"]
    world.set_image("checkout:v2")
    settle(world, 0)
    world.set_image(image)
    settle(world, 30)
    assert world.status["duration"] == {
        "rolloutStartedAt": stamp(0),
        "finishedAt": stamp(30),
        "completionStatus": "FastRolledBack",
    }
    assert completed(world)[-1].status == "FastRolledBack"


def test_back_to_an_older_revision_is_a_rollback_through_the_steps() -> None:
    """An older ReplicaSet outside the rollback window: classified RolledBack at once, finished after the steps."""
    world = World.from_files(*BASIC)
    settle(world, 0)
    v1 = world.rollout["spec"]["template"]["spec"]["containers"][0]["image"]
    world.set_image("checkout:v2")
    settle(world, 5)  # created after v1
    apply(world, intents.promote(world.rollout, full=True))
    settle(world, 10)
    world.set_image("checkout:v3")
    settle(world, 20)
    world.set_image(v1)  # older than the stable v2
    settle(world, 30)
    assert world.status["duration"] == {"rolloutStartedAt": stamp(20), "completionStatus": "RolledBack"}
    apply(world, intents.promote(world.rollout, full=True))
    settle(world, 40)
    assert world.status["duration"]["completionStatus"] == "RolledBack"  # promote --full does not rename it
    assert completed(world)[-1] == CompletedAttempt("RolledBack", 20.0, 0.0)


# ---------------------------------------------------------------------------------------------------------------
# blue-green and inconclusive analysis
# ---------------------------------------------------------------------------------------------------------------


def test_blue_green_pause_without_auto_promotion_is_manual() -> None:
    """autoPromotionEnabled: false → the BlueGreenPause waits for a person; with autoPromotionSeconds it does not."""
    world = World.from_files(*BLUE_GREEN)
    settle(world, 0)
    world.set_image("web:v2")
    settle(world, 0)
    pre = next(n for n in world.runs if n.endswith("-pre"))
    world.set_run_phase(pre, "Successful")
    settle(world, 5)
    assert world.status["pauseConditions"][0]["reason"] == "BlueGreenPause"
    assert world.status["duration"]["manualPauseStartedAt"] == stamp(5)
    apply(world, intents.promote(world.rollout))
    settle(world, 65)
    post = next(n for n in world.runs if n.endswith("-post"))
    world.set_run_phase(post, "Successful")
    settle(world, 100)
    assert world.status["duration"] == {
        "rolloutStartedAt": stamp(0),
        "totalManualPauseDurationSeconds": 60,
        "finishedAt": stamp(100),
        "completionStatus": "Promoted",
    }


def test_requires_manual_action() -> None:
    """rollout/pause.go requiresManualAction, reason by reason."""
    canary = World.from_files(*BASIC)
    canary.status["currentStepIndex"] = 3  # the indefinite pause
    ctx = build_context(canary.observed(), T0)
    assert requires_manual_action(ctx, "CanaryPauseStep")
    assert requires_manual_action(ctx, "InconclusiveAnalysisRun")
    assert requires_manual_action(ctx, "InconclusiveExperiment")
    assert not requires_manual_action(ctx, "BlueGreenPause")
    canary.status["currentStepIndex"] = 1  # pause: {duration: 2m}
    assert not requires_manual_action(build_context(canary.observed(), T0), "CanaryPauseStep")
    bg = World.from_files(*BLUE_GREEN)
    assert requires_manual_action(build_context(bg.observed(), T0), "BlueGreenPause")
    bg.rollout["spec"]["strategy"]["blueGreen"]["autoPromotionEnabled"] = True
    assert not requires_manual_action(build_context(bg.observed(), T0), "BlueGreenPause")


# ---------------------------------------------------------------------------------------------------------------
# invalid spec, hostile stored values
# ---------------------------------------------------------------------------------------------------------------


def test_invalid_spec_leaves_the_duration_alone() -> None:
    world = World.from_files(*BASIC)
    settle(world, 0)
    world.set_image("checkout:v2")
    settle(world, 0)
    stored = dict(world.status["duration"])
    world.rollout["spec"]["strategy"]["canary"]["steps"][0] = {"setWeight": 101}
    world.bump_generation()
    plan = world.step(at(60))
    assert plan.new_status["phase"] == "Degraded" and plan.new_status["duration"] == stored
    assert plan.completed == ()


@pytest.mark.parametrize(
    "stored",
    [
        {"rolloutStartedAt": 5, "manualPauseStartedAt": "yesterday", "totalManualPauseDurationSeconds": "x"},
        {"finishedAt": "2026-01-01T00:00:00Z", "completionStatus": 7},
        "not-an-object",
        {"rolloutStartedAt": "2025-12-31T23:00:00Z", "totalManualPauseDurationSeconds": True},
    ],
)
def test_a_garbled_stored_duration_never_breaks_a_pass(stored: Any) -> None:
    world = World.from_files(*BASIC)
    settle(world, 0)
    world.set_image("checkout:v2")
    settle(world, 0)
    world.status["duration"] = stored
    plan = settle(world, 30)
    assert plan.new_status["phase"] in ("Progressing", "Paused")
    assert isinstance(world.status.get("duration", {}), dict)


SCENARIOS = [
    test_update_with_a_manual_pause,
    test_user_pause_is_manual,
    test_abort_then_retry_starts_a_new_attempt,
    test_a_new_template_supersedes_the_running_attempt,
    test_back_to_an_older_revision_is_a_rollback_through_the_steps,
    test_blue_green_pause_without_auto_promotion_is_manual,
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda f: f.__name__.removeprefix("test_"))
def test_the_shortcut_decides_as_the_full_calculation(scenario: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Most passes skip the calculation when nothing can change (`_unchanged`); with the shortcut switched off
    every pass of the scenarios above writes the same durations and reports the same attempts."""
    recorded: dict[bool, list[Any]] = {}
    original = World.step
    for shortcut in (True, False):
        if not shortcut:
            monkeypatch.setattr(durations, "_unchanged", lambda *args: False)
        seen: list[Any] = []

        def step(self: World, now: datetime, seen: list[Any] = seen) -> Plan:
            plan = original(self, now)
            seen.append((plan.new_status.get("duration"), plan.completed))
            return plan

        monkeypatch.setattr(World, "step", step)
        scenario()
        recorded[shortcut] = seen
    assert recorded[True] == recorded[False] and recorded[True]
