"""Spec-level rules: pod template and selector, anti-affinity, int-or-percent values, blue-green.

Part of `rollouts.validation` (import from there).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rollouts.models import (
    AntiAffinity,
    LabelSelector,
    Rollout,
)
from rollouts.validation.errors import UNSET, FieldError, is_scalar
from rollouts.validation.messages import (
    ANTI_AFFINITY_ONE_STRATEGY,
    ANTI_AFFINITY_WEIGHT,
    DUPLICATED_SERVICES_BLUE_GREEN,
    MISSING_FIELD,
    NON_NEGATIVE,
    SCALE_DOWN_LIMIT_ABOVE_HISTORY,
    SELECTOR_MISMATCH,
    STARTING_STEP_PAST_LAST,
    TEMPLATES_REQUIRED,
)
from rollouts.validation.names import analyses
from rollouts.validation.ranges import int_or_percent_errors


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def template_has_metadata(template: Mapping[str, Any]) -> bool:
    meta = _mapping(template.get("metadata"))
    return bool(meta.get("labels") or meta.get("annotations"))


def validate_template(ro: Rollout) -> list[FieldError]:
    """The parts of ValidatePodTemplateSpecForReplicaSet a manifest most often gets wrong.

    The template is kept raw (it is hashed as written), so its shape is checked here, not by the model.
    """
    template = ro.spec.template or {}
    errs: list[FieldError] = []
    meta, pod_spec = template.get("metadata"), template.get("spec")
    if meta is not None and not isinstance(meta, Mapping):
        errs.append(FieldError("spec.template.metadata", "must be an object", _scalar_or_unset(meta)))
    labels = _mapping(meta).get("labels")
    if labels is not None and not (
        isinstance(labels, Mapping) and all(isinstance(v, str) for v in labels.values())
    ):
        errs.append(
            FieldError("spec.template.metadata.labels", "must be a map of strings", _scalar_or_unset(labels))
        )
        labels = None
    if pod_spec is not None and not isinstance(pod_spec, Mapping):
        errs.append(FieldError("spec.template.spec", "must be an object", _scalar_or_unset(pod_spec)))
    containers = _mapping(pod_spec).get("containers")
    if not containers or not isinstance(containers, list):
        errs.append(
            FieldError("spec.template.spec.containers", "at least one container is required", kind="Required")
        )
    selector = ro.spec.selector
    has_terms = selector is not None and bool(selector.match_labels or selector.match_expressions)
    if has_terms and selector is not None and not selector_matches(selector, labels or {}):
        errs.append(
            FieldError("spec.template.metadata.labels", SELECTOR_MISMATCH, _labels_text(labels or {}))
        )
    restart = _mapping(pod_spec).get("restartPolicy")
    if restart not in (None, "Always"):
        errs.append(
            FieldError(
                "spec.template.spec.restartPolicy", 'supported values: "Always"', _scalar_or_unset(restart)
            )
        )
    return errs


def _scalar_or_unset(value: Any) -> Any:
    return value if is_scalar(value) else UNSET


def _labels_text(labels: Mapping[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def selector_matches(selector: LabelSelector, labels: Mapping[str, Any]) -> bool:
    """metav1.LabelSelector semantics: matchLabels ⊆ labels and every matchExpression holds."""
    for key, value in (selector.match_labels or {}).items():
        if labels.get(key) != value:
            return False
    for req in selector.match_expressions or []:
        present = req.key in labels
        values = set(req.values or [])
        ok = {
            "In": present and labels.get(req.key) in values,
            "NotIn": not present or labels.get(req.key) not in values,
            "Exists": present,
            "DoesNotExist": not present,
        }.get(req.operator, False)
        if not ok:
            return False
    return True


def validate_anti_affinity(aa: AntiAffinity | None, path: str) -> list[FieldError]:
    if aa is None:
        return []
    errs: list[FieldError] = []
    preferred = aa.preferred_during_scheduling_ignored_during_execution
    required = aa.required_during_scheduling_ignored_during_execution
    if (preferred is None) == (required is None):
        errs.append(FieldError(path, ANTI_AFFINITY_ONE_STRATEGY))
    if preferred is not None and not 1 <= preferred.weight <= 100:
        errs.append(FieldError(f"{path}.weight", ANTI_AFFINITY_WEIGHT, preferred.weight))
    return errs


def validate_blue_green(ro: Rollout) -> list[FieldError]:
    bg = ro.spec.strategy.blue_green
    assert bg is not None
    path = "spec.strategy.blueGreen"
    errs: list[FieldError] = []
    if not bg.active_service:
        errs.append(
            FieldError(
                f"{path}.activeService",
                MISSING_FIELD % ".spec.strategy.blueGreen.activeService",
                kind="Required",
            )
        )
    elif bg.active_service == (bg.preview_service or ""):
        errs.append(FieldError(f"{path}.activeService", DUPLICATED_SERVICES_BLUE_GREEN, bg.active_service))
    limit = bg.scale_down_delay_revision_limit
    if limit is not None and ro.spec.revision_history_limit_or_default() < limit:
        errs.append(FieldError(f"{path}.scaleDownDelayRevisionLimit", SCALE_DOWN_LIMIT_ABOVE_HISTORY, limit))
    if bg.max_unavailable is not None:
        errs += int_or_percent_errors(bg.max_unavailable, f"{path}.maxUnavailable")
    return errs + validate_anti_affinity(bg.anti_affinity, f"{path}.antiAffinity")


def validate_analyses(ro: Rollout) -> list[FieldError]:
    """Every analysis names at least one template; a background analysis starts at an existing step.

    Argo accepts both mistakes and fails later: an analysis without templates makes an AnalysisRun with no
    metrics, which errors and aborts the update; a `startingStep` at or past the last step means the background
    analysis never runs, so the canary is promoted unchecked.
    """
    errs = [
        FieldError(f"{path}.templates", TEMPLATES_REQUIRED, kind="Required")
        for path, analysis in analyses(ro)
        if not analysis.templates
    ]
    c = ro.spec.strategy.canary
    start = c.analysis.starting_step if c is not None and c.analysis is not None else None
    if c is not None and start is not None:
        path = "spec.strategy.canary.analysis.startingStep"
        if start < 0:
            errs.append(FieldError(path, NON_NEGATIVE, start))
        elif c.steps and start >= len(c.steps):
            errs.append(FieldError(path, STARTING_STEP_PAST_LAST % len(c.steps), start))
    return errs
