"""Blue-green decisions (docs/semantics/controller.md#bluegreen) on the seed's web-frontend rollout and variants, in the in-memory world."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rollouts.strategy.plan import CreateAnalysisRun, EmitEvent
from tests.strategy.simulate import World

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SEED = (
    "examples/bluegreen/rollout.yaml",
    "examples/bluegreen/services.yaml",
    "examples/bluegreen/smoke-tests.yaml",
    "examples/istio-canary/success-rate.yaml",
)


def seed_world(**bg: object) -> World:
    world = World.from_files(*SEED)
    world.rollout["spec"]["strategy"]["blueGreen"].update(bg)
    world.settle(T0)
    return world


def selectors(world: World) -> dict[str, str]:
    return {s.name: s.selector.get("rollouts-pod-template-hash", "") for s in world.services.values()}


def run_named(world: World, suffix: str) -> str:
    return next(n for n in world.runs if n.endswith(suffix))


def test_first_deploy_switches_both_services() -> None:
    """docs/semantics/controller.md#bluegreen-switch: an active Service without a hash selector is fast-tracked (first deploy)."""
    world = seed_world()
    h = world.status["currentPodHash"]
    assert selectors(world) == {"web-frontend-active": h, "web-frontend-preview": h}
    assert world.status["stableRS"] == h and world.status["phase"] == "Healthy"
    assert world.status["blueGreen"] == {"activeSelector": h, "previewSelector": h}
    assert world.services["web-frontend-active"].annotations[
        "argo-rollouts.argoproj.io/managed-by-rollouts"
    ] == ("web-frontend")


def test_seed_bluegreen_update() -> None:
    """docs/semantics/controller.md#bluegreen 1–6: preview first, pre-promotion run, BlueGreenPause, promote, switch, post run, delayed scale-down."""
    world = seed_world()
    blue = world.status["stableRS"]
    world.set_image("myregistry.com/web-frontend:v3.1.0")
    world.settle(T0)
    green = world.status["currentPodHash"]
    assert selectors(world) == {"web-frontend-active": blue, "web-frontend-preview": green}
    assert world.status["phase"] == "Progressing"
    assert world.status["message"] == "active service cutover pending"
    pre = run_named(world, "-pre")
    assert pre == f"web-frontend-{green}-2-pre"
    assert world.runs[pre].rollout_type == "PrePromotion"
    assert world.run_specs[pre]["args"] == [
        {"name": "preview-url", "value": "http://web-frontend-preview.production.svc:3000"}
    ]
    # pre-promotion succeeds → autoPromotionEnabled: false pauses (BlueGreenPause)
    world.set_run_phase(pre, "Successful")
    world.settle(T0)
    assert world.status["phase"] == "Paused" and world.status["message"] == "BlueGreenPause"
    world.settle(T0 + timedelta(days=1))
    assert selectors(world)["web-frontend-active"] == blue
    # promote: pauseConditions cleared (controllerPause stays) → switch
    world.patch_status(pauseConditions=None)
    world.settle(T0 + timedelta(days=1))
    assert selectors(world)["web-frontend-active"] == green
    assert world.status["message"] == "waiting for analysis to complete"
    assert world.status["stableRS"] == blue
    post = run_named(world, "-post")
    assert world.run_specs[post]["args"] == [{"name": "service-name", "value": "web-frontend-active"}]
    # post-promotion succeeds → green becomes stable; blue gets scale-down-deadline = now + 300 s
    now = T0 + timedelta(days=1)
    world.set_run_phase(post, "Successful")
    world.settle(now)
    assert world.status["stableRS"] == green and world.status["phase"] == "Healthy"
    old = world.rs_by_hash(blue)
    assert old.spec_replicas == 5
    assert old.annotations["scale-down-deadline"] == "2026-01-02T00:05:00Z"
    world.settle(now + timedelta(seconds=301))
    assert world.rs_by_hash(blue).spec_replicas == 0
    assert world.rs_by_hash(green).spec_replicas == 5
    assert (
        f"Rollout completed update to revision 2 ({green}): Completed blue-green update"
        in world.event_messages("RolloutCompleted")
    )


