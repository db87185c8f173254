"""ALB traffic routing (`rollouts/traffic/alb.py`; Argo: rollout/trafficrouting/alb/alb.go, utils/ingress):
the forward action written into the Ingress's annotations, the managed-annotations record, header routes, and
the errors Argo's validation gives. Objects are shaped as docs/features/traffic-management/alb.md shows them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rollouts.models import CanaryStep, WeightDestination
from rollouts.traffic import TrafficRoutingError, route_edits, router_refs
from rollouts.traffic.alb import MANAGED_ANNOTATIONS, forward_action, managed_rollouts, reset_orphaned_actions
from tests.traffic.helpers import canary_rollout

KEY = ("networking.k8s.io/v1", "Ingress", "default", "ingress")
ACTION = "alb.ingress.kubernetes.io/actions.root-service"


def ingress(name: str = "ingress", service: str = "root-service", **annotations: str) -> dict[str, Any]:
    """The Ingress of Argo's ALB guide: one rule to the root service on port `use-annotation`."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": name,
            "namespace": "default",
            "annotations": {"kubernetes.io/ingress.class": "alb", **annotations},
        },
        "spec": {
            "rules": [
                {
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": service, "port": {"name": "use-annotation"}}},
                            }
                        ]
                    }
                }
            ]
        },
    }


def alb(**fields: Any) -> dict[str, Any]:
    return {"alb": {"ingress": "ingress", "rootService": "root-service", "servicePort": 80, **fields}}


def test_forward_action_as_the_load_balancer_controller_reads_it() -> None:
    """Weight 10: canary 10, stable 90, the port as a string, JSON as Go writes it (Argo's guide, alb.md)."""
    ro = canary_rollout(alb())
    (edit,) = route_edits(ro, {KEY: ingress()}, 10)
    annotations = edit.obj["metadata"]["annotations"]
    assert annotations[ACTION] == (
        '{"Type":"forward","ForwardConfig":{"TargetGroups":['
        '{"ServiceName":"canary","ServicePort":"80","Weight":10},'
        '{"ServiceName":"stable","ServicePort":"80","Weight":90}]}}'
    )
    assert (
        annotations[MANAGED_ANNOTATIONS] == '{"rollout":["alb.ingress.kubernetes.io/actions.root-service"]}'
    )
    assert annotations["kubernetes.io/ingress.class"] == "alb"
    assert edit.obj["spec"] == ingress()["spec"]  # a weight change touches annotations only
    assert route_edits(ro, {KEY: edit.obj}, 10) == []  # written: nothing more to do


def test_experiments_stickiness_and_prefix() -> None:
    ro = canary_rollout(
        alb(annotationPrefix="custom.alb.io", stickinessConfig={"enabled": True, "durationSeconds": 3600})
    )
    extra = [
        WeightDestination(service_name="exp-a", weight=3),
        WeightDestination(service_name="exp-b", weight=2),
    ]
    value = json.loads(forward_action(ro, 10, extra))
    assert [(g["ServiceName"], g["Weight"]) for g in value["ForwardConfig"]["TargetGroups"]] == [
        ("canary", 10), ("exp-a", 3), ("exp-b", 2), ("stable", 85)
    ]  # fmt: skip
    assert value["ForwardConfig"]["TargetGroupStickinessConfig"] == {"Enabled": True, "DurationSeconds": 3600}
    (edit,) = route_edits(ro, {KEY: ingress()}, 10, additional=extra)
    assert "custom.alb.io/actions.root-service" in edit.obj["metadata"]["annotations"]


def test_stable_service_is_the_action_without_root_service_and_ingresses_all_edited() -> None:
    ro = canary_rollout({"alb": {"ingresses": ["a", "b"], "servicePort": 443}})
    keys = [("networking.k8s.io/v1", "Ingress", "default", n) for n in ("a", "b")]
    assert router_refs(ro) == keys
    routers = {k: ingress(k[3], service="stable") for k in keys}
    edits = route_edits(ro, routers, 20)
    assert [e.name for e in edits] == ["a", "b"]
    assert all("alb.ingress.kubernetes.io/actions.stable" in e.obj["metadata"]["annotations"] for e in edits)


