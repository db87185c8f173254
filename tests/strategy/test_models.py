"""Rollout models (docs/semantics/objects.md#rollout-spec, docs/semantics/objects.md#rollout-status) and validation rules (Argo's validation.go messages)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollouts import validation as V
from rollouts.models import Rollout, RolloutPause, RolloutSpec, RolloutStatus
from rollouts.models.scalars import PERCENT_MESSAGE
from rollouts.plugin.preview import build_plan
from rollouts.validation import FieldError, invalid_spec_message, load_rollout

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(
    (path, doc)
    for path in (ROOT / "examples").glob("*/*.yaml")
    for doc in yaml.safe_load_all(path.read_text())
    if isinstance(doc, dict) and doc.get("kind") == "Rollout"
)


@pytest.mark.parametrize(("path", "doc"), [pytest.param(p, d, id=p.parent.name) for p, d in EXAMPLES])
def test_examples_load_round_trip_and_validate(path: Path, doc: dict[str, Any]) -> None:
    ro, errors = load_rollout(doc)
    assert ro is not None and errors == []
    assert ro.to_wire() == doc


def test_seed_canary_fields() -> None:
    ro = Rollout.from_wire(yaml.safe_load((ROOT / "examples/istio-canary/rollout.yaml").read_text()))
    c = ro.spec.strategy.canary
    assert c is not None and c.traffic_routing is not None and c.traffic_routing.istio is not None
    assert [vs.name for vs in c.traffic_routing.istio.all_virtual_services()] == ["api-server-vsvc"]
    assert [s.kind for s in ro.spec.steps] == ["setWeight", "pause"] * 4
    assert [s.pause.duration_seconds() for s in ro.spec.steps if s.pause] == [300, 600, 600, 300]
    assert c.analysis is not None and c.analysis.starting_step == 1
    assert ro.spec.replicas_or_default() == 10
    assert ro.spec.revision_history_limit_or_default() == 3
    assert ro.namespace == "production" and ro.is_canary and not ro.is_blue_green


def test_defaults() -> None:
    """utils/defaults/defaults.go."""
    canary = RolloutSpec.model_validate({"strategy": {"canary": {}}})
    assert canary.replicas_or_default() == 1
    assert canary.max_surge_or_default() == "25" and canary.max_unavailable_or_default() == "25"
    assert canary.progress_deadline_seconds_or_default() == 600
    assert canary.revision_history_limit_or_default() == 10
    assert canary.successful_run_history_limit() == 5 and canary.unsuccessful_run_history_limit() == 5
    assert canary.scale_down_delay_seconds_or_default() == 0  # no traffic routing: no delay
    assert canary.abort_scale_down_delay_seconds_or_default() == (0, False)
    assert canary.max_traffic_weight() == 100
    assert canary.nginx_annotation_prefix() == "nginx.ingress.kubernetes.io"
    routed = RolloutSpec.model_validate(
        {"strategy": {"canary": {"trafficRouting": {"maxTrafficWeight": 1000}}}}
    )
    assert routed.scale_down_delay_seconds_or_default() == 30
    assert routed.abort_scale_down_delay_seconds_or_default() == (30, False)
    assert routed.max_traffic_weight() == 1000
    never = RolloutSpec.model_validate(
        {"strategy": {"canary": {"trafficRouting": {}, "abortScaleDownDelaySeconds": 0}}}
    )
    assert never.abort_scale_down_delay_seconds_or_default() == (None, True)
    assert not never.has_explicit_abort_scale_down_delay()
    bg = RolloutSpec.model_validate({"strategy": {"blueGreen": {"activeService": "a"}}})
    assert bg.auto_promotion_enabled_or_default() is True
    assert bg.scale_down_delay_seconds_or_default() == 30
    assert bg.abort_scale_down_delay_seconds_or_default() == (30, False)


@pytest.mark.parametrize(
    ("duration", "seconds"),
    [
        pytest.param(None, 0, id="absent"),
        pytest.param(30, 30, id="int"),
        pytest.param("30", 30, id="numeric-string"),
        pytest.param("30s", 30, id="seconds"),
        pytest.param("1h", 3600, id="hour"),
        pytest.param("1m30s", 90, id="compound"),
        pytest.param("1.9s", 1, id="truncated"),
        pytest.param("500ms", 0, id="sub-second"),
        pytest.param("-5", -5, id="negative-int-string"),
        pytest.param("5x", -1, id="bad-unit"),
        pytest.param("", -1, id="empty"),
        pytest.param("99999999999", -1, id="int32-overflow"),
        pytest.param("1000000h", -1, id="duration-overflow"),
    ],
)
def test_pause_duration_seconds(duration: int | str | None, seconds: int) -> None:
    """docs/semantics/objects.md#rollout-spec RolloutPause.DurationSeconds."""
    pause = RolloutPause(duration=duration)
    assert pause.duration_seconds() == seconds
    assert pause.is_indefinite is (duration is None)


