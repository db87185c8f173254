"""The pure half of applying: the status diff (one merge patch, none when equal) and the bodies written."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rollouts.controller.applying import analysis_run_body, merge_diff, replica_set_body, status_patch
from rollouts.strategy.plan import CreateAnalysisRun, CreateReplicaSet

ROLLOUT: dict[str, Any] = {
    "metadata": {"name": "api", "namespace": "prod", "uid": "u-1", "generation": 3, "resourceVersion": "7"},
    "status": {"currentStepIndex": 1, "phase": "Paused", "pauseConditions": [{"reason": "CanaryPauseStep"}]},
}


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386, written independently of the code under test."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result


@pytest.mark.parametrize(
    ("old", "new", "patch"),
    [
        pytest.param({"a": 1}, {"a": 1}, {}, id="equal-no-patch"),
        pytest.param({"a": 1}, {"a": 2}, {"a": 2}, id="scalar-changed"),
        pytest.param({"a": 1, "b": 2}, {"a": 1}, {"b": None}, id="removed-key-null"),
        pytest.param(
            {"w": {"c": 5, "s": 95}}, {"w": {"c": 20, "s": 80}}, {"w": {"c": 20, "s": 80}}, id="nested"
        ),
        pytest.param({"l": [1, 2]}, {"l": [1]}, {"l": [1]}, id="list-replaced-whole"),
        pytest.param({}, {"x": {"y": None, "z": 1}}, {"x": {"z": 1}}, id="new-object-without-nulls"),
        pytest.param({}, {"x": None}, {}, id="absent-equals-null"),
    ],
)
def test_merge_diff(old: dict[str, Any], new: dict[str, Any], patch: dict[str, Any]) -> None:
    assert merge_diff(old, new) == patch


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=3),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.sampled_from("abcd"), children, max_size=4)
    ),
    max_leaves=12,
)
json_objects = st.dictionaries(st.sampled_from("abcde"), json_values, max_size=5)


def _strip_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_nulls(v) for k, v in value.items() if v is not None}
    return value


@settings(deadline=None)
@given(json_objects, json_objects)
def test_merge_diff_round_trips(old: dict[str, Any], new: dict[str, Any]) -> None:
    """Invariant: applying the diff to the stored status gives the desired status (nulls read as absent)."""
    old, new = _strip_nulls(old), _strip_nulls(new)
    assert apply_merge_patch(old, merge_diff(old, new)) == new
    assert (merge_diff(old, new) == {}) == (old == new)


def test_status_patch_adds_observed_generation_as_string() -> None:
    """docs/semantics/objects.md#rollout-status: observedGeneration is a string."""
    new = {**ROLLOUT["status"], "observedGeneration": "3"}
    assert status_patch(ROLLOUT, ROLLOUT["status"]) == {"status": {"observedGeneration": "3"}}
    assert status_patch({**ROLLOUT, "status": new}, ROLLOUT["status"]) == {}


def test_status_patch_clears_pause_conditions_with_null() -> None:
    new = {"currentStepIndex": 2, "phase": "Progressing", "observedGeneration": "3"}
    assert status_patch(ROLLOUT, new) == {
        "status": {
            "currentStepIndex": 2,
            "phase": "Progressing",
            "observedGeneration": "3",
            "pauseConditions": None,
        }
    }


def test_replica_set_body_is_controlled_by_the_rollout() -> None:
    action = CreateReplicaSet(
        name="api-abc",
        pod_template_hash="abc",
        replicas=0,
        template={"metadata": {"labels": {"app": "api", "rollouts-pod-template-hash": "abc"}}},
        selector={"matchLabels": {"app": "api", "rollouts-pod-template-hash": "abc"}},
        labels={"app": "api"},
        annotations={"rollout.argoproj.io/revision": "2"},
    )
    body = replica_set_body(ROLLOUT, action)
    assert body["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Rollout",
            "name": "api",
            "uid": "u-1",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert body["metadata"]["labels"]["rollouts-pod-template-hash"] == "abc"
    assert body["spec"]["replicas"] == 0
    assert body["metadata"]["namespace"] == "prod"


def test_analysis_run_body_keeps_labels_and_owner() -> None:
    action = CreateAnalysisRun(
        name="api-abc-2",
        spec={"metrics": [{"name": "m", "provider": {"web": {"url": "http://x"}}}]},
        labels={"rollout-type": "Background", "rollouts-pod-template-hash": "abc"},
        annotations={"rollout.argoproj.io/revision": "2"},
    )
    body = analysis_run_body(ROLLOUT, action, "api-abc-2.1")
    assert body["metadata"]["name"] == "api-abc-2.1"
    assert body["metadata"]["labels"]["rollout-type"] == "Background"
    assert body["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    assert body["spec"] == action.spec
