"""The duration histograms (Argo 1.10, controller/metrics/metrics.go): `rollout_duration_seconds`,
`rollout_progression_duration_seconds`, `rollout_manual_pause_duration_seconds`, label `status`, Argo's buckets;
observed once per ended attempt, after the status write that records the end (emitPendingRolloutDuration)."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry

from rollouts.controller.metrics import ControllerMetrics
from rollouts.controller.reconciling import RolloutReconciler
from rollouts.kube import KubeClient
from rollouts.kube.resources import ROLLOUTS
from rollouts.sandbox.running import Sandbox
from tests.controller.test_reconciling import NS, ManualTime, create_all, drive, env, healthy_on, seed_canary

__all__ = ["env"]  # the fixture, imported for this module's tests

NAMES = (
    "rollout_duration_seconds",
    "rollout_progression_duration_seconds",
    "rollout_manual_pause_duration_seconds",
)


def sample(
    registry: CollectorRegistry, name: str, status: str, suffix: str = "count", le: str | None = None
) -> float:
    labels = {"status": status, **({"le": le} if le is not None else {})}
    value = registry.get_sample_value(f"{name}_{suffix}", labels)
    return 0.0 if value is None else value


def test_histograms_have_argos_names_labels_and_buckets() -> None:
    registry = CollectorRegistry()
    metrics = ControllerMetrics(registry)
    metrics.observe_rollout_duration("Promoted", 1000.0, 300.0)
    assert sample(registry, NAMES[0], "Promoted", "sum") == 1000.0
    assert sample(registry, NAMES[1], "Promoted", "sum") == 700.0  # progression = total − manual pause
    assert sample(registry, NAMES[2], "Promoted", "sum") == 300.0
    buckets = {
        name: sorted(
            float(s.labels["le"])
            for m in registry.collect()
            if m.name == name
            for s in m.samples
            if "le" in s.labels
        )
        for name in NAMES
    }
    inf = float("inf")
    assert buckets[NAMES[0]] == [30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800, inf]
    assert buckets[NAMES[1]] == [30, 60, 120, 300, 600, 900, 1800, 3600, inf]
    assert buckets[NAMES[2]] == [0, 60, 300, 600, 1800, 3600, 7200, 14400, 28800, inf]
    assert sample(registry, NAMES[0], "Promoted", "bucket", le="600.0") == 0
    assert sample(registry, NAMES[0], "Promoted", "bucket", le="1200.0") == 1


async def test_each_ended_attempt_is_observed_once(env: tuple[Sandbox, KubeClient]) -> None:
    """The seed canary (timed pauses only): the initial deploy and the v2 update each end Promoted, observed
    once each however many passes follow; the stored status.duration says the same."""
    _, client = env
    await create_all(client, seed_canary())
    time = ManualTime()
    registry = CollectorRegistry()
    reconciler = RolloutReconciler(client, clock=time, metrics=ControllerMetrics(registry))
    await drive(reconciler, client, time, healthy_on())
    for _ in range(3):
        await reconciler.reconcile((NS, "api-server"))
    assert sample(registry, NAMES[0], "Promoted") == 1

    started = time.now
    await client.patch(
        ROLLOUTS,
        "api-server",
        {"spec": {"template": {"spec": {"containers": [{"name": "api-server", "image": "api-server:v2"}]}}}},
        NS,
    )
    done = await drive(reconciler, client, time, healthy_on())
    for _ in range(5):  # passes after the end observe nothing more
        await reconciler.reconcile((NS, "api-server"))
        await asyncio.sleep(0.01)
    duration = done["status"]["duration"]
    assert duration["completionStatus"] == "Promoted" and "manualPauseStartedAt" not in duration
    assert sample(registry, NAMES[0], "Promoted") == 2
    assert sample(registry, NAMES[2], "Promoted", "sum") == 0  # timed pauses are not manual
    elapsed = (time.now - started).total_seconds()
    total = sample(registry, NAMES[0], "Promoted", "sum")
    assert 30 * 60 <= total <= elapsed + 2  # the seed's pauses alone are 30 minutes
