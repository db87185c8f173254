"""Argo's vocabulary (`rollouts.models.vocabulary`) against Argo's own constants, and the metav1.Time wire form.

Each name is compared with the Go constant Argo declares (read at test time from the local mirror of Argo's
repository; skipped when absent), so a typo or a changed default in Argo fails here rather than in a rollout.
"""

from __future__ import annotations

import doctest
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import analysis.wire
from analysis.models import AnalysisPhase
from rollouts.models import vocabulary as V
from tests.fixtures.argo_sources import ARGO_ROLLOUTS, ARGO_ROLLOUTS_COMMIT, Source, argo_file

TYPES = "pkg/apis/rollouts/v1alpha1/types.go"
DEFAULTS = "utils/defaults/defaults.go"
CONDITIONS = "utils/conditions/conditions.go"
ANNOTATIONS = "utils/annotations/annotations.go"

#: our name → (Argo file, Argo's Go constant)
ARGO_NAMES: dict[str, tuple[str, str]] = {
    "POD_TEMPLATE_HASH_LABEL": (TYPES, "DefaultRolloutUniqueLabelKey"),
    "MANAGED_BY_ANNOTATION": (TYPES, "ManagedByRolloutsKey"),
    "SCALE_DOWN_DEADLINE_ANNOTATION": (TYPES, "DefaultReplicaSetScaleDownDeadlineAnnotationKey"),
    "INSTANCE_ID_LABEL": (TYPES, "LabelKeyControllerInstanceID"),
    "REVISION_ANNOTATION": (ANNOTATIONS, "RevisionAnnotation"),
    "REVISION_HISTORY_ANNOTATION": (ANNOTATIONS, "RevisionHistoryAnnotation"),
    "DESIRED_REPLICAS_ANNOTATION": (ANNOTATIONS, "DesiredReplicasAnnotation"),
    "WORKLOAD_GENERATION_ANNOTATION": (ANNOTATIONS, "WorkloadGenerationAnnotation"),
    "DEFAULT_REPLICAS": (DEFAULTS, "DefaultReplicas"),
    "DEFAULT_REVISION_HISTORY_LIMIT": (DEFAULTS, "DefaultRevisionHistoryLimit"),
    "DEFAULT_RUN_HISTORY_LIMIT": (DEFAULTS, "DefaultAnalysisRunSuccessfulHistoryLimit"),
    "DEFAULT_MAX_SURGE": (DEFAULTS, "DefaultMaxSurge"),
    "DEFAULT_MAX_UNAVAILABLE": (DEFAULTS, "DefaultMaxUnavailable"),
    "DEFAULT_PROGRESS_DEADLINE_SECONDS": (DEFAULTS, "DefaultProgressDeadlineSeconds"),
    "DEFAULT_SCALE_DOWN_DELAY_SECONDS": (DEFAULTS, "DefaultScaleDownDelaySeconds"),
    "DEFAULT_ABORT_SCALE_DOWN_DELAY_SECONDS": (DEFAULTS, "DefaultAbortScaleDownDelaySeconds"),
    "INVALID_SPEC": (TYPES, "InvalidSpec"),
    "AVAILABLE": (TYPES, "RolloutAvailable"),
    "PROGRESSING": (TYPES, "RolloutProgressing"),
    "REPLICA_FAILURE": (TYPES, "RolloutReplicaFailure"),
    "PAUSED": (TYPES, "RolloutPaused"),
    "COMPLETED": (TYPES, "RolloutCompleted"),
    "HEALTHY": (TYPES, "RolloutHealthy"),
    "AVAILABLE_REASON": (CONDITIONS, "AvailableReason"),
    "RS_UPDATED": (CONDITIONS, "ReplicaSetUpdatedReason"),
    "NEW_RS_CREATED": (CONDITIONS, "NewReplicaSetReason"),
    "NEW_RS_AVAILABLE": (CONDITIONS, "NewRSAvailableReason"),
    "RS_NOT_AVAILABLE": (CONDITIONS, "ReplicaSetNotAvailableReason"),
    "PAUSED_REASON": (CONDITIONS, "RolloutPausedReason"),
    "RESUMED_REASON": (CONDITIONS, "RolloutResumedReason"),
    "RETRY_REASON": (CONDITIONS, "RolloutRetryReason"),
    "ABORTED_REASON": (CONDITIONS, "RolloutAbortedReason"),
    "TIMED_OUT_REASON": (CONDITIONS, "TimedOutReason"),
    "COMPLETED_REASON": (CONDITIONS, "RolloutCompletedReason"),
    "NOT_COMPLETED_REASON": (CONDITIONS, "RolloutNotCompletedReason"),
    "HEALTHY_REASON": (CONDITIONS, "RolloutHealthyReason"),
    "STEP_COMPLETED_REASON": (CONDITIONS, "RolloutStepCompletedReason"),
    "CANARY_PAUSE_STEP": (TYPES, "PauseReasonCanaryPauseStep"),
    "BLUE_GREEN_PAUSE": (TYPES, "PauseReasonBlueGreenPause"),
    "INCONCLUSIVE_ANALYSIS": (TYPES, "PauseReasonInconclusiveAnalysis"),
    "INCONCLUSIVE_EXPERIMENT": (TYPES, "PauseReasonInconclusiveExperiment"),
}

