"""Strict input: Kubernetes' types and ranges for every integer of the Rollout spec, int-or-percent values as
apimachinery reads them, names as the API server checks them, and the one pause-duration parser.

Each finding of the hardening report is reproduced here as a row: `replicas: 3000000000` (beyond Go's int32, which
Argo's types.go uses for every count), `replicas: true`, `maxSurge: "150%%"` (the deprecated intstr reader strips
every `%`), `maxSurge: -1`, `startingStep` past the last step, empty `analysis.templates`, names that are not
DNS-1123, 300-character names. Every one is refused with a field error, and `decide` turns it into InvalidSpec
without creating anything.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rollouts.controller.reconciling import parse_model
from rollouts.models import RolloutPause, pause_duration_seconds
from rollouts.models.scalars import PERCENT_MESSAGE, int_or_percent, parse_int_or_percent
from rollouts.strategy import decide
from rollouts.strategy.plan import CreateReplicaSet, Observed
from rollouts.validation import load_rollout

INT32 = "must be between -2147483648 and 2147483647, inclusive"
NON_NEGATIVE = "must be greater than or equal to 0"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def rollout(**canary: Any) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "checkout", "namespace": "shop"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "checkout"}},
            "template": {
                "metadata": {"labels": {"app": "checkout"}},
                "spec": {"containers": [{"name": "c", "image": "checkout:1"}]},
            },
            "strategy": {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}], **canary}},
        },
    }


def at(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `doc` with `value` at a dotted path (``[i]`` indexes lists)."""
    doc = copy.deepcopy(doc)
    node: Any = doc
    keys: list[Any] = []
    for part in path.split("."):
        name, _, index = part.partition("[")
        keys.append(name)
        if index:
            keys.append(int(index.rstrip("]")))
    for key in keys[:-1]:
        node = node[key] if isinstance(key, int) else node.setdefault(key, {})
    node[keys[-1]] = value
    return doc


def first_error(doc: dict[str, Any]) -> tuple[str, str]:
    _, errors = load_rollout(doc)
    assert errors, "expected a field error"
    return errors[0].path, errors[0].message


# ---------------------------------------------------------------------------------------------------------------
# Go types: int32, intstr, bool (pkg/apis/rollouts/v1alpha1/types.go)
# ---------------------------------------------------------------------------------------------------------------

TYPES = [
    pytest.param("spec.replicas", 3_000_000_000, INT32, id="replicas-beyond-int32"),
    pytest.param("spec.replicas", -3_000_000_000, INT32, id="replicas-below-int32"),
    pytest.param("spec.replicas", True, "not a boolean", id="replicas-bool"),
    pytest.param("spec.replicas", "3", "valid integer", id="replicas-numeric-string"),
    pytest.param("spec.replicas", 2.5, "fractional part", id="replicas-fraction"),
    pytest.param("spec.progressDeadlineSeconds", 2**31, INT32, id="deadline-beyond-int32"),
    pytest.param("spec.strategy.canary.steps[0].setWeight", True, "not a boolean", id="setWeight-bool"),
    pytest.param("spec.strategy.canary.steps[1].pause", {"duration": 2**40}, INT32, id="pause-int-beyond-int32"),
    pytest.param("spec.strategy.canary.maxSurge", False, "not a boolean", id="maxSurge-bool"),
    pytest.param("spec.strategy.canary.maxSurge", 2**31, INT32, id="maxSurge-beyond-int32"),
    pytest.param("spec.strategy.canary.maxSurge", ["25%"], "integer or a string", id="maxSurge-list"),
    pytest.param("spec.paused", "yes", "valid boolean", id="paused-string"),
    pytest.param("spec.paused", 1, "valid boolean", id="paused-int"),
    pytest.param("spec.strategy.canary.dynamicStableScale", "true", "valid boolean", id="flag-string"),
    pytest.param("spec.strategy.canary.analysis", {"templates": [{"templateName": "t"}], "startingStep": 1.5},
                 "fractional part", id="startingStep-fraction"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "value", "fragment"), TYPES)