def test_other_rollouts_records_are_kept() -> None:
    mine = "alb.ingress.kubernetes.io/actions.root-service"
    other = json.dumps({"other": ["alb.ingress.kubernetes.io/actions.other-root"]})
    (edit,) = route_edits(canary_rollout(alb()), {KEY: ingress(**{MANAGED_ANNOTATIONS: other})}, 0)
    assert json.loads(edit.obj["metadata"]["annotations"][MANAGED_ANNOTATIONS]) == {
        "other": ["alb.ingress.kubernetes.io/actions.other-root"],
        "rollout": [mine],
    }


HEADER_STEP = CanaryStep.model_validate(
    {"setHeaderRoute": {"name": "header-route", "match": [
        {"headerName": "X-Canary", "headerValue": {"exact": "yes"}},
        {"headerName": "X-Canary", "headerValue": {"exact": "always"}},
        {"headerName": "X-Team", "headerValue": {"exact": "shop"}},
    ]}}
)  # fmt: skip


def test_header_route_added_then_removed() -> None:
    ro = canary_rollout(alb(), **{"trafficRouting": {**alb(), "managedRoutes": [{"name": "header-route"}]}})
    (edit,) = route_edits(ro, {KEY: ingress()}, 10, step=HEADER_STEP)
    annotations = edit.obj["metadata"]["annotations"]
    assert annotations["alb.ingress.kubernetes.io/actions.header-route"] == (
        '{"Type":"forward","ForwardConfig":{"TargetGroups":[{"ServiceName":"canary","ServicePort":"80","Weight":100}]}}'
    )
    assert json.loads(annotations["alb.ingress.kubernetes.io/conditions.header-route"]) == [
        {
            "field": "http-header",
            "httpHeaderConfig": {"httpHeaderName": "X-Canary", "values": ["yes", "always"]},
        },
        {"field": "http-header", "httpHeaderConfig": {"httpHeaderName": "X-Team", "values": ["shop"]}},
    ]
    assert json.loads(annotations[MANAGED_ANNOTATIONS]) == {"rollout": [
        ACTION, "alb.ingress.kubernetes.io/actions.header-route", "alb.ingress.kubernetes.io/conditions.header-route"
    ]}  # fmt: skip
    paths = edit.obj["spec"]["rules"][0]["http"]["paths"]
    assert paths[0] == {
        "path": "/*",
        "pathType": "ImplementationSpecific",
        "backend": {"service": {"name": "header-route", "port": {"name": "use-annotation"}}},
    }
    assert paths[1]["backend"]["service"]["name"] == "root-service"
    # full promotion (or an abort) removes every managed route
    (done,) = route_edits(ro, {KEY: edit.obj}, 0, remove_managed_routes=True)
    after = done.obj["metadata"]["annotations"]
    assert "alb.ingress.kubernetes.io/actions.header-route" not in after
    assert "alb.ingress.kubernetes.io/conditions.header-route" not in after
    assert json.loads(after[MANAGED_ANNOTATIONS]) == {"rollout": [ACTION]}
    assert done.obj["spec"] == ingress()["spec"]


@pytest.mark.parametrize(
    ("routing", "routers", "message"),
    [
        pytest.param(alb(), {}, r"Ingress default/ingress: not found \(spec.strategy.canary.trafficRouting.alb.ingress\)",
                     id="missing-ingress"),
        pytest.param(alb(), {KEY: ingress(service="elsewhere")},
                     r"ingress `ingress` has no rules using service root-service backend "
                     r"\(spec.strategy.canary.trafficRouting.alb.ingress\)", id="no-rule-to-the-root-service"),
        pytest.param(alb(ingresses=["a"]), {KEY: ingress()},
                     r"^spec.strategy.canary.trafficRouting.alb: Internal error: Either Ingress or Ingresses must be "
                     r"configured. Both are configured.$", id="both-ingress-and-ingresses"),
        pytest.param(alb(stickinessConfig={"enabled": True, "durationSeconds": 0}), {KEY: ingress()},
                     r"TargetGroupStickinessConfig's duration must be between 1 and 604800 seconds \(7 days\)!",
                     id="stickiness-out-of-range"),
        pytest.param(alb(), {KEY: ingress(**{MANAGED_ANNOTATIONS: "{not json"})},
                     rf"Ingress default/ingress: annotation {MANAGED_ANNOTATIONS} is not valid JSON", id="bad-record"),
    ],
)  # fmt: skip
def test_errors_name_the_field(routing: dict[str, Any], routers: dict[Any, Any], message: str) -> None:
    with pytest.raises(TrafficRoutingError, match=message):
        route_edits(canary_rollout(routing), routers, 10)


