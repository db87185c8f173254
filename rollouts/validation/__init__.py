"""Rollout validation: Argo's rules and messages (`pkg/apis/rollouts/validation/validation.go`), as field errors.

Used at three places of the pipeline: the controller (an invalid spec becomes the ``InvalidSpec`` condition,
phase Degraded, message ``The Rollout "x" is invalid: <first error>`` — see `invalid_spec_message`), the
plugin's ``lint`` (prints every error), and ``rollouts plan`` (exit 2 naming the file and field).

Entry points:

* ``load_rollout(data) -> (Rollout | None, [FieldError])`` — parse (pydantic errors become field errors, e.g.
  ``spec.strategy.canary.steps[0].setWeight: Input should be a valid integer``) and validate.
* ``validate_rollout(ro) -> [FieldError]`` — the semantic rules on a parsed Rollout.

Layout: `errors` (FieldError, pydantic errors → field errors), `messages` (Argo's texts), `rules` (template,
selector, anti-affinity, blue-green, analysis references), `canary` (canary strategy and steps), `ranges` (the
integer fields Argo leaves unchecked, int-or-percent values), `names` (object names as the API server checks
them); import from `rollouts.validation`. Go types (int32, bool) are enforced earlier, when the model loads
(`rollouts.models.scalars`).

Paths name the field as written in the manifest (``spec.strategy.canary.steps[2].setWeight``). Argo itself
drops the ``.canary``/``.blueGreen`` segment in some paths; the message texts are Argo's verbatim.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from rollouts.models import Rollout
from rollouts.models.spec import ObjectRef
from rollouts.models.vocabulary import WORKLOAD_KINDS
from rollouts.validation.canary import validate_canary
from rollouts.validation.errors import FieldError, errors_from_pydantic, invalid_spec_message
from rollouts.validation.messages import (
    ALB_PING_PONG_ROOT,
    ANTI_AFFINITY_ONE_STRATEGY,
    ANTI_AFFINITY_WEIGHT,
    DUPLICATED_PING_PONG,
    DUPLICATED_SERVICES_BLUE_GREEN,
    DUPLICATED_SERVICES_CANARY,
    DYNAMIC_STABLE_SCALE_NEEDS_TR,
    DYNAMIC_STABLE_SCALE_WITH_DELAY,
    EXPERIMENT_WEIGHT_ROUTERS,
    EXPERIMENT_WEIGHT_WITHOUT_TR,
    EXPERIMENT_WEIGHTS_EXCEED,
    HEADER_ROUTE_ALB_EXACT,
    INVALID_ANALYSIS_ARGS,
    INVALID_DURATION,
    INVALID_SET_WEIGHT,
    INVALID_STEP,
    MAX_WEIGHT_NGINX_PLUGINS,
    MISSING_FIELD,
    MULTIPLE_STRATEGIES,
    NON_NEGATIVE,
    PING_PONG_NEEDS_SERVICES,
    PING_PONG_ROUTERS,
    ROUTE_NOT_IN_MANAGED_ROUTES,
    SCALE_DOWN_DELAY_NEEDS_TR,
    SCALE_DOWN_LIMIT_ABOVE_HISTORY,
    SELECTOR_MISMATCH,
    SET_CANARY_SCALE_NEEDS_TR,
    SET_HEADER_ROUTE_NEEDS_TR,
    SET_MIRROR_ROUTE_NEEDS_TR,
    STRING_MATCH_MISSING,
    STRING_MATCH_MULTIPLE,
    SURGE_AND_UNAVAILABLE_ZERO,
    TR_NEEDS_SERVICES,
)
from rollouts.validation.names import validate_names
from rollouts.validation.ranges import validate_ranges
from rollouts.validation.rules import (
    selector_matches,
    template_has_metadata,
    validate_analyses,
    validate_blue_green,
    validate_template,
)

__all__ = [
    "ALB_PING_PONG_ROOT",
    "ANTI_AFFINITY_ONE_STRATEGY",
    "ANTI_AFFINITY_WEIGHT",
    "DUPLICATED_PING_PONG",
    "DUPLICATED_SERVICES_BLUE_GREEN",
    "DUPLICATED_SERVICES_CANARY",
    "DYNAMIC_STABLE_SCALE_NEEDS_TR",
    "DYNAMIC_STABLE_SCALE_WITH_DELAY",
    "EXPERIMENT_WEIGHTS_EXCEED",
    "EXPERIMENT_WEIGHT_ROUTERS",
    "EXPERIMENT_WEIGHT_WITHOUT_TR",
    "HEADER_ROUTE_ALB_EXACT",
    "INVALID_ANALYSIS_ARGS",
    "INVALID_DURATION",
    "INVALID_SET_WEIGHT",
    "INVALID_STEP",
    "MAX_WEIGHT_NGINX_PLUGINS",
    "MISSING_FIELD",
    "MULTIPLE_STRATEGIES",
    "NON_NEGATIVE",
    "PING_PONG_NEEDS_SERVICES",
    "PING_PONG_ROUTERS",
    "ROUTE_NOT_IN_MANAGED_ROUTES",
    "SCALE_DOWN_DELAY_NEEDS_TR",
    "SCALE_DOWN_LIMIT_ABOVE_HISTORY",
    "SELECTOR_MISMATCH",
    "SET_CANARY_SCALE_NEEDS_TR",
    "SET_HEADER_ROUTE_NEEDS_TR",
    "SET_MIRROR_ROUTE_NEEDS_TR",
    "STRING_MATCH_MISSING",
    "STRING_MATCH_MULTIPLE",
    "SURGE_AND_UNAVAILABLE_ZERO",
    "TR_NEEDS_SERVICES",
    "FieldError",
    "errors_from_pydantic",
    "invalid_spec_message",
    "load_rollout",
    "selector_matches",
    "validate_rollout",
]


def load_rollout(data: Any) -> tuple[Rollout | None, list[FieldError]]:
    """Parse and validate a Rollout manifest: (the Rollout or None when it does not parse, every error)."""
    if not isinstance(data, Mapping):
        return None, [FieldError("(root)", "a Rollout manifest must be a mapping")]
    try:
        ro = Rollout.from_wire(data)
    except ValidationError as exc:
        return None, errors_from_pydantic(exc)
    errors = []
    if ro.kind != "Rollout":
        errors.append(FieldError("kind", 'must be "Rollout"', ro.kind))
    return ro, errors + validate_rollout(ro)


def validate_workload_ref(ref: ObjectRef) -> list[FieldError]:
    """`spec.workloadRef` names an object a template can be taken from (templateref.go `Resolve`)."""
    api_version, kind = ref.api_version or "", ref.kind or ""
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    if not ref.name:
        return [FieldError("spec.workloadRef.name", "workloadRef must name an object", kind="Required")]
    if (group, kind) not in WORKLOAD_KINDS:
        return [
            FieldError("spec.workloadRef.kind", f"workload of type {group}/{kind} is not supported", kind)
        ]
    return []


def validate_rollout(ro: Rollout) -> list[FieldError]:
    """Argo's `ValidateRolloutSpec` on a parsed Rollout; [] when valid."""
    spec = ro.spec
    errs: list[FieldError] = []
    replicas = spec.replicas_or_default()
    if replicas < 0:
        errs.append(FieldError("spec.replicas", NON_NEGATIVE, replicas))
    if spec.workload_ref is None:
        if spec.selector is None:
            errs.append(FieldError("spec.selector", MISSING_FIELD % ".spec.selector", kind="Required"))
        elif not (spec.selector.match_labels or spec.selector.match_expressions):
            errs.append(FieldError("spec.selector", "empty selector is invalid for deployment"))
        errs += validate_template(ro)
    elif spec.template_resolved_from_ref:
        errs += validate_template(ro)
    elif spec.template and template_has_metadata(spec.template):
        errs.append(FieldError("spec.template", "template must be empty for workload reference rollout"))
    else:
        errs += validate_workload_ref(spec.workload_ref)
    for name, value in (
        ("minReadySeconds", spec.min_ready_seconds or 0),
        ("revisionHistoryLimit", spec.revision_history_limit_or_default()),
        ("progressDeadlineSeconds", spec.progress_deadline_seconds_or_default()),
    ):
        if value < 0:
            errs.append(FieldError(f"spec.{name}", NON_NEGATIVE, value))
    deadline = spec.progress_deadline_seconds_or_default()
    if deadline <= (spec.min_ready_seconds or 0):
        errs.append(
            FieldError("spec.progressDeadlineSeconds", "must be greater than minReadySeconds", deadline)
        )

    strategy = spec.strategy
    if strategy.blue_green is None and strategy.canary is None:
        errs.append(
            FieldError(
                "spec.strategy",
                MISSING_FIELD % ".spec.strategy.canary or .spec.strategy.blueGreen",
                kind="Required",
            )
        )
    elif strategy.blue_green is not None and strategy.canary is not None:
        errs.append(FieldError("spec.strategy", MULTIPLE_STRATEGIES, "blueGreen: true canary: true"))
    elif strategy.blue_green is not None:
        errs += validate_blue_green(ro)
    elif strategy.canary is not None:
        errs += validate_canary(ro, strategy.canary)
    return errs + validate_ranges(ro) + validate_analyses(ro) + validate_names(ro)
