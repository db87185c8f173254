"""Istio VirtualService / DestinationRule edits (docs/semantics/controller.md#istio, cases after Argo's rollout/trafficrouting/istio tests)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rollouts.models import WeightDestination
from rollouts.models.observed import RS
from rollouts.traffic import TrafficRoutingError, route_edits, router_refs
from tests.traffic.helpers import VS_API, apply, canary_rollout, route, virtual_service, vs_key, weights

PRIMARY_SECONDARY = virtual_service(
    http=[
        route(("stable", 100), ("canary", 0), name="primary"),
        route(("stable", 100), ("canary", 0), name="secondary"),
    ]
)


def istio(**vs: Any) -> dict[str, Any]:
    return {"istio": {"virtualService": {"name": "vsvc", **vs}}}


def test_named_http_route_only_that_route() -> None:
    """TestHttpReconcileWeightsBaseCase: only the named route changes; stable = 100 − canary."""
    ro = canary_rollout(istio(routes=["primary"]))
    [edit] = route_edits(ro, {vs_key(): PRIMARY_SECONDARY}, canary_weight=10)
    assert (edit.api_version, edit.kind, edit.namespace, edit.name, edit.create) == (
        VS_API,
        "VirtualService",
        "default",
        "vsvc",
        False,
    )
    http = edit.obj["spec"]["http"]  # type: ignore[index]
    assert weights(http[0]) == {"stable": 90, "canary": 10}
    assert weights(http[1]) == {"stable": 100, "canary": 0}
    assert PRIMARY_SECONDARY["spec"]["http"][0]["route"][0]["weight"] == 100  # input untouched


def test_several_named_routes() -> None:
    ro = canary_rollout(istio(routes=["primary", "secondary"]))
    [edit] = route_edits(ro, {vs_key(): PRIMARY_SECONDARY}, canary_weight=30)
    assert [weights(r) for r in edit.obj["spec"]["http"]] == [{"stable": 70, "canary": 30}] * 2  # type: ignore[index]


def test_no_change_no_edit() -> None:
    """TestReconcileNoChanges: weights already right → no write."""
    ro = canary_rollout(istio(routes=["primary"]))
    assert route_edits(ro, {vs_key(): PRIMARY_SECONDARY}, canary_weight=0) == []


@pytest.mark.parametrize(
    ("http", "expected"),
    [
        pytest.param(
            [route(("stable", 100), ("canary", 0), name="any-name")],
            [{"stable": 80, "canary": 20}],
            id="single-named-route-inferred",
        ),
        pytest.param(
            [route(("stable", 100), ("canary", 0)), route(("other", 100), name="managed-elsewhere")],
            None,
            id="two-routes-without-names-is-ambiguous",
        ),
    ],
)
def test_inferred_single_route(http: list[dict[str, Any]], expected: list[dict[str, int]] | None) -> None:
    """TestHttpReconcileInferredSingleRoute / TestReconcileAmbiguousRoutes."""
    ro = canary_rollout(istio())
    vs = virtual_service(http=http)
    if expected is None:
        with pytest.raises(TrafficRoutingError, match="must have exactly one route"):
            route_edits(ro, {vs_key(): vs}, canary_weight=20)
    else:
        [edit] = route_edits(ro, {vs_key(): vs}, canary_weight=20)
        assert [weights(r) for r in edit.obj["spec"]["http"]] == expected  # type: ignore[index]


def test_host_short_name_and_fqdn() -> None:
    """getHost: the text before the first '.' is compared; the full host is kept."""
    ro = canary_rollout(istio(routes=["primary"]))
    vs = virtual_service(
        http=[
            route(
                ("stable.default.svc.cluster.local", 100),
                ("canary.default.svc.cluster.local", 0),
                name="primary",
            )
        ]
    )
    [edit] = route_edits(ro, {vs_key(): vs}, canary_weight=25)
    assert weights(edit.obj["spec"]["http"][0]) == {  # type: ignore[index]
        "stable.default.svc.cluster.local": 75,
        "canary.default.svc.cluster.local": 25,
    }


def test_unknown_destination_removed() -> None:
    """processRoutes: any destination that is neither canary, stable, experiment nor additional subset is deleted."""
    ro = canary_rollout(istio(routes=["primary"]))
    vs = virtual_service(
        http=[route(("stable", 90), ("canary", 0), ("leftover-experiment", 10), name="primary")]
    )
    [edit] = route_edits(ro, {vs_key(): vs}, canary_weight=5)
    assert weights(edit.obj["spec"]["http"][0]) == {"stable": 95, "canary": 5}  # type: ignore[index]


def test_experiment_destinations_added_sorted_and_stable_reduced() -> None:
    """TestReconcileVirtualServiceExperimentStep: experiment services get their weight, stable the rest."""
    ro = canary_rollout(istio(routes=["primary"]))
    extra = [
        WeightDestination(service_name="exp-b", weight=5),
        WeightDestination(service_name="exp-a", weight=10),
    ]
    [edit] = route_edits(ro, {vs_key(): PRIMARY_SECONDARY}, canary_weight=20, additional=extra)
    primary = edit.obj["spec"]["http"][0]  # type: ignore[index]
    assert [d["destination"]["host"] for d in primary["route"]] == ["stable", "canary", "exp-a", "exp-b"]
    assert weights(primary) == {"stable": 65, "canary": 20, "exp-a": 10, "exp-b": 5}


def test_stable_weight_floored_at_zero() -> None:
    ro = canary_rollout(istio(routes=["primary"]))
    extra = [WeightDestination(service_name="exp", weight=30)]
    [edit] = route_edits(ro, {vs_key(): PRIMARY_SECONDARY}, canary_weight=90, additional=extra)
    assert weights(edit.obj["spec"]["http"][0])["stable"] == 0  # type: ignore[index]


TLS_VS = virtual_service(
    tls=[
        {"match": [{"port": 3000, "sniHosts": ["a.example.com"]}], **route(("stable", 100), ("canary", 0))},
        {"match": [{"port": 3001}], **route(("stable", 100), ("canary", 0))},
    ]
)


@pytest.mark.parametrize(
    ("tls_routes", "edited"),
    [
        pytest.param([{"port": 3000, "sniHosts": ["a.example.com"]}], 0, id="port-and-sni"),
        pytest.param([{"port": 3001}], 1, id="port-only"),
    ],
)
def test_tls_routes_by_port_and_sni(tls_routes: list[dict[str, Any]], edited: int) -> None:
    """TestTlsPortAndSniReconcileWeightsBaseCase / TestTlsReconcileWeightsBaseCase."""
    ro = canary_rollout(istio(tlsRoutes=tls_routes))
    [edit] = route_edits(ro, {vs_key(): TLS_VS}, canary_weight=40)
    tls = edit.obj["spec"]["tls"]  # type: ignore[index]
    assert weights(tls[edited]) == {"stable": 60, "canary": 40}
    assert weights(tls[1 - edited]) == {"stable": 100, "canary": 0}


def test_tls_route_not_found() -> None:
    ro = canary_rollout(istio(tlsRoutes=[{"port": 9999}]))
    with pytest.raises(
        TrafficRoutingError, match="No matching TLS routes found in the defined Virtual Service"
    ):
        route_edits(ro, {vs_key(): TLS_VS}, canary_weight=40)


def test_tcp_route_by_port() -> None:
    """TestTcpReconcileWeightsBaseCase."""
    vs = virtual_service(
        tcp=[
            {"match": [{"port": 3000}], **route(("stable", 100), ("canary", 0))},
            {"match": [{"port": 3001}], **route(("stable", 100), ("canary", 0))},
        ]
    )
    ro = canary_rollout(istio(tcpRoutes=[{"port": 3001}]))
    [edit] = route_edits(ro, {vs_key(): vs}, canary_weight=50)
    assert edit.obj is not None
    assert [weights(r) for r in edit.obj["spec"]["tcp"]] == [
        {"stable": 100, "canary": 0},
        {"stable": 50, "canary": 50},
    ]  # type: ignore[index]


def test_http_tls_tcp_together() -> None:
    vs = virtual_service(
        http=[route(("stable", 100), ("canary", 0), name="primary")],
        tls=[{"match": [{"port": 3000}], **route(("stable", 100), ("canary", 0))}],
        tcp=[{"match": [{"port": 3001}], **route(("stable", 100), ("canary", 0))}],
    )
    ro = canary_rollout(istio(routes=["primary"], tlsRoutes=[{"port": 3000}], tcpRoutes=[{"port": 3001}]))
    [edit] = route_edits(ro, {vs_key(): vs}, canary_weight=10)
    spec = edit.obj["spec"]  # type: ignore[index]
    assert all(weights(spec[k][0]) == {"stable": 90, "canary": 10} for k in ("http", "tls", "tcp"))


@pytest.mark.parametrize(
    ("ro_kwargs", "vs", "message"),
    [
        pytest.param(
            {"routes": ["missing"]},
            PRIMARY_SECONDARY,
            "HTTP Route 'missing' is not found",
            id="route-not-found",
        ),
        pytest.param(
            {"routes": ["primary"]},
            virtual_service(http=[route(("stable", 100), name="primary")]),
            "Canary Service 'canary' not found in route",
            id="canary-service-missing",
        ),
        pytest.param(
            {"routes": ["primary"]},
            virtual_service(http=[route(("canary", 100), name="primary")]),
            "Stable Service 'stable' not found in route",
            id="stable-service-missing",
        ),
    ],
)
def test_invalid_virtual_service(ro_kwargs: dict[str, Any], vs: dict[str, Any], message: str) -> None:
    """TestHttpReconcileInvalidVsvc / TestReconcileInvalidValidation: errors name the object and field."""
    ro = canary_rollout(istio(**ro_kwargs))
    with pytest.raises(TrafficRoutingError) as info:
        route_edits(ro, {vs_key(): vs}, canary_weight=10)
    text = str(info.value)
    assert message in text
    assert "VirtualService default/vsvc" in text
    assert "spec.strategy.canary.trafficRouting.istio.virtualService" in text


def test_virtual_service_not_found() -> None:
    ro = canary_rollout(istio(routes=["primary"]))
    with pytest.raises(
        TrafficRoutingError,
        match=r"VirtualService default/vsvc: not found \(spec.strategy.canary.trafficRouting.istio.virtualService.name\)",
    ):
        route_edits(ro, {}, canary_weight=10)


def test_several_virtual_services_and_namespaced_names() -> None:
    """TestMultipleVirtualServiceReconcileWeightsBaseCase plus `ns/name` references."""
    tr = {
        "istio": {
            "virtualServices": [
                {"name": "vsvc", "routes": ["primary"]},
                {"name": "edge/vsvc2", "routes": ["primary"]},
            ]
        }
    }
    ro = canary_rollout(tr)
    refs = router_refs(ro)
    assert refs == [vs_key("vsvc"), vs_key("vsvc2", "edge")]
    routers = {
        refs[0]: PRIMARY_SECONDARY,
        refs[1]: virtual_service("vsvc2", "edge", **PRIMARY_SECONDARY["spec"]),
    }
    edits = route_edits(ro, routers, canary_weight=50)
    assert [(e.namespace, e.name) for e in edits] == [("default", "vsvc"), ("edge", "vsvc2")]
    assert all(weights(e.obj["spec"]["http"][0]) == {"stable": 50, "canary": 50} for e in edits)  # type: ignore[index]


def test_ping_pong_services() -> None:
    """TestReconcileWeightsPingPongBaseCase: with ping-pong, stable is the service named by status.stablePingPong."""
    ro = canary_rollout(
        istio(routes=["primary"]),
        stableService=None,
        canaryService=None,
        pingPong={"pingService": "ping", "pongService": "pong"},
    )
    ro.status.canary.stable_ping_pong = "ping"
    vs = virtual_service(http=[route(("ping", 100), ("pong", 0), name="primary")])
    [edit] = route_edits(ro, {vs_key(): vs}, canary_weight=20)
    assert weights(edit.obj["spec"]["http"][0]) == {"ping": 80, "pong": 20}  # type: ignore[index]


# --------------------------------------------------------------------------------------------------------------
# DestinationRule subsets
# --------------------------------------------------------------------------------------------------------------

DR_KEY = (VS_API, "DestinationRule", "default", "dr")


def subset_rollout(**dr: Any) -> Any:
    tr = {
        "istio": {
            "virtualService": {"name": "vsvc", "routes": ["primary"]},
            "destinationRule": {
                "name": "dr",
                "canarySubsetName": "canary",
                "stableSubsetName": "stable",
                **dr,
            },
        }
    }
    return canary_rollout(tr, stableService=None, canaryService=None)


def _dest(subset: str, w: int) -> dict[str, Any]:
    return {"destination": {"host": "svc", "subset": subset}, "weight": w}


def subset_vs() -> dict[str, Any]:
    dest = _dest
    return virtual_service(http=[{"name": "primary", "route": [dest("stable", 100), dest("canary", 0)]}])


DR = {
    "apiVersion": VS_API,
    "kind": "DestinationRule",
    "metadata": {"name": "dr", "namespace": "default"},
    "spec": {
        "host": "svc",
        "subsets": [
            {"name": "stable", "labels": {"app": "x", "rollouts-pod-template-hash": "old"}},
            {"name": "canary", "labels": {"app": "x"}},
            {"name": "unrelated", "labels": {"app": "y"}},
        ],
    },
}


def test_subset_weights_and_destination_rule_hashes() -> None:
    """TestUpdateHashWithListers / TestValidateHTTPRoutesSubsets."""
    ro = subset_rollout()
    routers = {vs_key(): subset_vs(), DR_KEY: DR}
    assert router_refs(ro) == [vs_key(), DR_KEY]
    edits = route_edits(ro, routers, canary_weight=10, canary_hash="new", stable_hash="old")
    by_kind = {e.kind: e.obj for e in edits}
    assert weights(by_kind["VirtualService"]["spec"]["http"][0]) == {"stable": 90, "canary": 10}  # type: ignore[index]
    dr = by_kind["DestinationRule"]
    assert dr is not None
    subsets = {s["name"]: s["labels"] for s in dr["spec"]["subsets"]}
    assert subsets == {
        "stable": {"app": "x", "rollouts-pod-template-hash": "old"},
        "canary": {"app": "x", "rollouts-pod-template-hash": "new"},
    }
    assert dr["metadata"]["annotations"]["argo-rollouts.argoproj.io/managed-by-rollouts"] == "rollout"
    # applied, the next pass is a no-op
    assert (
        route_edits(ro, apply(routers, edits), canary_weight=10, canary_hash="new", stable_hash="old") == []
    )


def test_subset_missing_in_route() -> None:
    ro = subset_rollout(canarySubsetName="preview")
    with pytest.raises(
        TrafficRoutingError, match="Canary DestinationRule subset 'preview' not found in route"
    ):
        route_edits(ro, {vs_key(): subset_vs(), DR_KEY: DR}, canary_weight=10)


def test_additional_subsets_keep_weight_and_reduce_stable() -> None:
    ro = subset_rollout(additionalSubsetNames=["shadow"])
    vs = subset_vs()
    vs["spec"]["http"][0]["route"].append({"destination": {"host": "svc", "subset": "shadow"}, "weight": 10})
    vs["spec"]["http"][0]["route"][0]["weight"] = 90
    edits = route_edits(ro, {vs_key(): vs, DR_KEY: DR}, canary_weight=20)
    [vs_edit] = [e for e in edits if e.kind == "VirtualService"]
    assert weights(vs_edit.obj["spec"]["http"][0]) == {"stable": 70, "canary": 20, "shadow": 10}  # type: ignore[index]


# --------------------------------------------------------------------------------------------------------------
# Managed routes
# --------------------------------------------------------------------------------------------------------------


def managed_rollout() -> Any:
    return canary_rollout(
        {**istio(routes=["primary"]), "managedRoutes": [{"name": "header"}, {"name": "mirror"}]},
        steps=[
            {"setWeight": 10},
            {
                "setHeaderRoute": {
                    "name": "header",
                    "match": [{"headerName": "x-canary", "headerValue": {"exact": "yes"}}],
                }
            },
            {"setMirrorRoute": {"name": "mirror", "percentage": 35, "match": [{"method": {"exact": "GET"}}]}},
        ],
    )


def test_header_route_added_first_and_removed() -> None:
    """TestHttpReconcileHeaderRouteHostBased + orderRoutes: managed routes go on top."""
    ro = managed_rollout()
    vs = virtual_service(http=[route(("stable", 100), ("canary", 0), name="primary")])
    [edit] = route_edits(ro, {vs_key(): vs}, canary_weight=10, step=ro.spec.steps[1])
    http = edit.obj["spec"]["http"]  # type: ignore[index]
    assert [r["name"] for r in http] == ["header", "primary"]
    assert http[0] == {
        "name": "header",
        "match": [{"headers": {"x-canary": {"exact": "yes"}}}],
        "route": [{"weight": 100, "destination": {"host": "canary"}}],
    }
    routers = apply({vs_key(): vs}, [edit])
    assert route_edits(ro, routers, canary_weight=10, step=ro.spec.steps[1]) == []  # idempotent
    [removed] = route_edits(ro, routers, canary_weight=0, remove_managed_routes=True)
    assert [r["name"] for r in removed.obj["spec"]["http"]] == ["primary"]  # type: ignore[index]


def test_mirror_route_copies_weights_and_follows_set_weight() -> None:
    """TestHttpReconcileMirrorRoute: the mirror route carries the weighted destinations and mirrors to canary."""
    ro = managed_rollout()
    vs = virtual_service(http=[route(("stable", 90), ("canary", 10), name="primary")])
    [edit] = route_edits(ro, {vs_key(): vs}, canary_weight=10, step=ro.spec.steps[2].to_wire())
    http = edit.obj["spec"]["http"]  # type: ignore[index]
    assert [r["name"] for r in http] == ["mirror", "primary"]
    assert http[0]["mirror"] == {"host": "canary"}
    assert http[0]["mirrorPercentage"] == {"value": 35}
    assert http[0]["match"] == [{"method": {"exact": "GET"}}]
    assert weights(http[0]) == {"stable": 90, "canary": 10}
    [later] = route_edits(ro, apply({vs_key(): vs}, [edit]), canary_weight=30)
    assert [weights(r) for r in later.obj["spec"]["http"]] == [{"stable": 70, "canary": 30}] * 2  # type: ignore[index]


def test_header_route_without_match_removes_it() -> None:
    ro = canary_rollout(
        {**istio(routes=["primary"]), "managedRoutes": [{"name": "header"}]},
        steps=[{"setHeaderRoute": {"name": "header"}}],
    )
    vs = virtual_service(
        http=[route(("canary", 100), name="header"), route(("stable", 100), ("canary", 0), name="primary")]
    )
    [edit] = route_edits(ro, {vs_key(): vs}, canary_weight=0, step=ro.spec.steps[0])
    assert [r["name"] for r in edit.obj["spec"]["http"]] == ["primary"]  # type: ignore[index]


# --------------------------------------------------------------------------------------------------------------
# Invariants
# --------------------------------------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None, derandomize=True)
@given(first=st.integers(0, 100), second=st.integers(0, 100), experiment=st.integers(0, 20))
def test_weights_sum_to_100_and_edits_are_idempotent(first: int, second: int, experiment: int) -> None:
    ro = canary_rollout(istio(routes=["primary"]))
    extra = [WeightDestination(service_name="exp", weight=experiment)] if experiment else []
    routers: dict[Any, Any] = {vs_key(): PRIMARY_SECONDARY}
    for weight in (first, second):
        routers = apply(routers, route_edits(ro, routers, canary_weight=weight, additional=extra))
        primary = routers[vs_key()]["spec"]["http"][0]
        w = weights(primary)
        assert w["canary"] == weight
        if weight + experiment <= 100:
            assert sum(w.values()) == 100
        assert route_edits(ro, routers, canary_weight=weight, additional=extra) == []


@pytest.mark.parametrize(
    ("canary", "abort", "services", "delayed"),
    [
        pytest.param(
            RS("ro-new", 2, 1, pod_template_hash="new"), False, False, "ro-new", id="canary-not-available"
        ),
        pytest.param(RS("ro-new", 2, 2, pod_template_hash="new"), False, False, None, id="canary-available"),
        pytest.param(
            RS("ro-new", 2, 0, pod_template_hash="new"), True, False, None, id="aborting-ignores-canary"
        ),
        pytest.param(
            RS("ro-new", 0, 0, pod_template_hash="new"), False, False, None, id="scaled-to-zero-ignored"
        ),
        pytest.param(
            RS("ro-new", 2, 1, pod_template_hash="new"), False, True, None, id="services-set-no-delay"
        ),
    ],
)
def test_destination_rule_switch_delayed_until_available(
    canary: RS, abort: bool, services: bool, delayed: str | None
) -> None:
    """TestShouldDelayDestinationRuleUpdate: subset-only routing waits for traffic-receiving ReplicaSets."""
    ro = subset_rollout()
    if services:
        ro.spec.strategy.canary.canary_service, ro.spec.strategy.canary.stable_service = "canary", "stable"  # type: ignore[union-attr]
    ro.status.abort = abort
    rss = [RS("ro-old", 4, 4, pod_template_hash="old"), canary]
    routers = {vs_key(): subset_vs(), DR_KEY: DR}
    if services:
        routers[vs_key()]["spec"]["http"][0]["route"] = [
            {"destination": {"host": "stable", "subset": "stable"}, "weight": 100},
            {"destination": {"host": "canary", "subset": "canary"}, "weight": 0},
        ]
    if delayed is None:
        edits = route_edits(
            ro, routers, canary_weight=0, canary_hash="new", stable_hash="old", replica_sets=rss
        )
        assert any(e.kind == "DestinationRule" for e in edits)
    else:
        with pytest.raises(
            TrafficRoutingError,
            match=f"delaying destination rule switch: ReplicaSet {delayed} not fully available",
        ):
            route_edits(ro, routers, canary_weight=0, canary_hash="new", stable_hash="old", replica_sets=rss)