# ---------------------------------------------------------------------------------------------------------------
# A deleted Rollout's actions: Argo's ingress/alb_test.go cases
# ---------------------------------------------------------------------------------------------------------------

ACTION_85_15 = (
    '{"Type":"forward","ForwardConfig":{"TargetGroups":[{"ServiceName":"stable-service","ServicePort":"80",'
    '"Weight": 85},{"ServiceName":"stable-service-canary","ServicePort":"80","Weight": 15}]%s}}'
)
STICKY = ',"TargetGroupStickinessConfig":{"DurationSeconds" : 300, "Enabled" : true}'
STABLE_ACTION = "alb.ingress.kubernetes.io/actions.stable-service"


def alb_ingress(rollout: str, *, sticky: bool = False, **annotations: str) -> dict[str, Any]:
    """newALBIngress: an `alb` Ingress whose action is managed by `rollout`."""
    managed = json.dumps({rollout: [STABLE_ACTION, "alb.ingress.kubernetes.io/conditions.stable-service"]})
    return {
        "metadata": {
            "name": "test-ingress",
            "namespace": "default",
            "annotations": {
                "kubernetes.io/ingress.class": "alb",
                STABLE_ACTION: ACTION_85_15 % (STICKY if sticky else ""),
                "rollouts.argoproj.io/managed-alb-annotations": managed,
                **annotations,
            },
        },
        "spec": {
            "rules": [
                {"http": {"paths": [{"path": "/foo", "backend": {"service": {"name": "stable-service"}}}]}}
            ]
        },
    }


def test_a_deleted_rollouts_action_forwards_everything_to_its_service() -> None:
    new = reset_orphaned_actions(alb_ingress("non-existing-rollout"), living=[])
    assert new is not None
    annotations = new["metadata"]["annotations"]
    assert "rollouts.argoproj.io/managed-alb-annotations" not in annotations
    assert annotations[STABLE_ACTION] == (
        '{"Type":"forward","ForwardConfig":{"TargetGroups":[{"ServiceName":"stable-service","ServicePort":"80",'
        '"Weight":100}]}}'
    )


def test_the_reset_keeps_stickiness() -> None:
    new = reset_orphaned_actions(alb_ingress("non-existing-rollout", sticky=True), living=[])
    assert new is not None
    assert new["metadata"]["annotations"][STABLE_ACTION] == (
        '{"Type":"forward","ForwardConfig":{"TargetGroups":[{"ServiceName":"stable-service","ServicePort":"80",'
        '"Weight":100}],"TargetGroupStickinessConfig":{"Enabled":true,"DurationSeconds":300}}}'
    )


def test_a_living_rollouts_action_is_left_alone() -> None:
    assert reset_orphaned_actions(alb_ingress("rollout"), living=["rollout"]) is None


@pytest.mark.parametrize(
    ("annotations", "error"),
    [
        (
            {"rollouts.argoproj.io/managed-alb-annotations": "invalid-managed-by"},
            None,
        ),  # unreadable: left alone
        ({STABLE_ACTION: "{"}, "unable to unmarshal previous ALB action"),
        ({STABLE_ACTION: "{}"}, "unable to reset annotation due to missing port"),
    ],
    ids=["invalid-record", "invalid-action", "no-port"],
)
def test_what_cannot_be_reset_is_not_written(annotations: dict[str, str], error: str | None) -> None:
    ingress = alb_ingress("gone", **annotations)
    if error is None:
        assert reset_orphaned_actions(ingress, living=[]) is None
    else:
        with pytest.raises(ValueError, match=error):
            reset_orphaned_actions(ingress, living=[])


def test_only_alb_ingresses_are_reset() -> None:
    ingress = alb_ingress("gone", **{"kubernetes.io/ingress.class": "nginx"})
    assert reset_orphaned_actions(ingress, living=[]) is None
    ingress["metadata"]["annotations"].pop("kubernetes.io/ingress.class")
    ingress["spec"]["ingressClassName"] = "alb"
    assert reset_orphaned_actions(ingress, living=[]) is not None
    assert managed_rollouts(ingress) == ["gone"]
