"""Traefik traffic routing (`rollouts/traffic/traefik.py`; Argo: rollout/trafficrouting/traefik/traefik.go): the
weights of the weighted TraefikService shaped as docs/features/traffic-management/traefik.md shows it, and the
errors Argo's router gives."""

from __future__ import annotations

from typing import Any

import pytest

from rollouts.traffic import TrafficRoutingError, route_edits, router_refs
from tests.traffic.helpers import canary_rollout

KEY = ("traefik.io/v1alpha1", "TraefikService", "default", "traefik-service")


def weighted(*services: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "traefik.io/v1alpha1",
        "kind": "TraefikService",
        "metadata": {"name": "traefik-service", "namespace": "default"},
        "spec": {"weighted": {"services": list(services)}},
    }


DOC = weighted({"name": "stable", "port": 80}, {"name": "canary", "port": 80}, {"name": "mirror", "port": 81})
ROUTING = {"traefik": {"weightedTraefikServiceName": "traefik-service"}}


def test_weights_of_the_canary_and_stable_entries() -> None:
    ro = canary_rollout(ROUTING)
    assert router_refs(ro) == [KEY]
    (edit,) = route_edits(ro, {KEY: DOC}, 30)
    assert edit.obj["spec"]["weighted"]["services"] == [
        {"name": "stable", "port": 80, "weight": 70},
        {"name": "canary", "port": 80, "weight": 30},
        {"name": "mirror", "port": 81},  # entries that are neither are left as written
    ]
    assert route_edits(ro, {KEY: edit.obj}, 30) == []


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        pytest.param(None, r"TraefikService default/traefik-service: not found", id="missing"),
        pytest.param({**DOC, "spec": {}}, "spec.weighted.services was not found in traefik service manifest",
                     id="not-weighted"),
        pytest.param(weighted({"name": "stable"}), "traefik canary service was not found", id="no-canary"),
        pytest.param(weighted({"name": "canary"}), "traefik stable service was not found", id="no-stable"),
        pytest.param(weighted({"port": 80}), "name field was not found in service", id="unnamed-entry"),
    ],
)  # fmt: skip
def test_errors(doc: dict[str, Any] | None, message: str) -> None:
    routers = {} if doc is None else {KEY: doc}
    with pytest.raises(TrafficRoutingError, match=message):
        route_edits(canary_rollout(ROUTING), routers, 10)
