"""Canary step models (docs/semantics/objects.md#step-kinds "Step kinds"): setWeight, pause, analysis, experiment, setCanaryScale,
setHeaderRoute, setMirrorRoute, plugin.

Part of `rollouts.models` (import from there). `RolloutPause.duration_seconds()` is Argo's
`RolloutPause.DurationSeconds`.
"""

from __future__ import annotations

from typing import Any

from analysis.durations import DurationError, parse_go_duration_ns
from analysis.wire import WireModel
from rollouts.models.common import (
    AnalysisRunArgument,
    AnalysisRunMetadata,
    DryRun,
    LabelSelector,
    PodTemplateMetadata,
    RolloutAnalysis,
)
from rollouts.models.scalars import INT32_MAX, INT32_MIN, Bool, Int32, Int32OrString

__all__ = [
    "STEP_KINDS",
    "CanaryStep",
    "HeaderRoutingMatch",
    "PluginStep",
    "RolloutExperimentStep",
    "RolloutExperimentStepAnalysisTemplateRef",
    "RolloutExperimentTemplate",
    "RolloutPause",
    "RouteMatch",
    "SetCanaryScale",
    "SetHeaderRoute",
    "SetMirrorRoute",
    "StringMatch",
    "TemplateService",
    "pause_duration_seconds",
]


# ---------------------------------------------------------------------------------------------------------------
# Canary steps
# ---------------------------------------------------------------------------------------------------------------


class RolloutPause(WireModel):
    """A pause step. ``duration``: int seconds, a numeric string, or a Go duration (``"30s"``, ``"1h"``)."""

    duration: Int32OrString | None = None

    @property
    def is_indefinite(self) -> bool:
        """No duration: the rollout waits until promoted (docs/semantics/controller.md#canary-steps)."""
        return self.duration is None

    def duration_seconds(self) -> int:
        """Argo's `RolloutPause.DurationSeconds()` (docs/semantics/objects.md#rollout-spec): `pause_duration_seconds` of ``duration``.

        >>> RolloutPause().duration_seconds(), RolloutPause(duration=30).duration_seconds()
        (0, 30)
        >>> RolloutPause(duration="30").duration_seconds(), RolloutPause(duration="1h").duration_seconds()
        (30, 3600)
        >>> RolloutPause(duration="1.9s").duration_seconds(), RolloutPause(duration="soon").duration_seconds()
        (1, -1)
        """
        return pause_duration_seconds(self.duration)


def pause_duration_seconds(duration: Any) -> int:
    """`RolloutPause.DurationSeconds()` (types.go) of a wire ``pause.duration``; the one parser of pause durations.

    Absent → 0. An integer → itself. A string → Go's `strconv.ParseInt(s, 10, 32)` first (optional sign, ASCII
    digits, within int32), else `time.ParseDuration` truncated toward zero to whole seconds. Anything else, a
    string neither parses as, or a result outside int32 → -1, which validation reports ("Duration needs to be
    greater than 0"). Out of int32 Go's `int32(d.Seconds())` has no defined value; -1 makes it invalid instead.
    The strategy core calls this on the wire JSON (`rollouts.strategy.context`), the models through
    `RolloutPause.duration_seconds`: both read a pause the same way.

    >>> [pause_duration_seconds(d) for d in (None, 0, "0", "-5", "+5", " 5", "5_0", "", "-1.5s", "99999999999")]
    [0, 0, 0, -5, 5, -1, -1, -1, -1, -1]
    """
    if duration is None:
        return 0
    if isinstance(duration, bool) or not isinstance(duration, int | str):
        return -1
    if isinstance(duration, int):
        return duration if INT32_MIN <= duration <= INT32_MAX else -1
    if _is_go_int(duration):
        value = int(duration)
        # Go: ParseInt out of range fails, then ParseDuration fails (no unit) → -1
        return value if INT32_MIN <= value <= INT32_MAX else -1
    try:
        ns = parse_go_duration_ns(duration)
    except DurationError:
        return -1
    seconds = (
        ns // 1_000_000_000 if ns >= 0 else -(-ns // 1_000_000_000)
    )  # toward zero, like int32(d.Seconds())
    return seconds if INT32_MIN <= seconds <= INT32_MAX else -1


def _is_go_int(text: str) -> bool:
    """strconv.ParseInt(s, 10, …) syntax: optional sign, ASCII digits, nothing else."""
    body = text[1:] if text[:1] in ("+", "-") else text
    return bool(body) and body.isascii() and body.isdigit()


class SetCanaryScale(WireModel):
    weight: Int32 | None = None
    replicas: Int32 | None = None
    match_traffic_weight: Bool | None = None


class StringMatch(WireModel):
    exact: str | None = None
    prefix: str | None = None
    regex: str | None = None


class HeaderRoutingMatch(WireModel):
    header_name: str
    header_value: StringMatch | None = None


class SetHeaderRoute(WireModel):
    name: str | None = None
    match: list[HeaderRoutingMatch] | None = None


class RouteMatch(WireModel):
    method: StringMatch | None = None
    path: StringMatch | None = None
    headers: dict[str, StringMatch] | None = None


class SetMirrorRoute(WireModel):
    name: str
    match: list[RouteMatch] | None = None
    percentage: Int32 | None = None


class TemplateService(WireModel):
    name: str | None = None


class RolloutExperimentTemplate(WireModel):
    name: str
    spec_ref: str  # "canary" | "stable"
    replicas: Int32 | None = None
    metadata: PodTemplateMetadata | None = None
    selector: LabelSelector | None = None
    weight: Int32 | None = None
    service: TemplateService | None = None


class RolloutExperimentStepAnalysisTemplateRef(WireModel):
    name: str
    template_name: str
    cluster_scope: Bool | None = None
    args: list[AnalysisRunArgument] | None = None
    required_for_completion: Bool | None = None


class RolloutExperimentStep(WireModel):
    templates: list[RolloutExperimentTemplate]
    duration: str | None = None
    analyses: list[RolloutExperimentStepAnalysisTemplateRef] | None = None
    dry_run: list[DryRun] | None = None
    analysis_run_metadata: AnalysisRunMetadata | None = None
    scale_down_delay_seconds: Int32 | None = None


class PluginStep(WireModel):
    name: str
    config: Any = None


STEP_KINDS = (
    "setWeight",
    "pause",
    "experiment",
    "analysis",
    "setCanaryScale",
    "setHeaderRoute",
    "setMirrorRoute",
    "plugin",
)


class CanaryStep(WireModel):
    """One canary step: exactly one of the kinds is set (validated by `rollouts.validation`)."""

    set_weight: Int32 | None = None
    pause: RolloutPause | None = None
    experiment: RolloutExperimentStep | None = None
    analysis: RolloutAnalysis | None = None
    set_canary_scale: SetCanaryScale | None = None
    set_header_route: SetHeaderRoute | None = None
    set_mirror_route: SetMirrorRoute | None = None
    plugin: PluginStep | None = None

    def kinds(self) -> list[str]:
        """Wire names of the kinds set on this step, in `STEP_KINDS` order (normally exactly one)."""
        values = (
            self.set_weight,
            self.pause,
            self.experiment,
            self.analysis,
            self.set_canary_scale,
            self.set_header_route,
            self.set_mirror_route,
            self.plugin,
        )
        return [kind for kind, value in zip(STEP_KINDS, values, strict=True) if value is not None]

    @property
    def kind(self) -> str:
        """The step's kind (``setWeight``, ``pause``, …); ``""`` for an empty step."""
        kinds = self.kinds()
        return kinds[0] if kinds else ""
