"""Crash safety and API faults: the seed canary still does exactly the same thing.

* SIGKILL of the controller at random moments (seeded), at least 5 times, each followed by a restart: the
  rollout completes with the same VirtualService weights and the same step sequence as an uninterrupted run
  (all truth is in the objects' status); no step-completed event is emitted twice.
* The sandbox answering 5 % of requests with 500 and 5 % with 429 (Retry-After) and cutting every watch
  after 2 s (the issue says 10 s; shorter here so cuts happen many times in a short run): the healthy canary
  promotes and the degrading one aborts, exactly as without faults.
"""

from __future__ import annotations

import random
import time
from datetime import timedelta
from pathlib import Path

import pytest

from rollouts.sandbox.faults import Faults
from tests.e2e.harness import (
    NS,
    hash_of_image,
    replicas_of,
    rollout_healthy_on,
    running_stack,
    status_of,
    wait_for,
)
from tests.e2e.test_canary import STEPS, V2, WEIGHTS, deploy_v1, seed_canary, update_to_v2
from tests.fixtures.prometheus import HEALTHY, PrometheusFactory, degrading

pytestmark = [pytest.mark.e2e, pytest.mark.prometheus, pytest.mark.slow]


def test_sigkill_at_random_moments(tmp_path: Path, prometheus_factory: PrometheusFactory) -> None:
    docs = seed_canary(prometheus_factory(HEALTHY).url, pause="3s")
    rng = random.Random(20261126)
    with running_stack(tmp_path, docs) as stack:
        sandbox, controller = stack.sandbox, stack.controller
        v1 = deploy_v1(stack)
        v2 = update_to_v2(stack)
        kills = 0
        while kills < 6:
            time.sleep(rng.uniform(0.3, 1.6))
            controller.kill()
            kills += 1
            controller.start()
        assert status_of(sandbox, "api-server").get("stableRS") == v1, "the kills must land during the update"
        wait_for(rollout_healthy_on(sandbox, "api-server", v2), 120, "promotion after the kills", controller)
        wait_for(lambda: stack.recorder.weights()[-1:] == [0], 30, "traffic back on the stable Service")
        assert controller.starts == 7
        assert stack.recorder.weights() == WEIGHTS
        assert stack.recorder.steps("api-server") == [None, 8, *STEPS]
        completed = [
            e["message"] for e in sandbox.list("v1", "Event", NS) if e["reason"] == "RolloutStepCompleted"
        ]
        assert len(completed) == len(set(completed))  # nothing repeated
        wait_for(lambda: replicas_of(sandbox, v1, "api-server") == 0, 30, "the old ReplicaSet scaled down")


FAULTS = {"error_rate": 0.05, "throttle_rate": 0.05, "retry_after": 1, "watch_cut_after": 2.0, "seed": 7}


def test_api_faults_healthy_canary(tmp_path: Path, prometheus_factory: PrometheusFactory) -> None:
    docs = seed_canary(prometheus_factory(HEALTHY).url)
    with running_stack(tmp_path, docs, faults=Faults(**FAULTS)) as stack:
        sandbox = stack.sandbox
        deploy_v1(stack)
        v2 = update_to_v2(stack)
        wait_for(
            rollout_healthy_on(sandbox, "api-server", v2), 120, "promotion under faults", stack.controller
        )
        wait_for(lambda: stack.recorder.weights()[-1:] == [0], 30, "traffic back on the stable Service")
        assert stack.recorder.weights() == WEIGHTS
        assert stack.recorder.steps("api-server") == [None, 8, *STEPS]
        served = sandbox.requests.records()
        assert sum(r.status == 500 for r in served) > 0 and sum(r.status == 429 for r in served) > 0


def test_api_faults_degrading_canary_aborts(tmp_path: Path, prometheus_factory: PrometheusFactory) -> None:
    docs = seed_canary(prometheus_factory(degrading(-timedelta(minutes=30))).url, first_pause="600s")
    with running_stack(tmp_path, docs, faults=Faults(**FAULTS)) as stack:
        sandbox = stack.sandbox
        deploy_v1(stack)
        v2 = update_to_v2(stack)
        wait_for(
            lambda: status_of(sandbox, "api-server").get("phase") == "Degraded",
            90,
            "the abort",
            stack.controller,
        )
        assert status_of(sandbox, "api-server")["abort"] is True
        wait_for(lambda: stack.recorder.weights()[-1:] == [0], 30, "canary weight back to 0")
        assert stack.recorder.weights() == [0, 5, 0]
        wait_for(lambda: replicas_of(sandbox, v2, "api-server") == 0, 30, "the canary scaled down")
        assert hash_of_image(sandbox, "api-server", V2) == v2
