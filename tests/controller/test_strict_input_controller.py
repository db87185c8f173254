"""Strict input through the controller: values Argo's Go types cannot hold, or that a real API server would refuse
on the ReplicaSet, become an InvalidSpec condition naming the field, and nothing is created.

The hardening report's finding: `replicas: 3000000000` reached the ReplicaSet the controller created, and the
sandbox, asked to simulate three billion pods, stopped answering. Here the Rollout is stored (a CRD schema does
not bound an integer), reconciled once, and must be Degraded with no ReplicaSet at all.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from rollouts.controller.reconciling import RolloutReconciler
from rollouts.kube import KubeClient
from rollouts.kube.resources import REPLICA_SETS, ROLLOUTS
from rollouts.sandbox.running import Sandbox
from tests.controller.test_reconciling import NS, ManualTime, create_all, drive, env, healthy_on, seed_canary

__all__ = ["env"]  # the fixture, imported for this module's tests


def huge_replicas(spec: dict[str, Any]) -> None:
    spec["replicas"] = 3_000_000_000


def double_percent(spec: dict[str, Any]) -> None:
    spec["strategy"]["canary"].update(maxSurge="150%%", maxUnavailable=1)


def negative_surge(spec: dict[str, Any]) -> None:
    spec["strategy"]["canary"]["maxSurge"] = -1


def zero_max_weight(spec: dict[str, Any]) -> None:
    # Only NGINX and plugins may set it (Argo); the value 0 used to make decide divide by zero.
    spec["strategy"]["canary"]["trafficRouting"] = {
        "nginx": {"stableIngress": "api-server"},
        "maxTrafficWeight": 0,
    }


def istio_not_an_object(spec: dict[str, Any]) -> None:
    spec["strategy"]["canary"]["trafficRouting"] = {"istio": "x"}


def http_routes_not_a_list(spec: dict[str, Any]) -> None:
    spec["strategy"]["canary"]["trafficRouting"] = {
        "plugins": {"argoproj-labs/gatewayAPI": {"httpRoutes": 5}}
    }


CASES = {
    "huge-replicas": (huge_replicas, "spec.replicas: Invalid value: 3000000000: must be between"),
    "double-percent": (double_percent, 'spec.strategy.canary.maxSurge: Invalid value: "150%%"'),
    "negative-surge": (negative_surge, "spec.strategy.canary.maxSurge: Invalid value: -1"),
    "zero-max-weight": (zero_max_weight, "SetWeight needs to be between 0 and 0"),  # Argo's first error
    "istio-not-an-object": (istio_not_an_object, "spec.strategy.canary.trafficRouting.istio"),
    "http-routes-not-a-list": (http_routes_not_a_list, "httpRoutes must be a list of routes, not int"),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_refused_without_creating_anything(env: tuple[Sandbox, KubeClient], case: str) -> None:
    _, client = env
    docs = seed_canary()
    await create_all(client, [d for d in docs if d["kind"] != "Rollout"])
    change, expected = CASES[case]
    bad = copy.deepcopy(next(d for d in docs if d["kind"] == "Rollout"))
    change(bad["spec"])
    await client.create(ROLLOUTS, bad, NS)

    reconciler = RolloutReconciler(client, clock=ManualTime())
    requeue = await reconciler.reconcile((NS, "api-server"))
    status = (await client.get(ROLLOUTS, "api-server", NS))["status"]
    (condition,) = [c for c in status["conditions"] if c["type"] == "InvalidSpec"]
    assert expected in condition["message"], condition["message"]
    assert status["phase"] == "Degraded" and "ZeroDivisionError" not in condition["message"]
    assert await client.list(REPLICA_SETS, NS) == []
    assert requeue is not None and requeue > 0  # looked at again later, with backoff


async def test_fixed_spec_then_rolls_out(env: tuple[Sandbox, KubeClient]) -> None:
    """Once the value is corrected the same Rollout deploys normally."""
    _, client = env
    docs = seed_canary()
    rollout = next(d for d in docs if d["kind"] == "Rollout")
    huge_replicas(rollout["spec"])
    await create_all(client, docs)
    time = ManualTime()
    reconciler = RolloutReconciler(client, clock=time)
    await reconciler.reconcile((NS, "api-server"))
    stored = await client.get(ROLLOUTS, "api-server", NS)
    stored["spec"]["replicas"] = 3
    await client.replace(ROLLOUTS, stored, NS)
    done = await drive(reconciler, client, time, healthy_on())
    assert not [c for c in done["status"]["conditions"] if c["type"] == "InvalidSpec"]