def test_values_go_cannot_hold_do_not_load(path: str, value: Any, fragment: str) -> None:
    """A value Argo's Go types cannot hold never loads: lint, plan and the controller name the field."""
    doc = at(rollout(), path, value)
    ro, errors = load_rollout(doc)
    assert ro is None
    assert any(e.path.startswith(path) and fragment in e.message for e in errors), errors
    _, message = parse_model(doc)  # the controller's InvalidSpec message for a spec that does not load
    assert (
        message is not None
        and message.startswith('The Rollout "checkout" is invalid: ')
        and fragment in message
    )


def test_whole_floats_are_integers() -> None:
    """YAML `replicas: 3.0`: the API server stores an integral number as an integer."""
    ro, errors = load_rollout(at(rollout(), "spec.replicas", 3.0))
    assert errors == [] and ro is not None and ro.spec.replicas == 3


# ---------------------------------------------------------------------------------------------------------------
# int-or-percent (apimachinery util/intstr, util/validation IsValidPercent)
# ---------------------------------------------------------------------------------------------------------------

PERCENTS = [
    pytest.param(5, (5, False), id="int"),
    pytest.param(0, (0, False), id="zero"),
    pytest.param("25%", (25, True), id="percent"),
    pytest.param("150%", (150, True), id="percent-above-100-surge"),
    pytest.param("25", (25, True), id="bare-number-is-a-percentage-as-argo-reads-it"),
    pytest.param("150%%", None, id="double-percent"),
    pytest.param("%25", None, id="leading-percent"),
    pytest.param("-5%", None, id="negative-percent"),
    pytest.param("+5%", None, id="signed-percent"),
    pytest.param(" 5%", None, id="space"),
    pytest.param("5.5%", None, id="fraction"),
    pytest.param("٥%", None, id="non-ascii-digit"),
    pytest.param("", None, id="empty"),
    pytest.param("99999999999%", None, id="percent-beyond-int32"),
]


@pytest.mark.parametrize(("value", "expected"), PERCENTS)
def test_int_or_percent_as_apimachinery_reads_it(value: int | str, expected: tuple[int, bool] | None) -> None:
    if expected is None:
        with pytest.raises(ValueError, match="numeric string followed by an ending"):
            parse_int_or_percent(value)
        path, message = first_error(rollout(maxSurge=value, maxUnavailable=1))
        assert (path, message.split(":")[0]) == (
            "spec.strategy.canary.maxSurge",
            PERCENT_MESSAGE.split(":")[0],
        )
    else:
        assert parse_int_or_percent(value) == expected
        assert load_rollout(rollout(maxSurge=value, maxUnavailable=1))[1] == []


def test_malformed_percent_is_not_read_as_a_number() -> None:
    """The hardening report: ``"150%%"`` was read as 150 % (every `%` stripped) by the replica arithmetic."""
    with pytest.raises(ValueError):
        int_or_percent("150%%", 10, True)
    assert int_or_percent("150%", 10, True) == 15


@pytest.mark.parametrize("field", ["maxSurge", "maxUnavailable"])
def test_negative_surge_or_unavailable(field: str) -> None:
    """apps/v1 ValidatePositiveIntOrPercent: a negative count is refused (Argo does not check it)."""
    assert first_error(rollout(**{field: -1})) == (f"spec.strategy.canary.{field}", NON_NEGATIVE)


def test_malformed_percent_reports_only_its_format() -> None:
    """Argo's zero check would call "150%%" zero as well; the format error alone says what is wrong."""
    _, errors = load_rollout(rollout(maxSurge="150%%", maxUnavailable=0))
    assert [e.message for e in errors] == [PERCENT_MESSAGE]


# ---------------------------------------------------------------------------------------------------------------
# Ranges of the integer fields Argo leaves unchecked
# ---------------------------------------------------------------------------------------------------------------

