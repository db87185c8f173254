"""What each mutating plugin command writes: pure functions from the object (a dict) to patches.

This is the "decide" half of `kubectl rollouts promote/abort/retry/pause/restart/set image/undo/terminate`;
`commands.py` reads the object, calls one of these, and sends the returned patches in order. Keeping them
pure means the exact bodies of docs/semantics/plugin.md#plugin-commands (and what they mean, docs/semantics/controller.md#abort, docs/semantics/controller.md#promote, docs/semantics/controller.md#pause) are tested as plain tables, and
the commands stay thin.

Every function returns `Patch(type, subresource, body)` values (or a list of them, for promote, which may write
the status and then the spec — Argo's order). `type` is "merge" (merge-patch+json), "json" (json-patch+json)
or "replace" (PUT of the whole object); `subresource` is "status" or "".

    >>> abort({"metadata": {"name": "web"}})
    Patch(type='merge', subresource='status', body={'status': {'abort': True}})
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any, Literal, NamedTuple

from analysis.models import AnalysisPhase
from rollouts.models.vocabulary import POD_TEMPLATE_HASH_LABEL, REVISION_ANNOTATION, format_time
from rollouts.strategy.weights import current_step_index

__all__ = [
    "IntentError",
    "Patch",
    "UndoSkipped",
    "abort",
    "pause",
    "promote",
    "restart",
    "retry",
    "set_image",
    "terminate",
    "undo",
]


PatchType = Literal["merge", "json", "replace"]
Subresource = Literal["", "status"]


class Patch(NamedTuple):
    """One write: how (`type`), where (`subresource`, "" for the object itself) and what (`body`)."""

    type: PatchType
    subresource: Subresource
    body: Any


class IntentError(Exception):
    """The command cannot apply to this object; the message is Argo's, shown as `Error: <message>`."""


class UndoSkipped(Exception):
    """`undo` has nothing to do; the message is printed and the command succeeds (as Argo does)."""


# docs/semantics/controller.md#promote deprecated flag errors (cmd/promote/promote.go)
BOTH_SKIP_FLAGS = "Cannot use skip-current-step and skip-all-steps flags at the same time"
SKIP_BLUEGREEN = "Cannot skip steps of a bluegreen rollout. Run without a flags"
SKIP_NO_STEPS = "Cannot skip steps of a rollout without steps"


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _steps(rollout: dict[str, Any]) -> list[Any] | None:
    """The canary steps, or None for a blue-green rollout."""
    canary = _get(rollout, "spec", "strategy", "canary")
    if canary is None:
        return None
    steps = canary.get("steps") if isinstance(canary, dict) else None
    return list(steps or [])


def _next_step_index(rollout: dict[str, Any], steps: list[Any]) -> int:
    """The index after the current step (`GetCurrentCanaryStep`: the controller's `current_step_index`), never
    beyond len(steps), as Argo's `promote` writes it."""
    stored = _get(rollout, "status", "currentStepIndex")
    index = current_step_index(len(steps), stored if isinstance(stored, int) else None) or 0
    return index + 1 if index < len(steps) else index


def promote(
    rollout: dict[str, Any],
    *,
    full: bool = False,
    skip_current_step: bool = False,
    skip_all_steps: bool = False,
) -> list[Patch]:
    """docs/semantics/controller.md#promote: the patches `promote` sends, status first, then spec.

    Plain promote: unpause the spec if paused; then, for a canary sitting on an Inconclusive step analysis
    with pause conditions and controllerPause, clear both and move to the next step; else clear any pause
    conditions (the controller sees "controllerPause && no condition" = resumed); else, for a canary that is
    not paused (on an analysis or experiment step), clear pause conditions and move to the next step.
    `full`: unpause, and promoteFull=true unless the current pod hash is already stable.

    >>> promote({"spec": {"paused": True, "strategy": {"blueGreen": {}}}, "status": {}})
    [Patch(type='merge', subresource='', body={'spec': {'paused': False}})]
    """
    if skip_current_step and skip_all_steps:
        raise IntentError(BOTH_SKIP_FLAGS)
    spec = rollout.get("spec") or {}
    status = rollout.get("status") or {}
    steps = _steps(rollout)
    if skip_current_step or skip_all_steps:
        if _get(spec, "strategy", "blueGreen") is not None:
            raise IntentError(SKIP_BLUEGREEN)
        if steps is not None and not steps:
            raise IntentError(SKIP_NO_STEPS)
        if steps is None:  # neither strategy: nothing to skip
            return []
        index = _next_step_index(rollout, steps) if skip_current_step else len(steps)
        return [Patch("merge", "status", {"status": {"currentStepIndex": index}})]

    spec_patch = Patch("merge", "", {"spec": {"paused": False}}) if spec.get("paused") else None
    status_patch: Patch | None = None
    if full:
        if status.get("currentPodHash") != status.get("stableRS"):
            status_patch = Patch("merge", "status", {"status": {"promoteFull": True}})
    else:
        pause_conditions = status.get("pauseConditions") or []
        step_run = _get(status, "canary", "currentStepAnalysisRunStatus", "status")
        inconclusive = steps is not None and step_run == AnalysisPhase.INCONCLUSIVE
        if inconclusive and pause_conditions and status.get("controllerPause"):
            if steps:
                status_patch = Patch(
                    "merge",
                    "status",
                    {
                        "status": {
                            "pauseConditions": None,
                            "controllerPause": False,
                            "currentStepIndex": _next_step_index(rollout, steps),
                        }
                    },
                )
        elif pause_conditions:
            status_patch = Patch("merge", "status", {"status": {"pauseConditions": None}})
        elif steps:
            status_patch = Patch(
                "merge",
                "status",
                {"status": {"pauseConditions": None, "currentStepIndex": _next_step_index(rollout, steps)}},
            )
    return [p for p in (status_patch, spec_patch) if p is not None]


