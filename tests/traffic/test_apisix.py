"""APISIX traffic routing (`rollouts/traffic/apisix.py`; Argo: rollout/trafficrouting/apisix/apisix.go): the
backend weights of the ApisixRoute shaped as docs/features/traffic-management/apisix.md shows it, Argo's errors,
and the refusal of APISIX header routes (not implemented) in the one list of refused features."""

from __future__ import annotations

from typing import Any

import pytest

from rollouts.support import refused_message, rollout_findings
from rollouts.traffic import TrafficRoutingError, route_edits, router_refs
from tests.traffic.helpers import canary_rollout

KEY = ("apisix.apache.org/v2", "ApisixRoute", "default", "rollouts-apisix-route")


def apisix_route(*rules: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "apisix.apache.org/v2",
        "kind": "ApisixRoute",
        "metadata": {"name": "rollouts-apisix-route", "namespace": "default"},
        "spec": {"http": list(rules)},
    }


def rule(name: str, *services: str) -> dict[str, Any]:
    return {
        "name": name,
        "match": {"paths": ["/*"], "hosts": ["rollouts-demo.apisix.local"]},
        "backends": [{"serviceName": s, "servicePort": 80} for s in services],
    }


def routing(rules: list[str] | None = None) -> dict[str, Any]:
    route: dict[str, Any] = {"name": "rollouts-apisix-route"}
    if rules is not None:
        route["rules"] = rules
    return {"apisix": {"route": route}}


def test_weights_in_the_named_rules() -> None:
    ro = canary_rollout(routing(["rollouts-apisix"]))
    assert router_refs(ro) == [KEY]
    doc = apisix_route(rule("rollouts-apisix", "stable", "canary"), rule("other", "stable"))
    (edit,) = route_edits(ro, {KEY: doc}, 25)
    first, other = edit.obj["spec"]["http"]
    assert first["backends"] == [
        {"serviceName": "stable", "servicePort": 80, "weight": 75},
        {"serviceName": "canary", "servicePort": 80, "weight": 25},
    ]
    assert first["match"] == doc["spec"]["http"][0]["match"]
    assert other == doc["spec"]["http"][1]  # a rule not named is left alone
    assert route_edits(ro, {KEY: edit.obj}, 25) == []


def test_default_rule_is_named_like_the_route() -> None:
    doc = apisix_route(rule("rollouts-apisix-route", "stable", "canary"))
    (edit,) = route_edits(canary_rollout(routing()), {KEY: doc}, 10)
    assert [b["weight"] for b in edit.obj["spec"]["http"][0]["backends"]] == [90, 10]


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        pytest.param(None, "ApisixRoute default/rollouts-apisix-route: not found", id="missing"),
        pytest.param({**apisix_route(), "spec": {}}, "spec.http was not found in Apisix Route manifest", id="no-http"),
        pytest.param(apisix_route(rule("x", "stable", "canary")), "Apisix http route rule rollouts-apisix not found",
                     id="no-rule"),
        pytest.param(apisix_route({"name": "rollouts-apisix"}), "Apisix http route backends not found", id="no-backends"),
        pytest.param(apisix_route(rule("rollouts-apisix", "stable")), "apisix route canary backend was not found",
                     id="no-canary-backend"),
    ],
)  # fmt: skip
def test_errors(doc: dict[str, Any] | None, message: str) -> None:
    routers = {} if doc is None else {KEY: doc}
    with pytest.raises(TrafficRoutingError, match=message):
        route_edits(canary_rollout(routing(["rollouts-apisix"])), routers, 10)


def test_header_routes_with_apisix_are_refused() -> None:
    wire = {
        "metadata": {"name": "r"},
        "spec": {"strategy": {"canary": {
            "trafficRouting": routing(),
            "steps": [{"setWeight": 10}, {"setHeaderRoute": {"name": "h", "match": [{"headerName": "x"}]}}],
        }}},
    }  # fmt: skip
    assert refused_message(rollout_findings(wire)) == (
        "spec.strategy.canary.steps[1].setHeaderRoute: Forbidden: header routes with APISIX are not supported yet; "
        "APISIX is driven for weights only (setWeight)"
    )