def test_post_promotion_failure_switches_back() -> None:
    """docs/semantics/controller.md#abort blue-green / docs/semantics/controller.md#bluegreen-post-promotion: a Failed post-promotion run aborts; active goes back to the stable RS."""
    world = seed_world()
    blue = world.status["stableRS"]
    world.set_image("v4")
    world.settle(T0)
    world.set_run_phase(run_named(world, "-pre"), "Successful")
    world.settle(T0)
    world.patch_status(pauseConditions=None)
    world.settle(T0)
    world.set_run_phase(run_named(world, "-post"), "Failed", "error rate too high")
    world.settle(T0)
    assert selectors(world)["web-frontend-active"] == blue
    assert world.status["phase"] == "Degraded"
    assert world.status["message"] == (
        "RolloutAborted: Rollout aborted update to revision 2: "
        "Blue/green post-promotion analysis phase error/failed: error rate too high"
    )
    green = world.status["currentPodHash"]
    assert world.rs_by_hash(green).annotations["scale-down-deadline"] == "2026-01-01T00:00:30Z"
    world.settle(T0 + timedelta(seconds=31))
    assert world.rs_by_hash(green).spec_replicas == 0
    assert world.rs_by_hash(blue).spec_replicas == 5


def test_pre_promotion_failure_aborts_without_switch() -> None:
    world = seed_world()
    blue = world.status["stableRS"]
    world.set_image("v4")
    world.settle(T0)
    world.set_run_phase(run_named(world, "-pre"), "Error", "")
    world.settle(T0)
    assert selectors(world)["web-frontend-active"] == blue
    assert world.status["message"] == (
        "RolloutAborted: Rollout aborted update to revision 2: Blue/green pre-promotion analysis phase error/failed"
    )


@pytest.mark.parametrize(
    ("seconds", "switched_after"),
    [pytest.param(60, 61, id="autoPromotionSeconds-60"), pytest.param(5, 6, id="autoPromotionSeconds-5")],
)
def test_auto_promotion_seconds(seconds: int, switched_after: int) -> None:
    """docs/semantics/controller.md#bluegreen-pause: autoPromotionSeconds → BlueGreenPause that completes once now > startTime + seconds."""
    world = World.from_files("examples/bluegreen/rollout.yaml", "examples/bluegreen/services.yaml")
    bg = world.rollout["spec"]["strategy"]["blueGreen"]
    for key in ("prePromotionAnalysis", "postPromotionAnalysis", "autoPromotionEnabled"):
        bg.pop(key)
    bg["autoPromotionSeconds"] = seconds
    world.settle(T0)
    blue = world.status["stableRS"]
    world.set_image("v5")
    world.settle(T0)
    assert world.status["message"] == "BlueGreenPause"
    assert world.plans[-1].requeue_after == float(seconds + 1)
    world.settle(T0 + timedelta(seconds=seconds))
    assert selectors(world)["web-frontend-active"] == blue
    world.settle(T0 + timedelta(seconds=switched_after))
    assert selectors(world)["web-frontend-active"] == world.status["currentPodHash"]
    assert world.status["stableRS"] == world.status["currentPodHash"]


def test_no_pause_without_auto_promotion_settings() -> None:
    """docs/semantics/controller.md#bluegreen-pause: autoPromotionEnabled default (true) and no seconds → no pause, immediate switch."""
    world = World.from_files("examples/bluegreen/rollout.yaml", "examples/bluegreen/services.yaml")
    bg = world.rollout["spec"]["strategy"]["blueGreen"]
    for key in ("prePromotionAnalysis", "postPromotionAnalysis", "autoPromotionEnabled"):
        bg.pop(key)
    world.settle(T0)
    world.set_image("v6")
    world.settle(T0)
    assert "pauseConditions" not in world.status
    assert world.status["stableRS"] == world.status["currentPodHash"]


def test_preview_replica_count_and_checkpoint() -> None:
    """docs/semantics/controller.md#bluegreen-preview-replica-count: the preview runs previewReplicaCount pods until promotion, then scales to full before the switch."""
    world = World.from_files("examples/bluegreen/rollout.yaml", "examples/bluegreen/services.yaml")
    bg = world.rollout["spec"]["strategy"]["blueGreen"]
    for key in ("prePromotionAnalysis", "postPromotionAnalysis"):
        bg.pop(key)
    bg["previewReplicaCount"] = 1
    world.settle(T0)
    blue = world.status["stableRS"]
    world.set_image("v7")
    world.settle(T0)
    green = world.status["currentPodHash"]
    assert world.rs_by_hash(green).spec_replicas == 1
    assert world.status["message"] == "BlueGreenPause"
    world.patch_status(pauseConditions=None)
    plan = world.step(T0)
    assert plan.new_status["blueGreen"]["scaleUpPreviewCheckPoint"] is True
    world.settle(T0)
    assert world.rs_by_hash(green).spec_replicas == 5
    assert selectors(world)["web-frontend-active"] == green
    assert world.status["stableRS"] == green
    assert "scaleUpPreviewCheckPoint" not in world.status["blueGreen"]
    assert world.rs_by_hash(blue).spec_replicas == 5  # kept for scaleDownDelaySeconds


