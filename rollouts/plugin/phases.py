"""Client-side readings of a Rollout dict: phase and message, step, set weight, human ages.

The plugin shows what the controller wrote, but — like Argo's `GetRolloutPhase` — it first checks whether the
controller has *seen* the latest spec and resume (reference §a.2 step 1); if not, the stored phase is stale
and "Progressing" with the reason is shown instead. Rollouts without a stored phase (older controllers) get
the phase computed here from spec and status (§a.2 steps 2–8). Pure functions of dicts; `render.py` and
`info.py` build on them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = [
    "calculate_phase",
    "current_set_weight",
    "current_step_index",
    "human_duration",
    "max_traffic_weight",
    "parse_time",
    "rollout_phase",
    "step_text",
]

WORKLOAD_GENERATION_ANNOTATION = "rollout.argoproj.io/workload-generation"


def get(obj: Any, *path: str | int) -> Any:
    """Walk dicts and lists; any missing link gives None."""
    for key in path:
        if isinstance(key, int):
            if not isinstance(obj, list) or not -len(obj) <= key < len(obj):
                return None
            obj = obj[key]
        else:
            if not isinstance(obj, dict):
                return None
            obj = obj.get(key)
    return obj


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _is_generation_observed(ro: dict[str, Any]) -> bool:
    observed = get(ro, "status", "observedGeneration")
    try:
        observed_gen = int(str(observed))
    except ValueError:
        return True  # a pre-0.10 hash, or unset: treated as observed
    generation = _int(get(ro, "metadata", "generation"))
    return observed_gen >= generation


def _is_workload_generation_observed(ro: dict[str, Any]) -> bool:
    wanted = (get(ro, "metadata", "annotations") or {}).get(WORKLOAD_GENERATION_ANNOTATION)
    if wanted is None:
        return True
    try:
        return int(str(get(ro, "status", "workloadObservedGeneration"))) == int(wanted)
    except ValueError:
        return True


def is_unpausing(ro: dict[str, Any]) -> bool:
    """controllerPause set but no pause condition left: a user resumed and the controller has not reacted."""
    return bool(get(ro, "status", "controllerPause")) and not get(ro, "status", "pauseConditions")


def rollout_phase(ro: dict[str, Any]) -> tuple[str, str]:
    """§a.2 step 1 (client side), then the stored phase/message, else `calculate_phase`.

    >>> rollout_phase({"metadata": {"generation": 3}, "status": {"observedGeneration": "2", "phase": "Healthy"}})
    ('Progressing', 'waiting for rollout spec update to be observed')
    """
    if not _is_generation_observed(ro):
        return "Progressing", "waiting for rollout spec update to be observed"
    if is_unpausing(ro):
        return "Progressing", "waiting for rollout to unpause"
    if get(ro, "spec", "workloadRef") and not _is_workload_generation_observed(ro):
        return "Progressing", "waiting for rollout spec update to be observed for the reference workload"
    phase = get(ro, "status", "phase")
    if phase:
        return str(phase), str(get(ro, "status", "message") or "")
    return calculate_phase(ro)


def calculate_phase(ro: dict[str, Any]) -> tuple[str, str]:
    """§a.2 steps 2–8, for a rollout whose status carries no phase."""
    spec = ro.get("spec") or {}
    status = ro.get("status") or {}
    for cond in status.get("conditions") or []:
        if cond.get("type") == "InvalidSpec":
            return "Degraded", f"InvalidSpec: {cond.get('message', '')}"
        if cond.get("reason") in ("RolloutAborted", "ProgressDeadlineExceeded"):
            return "Degraded", f"{cond['reason']}: {cond.get('message', '')}"
    if spec.get("paused"):
        return "Paused", "manually paused"
    for pause in status.get("pauseConditions") or []:
        return "Paused", str(pause.get("reason", ""))
    restart_at = spec.get("restartAt")
    if restart_at and parse_time(restart_at) != parse_time(status.get("restartedAt")):
        return "Progressing", "rollout is restarting"
    replicas = _int(spec.get("replicas"), 1) if spec.get("replicas") is not None else 1
    updated = _int(status.get("updatedReplicas"))
    if updated < replicas:
        return "Progressing", "more replicas need to be updated"
    if _int(status.get("availableReplicas")) < updated:
        return "Progressing", "updated replicas are still becoming available"
    stable, current = status.get("stableRS") or "", status.get("currentPodHash") or ""
    blue_green = get(spec, "strategy", "blueGreen")
    canary = get(spec, "strategy", "canary")
    if blue_green is not None:
        active = get(status, "blueGreen", "activeSelector") or ""
        if not active or active != current:
            return "Progressing", "active service cutover pending"
        if not stable or stable != current:
            post = get(status, "blueGreen", "postPromotionAnalysisRunStatus", "status")
            if blue_green.get("postPromotionAnalysis") is not None and post not in (
                "Successful",
                "Failed",
                "Error",
                "Inconclusive",
            ):
                return "Progressing", "waiting for analysis to complete"
            return "Progressing", "waiting for post-promotion verification to complete"
    elif canary is not None:
        if canary.get("trafficRouting") is None and _int(status.get("replicas")) > updated:
            return "Progressing", "old replicas are pending termination"
        if not stable or stable != current:
            return "Progressing", "waiting for all steps to complete"
    return "Healthy", ""


def max_traffic_weight(ro: dict[str, Any]) -> int:
    value = get(ro, "spec", "strategy", "canary", "trafficRouting", "maxTrafficWeight")
    return _int(value, 100) if value is not None else 100


def current_step_index(ro: dict[str, Any]) -> int | None:
    """GetCurrentCanaryStep's index: None without steps, else status.currentStepIndex (nil = 0)."""
    steps = get(ro, "spec", "strategy", "canary", "steps") or []
    if not steps:
        return None
    return _int(get(ro, "status", "currentStepIndex"))


def current_set_weight(ro: dict[str, Any]) -> int:
    """§c.2 GetCurrentSetWeight: 0 when aborted, max past the last step, else the nearest setWeight back."""
    if get(ro, "status", "abort"):
        return 0
    steps = get(ro, "spec", "strategy", "canary", "steps") or []
    index = current_step_index(ro)
    if index is None or index >= len(steps):
        return max_traffic_weight(ro)
    for step in reversed(steps[: index + 1]):
        if isinstance(step, dict) and step.get("setWeight") is not None:
            return _int(step["setWeight"])
    return 0


def step_text(ro: dict[str, Any]) -> str:
    """`index/len` when the canary has steps and an index, else ""."""
    steps = get(ro, "spec", "strategy", "canary", "steps") or []
    index = get(ro, "status", "currentStepIndex")
    if index is None or not steps:
        return ""
    return f"{_int(index)}/{len(steps)}"


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp as Kubernetes writes it ("2026-01-02T03:04:05Z"), or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def human_duration(delta: timedelta) -> str:
    """apimachinery's duration.HumanDuration: "45s", "3m12s", "2h5m", "7d", "2y30d".

    >>> [human_duration(timedelta(seconds=s)) for s in (5, 130, 3600 * 5 + 60, 86400 * 7, 86400 * 40)]
    ['5s', '2m10s', '5h1m', '7d', '40d']
    """
    seconds = int(delta.total_seconds())
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60 * 2:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        s = seconds % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = seconds // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


def age(meta_owner: dict[str, Any], now: datetime) -> str:
    """The AGE column: now − metadata.creationTimestamp."""
    created = parse_time(get(meta_owner, "metadata", "creationTimestamp"))
    if created is None:
        return "<unknown>"
    return human_duration(now - created)
