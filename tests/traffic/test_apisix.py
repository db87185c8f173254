"""APISIX traffic routing (`rollouts/traffic/apisix.py`; Argo: rollout/trafficrouting/apisix/apisix.go): the
backend weights of the ApisixRoute shaped as docs/features/traffic-management/apisix.md shows it, Argo's errors,
and the header routes: an ApisixRoute per managed route, owned by the Rollout, created, updated and deleted as
Argo's SetHeaderRoute and RemoveManagedRoutes do."""

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


HEADER_KEY = ("apisix.apache.org/v2", "ApisixRoute", "default", "set-header")


def header_rollout() -> Any:
    """docs/features/traffic-management/apisix.md's header route: `trace: debug` to the canary."""
    tr = routing(["rollouts-apisix"])
    tr["managedRoutes"] = [{"name": "set-header"}]
    return canary_rollout(tr)


def header_step(*match: dict[str, Any]) -> dict[str, Any]:
    return {"setHeaderRoute": {"name": "set-header", "match": list(match)}}


def test_a_header_route_is_a_copy_of_the_route_owned_by_the_rollout() -> None:
    ro = header_rollout()
    assert router_refs(ro) == [KEY, HEADER_KEY]  # read with the route (it may not exist yet)
    base = apisix_route(
        {**rule("rollouts-apisix", "stable", "canary"), "priority": 2}, rule("other", "stable")
    )
    base["metadata"].update(labels={"team": "web"}, resourceVersion="7", uid="u-route")
    trace = {"headerName": "trace", "headerValue": {"exact": "debug"}}
    (create,) = [
        e for e in route_edits(ro, {KEY: base}, 0, step=header_step(trace)) if e.name == "set-header"
    ]
    assert create.create and create.kind == "ApisixRoute"
    assert create.obj["metadata"] == {
        "labels": {"team": "web"},
        "name": "set-header",
        "namespace": "default",
        "ownerReferences": [
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Rollout",
                "name": "rollout",
                "uid": "uid-1",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }
    first, other = create.obj["spec"]["http"]
    assert first["backends"] == [
        {"serviceName": "canary", "servicePort": 80, "weight": 100}
    ]  # stable removed
    assert first["priority"] == 3  # one above the rule it copies
    assert first["match"]["exprs"] == [
        {"subject": {"scope": "Header", "name": "trace"}, "op": "Equal", "value": "debug"}
    ]
    assert first["match"]["paths"] == ["/*"]
    assert other == base["spec"]["http"][1]
    # once created and owned, the same step changes nothing more
    existing = {**create.obj, "metadata": {**create.obj["metadata"], "resourceVersion": "9"}}
    edits = route_edits(ro, {KEY: base, HEADER_KEY: existing}, 0, step=header_step(trace))
    assert [e for e in edits if e.name == "set-header"] == []


def test_regex_and_prefix_matches() -> None:
    ro = header_rollout()
    base = apisix_route(rule("rollouts-apisix", "stable", "canary"))
    match = {"headerName": "agent", "headerValue": {"regex": "Mozilla.*", "prefix": "Chr"}}
    (create,) = [
        e for e in route_edits(ro, {KEY: base}, 0, step=header_step(match)) if e.name == "set-header"
    ]
    assert create.obj["spec"]["http"][0]["match"]["exprs"] == [
        {"subject": {"scope": "Header", "name": "agent"}, "op": "RegexMatch", "value": "Mozilla.*"},
        {"subject": {"scope": "Header", "name": "agent"}, "op": "RegexMatch", "value": "^Chr.*"},
    ]  # apisixExprs: prefix as a regular expression


def owned(obj: dict[str, Any], uid: str = "uid-1") -> dict[str, Any]:
    meta = {**obj["metadata"], "name": "set-header", "ownerReferences": [{"controller": True, "uid": uid}]}
    return {**obj, "metadata": meta}


def test_a_step_without_a_match_and_the_end_of_the_rollout_delete_it() -> None:
    ro = header_rollout()
    base = apisix_route(rule("rollouts-apisix", "stable", "canary"))
    routers = {KEY: base, HEADER_KEY: owned(base)}
    (delete,) = [
        e
        for e in route_edits(ro, routers, 0, step={"setHeaderRoute": {"name": "set-header"}})
        if e.name == "set-header"
    ]
    assert delete.delete
    (removed,) = [
        e for e in route_edits(ro, routers, 0, remove_managed_routes=True) if e.name == "set-header"
    ]
    assert removed.delete
    # gone already, or someone else's: nothing to delete
    assert [
        e for e in route_edits(ro, {KEY: base}, 0, remove_managed_routes=True) if e.name == "set-header"
    ] == []
    theirs = {KEY: base, HEADER_KEY: owned(base, uid="someone-else")}
    assert [e for e in route_edits(ro, theirs, 0, remove_managed_routes=True) if e.name == "set-header"] == []


def test_a_route_of_that_name_that_is_not_the_rollouts_is_argos_error() -> None:
    ro = header_rollout()
    base = apisix_route(rule("rollouts-apisix", "stable", "canary"))
    theirs = {KEY: base, HEADER_KEY: owned(base, uid="someone-else")}
    with pytest.raises(TrafficRoutingError, match=r"duplicate ApisixRoute \[set-header\] already exists"):
        route_edits(
            ro, theirs, 0, step=header_step({"headerName": "trace", "headerValue": {"exact": "debug"}})
        )


def test_header_routes_with_apisix_are_no_longer_refused() -> None:
    wire = {
        "metadata": {"name": "r"},
        "spec": {"strategy": {"canary": {
            "trafficRouting": routing(),
            "steps": [{"setWeight": 10}, {"setHeaderRoute": {"name": "h", "match": [{"headerName": "x"}]}}],
        }}},
    }  # fmt: skip
    assert refused_message(rollout_findings(wire)) == ""
