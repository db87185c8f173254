"""SMI TrafficSplit, NGINX canary Ingress, Gateway API HTTPRoute edits, and the route_edits entry point."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollouts.models import Rollout, WeightDestination
from rollouts.traffic import TrafficRoutingError, route_edits, router_refs, unsupported_routers
from tests.traffic.helpers import apply, canary_rollout

ROOT = Path(__file__).resolve().parents[2]

# --------------------------------------------------------------------------------------------------------------
# SMI
# --------------------------------------------------------------------------------------------------------------

TS_KEY = ("split.smi-spec.io/v1alpha2", "TrafficSplit", "default", "rollout")


def test_traffic_split_created_owned_by_rollout() -> None:
    """smi.go SetWeight: a missing TrafficSplit (named after the rollout, root = stable) is created."""
    ro = canary_rollout({"smi": {}})
    assert router_refs(ro) == [TS_KEY]
    [edit] = route_edits(ro, {}, canary_weight=10)
    assert edit.create and (edit.kind, edit.name) == ("TrafficSplit", "rollout")
    obj = edit.obj
    assert obj is not None
    assert obj["spec"] == {
        "service": "stable",
        "backends": [{"service": "canary", "weight": 10}, {"service": "stable", "weight": 90}],
    }
    assert obj["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    assert route_edits(ro, apply({}, [edit]), canary_weight=10) == []


def test_traffic_split_updated_with_experiments_and_root_service() -> None:
    ro = canary_rollout({"smi": {"rootService": "root", "trafficSplitName": "split"}})
    key = ("split.smi-spec.io/v1alpha2", "TrafficSplit", "default", "split")
    [created] = route_edits(ro, {}, canary_weight=0)
    extra = [WeightDestination(service_name="exp", weight=5)]
    assert created.obj is not None
    [edit] = route_edits(ro, {key: created.obj}, canary_weight=20, additional=extra)
    assert not edit.create
    assert edit.obj["spec"]["service"] == "root"  # type: ignore[index]
    assert edit.obj["spec"]["backends"] == [  # type: ignore[index]
        {"service": "canary", "weight": 20},
        {"service": "exp", "weight": 5},
        {"service": "stable", "weight": 75},
    ]


def test_traffic_split_not_owned() -> None:
    ro = canary_rollout({"smi": {}})
    foreign = {
        "metadata": {
            "name": "rollout",
            "ownerReferences": [{"kind": "Rollout", "uid": "other", "controller": True}],
        }
    }
    with pytest.raises(TrafficRoutingError, match="Rollout does not own TrafficSplit `rollout`"):
        route_edits(ro, {TS_KEY: foreign}, canary_weight=10)


# --------------------------------------------------------------------------------------------------------------
# NGINX
# --------------------------------------------------------------------------------------------------------------


def nginx_example() -> tuple[Rollout, dict[str, Any]]:
    docs = list(yaml.safe_load_all((ROOT / "examples/nginx-canary/rollout.yaml").read_text()))
    ro = Rollout.from_wire(docs[0])
    return ro, docs[1]


STABLE_KEY = ("networking.k8s.io/v1", "Ingress", "default", "shop")
CANARY_KEY = ("networking.k8s.io/v1", "Ingress", "default", "shop-shop-canary")


def test_canary_ingress_cloned_from_stable() -> None:
    """nginx.go buildCanaryIngress: class kept, rules to the canary service, canary + canary-weight annotations."""
    ro, stable = nginx_example()
    assert router_refs(ro) == [STABLE_KEY, CANARY_KEY]
    [edit] = route_edits(ro, {STABLE_KEY: stable}, canary_weight=10)
    assert edit.create and edit.name == "shop-shop-canary"
    obj = edit.obj
    assert obj is not None
    assert obj["metadata"]["annotations"] == {
        "kubernetes.io/ingress.class": "nginx",
        "nginx.ingress.kubernetes.io/canary": "true",
        "nginx.ingress.kubernetes.io/canary-weight": "10",
    }
    backend = obj["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "shop-canary", "port": {"number": 80}}
    assert stable["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == "shop-stable"
    routers = apply({STABLE_KEY: stable}, [edit])
    assert route_edits(ro, routers, canary_weight=10) == []
    [update] = route_edits(ro, routers, canary_weight=50)
    assert not update.create
    assert update.obj["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"] == "50"  # type: ignore[index]


def test_annotation_prefix_and_extra_annotations() -> None:
    ro, stable = nginx_example()
    nginx = ro.spec.strategy.canary.traffic_routing.nginx  # type: ignore[union-attr]
    nginx.annotation_prefix = "custom.nginx.org"  # type: ignore[union-attr]
    nginx.additional_ingress_annotations = {"canary-by-header": "X-Canary"}  # type: ignore[union-attr]
    nginx.canary_ingress_annotations = {"team": "shop"}  # type: ignore[union-attr]
    [edit] = route_edits(ro, {STABLE_KEY: stable}, canary_weight=5)
    annotations = edit.obj["metadata"]["annotations"]  # type: ignore[index]
    assert annotations["custom.nginx.org/canary"] == "true"
    assert annotations["custom.nginx.org/canary-weight"] == "5"
    assert annotations["custom.nginx.org/canary-by-header"] == "X-Canary"
    assert annotations["team"] == "shop"


def test_stable_ingress_missing_or_without_stable_backend() -> None:
    ro, stable = nginx_example()
    with pytest.raises(
        TrafficRoutingError,
        match=r"Ingress default/shop: not found \(spec.strategy.canary.trafficRouting.nginx.stableIngress\)",
    ):
        route_edits(ro, {}, canary_weight=5)
    stable["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] = "elsewhere"
    with pytest.raises(TrafficRoutingError, match="has no rules using service shop-stable backend"):
        route_edits(ro, {STABLE_KEY: stable}, canary_weight=5)


def test_foreign_canary_ingress_not_touched() -> None:
    ro, stable = nginx_example()
    foreign = {"metadata": {"name": "shop-shop-canary"}, "spec": {}}
    with pytest.raises(TrafficRoutingError, match="controlled by different object"):
        route_edits(ro, {STABLE_KEY: stable, CANARY_KEY: foreign}, canary_weight=5)


# --------------------------------------------------------------------------------------------------------------
# Gateway API
# --------------------------------------------------------------------------------------------------------------

ROUTE_KEY = ("gateway.networking.k8s.io/v1", "HTTPRoute", "default", "search")


def gateway_example() -> tuple[Rollout, dict[str, Any]]:
    docs = list(yaml.safe_load_all((ROOT / "examples/gatewayapi-canary/rollout.yaml").read_text()))
    return Rollout.from_wire(docs[0]), docs[1]


def test_http_route_backend_weights() -> None:
    ro, http_route = gateway_example()
    assert router_refs(ro) == [ROUTE_KEY]
    [edit] = route_edits(ro, {ROUTE_KEY: http_route}, canary_weight=20)
    refs = edit.obj["spec"]["rules"][0]["backendRefs"]  # type: ignore[index]
    assert [(r["name"], r["weight"]) for r in refs] == [("search-stable", 80), ("search-canary", 20)]
    assert route_edits(ro, apply({ROUTE_KEY: http_route}, [edit]), canary_weight=20) == []


def test_http_route_without_both_services() -> None:
    ro, http_route = gateway_example()
    http_route["spec"]["rules"][0]["backendRefs"].pop()
    with pytest.raises(TrafficRoutingError, match="HTTPRoute default/search: no rule has backendRefs"):
        route_edits(ro, {ROUTE_KEY: http_route}, canary_weight=20)


def test_http_routes_list_and_namespace() -> None:
    ro = canary_rollout(
        {
            "plugins": {
                "argoproj-labs/gatewayAPI": {"httpRoutes": [{"name": "a"}, {"name": "b"}], "namespace": "gw"}
            }
        }
    )
    assert [k[2:] for k in router_refs(ro)] == [("gw", "a"), ("gw", "b")]


# --------------------------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------------------------


def test_unsupported_routers_are_reported() -> None:
    ro = canary_rollout({"plugins": {"acme/router": {}, "argoproj-labs/gatewayAPI": {"httpRoute": "r"}}})
    assert unsupported_routers(ro) == ["plugins/acme/router"]


def test_no_traffic_routing_no_edits() -> None:
    ro = Rollout.from_wire({"spec": {"strategy": {"canary": {}}}})
    assert router_refs(ro) == [] and route_edits(ro, {}, canary_weight=50) == []


def test_seed_istio_example_end_to_end() -> None:
    ro = Rollout.from_wire(yaml.safe_load((ROOT / "examples/istio-canary/rollout.yaml").read_text()))
    vs = yaml.safe_load((ROOT / "examples/istio-canary/virtualservice.yaml").read_text())
    routers: dict[Any, Any] = {router_refs(ro)[0]: vs}
    for weight in (5, 20, 50, 80, 100, 0):
        routers = apply(routers, route_edits(ro, routers, canary_weight=weight))
        dests = routers[router_refs(ro)[0]]["spec"]["http"][0]["route"]
        assert {d["destination"]["host"]: d["weight"] for d in dests} == {
            "api-server-stable": 100 - weight,
            "api-server-canary": weight,
        }


@pytest.mark.parametrize(
    "module",
    ["rollouts.traffic", "rollouts.traffic.istio", "rollouts.validation", "rollouts.plugin.preview"],
)
def test_imports_first_without_cycles(module: str) -> None:
    """rollouts.strategy imports rollouts.traffic: each must load first in a fresh interpreter."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


