"""The exact patches of the mutating commands (docs/semantics/plugin.md#plugin-commands, docs/semantics/controller.md#abort, docs/semantics/controller.md#promote, docs/semantics/controller.md#pause, docs/semantics/controller.md#rollback), as pure tables."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollouts.plugin import intents
from rollouts.plugin.intents import IntentError, Patch, UndoSkipped

STEPS = [
    {"setWeight": 20},
    {"pause": {}},
    {"analysis": {"templates": [{"templateName": "t"}]}},
    {"setWeight": 60},
]


def canary(**status: Any) -> dict[str, Any]:
    paused = status.pop("paused", False)
    return {
        "metadata": {"name": "web"},
        "spec": {"paused": paused, "strategy": {"canary": {"steps": STEPS}}},
        "status": status,
    }


def bluegreen(**status: Any) -> dict[str, Any]:
    paused = status.pop("paused", False)
    return {
        "metadata": {"name": "web"},
        "spec": {"paused": paused, "strategy": {"blueGreen": {}}},
        "status": status,
    }


PAUSED = [{"reason": "CanaryPauseStep", "startTime": "2026-01-01T00:00:00Z"}]


@pytest.mark.parametrize(
    ("rollout", "kwargs", "expected"),
    [
        pytest.param(
            canary(currentStepIndex=1, pauseConditions=PAUSED, controllerPause=True),
            {},
            [Patch("merge", "status", {"status": {"pauseConditions": None}})],
            id="pause-step-clears-conditions",
        ),
        pytest.param(
            canary(currentStepIndex=1, pauseConditions=PAUSED, controllerPause=True, paused=True),
            {},
            [
                Patch("merge", "status", {"status": {"pauseConditions": None}}),
                Patch("merge", "", {"spec": {"paused": False}}),
            ],
            id="user-paused-status-then-spec",
        ),
        pytest.param(
            canary(
                currentStepIndex=2,
                pauseConditions=[{"reason": "InconclusiveAnalysisRun"}],
                controllerPause=True,
                canary={"currentStepAnalysisRunStatus": {"name": "r", "status": "Inconclusive"}},
            ),
            {},
            [
                Patch(
                    "merge",
                    "status",
                    {"status": {"pauseConditions": None, "controllerPause": False, "currentStepIndex": 3}},
                )
            ],
            id="inconclusive-step-moves-on",
        ),
        pytest.param(
            canary(currentStepIndex=2),
            {},
            [Patch("merge", "status", {"status": {"pauseConditions": None, "currentStepIndex": 3}})],
            id="not-paused-canary-skips-analysis-step",
        ),
        pytest.param(
            canary(currentStepIndex=4),
            {},
            [Patch("merge", "status", {"status": {"pauseConditions": None, "currentStepIndex": 4}})],
            id="never-beyond-len-steps",
        ),
        pytest.param(
            canary(),
            {},
            [Patch("merge", "status", {"status": {"pauseConditions": None, "currentStepIndex": 1}})],
            id="unset-index-is-zero",
        ),
        pytest.param(
            bluegreen(pauseConditions=[{"reason": "BlueGreenPause"}], controllerPause=True),
            {},
            [Patch("merge", "status", {"status": {"pauseConditions": None}})],
            id="bluegreen-pause",
        ),
        pytest.param(bluegreen(), {}, [], id="bluegreen-nothing-to-do"),
        pytest.param(
            canary(currentPodHash="a", stableRS="b", paused=True),
            {"full": True},
            [
                Patch("merge", "status", {"status": {"promoteFull": True}}),
                Patch("merge", "", {"spec": {"paused": False}}),
            ],
            id="full",
        ),
        pytest.param(
            canary(currentPodHash="a", stableRS="a"), {"full": True}, [], id="full-noop-when-stable"
        ),
        pytest.param(
            canary(currentStepIndex=1),
            {"skip_current_step": True},
            [Patch("merge", "status", {"status": {"currentStepIndex": 2}})],
            id="deprecated-skip-current",
        ),
        pytest.param(
            canary(currentStepIndex=1),
            {"skip_all_steps": True},
            [Patch("merge", "status", {"status": {"currentStepIndex": 4}})],
            id="deprecated-skip-all",
        ),
    ],
)
def test_promote(rollout: dict[str, Any], kwargs: dict[str, bool], expected: list[Patch]) -> None:
    """docs/semantics/controller.md#promote."""
    assert intents.promote(rollout, **kwargs) == expected


@pytest.mark.parametrize(
    ("rollout", "kwargs", "message"),
    [
        pytest.param(
            canary(),
            {"skip_current_step": True, "skip_all_steps": True},
            "Cannot use skip-current-step and skip-all-steps flags at the same time",
            id="both",
        ),
        pytest.param(
            bluegreen(),
            {"skip_current_step": True},
            "Cannot skip steps of a bluegreen rollout. Run without a flags",
            id="bluegreen",
        ),
        pytest.param(
            {"spec": {"strategy": {"canary": {}}}, "status": {}},
            {"skip_all_steps": True},
            "Cannot skip steps of a rollout without steps",
            id="no-steps",
        ),
    ],
)
def test_promote_deprecated_flag_errors(
    rollout: dict[str, Any], kwargs: dict[str, bool], message: str
) -> None:
    with pytest.raises(IntentError, match=f"^{message}$".replace(".", r"\.")):
        intents.promote(rollout, **kwargs)


