"""What the controller does not implement, said the same way by the controller, `lint` and `plan`.

Against the sandbox with the real reconciler: an ignored feature (notification
subscriptions) does not stop the rollout but shows as one Warning event per feature and generation, a warning
log line and the `rollout_unsupported_feature` metric; a refused one (a step plugin, a traffic-router plugin) is an
InvalidSpec condition whose text is, word for word, the warning `lint` and `plan` print for the same file.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from loguru import logger
from prometheus_client import CollectorRegistry

from rollouts.cli import cli
from rollouts.controller.metrics import ControllerMetrics
from rollouts.controller.reconciling import RolloutReconciler
from rollouts.kube import KubeClient
from rollouts.kube.resources import EVENTS, ROLLOUTS
from rollouts.sandbox.running import Sandbox
from rollouts.support import IGNORED_EVENT_REASON
from tests.controller.test_reconciling import NS, ManualTime, create_all, drive, env, healthy_on, seed_canary

__all__ = ["env"]  # the fixture, shared with test_reconciling

SCALE_DOWN = "spec.workloadRef.scaleDown"


def _rollout(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == "Rollout")


async def test_ignored_features_warn_without_blocking(env: tuple[Sandbox, KubeClient]) -> None:
    _, client = env
    docs = seed_canary()
    ro = _rollout(docs)
    # scaleDown of a PodTemplate: Argo accepts it and scales nothing down; so do we, and say so
    docs.insert(
        0,
        {
            "apiVersion": "v1",
            "kind": "PodTemplate",
            "metadata": {"name": "api-server"},
            "template": ro["spec"].pop("template"),
        },
    )
    ro["spec"]["workloadRef"] = {
        "apiVersion": "v1",
        "kind": "PodTemplate",
        "name": "api-server",
        "scaleDown": "onsuccess",
    }
    await create_all(client, docs)
    registry = CollectorRegistry()
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="WARNING", format="{level} {message}")
    try:
        time = ManualTime()
        reconciler = RolloutReconciler(client, clock=time, metrics=ControllerMetrics(registry))
        await drive(reconciler, client, time, healthy_on())  # the ignored features do not hold it back
        for _ in range(3):
            await reconciler.reconcile((NS, "api-server"))
    finally:
        logger.remove(sink)
    events = [e for e in (await client.list(EVENTS, NS)).items if e["reason"] == IGNORED_EVENT_REASON]
    assert sorted((e["type"], e["message"]) for e in events) == [
        (
            "Warning",
            f"{SCALE_DOWN}: scaleDown of a workload other than a Deployment is not supported yet and ignored: "
            "only a Deployment is scaled down; this object keeps its pods",
        ),
    ]
    assert all(e.get("count", 1) == 1 for e in events)  # once per generation, not once per pass
    warned = [line for line in lines if IGNORED_EVENT_REASON in line]
    assert len(warned) == 1 and all(line.startswith("WARNING ") for line in warned)
    for feature in ("workloadRefScaleDown",):
        labels = {"namespace": NS, "name": "api-server", "feature": feature, "handling": "ignored"}
        assert registry.get_sample_value("rollout_unsupported_feature", labels) == 1


def _plugin_step(ro: dict[str, Any]) -> None:
    ro["spec"]["strategy"]["canary"]["steps"].insert(0, {"plugin": {"name": "acme/step", "config": {}}})


def _router_plugin(ro: dict[str, Any]) -> None:
    ro["spec"]["strategy"]["canary"]["trafficRouting"] = {"plugins": {"acme/router": {}}}


@pytest.mark.parametrize("change", [_plugin_step, _router_plugin], ids=["plugin-step", "router-plugin"])
async def test_refused_features_read_the_same_everywhere(
    env: tuple[Sandbox, KubeClient], tmp_path: Path, change: Callable[[dict[str, Any]], None]
) -> None:
    _, client = env
    docs = seed_canary()
    change(_rollout(docs))
    path = tmp_path / "rollout.yaml"
    path.write_text(yaml.safe_dump(_rollout(docs)))  # the Rollout alone: its Services expect a pod template
    await create_all(client, copy.deepcopy(docs))
    await RolloutReconciler(client, clock=ManualTime()).reconcile((NS, "api-server"))
    status = (await client.get(ROLLOUTS, "api-server", NS))["status"]
    (condition,) = [c for c in status["conditions"] if c["type"] == "InvalidSpec"]
    prefix = 'The Rollout "api-server" is invalid: '
    assert condition["message"].startswith(prefix)
    said = condition["message"].removeprefix(prefix)
    assert "Forbidden:" in said and "not supported yet" in said

    lint = CliRunner().invoke(cli, ["lint", "-f", str(path)])
    assert lint.exit_code == 0, lint.output
    assert f'warning: Rollout "api-server": not supported by this controller yet: {said}' in lint.stderr
    plan = CliRunner().invoke(cli, ["plan", "-f", str(path)])
    assert plan.exit_code == 0, plan.output
    assert f"warning: the controller refuses this Rollout (InvalidSpec): {said}" in plan.output.splitlines()
