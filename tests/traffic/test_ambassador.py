"""Ambassador traffic routing (`rollouts/traffic/ambassador.py`; Argo: rollout/trafficrouting/ambassador/
ambassador.go): the canary Mapping built from the base Mapping of Argo's examples/ambassador/echo-mapping.yaml,
its weight, its removal at weight 0 (weight 0 first, then deleted), and Argo's errors."""

from __future__ import annotations

from typing import Any

import pytest

from rollouts.traffic import TrafficRoutingError, route_edits, router_refs
from tests.traffic.helpers import canary_rollout

BASE = ("getambassador.io/v2", "Mapping", "default", "echo")
CANARY = ("getambassador.io/v2", "Mapping", "default", "echo-canary")
ECHO: dict[str, Any] = {
    "apiVersion": "getambassador.io/v2",
    "kind": "Mapping",
    "metadata": {"name": "echo", "namespace": "default", "resourceVersion": "7", "uid": "u-1"},
    "spec": {"resolver": "endpoint", "prefix": "/echo", "rewrite": "/echo", "service": "echo-stable:80"},
}


def rollout() -> Any:
    return canary_rollout(
        {"ambassador": {"mappings": ["echo"]}}, stableService="echo-stable", canaryService="echo-canary"
    )


def test_canary_mapping_created_updated_then_removed() -> None:
    ro = rollout()
    assert router_refs(ro) == [BASE, CANARY]
    assert route_edits(ro, {BASE: ECHO}, 0) == []  # nothing to route yet: no canary Mapping
    (create,) = route_edits(ro, {BASE: ECHO}, 30)
    assert create.create and (create.kind, create.name) == ("Mapping", "echo-canary")
    assert create.obj == {
        "apiVersion": "getambassador.io/v2",
        "kind": "Mapping",
        "metadata": {
            "name": "echo-canary",
            "namespace": "default",
        },  # no owner, as Argo: the base's metadata is not copied
        "spec": {
            "resolver": "endpoint",
            "prefix": "/echo",
            "rewrite": "/echo",
            "service": "echo-canary:80",
            "weight": 30,
        },
    }
    created = {**create.obj, "metadata": {**create.obj["metadata"], "resourceVersion": "9"}}
    assert route_edits(ro, {BASE: ECHO, CANARY: created}, 30) == []
    (update,) = route_edits(ro, {BASE: ECHO, CANARY: created}, 60)
    assert (
        not update.create
        and update.obj["spec"]["weight"] == 60
        and update.obj["metadata"]["resourceVersion"] == "9"
    )
    (drain,) = route_edits(ro, {BASE: ECHO, CANARY: update.obj}, 0)  # weight 0 first: Ambassador drains it
    assert drain.obj["spec"]["weight"] == 0 and not drain.delete
    (delete,) = route_edits(ro, {BASE: ECHO, CANARY: drain.obj}, 0)
    assert delete.delete and delete.name == "echo-canary"
    assert ECHO["spec"]["service"] == "echo-stable:80"  # the base Mapping is never edited


def test_long_names_are_cut_before_the_suffix() -> None:
    name = "m" * 250
    ro = canary_rollout({"ambassador": {"mappings": [name]}})
    assert router_refs(ro)[1][3] == "m" * 246 + "-canary"


@pytest.mark.parametrize(
    ("routers", "message"),
    [
        pytest.param({}, 'Ambassador mapping "echo" not found', id="missing-base"),
        pytest.param({BASE: {**ECHO, "spec": {**ECHO["spec"], "weight": 10}}},
                     'Ambassador mapping "echo" can not define weight', id="weighted-base"),
    ],
)  # fmt: skip
def test_errors(routers: dict[Any, Any], message: str) -> None:
    with pytest.raises(TrafficRoutingError, match=message):
        route_edits(rollout(), routers, 10)