def abort(rollout: dict[str, Any]) -> Patch:
    """docs/semantics/controller.md#abort: `{"status":{"abort":true}}` on the status subresource."""
    return Patch("merge", "status", {"status": {"abort": True}})


def retry(rollout: dict[str, Any]) -> Patch:
    """docs/semantics/controller.md#abort: `{"status":{"abort":false}}` on the status subresource."""
    return Patch("merge", "status", {"status": {"abort": False}})


def pause(rollout: dict[str, Any]) -> Patch:
    """docs/semantics/controller.md#pause: a user pause is `spec.paused=true`."""
    return Patch("merge", "", {"spec": {"paused": True}})


def restart(rollout: dict[str, Any], now: datetime, delay: timedelta = timedelta(0)) -> Patch:
    """docs/semantics/plugin.md#plugin-commands: `spec.restartAt` = now + delay, RFC 3339 in UTC with whole seconds (Go's time.RFC3339).

    >>> restart({}, datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=UTC), timedelta(seconds=10)).body
    {'spec': {'restartAt': '2026-01-02T03:04:15Z'}}
    """
    return Patch("merge", "", {"spec": {"restartAt": format_time(now + delay)}})


def terminate(run: dict[str, Any]) -> Patch:
    """docs/semantics/plugin.md#plugin-commands: `terminate analysisrun` sets `spec.terminate=true` (a merge patch of the run itself)."""
    return Patch("merge", "", {"spec": {"terminate": True}})


def set_image(obj: dict[str, Any], container: str, image: str) -> Patch:
    """docs/semantics/plugin.md#plugin-commands `set image`: a PUT of `obj` with the image of `container` replaced.

    `obj` is the Rollout, or the Deployment of its workloadRef. `container` "*" matches every container:
    init, regular and ephemeral ones. The object's resourceVersion is kept so a concurrent write is a 409
    (the command re-reads and retries).
    """
    new = copy.deepcopy(obj)
    pod_spec = _get(new, "spec", "template", "spec")
    found = False
    if isinstance(pod_spec, dict):
        for field in ("initContainers", "containers", "ephemeralContainers"):
            for ctr in pod_spec.get(field) or []:
                if isinstance(ctr, dict) and (container == "*" or ctr.get("name") == container):
                    ctr["image"] = image
                    found = True
    if not found:
        raise IntentError(f'unable to find container named "{container}"')
    return Patch("replace", "", new)


def _revision(rs: dict[str, Any]) -> int | None:
    value = (_get(rs, "metadata", "annotations") or {}).get(REVISION_ANNOTATION)
    if value is None:
        return 0
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _without_hash(template: Any) -> Any:
    template = copy.deepcopy(template) if isinstance(template, dict) else {}
    labels = _get(template, "metadata", "labels")
    if isinstance(labels, dict):
        labels.pop(POD_TEMPLATE_HASH_LABEL, None)
    return template


def _derivative(a: Any, b: Any) -> bool:
    """apimachinery's Semantic.DeepDerivative: nil/empty strings, lists and maps in `a` match anything in `b`."""
    if a is None or (isinstance(a, str | list | dict) and len(a) == 0):
        return True
    if isinstance(a, dict):
        if not isinstance(b, dict) or len(a) > len(b):
            return False
        return all(k in b and _derivative(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        if not isinstance(b, list) or len(a) != len(b):
            return False
        return all(_derivative(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b) and type(a) is type(b)


def undo(rollout: dict[str, Any], replicasets: list[dict[str, Any]], to_revision: int = 0) -> Patch:
    """docs/semantics/controller.md#rollback/docs/semantics/plugin.md#plugin-commands `undo`: a JSON patch replacing `/spec/template` with the template of a revision's ReplicaSet.

    `replicasets` are those the rollout controls. `to_revision` 0 means the previous revision (the second
    newest). The pod-template-hash label is removed from the restored template. Raises IntentError with
    Argo's messages when the revision does not exist, and UndoSkipped when the template already matches.
    """
    name = _get(rollout, "metadata", "name")
    latest: tuple[int, dict[str, Any]] | None = None
    previous: tuple[int, dict[str, Any]] | None = None
    chosen: tuple[int, dict[str, Any]] | None = None
    for rs in replicasets:
        rev = _revision(rs)
        if rev is None:
            continue
        if to_revision == 0:
            if latest is None or latest[0] < rev:
                previous, latest = latest, (rev, rs)
            elif previous is None or previous[0] < rev:
                previous = (rev, rs)
        elif rev == to_revision:
            chosen = (rev, rs)
            break
    if to_revision > 0 and chosen is None:
        raise IntentError(f"unable to find specified revision {to_revision} in history")
    if to_revision == 0:
        if previous is None:
            raise IntentError(f'no revision found for rollout "{name}"')
        chosen = previous
    assert chosen is not None
    rev, rs = chosen
    rs_template = _without_hash(_get(rs, "spec", "template"))
    if _derivative(_without_hash(_get(rollout, "spec", "template")), rs_template):
        raise UndoSkipped(f"skipped rollback (current template already matches revision {rev})")
    return Patch("json", "", [{"op": "replace", "path": "/spec/template", "value": rs_template}])
