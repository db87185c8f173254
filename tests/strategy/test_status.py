"""Status arithmetic (docs/semantics/objects.md#rollout-phase): phase/message in Argo's order of checks, condition bookkeeping, pause conditions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from rollouts.models.vocabulary import CANARY_PAUSE_STEP
from rollouts.strategy import status
from rollouts.strategy.context import build_context
from tests.strategy.simulate import World

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NOW = "2026-01-01T00:00:00Z"


def canary_ctx(traffic: bool = True, stored: dict[str, Any] | None = None, **spec: Any) -> Any:
    world = World.from_files("examples/istio-canary/rollout.yaml")
    if not traffic:
        world.rollout["spec"]["strategy"]["canary"].pop("trafficRouting")
    world.rollout["spec"].update(spec)
    if stored is not None:
        world.rollout["status"] = stored
    return build_context(world.observed(), T0)


def bluegreen_ctx(**bg: Any) -> Any:
    world = World.from_files("examples/bluegreen/rollout.yaml")
    world.rollout["spec"]["strategy"]["blueGreen"].update(bg)
    return build_context(world.observed(), T0)


HEALTHY_CANARY = {
    "replicas": 10,
    "updatedReplicas": 10,
    "availableReplicas": 10,
    "stableRS": "h",
    "currentPodHash": "h",
}
ABORTED = {
    "type": "Progressing",
    "status": "False",
    "reason": "RolloutAborted",
    "message": "Rollout aborted update to revision 2",
}


@pytest.mark.parametrize(
    ("spec", "st", "expected"),
    [
        pytest.param(
            {},
            {**HEALTHY_CANARY, "conditions": [{"type": "InvalidSpec", "status": "True", "message": "bad"}]},
            ("Degraded", "InvalidSpec: bad"),
            id="invalid-spec-first",
        ),
        pytest.param(
            {"paused": True},
            {**HEALTHY_CANARY, "conditions": [ABORTED]},
            ("Degraded", "RolloutAborted: Rollout aborted update to revision 2"),
            id="aborted-beats-paused",
        ),
        pytest.param(
            {},
            {
                **HEALTHY_CANARY,
                "conditions": [{"type": "Progressing", "reason": "ProgressDeadlineExceeded", "message": "m"}],
            },
            ("Degraded", "ProgressDeadlineExceeded: m"),
            id="timed-out",
        ),
        pytest.param(
            {"paused": True},
            {**HEALTHY_CANARY, "pauseConditions": [{"reason": "CanaryPauseStep"}]},
            ("Paused", "manually paused"),
            id="user-pause-beats-controller-pause",
        ),
        pytest.param(
            {},
            {
                **HEALTHY_CANARY,
                "pauseConditions": [{"reason": "InconclusiveAnalysisRun"}, {"reason": "CanaryPauseStep"}],
            },
            ("Paused", "InconclusiveAnalysisRun"),
            id="first-pause-condition",
        ),
        pytest.param(
            {"restartAt": "2026-01-01T00:00:00Z"},
            HEALTHY_CANARY,
            ("Progressing", "rollout is restarting"),
            id="restarting",
        ),
        pytest.param(
            {},
            {**HEALTHY_CANARY, "updatedReplicas": 9},
            ("Progressing", "more replicas need to be updated"),
            id="updated",
        ),
        pytest.param(
            {},
            {**HEALTHY_CANARY, "availableReplicas": 9},
            ("Progressing", "updated replicas are still becoming available"),
            id="available",
        ),
        pytest.param(
            {},
            {**HEALTHY_CANARY, "stableRS": "old"},
            ("Progressing", "waiting for all steps to complete"),
            id="steps",
        ),
        pytest.param({}, HEALTHY_CANARY, ("Healthy", ""), id="healthy"),
    ],
)
def test_canary_phase(spec: dict[str, Any], st: dict[str, Any], expected: tuple[str, str]) -> None:
    """docs/semantics/objects.md#rollout-phase CalculateRolloutPhase, rules 2–8 in order."""
    assert status.calculate_phase(canary_ctx(**spec).raw_spec, st) == expected


def test_basic_canary_old_replicas_pending() -> None:
    """docs/semantics/objects.md#rollout-status rule 7: without traffic routing, old pods still running keep the rollout Progressing."""
    ctx = canary_ctx(traffic=False)
    st = {**HEALTHY_CANARY, "replicas": 11}
    assert status.calculate_phase(ctx.raw_spec, st) == ("Progressing", "old replicas are pending termination")
    assert status.calculate_phase(canary_ctx().raw_spec, st) == ("Healthy", "")


@pytest.mark.parametrize(
    ("restarted_at", "expected"),
    [
        pytest.param("2026-01-01T00:00:00Z", ("Healthy", ""), id="same-instant-other-offset"),
        pytest.param("2026-01-01T00:00:01Z", ("Progressing", "rollout is restarting"), id="other-instant"),
        pytest.param(None, ("Progressing", "rollout is restarting"), id="never-restarted"),
    ],
)
def test_restart_compares_instants_as_argo_does(restarted_at: str | None, expected: tuple[str, str]) -> None:
    """docs/semantics/objects.md#rollout-status rule 4: Argo compares spec.restartAt and status.restartedAt as times (`metav1.Time.Equal`), so the
    same instant written with another offset is not a pending restart. The controller once compared the
    strings while the plugin compared instants; both now call the one rule, which follows Argo."""
    from rollouts.plugin.phases import calculate_phase as plugin_phase

    spec = {**canary_ctx().raw_spec, "restartAt": "2026-01-01T01:00:00+01:00"}
    st = {**HEALTHY_CANARY, **({"restartedAt": restarted_at} if restarted_at else {})}
    assert status.calculate_phase(spec, st) == expected
    assert plugin_phase({"spec": spec, "status": st}) == expected