# --------------------------------------------------------------------------------------------------------------
# Robustness: any router object of the wrong shape is a TrafficRoutingError, never another exception
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


def _cases() -> list[tuple[Rollout, Any, dict[str, Any]]]:
    istio_ro = Rollout.from_wire(yaml.safe_load((ROOT / "examples/istio-canary/rollout.yaml").read_text()))
    vs = yaml.safe_load((ROOT / "examples/istio-canary/virtualservice.yaml").read_text())
    nginx_ro, ingress = nginx_example()
    gw_ro, http_route = gateway_example()
    return [
        (istio_ro, router_refs(istio_ro)[0], vs),
        (nginx_ro, STABLE_KEY, ingress),
        (gw_ro, ROUTE_KEY, http_route),
    ]


CASES = _cases()
FUZZ = [(i, p) for i, (_, _, obj) in enumerate(CASES) for p in _paths(obj) if p]


@settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(where=st.sampled_from(FUZZ), value=json_values, weight=st.integers(0, 100))
def test_malformed_router_objects_raise_traffic_routing_error(
    where: tuple[int, tuple[Any, ...]], value: Any, weight: int
) -> None:
    case, path = where
    ro, key, original = CASES[case]
    obj = copy.deepcopy(original)
    node = obj
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    try:
        edits = route_edits(ro, {key: obj}, canary_weight=weight)
    except TrafficRoutingError as exc:
        assert "\n" not in str(exc)
        return
    for edit in edits:
        assert edit.obj is not None


def test_router_plugins_are_refused_saying_why() -> None:
    """Argo's traffic-router plugins are Go binaries behind its plugin RPC: refused, and the sentence says so."""
    ro = canary_rollout({"plugins": {"acme/router": {}}})
    with pytest.raises(TrafficRoutingError) as raised:
        route_edits(ro, {}, canary_weight=1)
    assert str(raised.value) == (
        "spec.strategy.canary.trafficRouting.plugins.acme/router: Forbidden: plugins/acme/router traffic routing is "
        "not supported yet; Argo's plugins are Go binaries served over its Go plugin RPC, which this controller "
        "cannot load; this controller drives istio, smi, nginx, alb, traefik, apisix, ambassador, appMesh, "
        "plugins/argoproj-labs/gatewayAPI"
    )