_CONST = re.compile(
    r'^\s*(?P<name>[A-Z]\w*)\s+(?:\w+\s+)?=\s+(?P<expr>(?:"[^"\n]*"|[^"\n/])+?)\s*(?://.*)?$', re.M
)


def go_constants(text: str) -> dict[str, Any]:
    """The constants of one Go file that are string literals, `int32(N)` or `Name + "literal"`."""
    raw = {m["name"]: m["expr"] for m in _CONST.finditer(text)}
    values: dict[str, Any] = {}

    def value(expr: str) -> Any:
        parts = [p.strip() for p in expr.split("+")]
        out: list[Any] = []
        for part in parts:
            if part.startswith('"') and part.endswith('"'):
                out.append(part[1:-1])
            elif m := re.fullmatch(r"int32\((\d+)\)", part):
                out.append(int(m[1]))
            elif part in raw:
                out.append(value(raw[part]))
            else:
                return None
        return out[0] if len(out) == 1 else "".join(str(p) for p in out)

    for name, expr in raw.items():
        values[name] = value(expr)
    return values


def argo_constants(path: str) -> dict[str, Any]:
    return go_constants(argo_file(Source(ARGO_ROLLOUTS, path, ARGO_ROLLOUTS_COMMIT)))


@pytest.mark.parametrize("ours", sorted(ARGO_NAMES))
def test_each_name_is_argos(ours: str) -> None:
    path, theirs = ARGO_NAMES[ours]
    constants = argo_constants(path)
    assert theirs in constants, f"{theirs} is no longer declared in {path}"
    mine = getattr(V, ours)
    assert str(mine) == str(constants[theirs]), f"{ours} = {mine!r}, Argo's {theirs} = {constants[theirs]!r}"


def test_rollout_phases_are_argos_and_no_more() -> None:
    constants = argo_constants(TYPES)
    argo_phases = {v for k, v in constants.items() if k.startswith("RolloutPhase") and isinstance(v, str)}
    assert {p.value for p in V.RolloutPhase} == argo_phases


def test_completed_analysis_phases_are_the_four_argo_names() -> None:
    assert [p for p in AnalysisPhase if p.completed] == [
        AnalysisPhase.SUCCESSFUL,
        AnalysisPhase.FAILED,
        AnalysisPhase.ERROR,
        AnalysisPhase.INCONCLUSIVE,
    ]
    assert all(AnalysisPhase.is_completed(p.value) == p.completed for p in AnalysisPhase)


@pytest.mark.parametrize("value", ["", "successful", "Successful ", None, 3, ["Error"], {"Failed": 1}])
def test_anything_else_read_from_the_wire_is_not_a_completed_phase(value: object) -> None:
    assert not AnalysisPhase.is_completed(value)


def test_a_phase_member_is_its_wire_string() -> None:
    assert V.RolloutPhase.DEGRADED == "Degraded" and f"{V.RolloutPhase.PAUSED}" == "Paused"
    assert type(V.RolloutPhase.HEALTHY.value) is str


def test_time_doctests() -> None:
    result = doctest.testmod(analysis.wire)
    assert result.attempted >= 2 and result.failed == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-02T03:04:05Z", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2026-01-02T05:04:05+02:00", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2026-01-02T03:04:05", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),  # no zone: UTC
        ("2026-01-02T03:04:05.5Z", datetime(2026, 1, 2, 3, 4, 5, 500000, tzinfo=UTC)),
        ("", None),
        ("soon", None),
        ("2026-13-02T03:04:05Z", None),
        (1767323045, None),
        (None, None),
    ],
)
def test_parse_time(text: Any, expected: datetime | None) -> None:
    assert V.parse_time(text) == expected


def test_format_time_is_utc_whole_seconds() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert V.format_time(datetime(2026, 1, 2, 5, 4, 5, 999999, tzinfo=plus_two)) == "2026-01-02T03:04:05Z"
    assert V.format_time(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05Z"  # naive: taken as UTC


@given(st.datetimes(min_value=datetime(1970, 1, 1), timezones=st.just(UTC)))
def test_format_then_parse_is_the_instant_to_the_second(t: datetime) -> None:
    assert V.parse_time(V.format_time(t)) == t.replace(microsecond=0)