def test_status_wire_names_and_omitempty() -> None:
    """docs/semantics/objects.md#rollout-status: HPAReplicas, stableRS, observedGeneration string; Go omitempty except where Argo has no omitempty."""
    wire = {
        "HPAReplicas": 3,
        "stableRS": "abc",
        "observedGeneration": 7,
        "currentStepIndex": 0,
        "pauseConditions": [{"reason": "CanaryPauseStep", "startTime": "2026-01-02T03:04:05Z"}],
        "canary": {"weights": {"canary": {"weight": 0, "serviceName": "c"}, "stable": {"weight": 100}}},
        "unknownFutureField": {"x": 1},
    }
    st = RolloutStatus.from_wire(wire)
    assert st.hpa_replicas == 3 and st.stable_rs == "abc" and st.observed_generation == "7"
    assert st.pause_conditions[0].start_time == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    out = st.to_wire()
    assert out["observedGeneration"] == "7"
    assert out["currentStepIndex"] == 0  # a pointer in Go: 0 is written
    assert out["canary"]["weights"]["canary"] == {"weight": 0, "serviceName": "c"}
    assert "abort" not in out and "replicas" not in out and "conditions" not in out
    assert "unknownFutureField" not in out
    assert RolloutStatus(abort=True, replicas=2).to_wire()["abort"] is True


def test_rollout_status_only_written_when_present() -> None:
    ro = Rollout.from_wire({"metadata": {"name": "x", "ownerReferences": [{"uid": "u"}]}, "spec": {}})
    assert "status" not in ro.to_wire()
    assert ro.to_wire()["metadata"]["ownerReferences"] == [{"uid": "u"}]  # unknown metadata kept
    ro.status.abort = True  # changed after reading: written
    assert ro.to_wire()["status"]["abort"] is True
    ro2 = Rollout.from_wire({"spec": {}, "status": {"phase": "Healthy"}})
    assert ro2.to_wire()["status"]["phase"] == "Healthy"


def test_times_written_as_rfc3339_seconds() -> None:
    st = RolloutStatus(aborted_at=datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC))
    assert st.to_wire()["abortedAt"] == "2026-01-02T03:04:05Z"


# --------------------------------------------------------------------------------------------------------------
# Validation rules
# --------------------------------------------------------------------------------------------------------------


def base_canary(**canary: Any) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "ro"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "x"}},
            "template": {
                "metadata": {"labels": {"app": "x"}},
                "spec": {"containers": [{"name": "c", "image": "i"}]},
            },
            "strategy": {"canary": canary},
        },
    }


ISTIO: dict[str, Any] = {"istio": {"virtualService": {"name": "vs", "routes": ["primary"]}}}


def with_routes(*names: str) -> dict[str, Any]:
    return {**ISTIO, "managedRoutes": [{"name": n} for n in names]}


def errors_of(doc: dict[str, Any]) -> list[tuple[str, str]]:
    _, errors = load_rollout(doc)
    return [(e.path, e.message) for e in errors]


