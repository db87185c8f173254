"""The cross-namespace rule: which router objects a Rollout names outside its namespace, the InvalidSpec message
`decide` gives (unless `Observed.cross_namespace_routing`, the controller's --allow-cross-namespace-routing), and
lint's warning. Not Argo's rule: README, "Deliberate differences"."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from rollouts.models import Rollout
from rollouts.plugin.linting import lint_report
from rollouts.strategy import decide
from rollouts.strategy.plan import Observed, ServiceState
from rollouts.traffic import cross_namespace_message, foreign_routers
from tests.traffic.helpers import canary_rollout

ISTIO = "spec.strategy.canary.trafficRouting.istio"
GATEWAY = 'spec.strategy.canary.trafficRouting.plugins["argoproj-labs/gatewayAPI"]'


@pytest.mark.parametrize(
    ("routing", "expected"),
    [
        pytest.param({"istio": {"virtualService": {"name": "vsvc", "routes": ["primary"]}}}, [], id="istio-own"),
        pytest.param(
            {"istio": {"virtualService": {"name": "default/vsvc", "routes": ["primary"]}}}, [], id="istio-own-ns"
        ),
        pytest.param(
            {"istio": {"virtualServices": [{"name": "vsvc"}, {"name": "production/api-server-vsvc"}]}},
            [("VirtualService", "production", "api-server-vsvc", f"{ISTIO}.virtualServices[1].name")],
            id="istio-second-vs",
        ),
        pytest.param(
            {"istio": {"virtualService": {"name": "vsvc"}, "destinationRule": {"name": "mesh/dr", "canarySubsetName": "c", "stableSubsetName": "s"}}},
            [("DestinationRule", "mesh", "dr", f"{ISTIO}.destinationRule.name")],
            id="destination-rule",
        ),
        pytest.param(
            {"plugins": {"argoproj-labs/gatewayAPI": {"httpRoute": "route", "namespace": "gateways"}}},
            [("HTTPRoute", "gateways", "route", f"{GATEWAY}.namespace")],
            id="gateway-api",
        ),
        pytest.param({"smi": {"trafficSplitName": "split"}}, [], id="smi-always-own"),
        pytest.param({"nginx": {"stableIngress": "ingress"}}, [], id="nginx-always-own"),
    ],
)  # fmt: skip
def test_foreign_routers(routing: dict[str, Any], expected: list[tuple[str, str, str, str]]) -> None:
    ro = canary_rollout(routing)
    assert [(key[1], key[2], key[3], field) for key, field, _ in foreign_routers(ro)] == expected
    assert (cross_namespace_message(ro) is None) == (not expected)


def _observed(allowed: bool) -> Observed:
    raw = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "api-server", "namespace": "bad", "uid": "u", "generation": 1},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "a"}},
            "template": {
                "metadata": {"labels": {"app": "a"}},
                "spec": {"containers": [{"name": "a", "image": "a"}]},
            },
            "strategy": {
                "canary": {
                    "canaryService": "canary",
                    "stableService": "stable",
                    "trafficRouting": {
                        "istio": {"virtualServices": [{"name": "production/api-server-vsvc"}]}
                    },
                    "steps": [{"setWeight": 20}],
                }
            },
        },
    }
    services = {name: ServiceState(name, {"app": "a"}) for name in ("canary", "stable")}
    return Observed(
        rollout=Rollout.from_wire(raw), rollout_raw=raw, services=services, cross_namespace_routing=allowed
    )


def test_decide_refuses_before_creating_anything_unless_allowed() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    refused = decide(_observed(False), now)
    (condition,) = [c for c in refused.new_status["conditions"] if c["type"] == "InvalidSpec"]
    assert condition["message"] == (
        'The Rollout "api-server" is invalid: spec.strategy.canary.trafficRouting.istio.virtualServices[0].name: '
        'Invalid value: "production/api-server-vsvc": VirtualService production/api-server-vsvc is outside the '
        "Rollout's namespace bad; a Rollout may only route through objects in its own namespace unless the "
        "controller runs with --allow-cross-namespace-routing"
    )
    assert refused.new_status["phase"] == "Degraded"
    assert [type(a).__name__ for a in refused.actions] == ["EmitEvent"]  # no ReplicaSet, no router edit
    allowed = decide(_observed(True), now)
    assert not [c for c in allowed.new_status.get("conditions") or () if c["type"] == "InvalidSpec"]
    assert "CreateReplicaSet" in {type(a).__name__ for a in allowed.actions}


def test_lint_warns_about_a_cross_namespace_router() -> None:
    doc = _observed(False).rollout_raw
    problems, warnings = lint_report([doc])
    assert not problems
    assert any(
        "--allow-cross-namespace-routing" in w and w.startswith('Rollout "api-server": ') for w in warnings
    )