ISTIO = {
    "canaryService": "c",
    "stableService": "s",
    "trafficRouting": {"istio": {"virtualService": {"name": "vs", "routes": ["primary"]}}},
}
RANGES = [
    pytest.param({}, "spec.rollbackWindow", {"revisions": -1}, "spec.rollbackWindow.revisions", NON_NEGATIVE, id="rollbackWindow"),
    pytest.param({}, "spec.analysis", {"successfulRunHistoryLimit": -1}, "spec.analysis.successfulRunHistoryLimit", NON_NEGATIVE, id="run-history"),
    pytest.param(ISTIO, "spec.strategy.canary.scaleDownDelaySeconds", -1, "spec.strategy.canary.scaleDownDelaySeconds", NON_NEGATIVE, id="scaleDownDelay"),
    pytest.param(ISTIO, "spec.strategy.canary.abortScaleDownDelaySeconds", -5, "spec.strategy.canary.abortScaleDownDelaySeconds", NON_NEGATIVE, id="abortScaleDownDelay"),
    pytest.param(ISTIO, "spec.strategy.canary.minPodsPerReplicaSet", -1, "spec.strategy.canary.minPodsPerReplicaSet", NON_NEGATIVE, id="minPods"),
    pytest.param(ISTIO, "spec.strategy.canary.steps[0]", {"setCanaryScale": {"replicas": -2}}, "spec.strategy.canary.steps[0].setCanaryScale.replicas", NON_NEGATIVE, id="setCanaryScale-replicas"),
    pytest.param(ISTIO, "spec.strategy.canary.trafficRouting.maxTrafficWeight", 0, "spec.strategy.canary.trafficRouting.maxTrafficWeight", "greater than or equal to 1", id="maxTrafficWeight-zero"),
    pytest.param(ISTIO, "spec.strategy.canary.trafficRouting.istio.virtualService.tcpRoutes", [{"port": 70000}], "spec.strategy.canary.trafficRouting.istio.virtualService.tcpRoutes[0].port", "must be between 1 and 65535, inclusive", id="istio-port"),
    pytest.param({}, "spec.strategy.canary.analysis", {"templates": [{"templateName": "t"}], "measurementRetention": [{"metricName": "m", "limit": -1}]}, "spec.strategy.canary.analysis.measurementRetention[0].limit", NON_NEGATIVE, id="retention-limit"),
]  # fmt: skip


@pytest.mark.parametrize(("canary", "path", "value", "field", "message"), RANGES)
def test_integer_ranges(canary: dict[str, Any], path: str, value: Any, field: str, message: str) -> None:
    _, errors = load_rollout(at(rollout(**canary), path, value))
    assert any(e.path == field and message in e.message for e in errors), errors


def test_mirror_percentage_is_a_percentage() -> None:
    doc = rollout(**ISTIO)
    doc["spec"]["strategy"]["canary"]["trafficRouting"]["managedRoutes"] = [{"name": "m"}]
    doc["spec"]["strategy"]["canary"]["steps"] = [{"setMirrorRoute": {"name": "m", "percentage": 101}}]
    assert (
        "spec.strategy.canary.steps[0].setMirrorRoute.percentage",
        "must be between 0 and 100, inclusive",
    ) in [(e.path, e.message) for e in load_rollout(doc)[1]]


BLUE_GREEN = [
    pytest.param("previewReplicaCount", -1, id="previewReplicaCount"),
    pytest.param("autoPromotionSeconds", -30, id="autoPromotionSeconds"),
    pytest.param("scaleDownDelaySeconds", -1, id="scaleDownDelaySeconds"),
    pytest.param("scaleDownDelayRevisionLimit", -1, id="scaleDownDelayRevisionLimit"),
    pytest.param("abortScaleDownDelaySeconds", -1, id="abortScaleDownDelaySeconds"),
    pytest.param("maxUnavailable", -1, id="maxUnavailable"),
]