CASES: list[Any] = [
    pytest.param(
        {"steps": [{"setWeight": 101}]},
        ("spec.strategy.canary.steps[0].setWeight", "SetWeight needs to be between 0 and 100"),
        id="setWeight-range",
    ),
    pytest.param(
        {"steps": [{"setWeight": -1}]},
        ("spec.strategy.canary.steps[0].setWeight", "SetWeight needs to be between 0 and 100"),
        id="setWeight-negative",
    ),
    pytest.param(
        {"canaryService": "c", "stableService": "s", "trafficRouting": {"nginx": {"stableIngress": "i"}, "maxTrafficWeight": 1000},
         "steps": [{"setWeight": 1001}]},
        ("spec.strategy.canary.steps[0].setWeight", "SetWeight needs to be between 0 and 1000"),
        id="setWeight-range-max-traffic-weight",
    ),
    pytest.param(
        {"steps": [{"setWeight": 10, "pause": {}}]},
        ("spec.strategy.canary.steps[0]", V.INVALID_STEP),
        id="one-kind-per-step",
    ),
    pytest.param({"steps": [{}]}, ("spec.strategy.canary.steps[0]", V.INVALID_STEP), id="empty-step"),
    pytest.param(
        {"steps": [{"pause": {"duration": "5x"}}]},
        ("spec.strategy.canary.steps[0].pause.duration", "Duration needs to be greater than 0"),
        id="pause-bad-duration",
    ),
    pytest.param(
        {"steps": [{"pause": {"duration": -3}}]},
        ("spec.strategy.canary.steps[0].pause.duration", "Duration needs to be greater than 0"),
        id="pause-negative",
    ),
    pytest.param(
        {"trafficRouting": ISTIO, "canaryService": "c"},
        ("spec.strategy.canary.stableService", V.TR_NEEDS_SERVICES),
        id="traffic-routing-needs-stable",
    ),
    pytest.param(
        {"trafficRouting": ISTIO, "stableService": "s"},
        ("spec.strategy.canary.canaryService", V.TR_NEEDS_SERVICES),
        id="traffic-routing-needs-canary",
    ),
    pytest.param(
        {"canaryService": "same", "stableService": "same"},
        ("spec.strategy.canary.stableService", V.DUPLICATED_SERVICES_CANARY),
        id="services-differ",
    ),
    pytest.param(
        {"steps": [{"setCanaryScale": {"replicas": 1}}]},
        ("spec.strategy.canary.trafficRouting", "SetCanaryScale requires TrafficRouting to be set"),
        id="setCanaryScale-needs-traffic-routing",
    ),
    pytest.param(
        {"canaryService": "c", "stableService": "s", "trafficRouting": with_routes("a"),
         "steps": [{"setHeaderRoute": {"name": "b", "match": [{"headerName": "h", "headerValue": {"exact": "v"}}]}}]},
        ("spec.strategy.canary.steps[0].setHeaderRoute", V.ROUTE_NOT_IN_MANAGED_ROUTES),
        id="header-route-in-managed-routes",
    ),
    pytest.param(
        {"canaryService": "c", "stableService": "s", "trafficRouting": ISTIO,
         "steps": [{"setMirrorRoute": {"name": "m", "percentage": 10}}]},
        ("spec.strategy.canary.trafficRouting.managedRoutes",
         "Rollout has missing field 'spec.strategy.canary.trafficRouting.managedRoutes'"),
        id="mirror-route-needs-managed-routes",
    ),
    pytest.param(
        {"steps": [{"setMirrorRoute": {"name": "m"}}]},
        ("spec.strategy.canary.steps[0].setMirrorRoute", V.SET_MIRROR_ROUTE_NEEDS_TR),
        id="mirror-route-needs-istio",
    ),
    pytest.param(
        {"steps": [{"setHeaderRoute": {"name": "m"}}]},
        ("spec.strategy.canary.steps[0].setHeaderRoute", V.SET_HEADER_ROUTE_NEEDS_TR),
        id="header-route-needs-router",
    ),
    pytest.param(
        {"canaryService": "c", "stableService": "s", "trafficRouting": with_routes("h"),
         "steps": [{"setHeaderRoute": {"name": "h", "match": [{"headerName": "h", "headerValue": {"exact": "v", "prefix": "p"}}]}}]},
        ("spec.strategy.canary.steps[0].setHeaderRoute.match[0]", V.STRING_MATCH_MULTIPLE),
        id="header-match-one-value",
    ),
    pytest.param(
        {"scaleDownDelaySeconds": 10},
        ("spec.strategy.canary.scaleDownDelaySeconds", V.SCALE_DOWN_DELAY_NEEDS_TR),
        id="scaleDownDelay-needs-traffic-routing",
    ),
    pytest.param(
        {"dynamicStableScale": True},
        ("spec.strategy.canary.dynamicStableScale", V.DYNAMIC_STABLE_SCALE_NEEDS_TR),
        id="dynamicStableScale-needs-traffic-routing",
    ),
    pytest.param(
        {"abortScaleDownDelaySeconds": 5},
        ("spec.strategy.canary.abortScaleDownDelaySeconds", "Canary abortScaleDownDelaySeconds can only be used with traffic routing"),
        id="abortScaleDownDelay-needs-traffic-routing",
    ),
    pytest.param(
        {"minPodsPerReplicaSet": 2},
        ("spec.strategy.canary.minPodsPerReplicaSet", "Canary minPodsPerReplicaSet can only be used with traffic routing"),
        id="minPods-needs-traffic-routing",
    ),
    pytest.param(
        {"canaryService": "c", "stableService": "s", "trafficRouting": ISTIO, "dynamicStableScale": True,
         "scaleDownDelaySeconds": 5},
        ("spec.strategy.canary.dynamicStableScale", V.DYNAMIC_STABLE_SCALE_WITH_DELAY),
        id="dynamicStableScale-with-scaleDownDelay",
    ),
    pytest.param(
        {"canaryService": "c", "stableService": "s", "trafficRouting": {**ISTIO, "maxTrafficWeight": 1000}},
        ("spec.strategy.canary.trafficRouting.maxTrafficWeight", V.MAX_WEIGHT_NGINX_PLUGINS),
        id="maxTrafficWeight-nginx-plugins-only",
    ),
    pytest.param(
        {"maxSurge": 0, "maxUnavailable": "0%"},
        ("spec.strategy.canary.maxSurge", V.SURGE_AND_UNAVAILABLE_ZERO),
        id="surge-and-unavailable-zero",
    ),
    pytest.param(
        {"maxSurge": "lots"},
        ("spec.strategy.canary.maxSurge", PERCENT_MESSAGE),
        id="surge-not-a-percentage",
    ),
    pytest.param(
        {"steps": [{"experiment": {"templates": [{"name": "t", "specRef": "canary", "weight": 10}]}}]},
        ("spec.strategy.canary.steps[0].experiment.templates[0].weight", V.EXPERIMENT_WEIGHT_WITHOUT_TR),
        id="experiment-weight-needs-traffic-routing",
    ),
    pytest.param(
        {"steps": [{"analysis": {"templates": [{"templateName": "t"}],
                                 "args": [{"name": "a", "valueFrom": {"fieldRef": {"fieldPath": "metadata.bogus"}}}]}}]},
        ("spec.strategy.canary.steps[0].analysis.args[0].valueFrom.fieldRef.fieldPath", V.INVALID_ANALYSIS_ARGS),
        id="analysis-arg-downward-api",
    ),
    pytest.param(
        {"antiAffinity": {}},
        ("spec.strategy.canary.antiAffinity", V.ANTI_AFFINITY_ONE_STRATEGY),
        id="anti-affinity-one-strategy",
    ),
    pytest.param(
        {"antiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": {"weight": 101}}},
        ("spec.strategy.canary.antiAffinity.weight", V.ANTI_AFFINITY_WEIGHT),
        id="anti-affinity-weight",
    ),
    pytest.param(
        {"canaryService": "c", "stableService": "s",
         "trafficRouting": {"alb": {"ingress": "i", "servicePort": 80}, "managedRoutes": [{"name": "h"}]},
         "steps": [{"setHeaderRoute": {"name": "h", "match": [{"headerName": "h", "headerValue": {"prefix": "v"}}]}}]},
        ("spec.strategy.canary.steps[0].setHeaderRoute.match[0]", V.HEADER_ROUTE_ALB_EXACT),
        id="alb-header-exact-only",
    ),
    pytest.param(
        {"canaryService": "c", "stableService": "s", "trafficRouting": with_routes("m"),
         "steps": [{"setMirrorRoute": {"name": "m", "match": [{"path": {"exact": "/a", "regex": "/b"}}]}}]},
        ("spec.strategy.canary.steps[0].setMirrorRoute.match[0]", V.STRING_MATCH_MULTIPLE),
        id="mirror-match-one-value",
    ),
    pytest.param(
        {"canaryService": "c", "stableService": "s", "trafficRouting": {"nginx": {"stableIngress": "i"}},
         "steps": [{"experiment": {"templates": [{"name": "t", "specRef": "canary", "weight": 10}]}}]},
        ("spec.strategy.canary.steps[0].experiment.templates[0].weight", V.EXPERIMENT_WEIGHT_ROUTERS),
        id="experiment-weight-routers",
    ),
    pytest.param(
        {"canaryService": "c", "stableService": "s", "trafficRouting": ISTIO,
         "steps": [{"setWeight": 60}, {"pause": {}},
                   {"experiment": {"templates": [{"name": "a", "specRef": "stable", "weight": 30},
                                                 {"name": "b", "specRef": "canary", "weight": 20}]}}]},
        ("spec.strategy.canary.steps[2].experiment.templates", V.EXPERIMENT_WEIGHTS_EXCEED % (50, 60, 100)),
        id="experiment-weights-exceed-what-remains",
    ),
    pytest.param(
        {"pingPong": {"pingService": "", "pongService": "pong"}, "trafficRouting": ISTIO},
        ("spec.strategy.canary.pingPong.pingService", V.PING_PONG_NEEDS_SERVICES),
        id="ping-service-required",
    ),
    pytest.param(
        {"pingPong": {"pingService": "p", "pongService": "p"}, "trafficRouting": {"smi": {}},
         "canaryService": "c", "stableService": "s"},
        ("spec.strategy.canary.trafficRouting.alb", V.PING_PONG_ROUTERS),
        id="ping-pong-routers",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("canary", "expected"), CASES)
