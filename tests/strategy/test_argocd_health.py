"""Argo CD's built-in Rollout health check on the statuses `decide` writes, and on Argo CD's own testdata.

The script is Argo CD's `resource_customizations/argoproj.io/Rollout/health.lua`, read from the argo-cd mirror
at the pinned commit (`tests.fixtures.argo_sources.ARGO_CD_COMMIT`) and run as Argo CD runs it
(`tests.fixtures.argocd_health`). It answers "Progressing: Waiting for rollout spec update to be observed"
until `status.observedGeneration` equals `metadata.generation`; after that it surfaces `status.phase` and
`status.message` as they are, except that Paused reads as **Suspended**. So with Argo's controller the answer
is the phase and message of Argo's `CalculateRolloutPhase` (utils/rollout/rolloututil.go): "manually paused"
for a user pause, the pause condition's reason (`CanaryPauseStep`, `BlueGreenPause`) for a controller pause,
"more replicas need to be updated", "active service cutover pending", "waiting for analysis to complete",
`<Reason>: <message>` for InvalidSpec, RolloutAborted and ProgressDeadlineExceeded, and Healthy with no
message. Every case below drives our strategy core through a real update and expects exactly that.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.fixtures.argocd_health import Health, LuaHealthCheck, builtin_cases, builtin_check
from tests.strategy.simulate import World

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CANARY = (
    "examples/istio-canary/rollout.yaml",
    "examples/istio-canary/services.yaml",
    "examples/istio-canary/success-rate.yaml",
    "examples/istio-canary/latency.yaml",
    "examples/istio-canary/virtualservice.yaml",
)
BLUEGREEN = (
    "examples/bluegreen/rollout.yaml",
    "examples/bluegreen/services.yaml",
    "examples/bluegreen/smoke-tests.yaml",
    "examples/istio-canary/success-rate.yaml",
)


@pytest.fixture(scope="module")
def check() -> LuaHealthCheck:
    return builtin_check("Rollout")


@pytest.mark.parametrize(("obj", "expected"), builtin_cases("Rollout"))
def test_harness_reproduces_argo_cd_own_cases(
    check: LuaHealthCheck, obj: dict[str, Any], expected: Health
) -> None:
    """Argo CD's health_test.yaml through our harness: the same answers as Argo CD's TestLuaHealthScript."""
    assert check(obj) == expected


def run_named(world: World, suffix: str) -> str:
    return next(n for n in world.runs if n.endswith(suffix))


def updating(files: tuple[str, ...]) -> World:
    """A rollout deployed and settled at T0, then given a new image (not yet seen by the controller)."""
    world = World.from_files(*files)
    world.settle(T0)
    world.set_image("v2")
    return world


# --- canary (examples/istio-canary: setWeight 5, pause 5m, …, background analysis from step 1) ---------------


def canary_at_rest() -> World:
    world = World.from_files(*CANARY)
    world.settle(T0)
    return world


def canary_spec_not_observed() -> World:
    return updating(CANARY)


def canary_scaling_up() -> World:
    world = updating(CANARY)
    world.auto_available = False  # the canary pod is not ready yet
    world.settle(T0)
    return world


def canary_pause_step() -> World:
    world = updating(CANARY)
    world.settle(T0)
    return world


def canary_user_pause() -> World:
    world = canary_pause_step()
    world.rollout["spec"]["paused"] = True
    world.bump_generation()
    world.settle(T0)
    return world


def canary_promoted() -> World:
    world = updating(CANARY)
    for hour in range(8):
        world.settle(T0 + timedelta(hours=hour))
    return world


def canary_aborted() -> World:
    world = canary_pause_step()
    run = world.status["canary"]["currentBackgroundAnalysisRunStatus"]["name"]
    world.set_run_phase(
        run, "Failed", 'Metric "success-rate" assessed Failed due to failed (4) > failureLimit (3)'
    )
    world.settle(T0)
    return world


def canary_progress_deadline() -> World:
    world = canary_scaling_up()
    world.settle(T0 + timedelta(minutes=11))  # progressDeadlineSeconds defaults to 600
    return world


def canary_invalid() -> World:
    world = canary_at_rest()
    world.rollout["spec"]["strategy"]["canary"]["steps"][0]["setWeight"] = 150
    world.bump_generation()
    world.settle(T0)
    return world


# --- blue-green (examples/bluegreen: pre-promotion smoke tests, manual promotion, post-promotion analysis) --


def bluegreen_at_rest() -> World:
    world = World.from_files(*BLUEGREEN)
    world.settle(T0)
    return world


def bluegreen_scaling_up() -> World:
    world = updating(BLUEGREEN)
    world.auto_available = False
    world.settle(T0)
    return world


def bluegreen_pre_promotion_analysis() -> World:
    world = updating(BLUEGREEN)
    world.settle(T0)
    return world


def bluegreen_paused() -> World:
    world = bluegreen_pre_promotion_analysis()
    world.set_run_phase(run_named(world, "-pre"), "Successful")
    world.settle(T0)
    return world


def bluegreen_post_promotion_analysis() -> World:
    world = bluegreen_paused()
    world.patch_status(pauseConditions=None)  # what `kubectl rollouts promote` writes
    world.settle(T0)
    return world


def bluegreen_promoted() -> World:
    world = bluegreen_post_promotion_analysis()
    world.set_run_phase(run_named(world, "-post"), "Successful")
    world.settle(T0)
    return world


def bluegreen_aborted() -> World:
    world = bluegreen_pre_promotion_analysis()
    world.set_run_phase(run_named(world, "-pre"), "Failed", "smoke tests failed")
    world.settle(T0)
    return world


ABORTED = "RolloutAborted: Rollout aborted update to revision 2: "


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        pytest.param(canary_at_rest, Health("Healthy", ""), id="canary-healthy"),
        pytest.param(
            canary_spec_not_observed,
            Health("Progressing", "Waiting for rollout spec update to be observed"),
            id="canary-new-generation",
        ),
        pytest.param(
            canary_scaling_up,
            Health("Progressing", "more replicas need to be updated"),
            id="canary-progressing",
        ),
        pytest.param(canary_pause_step, Health("Suspended", "CanaryPauseStep"), id="canary-paused-step"),
        pytest.param(canary_user_pause, Health("Suspended", "manually paused"), id="canary-paused-by-user"),
        pytest.param(canary_promoted, Health("Healthy", ""), id="canary-promoted"),
        pytest.param(
            canary_aborted,
            Health(
                "Degraded",
                ABORTED + "Background analysis phase error/failed: "
                'Metric "success-rate" assessed Failed due to failed (4) > failureLimit (3)',
            ),
            id="canary-degraded-abort",
        ),
        pytest.param(
            canary_progress_deadline,
            Health("Degraded", "ProgressDeadlineExceeded: ReplicaSet {new} has timed out progressing."),
            id="canary-degraded-deadline",
        ),
        pytest.param(
            canary_invalid,
            Health(
                "Degraded",
                'InvalidSpec: The Rollout "api-server" is invalid: spec.strategy.canary.steps[0].setWeight: '
                "Invalid value: 150: SetWeight needs to be between 0 and 100",
            ),
            id="canary-degraded-invalid",
        ),
        pytest.param(bluegreen_at_rest, Health("Healthy", ""), id="bluegreen-healthy"),
        pytest.param(
            bluegreen_scaling_up,
            Health("Progressing", "more replicas need to be updated"),
            id="bluegreen-progressing",
        ),
        pytest.param(
            bluegreen_pre_promotion_analysis,
            Health("Progressing", "active service cutover pending"),
            id="bluegreen-pre-promotion",
        ),
        pytest.param(bluegreen_paused, Health("Suspended", "BlueGreenPause"), id="bluegreen-paused"),
        pytest.param(
            bluegreen_post_promotion_analysis,
            Health("Progressing", "waiting for analysis to complete"),
            id="bluegreen-post-promotion",
        ),
        pytest.param(bluegreen_promoted, Health("Healthy", ""), id="bluegreen-promoted"),
        pytest.param(
            bluegreen_aborted,
            Health(
                "Degraded",
                ABORTED + "Blue/green pre-promotion analysis phase error/failed: smoke tests failed",
            ),
            id="bluegreen-degraded-abort",
        ),
    ],
)
def test_argo_cd_reads_our_status_as_argo_controller_status(
    check: LuaHealthCheck, build: Callable[[], World], expected: Health
) -> None:
    world = build()
    new = (
        f'"{world.rs_by_hash(world.status["currentPodHash"]).name}"'
        if "currentPodHash" in world.status
        else ""
    )
    assert check(world.rollout) == expected._replace(message=expected.message.replace("{new}", new))


def test_every_pass_of_an_update_has_an_argo_cd_health() -> None:
    """Each status written during a whole canary update gets a real answer (never empty, never Unknown)."""
    check = builtin_check("Rollout")
    world = updating(CANARY)
    seen: list[str] = []
    for minute in range(0, 8 * 60, 5):
        world.step(T0 + timedelta(minutes=minute))
        health = check(world.rollout)
        assert health.status in ("Progressing", "Suspended", "Healthy"), health
        assert (health.status == "Suspended") == (world.status.get("phase") == "Paused")
        if not seen or seen[-1] != health.status:
            seen.append(health.status)
    assert seen == ["Progressing", "Suspended", "Progressing", "Suspended", "Progressing", "Suspended",
                    "Progressing", "Suspended", "Progressing", "Healthy"]  # fmt: skip