@pytest.mark.parametrize(("field", "value"), BLUE_GREEN)
def test_blue_green_counts_are_not_negative(field: str, value: int) -> None:
    doc = rollout()
    doc["spec"]["strategy"] = {"blueGreen": {"activeService": "active", field: value}}
    assert (f"spec.strategy.blueGreen.{field}", NON_NEGATIVE) in [
        (e.path, e.message) for e in load_rollout(doc)[1]
    ]


# ---------------------------------------------------------------------------------------------------------------
# Analysis references
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "message"),
    [
        pytest.param(2, "must be less than the number of steps (2)", id="at-the-end"),
        pytest.param(99, "must be less than the number of steps (2)", id="far-past"),
        pytest.param(-1, NON_NEGATIVE, id="negative"),
    ],
)
def test_starting_step_past_the_last_step(start: int, message: str) -> None:
    """A background analysis that starts after the last step never runs: the canary would go unchecked."""
    doc = rollout(analysis={"templates": [{"templateName": "t"}], "startingStep": start})
    path, text = first_error(doc)
    assert path == "spec.strategy.canary.analysis.startingStep" and text.startswith(message)
    assert load_rollout(rollout(analysis={"templates": [{"templateName": "t"}], "startingStep": 1}))[1] == []


@pytest.mark.parametrize(
    ("change", "path"),
    [
        pytest.param({"analysis": {"templates": []}}, "spec.strategy.canary.analysis.templates", id="background"),
        pytest.param({"analysis": {}}, "spec.strategy.canary.analysis.templates", id="background-absent"),
        pytest.param({"steps": [{"analysis": {"templates": []}}]}, "spec.strategy.canary.steps[0].analysis.templates",
                     id="step"),
    ],
)  # fmt: skip
def test_empty_analysis_templates(change: dict[str, Any], path: str) -> None:
    _, errors = load_rollout(rollout(**change))
    assert [(e.path, e.kind) for e in errors] == [(path, "Required")]
    assert "at least one analysis template is required" in errors[0].k8s_error()


def test_empty_blue_green_analysis_templates() -> None:
    doc = rollout()
    doc["spec"]["strategy"] = {"blueGreen": {"activeService": "a", "prePromotionAnalysis": {"templates": []}}}
    assert first_error(doc)[0] == "spec.strategy.blueGreen.prePromotionAnalysis.templates"


# ---------------------------------------------------------------------------------------------------------------
# Names (apimachinery IsDNS1123Subdomain / IsDNS1123Label / IsDNS1035Label)
# ---------------------------------------------------------------------------------------------------------------

NAMES = [
    pytest.param("metadata.name", "Checkout_v2", "a lowercase RFC 1123 subdomain", id="rollout-name-chars"),
    pytest.param("metadata.name", "a" * 300, "must be no more than 253 characters", id="rollout-name-300"),
    pytest.param("metadata.name", "a" * 243, "must be no more than 242 characters", id="rollout-name-no-room-for-hash"),
    pytest.param("metadata.name", "", "name or generateName is required", id="rollout-name-empty"),
    pytest.param("metadata.namespace", "shop.eu", "a lowercase RFC 1123 label", id="namespace-dot"),
    pytest.param("spec.strategy.canary.canaryService", "1canary", "a DNS-1035 label", id="service-leading-digit"),
    pytest.param("spec.strategy.canary.stableService", "s" * 64, "must be no more than 63 characters", id="service-64"),
    pytest.param("spec.strategy.canary.analysis", {"templates": [{"templateName": "Success_Rate"}]},
                 "a lowercase RFC 1123 subdomain", id="template-name"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "value", "fragment"), NAMES)
def test_names_the_api_server_would_refuse(path: str, value: Any, fragment: str) -> None:
    _, errors = load_rollout(at(rollout(), path, value))
    assert any(e.path.startswith(path) and fragment in (e.message + e.k8s_error()) for e in errors), errors


def test_valid_names_pass() -> None:
    doc = at(rollout(canaryService="web-canary", stableService="web-stable"), "metadata.name", "a" * 242)
    assert load_rollout(at(doc, "metadata.name", "web.v2-checkout"))[1] == []
    assert load_rollout(doc)[1] == []