def test_canary_rules(canary: dict[str, Any], expected: tuple[str, str]) -> None:
    assert expected in errors_of(base_canary(**canary))


def test_experiment_weights_up_to_what_remains_are_accepted() -> None:
    steps = [
        {"setWeight": 50},
        {
            "experiment": {
                "templates": [
                    {"name": "a", "specRef": "stable", "weight": 25},
                    {"name": "b", "specRef": "canary", "weight": 25},
                ]
            }
        },
    ]
    doc = base_canary(canaryService="c", stableService="s", trafficRouting=ISTIO, steps=steps)
    assert errors_of(doc) == []


def test_valid_steps_with_set_canary_scale_alongside_weight() -> None:
    """hasMultipleStepsType ignores setCanaryScale: setWeight + setCanaryScale in one step is accepted."""
    doc = base_canary(
        canaryService="c",
        stableService="s",
        trafficRouting=ISTIO,
        steps=[{"setWeight": 10, "setCanaryScale": {"replicas": 1}}, {"pause": {"duration": "1h"}}],
    )
    assert errors_of(doc) == []


def with_spec(**changes: Any) -> dict[str, Any]:
    doc = base_canary()
    for key, value in changes.items():
        if value is None:
            doc["spec"].pop(key, None)
        else:
            doc["spec"][key] = value
    return doc