def test_simple_intents() -> None:
    """docs/semantics/controller.md#abort abort/retry are status patches; docs/semantics/controller.md#pause pause a spec patch; terminate a spec patch of the run."""
    ro = canary()
    assert intents.abort(ro) == Patch("merge", "status", {"status": {"abort": True}})
    assert intents.retry(ro) == Patch("merge", "status", {"status": {"abort": False}})
    assert intents.pause(ro) == Patch("merge", "", {"spec": {"paused": True}})
    assert intents.terminate({}) == Patch("merge", "", {"spec": {"terminate": True}})


@pytest.mark.parametrize(
    ("delay", "expected"),
    [
        pytest.param(timedelta(0), "2026-03-04T05:06:07Z", id="now"),
        pytest.param(timedelta(minutes=5), "2026-03-04T05:11:07Z", id="in-5m"),
    ],
)
def test_restart(delay: timedelta, expected: str) -> None:
    now = datetime(2026, 3, 4, 5, 6, 7, 891000, tzinfo=UTC)
    assert intents.restart({}, now, delay) == Patch("merge", "", {"spec": {"restartAt": expected}})


def _with_containers() -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "resourceVersion": "7"},
        "spec": {
            "template": {
                "spec": {
                    "initContainers": [{"name": "init", "image": "busybox:1"}],
                    "containers": [{"name": "app", "image": "app:1"}, {"name": "side", "image": "side:1"}],
                    "ephemeralContainers": [{"name": "debug", "image": "debug:1"}],
                }
            }
        },
    }


def _images(obj: dict[str, Any]) -> dict[str, str]:
    spec = obj["spec"]["template"]["spec"]
    return {
        c["name"]: c["image"]
        for f in ("initContainers", "containers", "ephemeralContainers")
        for c in spec[f]
    }


def test_set_image_one_container_keeps_resource_version() -> None:
    original = _with_containers()
    patch = intents.set_image(original, "side", "side:2")
    assert patch.type == "replace"
    assert patch.body["metadata"]["resourceVersion"] == "7"  # a concurrent write is a 409
    assert _images(patch.body) == {"init": "busybox:1", "app": "app:1", "side": "side:2", "debug": "debug:1"}
    assert _images(original)["side"] == "side:1"  # not mutated


def test_set_image_star_is_every_container() -> None:
    patch = intents.set_image(_with_containers(), "*", "x:9")
    assert set(_images(patch.body).values()) == {"x:9"}


def test_set_image_unknown_container() -> None:
    with pytest.raises(IntentError, match=r'^unable to find container named "nope"$'):
        intents.set_image(_with_containers(), "nope", "x:1")


def _rs(revision: int, image: str, pod_hash: str) -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"web-{pod_hash}",
            "annotations": {"rollout.argoproj.io/revision": str(revision)},
        },
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "web", "rollouts-pod-template-hash": pod_hash}},
                "spec": {"containers": [{"name": "app", "image": image}]},
            }
        },
    }


def _ro(image: str) -> dict[str, Any]:
    return {
        "metadata": {"name": "web"},
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": image}]},
            }
        },
    }


HISTORY = [_rs(1, "app:1", "h1"), _rs(3, "app:3", "h3"), _rs(2, "app:2", "h2")]


def test_undo_to_previous_revision() -> None:
    """docs/semantics/controller.md#rollback: default = the second newest revision; the hash label is removed from the restored template."""
    patch = intents.undo(_ro("app:3"), HISTORY)
    assert patch.type == "json" and patch.subresource == ""
    (op,) = patch.body
    assert op["op"] == "replace" and op["path"] == "/spec/template"
    assert op["value"]["spec"]["containers"][0]["image"] == "app:2"
    assert op["value"]["metadata"]["labels"] == {"app": "web"}


def test_undo_to_revision() -> None:
    patch = intents.undo(_ro("app:3"), HISTORY, to_revision=1)
    assert patch.body[0]["value"]["spec"]["containers"][0]["image"] == "app:1"


@pytest.mark.parametrize(
    ("rollout", "history", "to", "error", "message"),
    [
        pytest.param(
            _ro("app:3"),
            HISTORY,
            9,
            IntentError,
            "unable to find specified revision 9 in history",
            id="missing",
        ),
        pytest.param(
            _ro("app:1"), HISTORY[:1], 0, IntentError, 'no revision found for rollout "web"', id="no-previous"
        ),
        pytest.param(
            _ro("app:2"),
            HISTORY,
            2,
            UndoSkipped,
            "skipped rollback (current template already matches revision 2)",
            id="already-matches",
        ),
    ],
)
def test_undo_errors(
    rollout: dict[str, Any], history: list[dict[str, Any]], to: int, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        intents.undo(rollout, history, to)
    assert str(info.value) == message


@given(index=st.integers(min_value=0, max_value=10), paused=st.booleans())
def test_promote_never_moves_index_past_the_end_nor_backwards(index: int, paused: bool) -> None:
    """Invariant (docs/semantics/controller.md#promote): a plain promote moves currentStepIndex by one while it is inside the steps, else keeps it."""
    ro = canary(currentStepIndex=index, paused=paused)
    before = copy.deepcopy(ro)
    for patch in intents.promote(ro):
        new = patch.body.get("status", {}).get("currentStepIndex")
        if new is not None:
            assert new == (index + 1 if index < len(STEPS) else index)
    assert ro == before  # pure: the input is not mutated