# ---------------------------------------------------------------------------------------------------------------
# decide refuses all of them, creating nothing
# ---------------------------------------------------------------------------------------------------------------

REFUSED = [
    at(rollout(), "spec.strategy.canary.maxSurge", -1),
    rollout(maxSurge="150%%", maxUnavailable=1),
    rollout(analysis={"templates": [{"templateName": "t"}], "startingStep": 5}),
    rollout(analysis={"templates": []}),
    at(rollout(), "metadata.name", "a" * 300),
    at(rollout(), "spec.rollbackWindow", {"revisions": -1}),
    # maxTrafficWeight 0 made decide divide by zero before it was refused
    rollout(
        canaryService="c",
        stableService="s",
        trafficRouting={"nginx": {"stableIngress": "i"}, "maxTrafficWeight": 0},
    ),
]


@pytest.mark.parametrize("doc", REFUSED, ids=lambda d: str(d)[-60:])
def test_decide_turns_them_into_invalid_spec(doc: dict[str, Any]) -> None:
    ro, errors = load_rollout(doc)
    assert ro is not None and errors
    plan = decide(Observed(rollout=ro, rollout_raw=doc), T0)
    assert plan.new_status["phase"] == "Degraded"
    assert (
        plan.new_status["message"].startswith("InvalidSpec: ")
        and errors[0].path in plan.new_status["message"]
    )
    assert not any(isinstance(a, CreateReplicaSet) for a in plan.actions)


# ---------------------------------------------------------------------------------------------------------------
# One pause-duration parser (RolloutPause.DurationSeconds, types.go)
# ---------------------------------------------------------------------------------------------------------------

PAUSES = [
    pytest.param(30, 30, id="int"),
    pytest.param("30", 30, id="numeric-string"),
    pytest.param("+30", 30, id="plus-sign"),
    pytest.param("-5", -5, id="negative-numeric-string"),
    pytest.param("1m30s", 90, id="duration"),
    pytest.param("1.9s", 1, id="truncated"),
    pytest.param("-1.9s", -1, id="truncated-toward-zero"),
    pytest.param("", -1, id="empty"),
    pytest.param(" 30", -1, id="space: ParseInt and ParseDuration both fail"),
    pytest.param("3_0", -1, id="underscore: not Go syntax"),
    pytest.param("٣٠", -1, id="non-ascii digits"),
    pytest.param("2147483647", 2147483647, id="int32-max"),
    pytest.param("2147483648", -1, id="beyond-int32-string"),
    pytest.param("600000h", -1, id="duration-beyond-int32-seconds"),
    pytest.param(2**31, -1, id="int-beyond-int32"),
    pytest.param(True, -1, id="bool"),
    pytest.param(1.5, -1, id="float"),
]


@pytest.mark.parametrize(("duration", "seconds"), PAUSES)
def test_pause_duration_one_parser(duration: Any, seconds: int) -> None:
    """One rule reads a pause duration, Argo's: on wire JSON and through the model the strategy core reads."""
    assert pause_duration_seconds(duration) == seconds
    assert pause_duration_seconds(None) == 0 and RolloutPause().is_indefinite
    try:
        pause = RolloutPause.model_validate({"duration": duration})
    except ValueError:  # a bool, a float or an int beyond int32 does not load: the Rollout is InvalidSpec
        assert not isinstance(duration, str)
        return
    assert pause.duration_seconds() == seconds and not pause.is_indefinite


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    st.one_of(
        st.text(max_size=12), st.integers(-(2**33), 2**33), st.from_regex(r"-?[0-9.]{1,6}(ns|ms|s|m|h)")
    )
)
def test_models_and_core_agree_on_any_duration(duration: int | str) -> None:
    core = pause_duration_seconds(duration)
    try:
        model: int | None = RolloutPause.model_validate({"duration": duration}).duration_seconds()
    except ValueError:  # beyond int32: the model does not load it at all
        model = None
        assert isinstance(duration, int)
    assert core == (model if model is not None else -1)
