"""Canary step models (§a.1 "Step kinds"): setWeight, pause, analysis, experiment, setCanaryScale,
setHeaderRoute, setMirrorRoute, plugin.

Part of `rollouts.models` (import from there). `RolloutPause.duration_seconds()` is Argo's
`RolloutPause.DurationSeconds`.
"""

from __future__ import annotations

from typing import Any

from analysis.durations import DurationError, parse_go_duration_ns
from analysis.wire import IntOrString, WireModel
from rollouts.models.common import (
    AnalysisRunArgument,
    AnalysisRunMetadata,
    DryRun,
    LabelSelector,
    PodTemplateMetadata,
    RolloutAnalysis,
)

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
]


# ---------------------------------------------------------------------------------------------------------------
# Canary steps
# ---------------------------------------------------------------------------------------------------------------


class RolloutPause(WireModel):
    """A pause step. ``duration``: int seconds, a numeric string, or a Go duration (``"30s"``, ``"1h"``)."""

    duration: IntOrString | None = None

    @property
    def is_indefinite(self) -> bool:
        """No duration: the rollout waits until promoted (§c.2)."""
        return self.duration is None

    def duration_seconds(self) -> int:
        """Argo's `RolloutPause.DurationSeconds()` (§a.1).

        >>> RolloutPause().duration_seconds(), RolloutPause(duration=30).duration_seconds()
        (0, 30)
        >>> RolloutPause(duration="30").duration_seconds(), RolloutPause(duration="1h").duration_seconds()
        (30, 3600)
        >>> RolloutPause(duration="1.9s").duration_seconds(), RolloutPause(duration="soon").duration_seconds()
        (1, -1)
        """
        d = self.duration
        if d is None:
            return 0
        if isinstance(d, int):
            return d
        text = d
        if _is_go_int(text):
            value = int(text)
            if -(2**31) <= value < 2**31:
                return value
            # Go: ParseInt out of range fails, then ParseDuration fails (no unit) → -1
            return -1
        try:
            ns = parse_go_duration_ns(text)
        except DurationError:
            return -1
        seconds = int(ns / 1_000_000_000)  # truncation toward zero, like int32(d.Seconds())
        return seconds if -(2**31) <= seconds < 2**31 else -1


def _is_go_int(text: str) -> bool:
    """strconv.ParseInt(s, 10, …) syntax: optional sign, ASCII digits, nothing else."""
    body = text[1:] if text[:1] in ("+", "-") else text
    return bool(body) and body.isascii() and body.isdigit()


class SetCanaryScale(WireModel):
    weight: int | None = None
    replicas: int | None = None
    match_traffic_weight: bool | None = None


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
    percentage: int | None = None


class TemplateService(WireModel):
    name: str | None = None


class RolloutExperimentTemplate(WireModel):
    name: str
    spec_ref: str  # "canary" | "stable"
    replicas: int | None = None
    metadata: PodTemplateMetadata | None = None
    selector: LabelSelector | None = None
    weight: int | None = None
    service: TemplateService | None = None


class RolloutExperimentStepAnalysisTemplateRef(WireModel):
    name: str
    template_name: str
    cluster_scope: bool | None = None
    args: list[AnalysisRunArgument] | None = None
    required_for_completion: bool | None = None


class RolloutExperimentStep(WireModel):
    templates: list[RolloutExperimentTemplate]
    duration: str | None = None
    analyses: list[RolloutExperimentStepAnalysisTemplateRef] | None = None
    dry_run: list[DryRun] | None = None
    analysis_run_metadata: AnalysisRunMetadata | None = None
    scale_down_delay_seconds: int | None = None


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

    set_weight: int | None = None
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
