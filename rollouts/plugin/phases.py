"""Client-side readings of a Rollout dict: phase and message, step, set weight, human ages.

The plugin shows what the controller wrote, but — like Argo's `GetRolloutPhase` — it first checks whether the
controller has *seen* the latest spec and resume (docs/semantics/objects.md#rollout-phase step 1); if not, the stored phase is stale
and "Progressing" with the reason is shown instead. Rollouts without a stored phase (older controllers) get
the phase computed from spec and status (docs/semantics/objects.md#rollout-phase steps 2–8). Phase, current step and current setWeight are the
controller's own rules (`rollouts.strategy.status.calculate_phase`, `rollouts.strategy.weights`); this
module only reads them out of a Rollout dict of any shape. Pure functions of dicts; `render.py` and `info.py`
build on them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from rollouts.models.vocabulary import (
    DEFAULT_MAX_TRAFFIC_WEIGHT,
    WORKLOAD_GENERATION_ANNOTATION,
    RolloutPhase,
    parse_time,
)
from rollouts.strategy import status as strategy_status
from rollouts.strategy import weights as rule

__all__ = [
    "calculate_phase",
    "current_set_weight",
    "current_step_index",
    "human_duration",
    "max_traffic_weight",
    "rollout_phase",
    "step_text",
]


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
    """docs/semantics/objects.md#rollout-phase step 1 (client side), then the stored phase/message, else `calculate_phase`.

    >>> rollout_phase({"metadata": {"generation": 3}, "status": {"observedGeneration": "2", "phase": "Healthy"}})
    ('Progressing', 'waiting for rollout spec update to be observed')
    """
    if not _is_generation_observed(ro):
        return RolloutPhase.PROGRESSING.value, "waiting for rollout spec update to be observed"
    if is_unpausing(ro):
        return RolloutPhase.PROGRESSING.value, "waiting for rollout to unpause"
    if get(ro, "spec", "workloadRef") and not _is_workload_generation_observed(ro):
        return (
            RolloutPhase.PROGRESSING.value,
            "waiting for rollout spec update to be observed for the reference workload",
        )
    phase = get(ro, "status", "phase")
    if phase:
        return str(phase), str(get(ro, "status", "message") or "")
    phase, message = calculate_phase(ro)
    return phase.value, message


def calculate_phase(ro: dict[str, Any]) -> tuple[RolloutPhase, str]:
    """docs/semantics/objects.md#rollout-phase steps 2–8, for a rollout whose status carries no phase: the controller's own rule
    (`rollouts.strategy.status.calculate_phase`)."""
    spec, status = get(ro, "spec"), get(ro, "status")
    return strategy_status.calculate_phase(
        spec if isinstance(spec, dict) else {}, status if isinstance(status, dict) else {}
    )


def max_traffic_weight(ro: dict[str, Any]) -> int:
    value = get(ro, "spec", "strategy", "canary", "trafficRouting", "maxTrafficWeight")
    return _int(value, DEFAULT_MAX_TRAFFIC_WEIGHT) if value is not None else DEFAULT_MAX_TRAFFIC_WEIGHT


def _steps(ro: dict[str, Any]) -> list[Any]:
    steps = get(ro, "spec", "strategy", "canary", "steps")
    return steps if isinstance(steps, list) else []


def _stored_index(ro: dict[str, Any]) -> int | None:
    index = get(ro, "status", "currentStepIndex")
    return None if index is None else _int(index)


def current_step_index(ro: dict[str, Any]) -> int | None:
    """The controller's `GetCurrentCanaryStep` index (`weights.current_step_index`)."""
    return rule.current_step_index(len(_steps(ro)), _stored_index(ro))


def current_set_weight(ro: dict[str, Any]) -> int:
    """The controller's `GetCurrentSetWeight` (`weights.current_set_weight`, docs/semantics/controller.md#canary-steps)."""
    weights = [
        None if not isinstance(step, dict) or step.get("setWeight") is None else _int(step["setWeight"])
        for step in _steps(ro)
    ]
    return rule.current_set_weight(
        weights,
        _stored_index(ro),
        aborted=bool(get(ro, "status", "abort")),
        max_weight=max_traffic_weight(ro),
    )


def step_text(ro: dict[str, Any]) -> str:
    """`index/len` when the canary has steps and an index, else "" (Argo's plugin: the stored index as is)."""
    steps = _steps(ro)
    index = get(ro, "status", "currentStepIndex")
    if index is None or not steps:
        return ""
    return f"{_int(index)}/{len(steps)}"


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
