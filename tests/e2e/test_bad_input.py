"""Bad input: invalid Rollouts get an InvalidSpec condition naming the field and phase Degraded (docs/semantics/objects.md#rollout-phase phase
rule 2); the controller keeps serving the other rollouts (the seed canary next to them still promotes)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import NS, ArgoCDHealth, rollout_healthy_on, running_stack, status_of, wait_for
from tests.e2e.test_canary import deploy_v1, seed_canary, update_to_v2
from tests.fixtures.prometheus import HEALTHY, PrometheusFactory

pytestmark = [pytest.mark.e2e, pytest.mark.prometheus, pytest.mark.slow]


def variant(rollout: dict[str, Any], name: str, change: Any) -> dict[str, Any]:
    doc = copy.deepcopy(rollout)
    doc["metadata"]["name"] = name
    doc["spec"]["selector"]["matchLabels"]["app"] = name
    doc["spec"]["template"]["metadata"]["labels"]["app"] = name
    change(doc["spec"])
    return doc


def bad_step(spec: dict[str, Any]) -> None:
    spec["strategy"]["canary"]["steps"][0] = {"setWeight": 150}


def missing_service(spec: dict[str, Any]) -> None:
    spec["strategy"]["canary"]["canaryService"] = "no-such-service"


def unknown_template(spec: dict[str, Any]) -> None:
    spec["strategy"]["canary"]["analysis"]["templates"][0]["templateName"] = "no-such-template"


def unparsable(spec: dict[str, Any]) -> None:
    spec["replicas"] = "ten"


CASES = {
    "bad-step": (bad_step, "steps[0].setWeight"),
    "missing-service": (missing_service, "canaryService"),
    "unknown-template": (unknown_template, "no-such-template"),
    "unparsable": (unparsable, "spec.replicas"),
}


def test_invalid_rollouts_are_degraded_and_others_served(
    tmp_path: Path, prometheus_factory: PrometheusFactory
) -> None:
    docs = seed_canary(prometheus_factory(HEALTHY).url)
    rollout = next(d for d in docs if d["kind"] == "Rollout")
    bad = [variant(rollout, name, change) for name, (change, _) in CASES.items()]
    with running_stack(tmp_path, [*docs, *bad]) as stack:
        sandbox = stack.sandbox
        health = ArgoCDHealth()
        for name, (_, field) in CASES.items():
            wait_for(
                lambda n=name: status_of(sandbox, n).get("phase") == "Degraded",
                30,
                f"{name} Degraded",
                stack.controller,
            )
            status = status_of(sandbox, name)
            (condition,) = [c for c in status["conditions"] if c["type"] == "InvalidSpec"]
            assert field in condition["message"], (name, condition["message"])
            assert status["message"].startswith("InvalidSpec: ")
            assert health(sandbox.get("argoproj.io/v1alpha1", "Rollout", name, NS) or {}) == "Degraded"
            assert sandbox.list("apps/v1", "ReplicaSet", NS, label_selector=f"app={name}") == []
        deploy_v1(stack)
        v2 = update_to_v2(stack)
        wait_for(
            rollout_healthy_on(sandbox, "api-server", v2), 90, "the valid rollout promoted", stack.controller
        )
        log = stack.controller.output()
        assert "Traceback" not in log
