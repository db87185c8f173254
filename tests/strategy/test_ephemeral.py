"""Ephemeral metadata in the pure core (`rollouts.strategy.ephemeral`): Argo's own cases of
`SyncEphemeralPodMetadata` (utils/replicaset/canary_test.go), the record's JSON, and which ReplicaSet gets which
metadata through a canary and a blue-green update (`reconcileEphemeralMetadata`). The sandbox test
(tests/controller/test_ephemeral_metadata.py) checks the pods themselves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from rollouts.models.vocabulary import EPHEMERAL_METADATA_ANNOTATION
from rollouts.strategy import ephemeral
from rollouts.strategy.ephemeral import Patch
from rollouts.strategy.plan import CreateReplicaSet, PodMetadata, SyncPodMetadata
from tests.strategy.simulate import World

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LABELS = {"aaa": "111", "do-not": "touch", "bbb": "222"}
ANNOTATIONS = {"ccc": "333", "do-not": "touch", "ddd": "444"}
EXISTING = PodMetadata(labels={"aaa": "111", "bbb": "222"}, annotations={"ccc": "333", "ddd": "444"})


def test_no_change_when_the_metadata_is_there() -> None:
    assert not ephemeral.sync(LABELS, ANNOTATIONS, EXISTING, EXISTING)


def test_no_change_when_a_key_to_remove_is_already_gone() -> None:
    existing = PodMetadata(labels={**EXISTING.labels, "foo": "bar"}, annotations=EXISTING.annotations)
    assert not ephemeral.sync(LABELS, ANNOTATIONS, existing, EXISTING)


def test_what_was_not_injected_is_not_touched() -> None:
    desired = PodMetadata(labels={"aaa": "222"}, annotations={"ccc": "444"})
    assert ephemeral.sync(LABELS, ANNOTATIONS, EXISTING, desired) == Patch(
        labels={"aaa": "222", "bbb": None}, annotations={"ccc": "444", "ddd": None}
    )  # Argo's expected result: aaa=222 and do-not=touch left; bbb and ddd removed


def test_nothing_desired_removes_only_what_was_injected() -> None:
    assert ephemeral.sync(LABELS, ANNOTATIONS, EXISTING, None) == Patch(
        labels={"aaa": None, "bbb": None}, annotations={"ccc": None, "ddd": None}
    )


def test_the_record_is_gos_json() -> None:
    metadata = PodMetadata(labels={"z": "1", "a": "<&>"}, annotations={"x": "y"})
    assert (
        ephemeral.encode(metadata)
        == '{"labels":{"a":"\\u003c\\u0026\\u003e","z":"1"},"annotations":{"x":"y"}}'
    )
    assert ephemeral.parse(ephemeral.encode(metadata)) == PodMetadata(
        labels={"a": "<&>", "z": "1"}, annotations={"x": "y"}
    )
    assert ephemeral.encode(PodMetadata(labels={"role": "canary"})) == '{"labels":{"role":"canary"}}'
    assert ephemeral.parse("not json") is None


def _labels_of(world: World) -> dict[str, dict[str, Any]]:
    """Per pod-template hash: the labels of the ReplicaSet's template (what its pods get)."""
    return {
        rs.pod_template_hash: {
            k: v for k, v in ((rs.template.get("metadata") or {}).get("labels") or {}).items() if k == "role"
        }
        for rs in world.replica_sets.values()
    }


def canary_world() -> World:
    world = World.from_files("examples/basic-canary/rollout.yaml")
    world.rollout["spec"]["strategy"]["canary"]["canaryMetadata"] = {"labels": {"role": "canary"}}
    world.rollout["spec"]["strategy"]["canary"]["stableMetadata"] = {"labels": {"role": "stable"}}
    return world


def test_a_canary_update_gives_each_replica_set_its_roles_metadata() -> None:
    world = canary_world()
    first = world.step(T0)
    (create,) = [a for a in first.actions if isinstance(a, CreateReplicaSet)]
    assert (
        create.template["metadata"]["labels"]["role"] == "stable"
    )  # a first revision becomes the stable one
    assert create.annotations[EPHEMERAL_METADATA_ANNOTATION] == '{"labels":{"role":"stable"}}'
    assert "role" not in create.labels  # the ReplicaSet's own labels are the template's as written
    world.settle(T0)
    stable = world.status["stableRS"]
    world.set_image("myregistry.com/checkout:v1.5.0")
    world.settle(T0)
    canary = world.status["currentPodHash"]
    assert _labels_of(world) == {stable: {"role": "stable"}, canary: {"role": "canary"}}
    world.patch_status(promoteFull=True)
    plans = [world.step(T0 + timedelta(seconds=i)) for i in range(6)]
    syncs = [a for plan in plans for a in plan.actions if isinstance(a, SyncPodMetadata)]
    promoted = next(a for a in syncs if a.replica_set.endswith(canary))
    assert promoted.labels == {"role": "stable"} and promoted.desired == PodMetadata(
        labels={"role": "stable"}
    )
    assert promoted.existing == PodMetadata(labels={"role": "canary"}) and promoted.pods
    world.settle(T0 + timedelta(minutes=1))
    assert world.status["stableRS"] == canary
    assert _labels_of(world) == {
        stable: {},
        canary: {"role": "stable"},
    }  # the old one loses what was injected
    old = world.rs_by_hash(stable)
    assert EPHEMERAL_METADATA_ANNOTATION not in old.annotations


def test_nothing_is_written_when_every_replica_set_has_its_metadata() -> None:
    world = canary_world()
    world.settle(T0)
    plan = world.step(T0)
    assert not [a for a in plan.actions if isinstance(a, SyncPodMetadata)]


def test_a_blue_green_update_labels_preview_then_active() -> None:
    world = World.from_files(
        "examples/bluegreen/rollout.yaml",
        "examples/bluegreen/services.yaml",
        "examples/bluegreen/smoke-tests.yaml",
        "examples/istio-canary/success-rate.yaml",
    )
    bg = world.rollout["spec"]["strategy"]["blueGreen"]
    bg.pop("prePromotionAnalysis")
    bg.pop("postPromotionAnalysis")
    bg["previewMetadata"] = {"labels": {"role": "preview"}}
    bg["activeMetadata"] = {"labels": {"role": "active"}}
    world.settle(T0)
    active = world.status["stableRS"]
    assert _labels_of(world) == {active: {"role": "active"}}
    world.set_image("myregistry.com/web-frontend:v3.1.0")
    world.settle(T0)
    preview = world.status["currentPodHash"]
    assert world.status["phase"] == "Paused"
    assert _labels_of(world) == {active: {"role": "active"}, preview: {"role": "preview"}}
    world.patch_status(pauseConditions=None)  # promote
    world.settle(T0 + timedelta(minutes=1))
    assert world.status["stableRS"] == preview
    assert _labels_of(world) == {active: {}, preview: {"role": "active"}}