SPEC_CASES: list[Any] = [
    pytest.param(
        with_spec(strategy={"canary": {}, "blueGreen": {"activeService": "a"}}),
        ("spec.strategy", "Multiple Strategies can not be listed"),
        id="one-strategy",
    ),
    pytest.param(
        with_spec(strategy={}),
        ("spec.strategy", "Rollout has missing field '.spec.strategy.canary or .spec.strategy.blueGreen'"),
        id="strategy-required",
    ),
    pytest.param(
        with_spec(strategy={"blueGreen": {"activeService": "a", "previewService": "a"}}),
        ("spec.strategy.blueGreen.activeService", V.DUPLICATED_SERVICES_BLUE_GREEN),
        id="preview-differs-from-active",
    ),
    pytest.param(
        with_spec(strategy={"blueGreen": {"previewService": "p"}}),
        ("spec.strategy.blueGreen.activeService", "Rollout has missing field '.spec.strategy.blueGreen.activeService'"),
        id="active-service-required",
    ),
    pytest.param(
        with_spec(revisionHistoryLimit=2, strategy={"blueGreen": {"activeService": "a", "scaleDownDelayRevisionLimit": 3}}),
        ("spec.strategy.blueGreen.scaleDownDelayRevisionLimit", V.SCALE_DOWN_LIMIT_ABOVE_HISTORY),
        id="scale-down-limit-within-history",
    ),
    pytest.param(
        with_spec(selector={"matchLabels": {"app": "y"}}),
        ("spec.template.metadata.labels", "`selector` does not match template `labels`"),
        id="selector-matches-template",
    ),
    pytest.param(
        with_spec(selector={"matchExpressions": [{"key": "app", "operator": "In", "values": ["z"]}]}),
        ("spec.template.metadata.labels", "`selector` does not match template `labels`"),
        id="selector-expression-matches-template",
    ),
    pytest.param(
        with_spec(strategy={"blueGreen": {"activeService": "a", "maxUnavailable": "half"}}),
        ("spec.strategy.blueGreen.maxUnavailable", PERCENT_MESSAGE),
        id="blue-green-max-unavailable",
    ),
    pytest.param(
        with_spec(strategy={"blueGreen": {"activeService": "a", "antiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": {"weight": 1},
            "requiredDuringSchedulingIgnoredDuringExecution": {}}}}),
        ("spec.strategy.blueGreen.antiAffinity", V.ANTI_AFFINITY_ONE_STRATEGY),
        id="blue-green-anti-affinity",
    ),
    pytest.param(with_spec(selector=None), ("spec.selector", "Rollout has missing field '.spec.selector'"), id="selector-required"),
    pytest.param(with_spec(selector={}), ("spec.selector", "empty selector is invalid for deployment"), id="selector-not-empty"),
    pytest.param(with_spec(replicas=-1), ("spec.replicas", "must be greater than or equal to 0"), id="replicas-non-negative"),
    pytest.param(
        with_spec(minReadySeconds=700),
        ("spec.progressDeadlineSeconds", "must be greater than minReadySeconds"),
        id="deadline-above-min-ready",
    ),
    pytest.param(
        with_spec(workloadRef={"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"}),
        ("spec.template", "template must be empty for workload reference rollout"),
        id="workload-ref-and-template",
    ),
    pytest.param(
        with_spec(template={"metadata": {"labels": {"app": "x"}}, "spec": {}}),
        ("spec.template.spec.containers", "at least one container is required"),
        id="containers-required",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("doc", "expected"), SPEC_CASES)