def test_scale_down_delay_revision_limit() -> None:
    """docs/semantics/controller.md#bluegreen-scale-down: scaleDownDelayRevisionLimit 0 → old active RS scaled down at once, without a deadline."""
    world = World.from_files("examples/bluegreen/rollout.yaml", "examples/bluegreen/services.yaml")
    bg = world.rollout["spec"]["strategy"]["blueGreen"]
    for key in ("prePromotionAnalysis", "postPromotionAnalysis", "autoPromotionEnabled"):
        bg.pop(key)
    bg["scaleDownDelayRevisionLimit"] = 0
    world.settle(T0)
    blue = world.status["stableRS"]
    world.set_image("v8")
    world.settle(T0)
    assert world.rs_by_hash(blue).spec_replicas == 0
    assert "scale-down-deadline" not in world.rs_by_hash(blue).annotations


def test_missing_active_service_is_invalid_spec() -> None:
    world = World.from_files(
        "examples/bluegreen/rollout.yaml",
        "examples/bluegreen/smoke-tests.yaml",
        "examples/istio-canary/success-rate.yaml",
    )
    plan = world.step(T0)
    assert plan.new_status["phase"] == "Degraded"
    assert plan.new_status["message"] == (
        'InvalidSpec: The Rollout "web-frontend" is invalid: spec.strategy.blueGreen.activeService: '
        'Invalid value: "web-frontend-active": service "web-frontend-active" not found'
    )
    assert not [a for a in plan.actions if not isinstance(a, EmitEvent | CreateAnalysisRun)]


def test_fast_rollback_within_scale_down_delay() -> None:
    """docs/semantics/controller.md#rollback / bluegreen_test.go TestFastRollback: back to the previous RS while it is still up → no analysis,
    no pause, the active Service switches at once and the RS's scale-down deadline is removed."""
    world = seed_world()
    blue = world.status["stableRS"]
    blue_image = world.rollout["spec"]["template"]["spec"]["containers"][0]["image"]
    t1 = T0 + timedelta(seconds=10)  # green is created after blue
    world.set_image("v9")
    world.settle(t1)
    world.set_run_phase(run_named(world, "-pre"), "Successful")
    world.settle(t1)
    world.patch_status(pauseConditions=None)
    world.settle(t1)
    world.set_run_phase(run_named(world, "-post"), "Successful")
    world.settle(t1)
    green = world.status["stableRS"]
    assert green != blue and "scale-down-deadline" in world.rs_by_hash(blue).annotations
    runs_before = set(world.runs)
    world.set_image(blue_image)
    world.settle(t1 + timedelta(seconds=60))
    assert selectors(world)["web-frontend-active"] == blue
    assert world.status["stableRS"] == blue
    assert "pauseConditions" not in world.status
    assert set(world.runs) <= runs_before  # no new pre/post-promotion run
    assert "scale-down-deadline" not in world.rs_by_hash(blue).annotations
    assert any(m.endswith(": Fast rollback") for m in world.event_messages("RolloutCompleted"))
    assert world.rs_by_hash(blue).revision == 3  # the revision is bumped on rollback


def test_scale_down_limit_keeps_newest_old_rs() -> None:
    """bluegreen_test.go TestBlueGreenScaleDownLimit: with scaleDownDelayRevisionLimit 1 only the newest old
    RS keeps its pods until its deadline; older ones are scaled down at once."""
    world = World.from_files("examples/bluegreen/rollout.yaml", "examples/bluegreen/services.yaml")
    bg = world.rollout["spec"]["strategy"]["blueGreen"]
    for key in ("prePromotionAnalysis", "postPromotionAnalysis", "autoPromotionEnabled"):
        bg.pop(key)
    bg["scaleDownDelayRevisionLimit"] = 1
    world.settle(T0)
    v1 = world.status["stableRS"]
    world.set_image("v2")
    world.settle(T0 + timedelta(seconds=1))
    v2 = world.status["stableRS"]
    world.set_image("v3")
    world.settle(T0 + timedelta(seconds=2))
    assert world.rs_by_hash(v2).spec_replicas == 5
    assert world.rs_by_hash(v1).spec_replicas == 0