HEALTHY_BG = {
    "replicas": 5,
    "updatedReplicas": 5,
    "availableReplicas": 5,
    "stableRS": "g",
    "currentPodHash": "g",
}


@pytest.mark.parametrize(
    ("st", "expected"),
    [
        pytest.param(
            {**HEALTHY_BG, "blueGreen": {"activeSelector": "b"}},
            ("Progressing", "active service cutover pending"),
            id="cutover",
        ),
        pytest.param(
            {**HEALTHY_BG, "stableRS": "b", "blueGreen": {"activeSelector": "g"}},
            ("Progressing", "waiting for analysis to complete"),
            id="post-analysis-running",
        ),
        pytest.param(
            {
                **HEALTHY_BG,
                "stableRS": "b",
                "blueGreen": {
                    "activeSelector": "g",
                    "postPromotionAnalysisRunStatus": {"name": "r", "status": "Successful"},
                },
            },
            ("Progressing", "waiting for post-promotion verification to complete"),
            id="post-analysis-done",
        ),
        pytest.param({**HEALTHY_BG, "blueGreen": {"activeSelector": "g"}}, ("Healthy", ""), id="healthy"),
    ],
)
def test_bluegreen_phase(st: dict[str, Any], expected: tuple[str, str]) -> None:
    """docs/semantics/objects.md#rollout-status rule 6."""
    assert status.calculate_phase(bluegreen_ctx().raw_spec, st) == expected


def test_set_condition_keeps_unchanged_condition() -> None:
    """SetRolloutCondition: same status and reason → untouched (message and times kept)."""
    st: dict[str, Any] = {
        "conditions": [status.new_condition("Available", "True", "AvailableReason", "old", "t0")]
    }
    assert not status.set_condition(
        st, status.new_condition("Available", "True", "AvailableReason", "new", "t1")
    )
    assert st["conditions"][0]["message"] == "old"


def test_set_condition_same_status_new_reason_keeps_transition_time() -> None:
    st: dict[str, Any] = {"conditions": [status.new_condition("Progressing", "True", "A", "m", "t0")]}
    assert status.set_condition(st, status.new_condition("Progressing", "True", "B", "m", "t1"))
    (c,) = st["conditions"]
    assert (c["reason"], c["lastTransitionTime"], c["lastUpdateTime"]) == ("B", "t0", "t1")


def test_set_condition_status_change_moves_transition_time() -> None:
    st: dict[str, Any] = {"conditions": [status.new_condition("Progressing", "True", "A", "m", "t0")]}
    status.set_condition(st, status.new_condition("Progressing", "False", "A", "m", "t1"))
    assert st["conditions"][0]["lastTransitionTime"] == "t1"


@pytest.mark.parametrize(
    ("stored", "paused", "expected"),
    [
        pytest.param(
            {"pauseConditions": [{"reason": "CanaryPauseStep"}]},
            False,
            ("Unknown", "RolloutPaused"),
            id="paused",
        ),
        pytest.param({}, True, ("Unknown", "RolloutPaused"), id="user-paused"),
        pytest.param(
            {"conditions": [status.new_condition("Progressing", "Unknown", "RolloutPaused", "m", "t")]},
            False,
            ("Unknown", "RolloutResumed"),
            id="resumed",
        ),
        pytest.param({"conditions": [ABORTED]}, False, ("Unknown", "RolloutRetry"), id="retry"),
        pytest.param(
            {"abort": True, "conditions": [ABORTED]}, False, ("False", "RolloutAborted"), id="still-aborted"
        ),
    ],
)
def test_check_paused_conditions(stored: dict[str, Any], paused: bool, expected: tuple[str, str]) -> None:
    """`checkPausedConditions` folded into the pass (docs/semantics/controller.md#retry retry, docs/semantics/controller.md#pause)."""
    ctx = canary_ctx(paused=paused, stored={"currentPodHash": "x", "observedGeneration": "1", **stored})
    prev = status.check_paused_conditions(ctx)
    c = status.get_condition(prev, "Progressing")
    assert c is not None and (c["status"], c["reason"]) == expected


def test_pause_status_adds_condition_and_controller_pause() -> None:
    """CalculatePauseConditions: a new reason gets startTime = now and sets controllerPause."""
    ctx = canary_ctx()
    ctx.pause(CANARY_PAUSE_STEP)
    st: dict[str, Any] = {}
    status.calculate_pause_status(ctx, {}, st)
    assert st == {
        "pauseConditions": [{"reason": "CanaryPauseStep", "startTime": NOW}],
        "controllerPause": True,
    }


def test_abort_status_keeps_aborted_at() -> None:
    """CalculateAbortStatus: abortedAt set once and kept; pause conditions dropped while aborted."""
    ctx = canary_ctx()
    prev = {
        "abort": True,
        "abortedAt": "2025-12-31T00:00:00Z",
        "pauseConditions": [{"reason": "CanaryPauseStep"}],
    }
    st: dict[str, Any] = dict(prev)
    status.calculate_pause_status(ctx, prev, st)
    assert st == {"abort": True, "abortedAt": "2025-12-31T00:00:00Z"}