def test_spec_rules(doc: dict[str, Any], expected: tuple[str, str]) -> None:
    assert expected in errors_of(doc)


@pytest.mark.parametrize(
    ("mutate", "path", "fragment"),
    [
        pytest.param(
            lambda d: d["spec"]["strategy"]["canary"].update(steps=[{"setWeight": "ten"}]),
            "spec.strategy.canary.steps[0].setWeight",
            "valid integer",
            id="setWeight-not-int",
        ),
        pytest.param(
            lambda d: d["spec"].update(replicas=[3]), "spec.replicas", "valid integer", id="replicas-not-int"
        ),
        pytest.param(
            lambda d: d["spec"]["strategy"]["canary"].update(maxSurge={"a": 1}),
            "spec.strategy.canary.maxSurge",
            "integer or a string",
            id="int-or-string-union",
        ),
        pytest.param(
            lambda d: d["spec"]["strategy"]["canary"].update(steps=[{"analysis": {"templates": [{}]}}]),
            "spec.strategy.canary.steps[0].analysis.templates[0].templateName",
            "Required",
            id="missing-required",
        ),
    ],
)
def test_unparseable_manifest_names_field(mutate: Any, path: str, fragment: str) -> None:
    doc = copy.deepcopy(base_canary())
    mutate(doc)
    ro, errors = load_rollout(doc)
    assert ro is None
    assert any(e.path == path and fragment in e.message for e in errors), errors


def test_not_a_mapping_and_wrong_kind() -> None:
    assert load_rollout(["x"])[1][0].path == "(root)"
    doc = base_canary()
    doc["kind"] = "Deployment"
    assert ("kind", 'must be "Rollout"') in errors_of(doc)


def test_invalid_spec_message_is_argos() -> None:
    """rollout/controller.go createInvalidRolloutCondition + k8s field.Error formatting."""
    errors = [
        FieldError("spec.strategy.canary.steps[0].setWeight", "SetWeight needs to be between 0 and 100", 101)
    ]
    assert invalid_spec_message("ro", errors[0]) == (
        'The Rollout "ro" is invalid: spec.strategy.canary.steps[0].setWeight: Invalid value: 101: '
        "SetWeight needs to be between 0 and 100"
    )
    required = FieldError("spec.selector", "Rollout has missing field '.spec.selector'", kind="Required")
    assert required.k8s_error() == "spec.selector: Required value: Rollout has missing field '.spec.selector'"
    assert str(required) == "spec.selector: Rollout has missing field '.spec.selector'"


# --------------------------------------------------------------------------------------------------------------
# Robustness: bad input gives field errors, never an exception
# --------------------------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 200) | st.text(max_size=6),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


SEEDS = [
    yaml.safe_load((ROOT / f"examples/{name}/rollout.yaml").read_text())
    for name in ("istio-canary", "bluegreen")
]
SEED_PATHS = [(i, p) for i, seed in enumerate(SEEDS) for p in _paths(seed) if p]


@settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(where=st.sampled_from(SEED_PATHS), value=json_values)
def test_any_mutation_of_the_seeds_gives_field_errors_not_exceptions(
    where: tuple[int, tuple[Any, ...]], value: Any
) -> None:
    """A manifest that is wrong anywhere yields field errors; a valid one can always be planned."""
    seed, path = where
    doc = copy.deepcopy(SEEDS[seed])
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    ro, errors = load_rollout(doc)
    assert ro is not None or errors
    for e in errors:
        assert e.path and e.message and "\n" not in str(e)
        assert e.k8s_error()
    if ro is not None and not errors:
        assert build_plan(ro)["rollout"] == ro.name
