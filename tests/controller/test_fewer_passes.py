"""Tests of what keeps the controller from doing needless passes, writes and requests.

* `reconciling.settle`: a status-only plan is folded with the passes its own write would cause (pure tables
  with hand-written `decide` functions standing in for the strategy core), handing on that the spec is valid;
* `manager.run_view`: a new measurement on an AnalysisRun does not concern its Rollout, a phase change does;
  `manager.replica_set_view`: nor does a ReplicaSet's observedGeneration, while its ready count does;
* `caching.CachedSource` read-through stores: templates and Services from the cache when listed, from the
  API server otherwise (a real client against the sandbox, counted in its request log);
* `metrics.observe_analysis_run` rebuilds a run's series only for a new resourceVersion.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from rollouts.controller import reconciling
from rollouts.controller.caching import CachedSource, Store
from rollouts.controller.manager import replica_set_view, run_view
from rollouts.controller.metrics import ControllerMetrics
from rollouts.controller.reconciling import SETTLE_LIMIT, settle
from rollouts.kube.client import KubeClient
from rollouts.kube.config import settings_for_url
from rollouts.kube.resources import ANALYSIS_TEMPLATES
from rollouts.models import Rollout
from rollouts.sandbox import Sandbox
from rollouts.strategy import decide as decide_rollout
from rollouts.strategy.plan import JSON, EmitEvent, Observed, Plan, ScaleReplicaSet

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def observed(status: JSON) -> Observed:
    raw = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "r", "namespace": "default", "generation": 2, "resourceVersion": "7"},
        "spec": {
            "selector": {"matchLabels": {"app": "r"}},
            "strategy": {"canary": {"steps": [{"pause": {}}]}},
        },
        "status": status,
    }
    return Observed(rollout=Rollout.from_wire(raw), rollout_raw=raw)


def chain(*plans: Callable[[JSON], Plan]) -> Callable[[Observed, datetime], Plan]:
    """A `decide` that answers from the stored status: the step given by `status["n"]` (the last repeats)."""

    def decide(obs: Observed, now: datetime) -> Plan:
        status = obs.rollout_raw.get("status") or {}
        assert obs.rollout.status.current_step_index == status.get("currentStepIndex")  # model kept in step
        return plans[min(int(status.get("n", 0)), len(plans) - 1)](status)

    return decide


def to(n: int, *actions: Any, step: int = 0, requeue: float | None = None) -> Callable[[JSON], Plan]:
    def plan(status: JSON) -> Plan:
        return Plan({"n": n, "currentStepIndex": step, "observedGeneration": "2"}, tuple(actions), requeue)

    return plan


EV_A, EV_B = EmitEvent("Normal", "A", "a"), EmitEvent("Normal", "B", "b")


@pytest.mark.parametrize(
    ("decide", "n", "events", "requeue", "settled"),
    [
        pytest.param(chain(to(1, EV_A, requeue=9.0), to(2, EV_B, requeue=3.0), to(2)), 2, ["A", "B"], 3.0, True,
                     id="two-status-plans-fold-to-a-fixed-point"),
        pytest.param(chain(to(1, ScaleReplicaSet("rs", 2)), to(2)), 1, [], None, False,
                     id="a-plan-with-an-action-is-written-as-is"),
        pytest.param(chain(to(1, EV_A), to(2, step=1), to(2, step=1)), 1, ["A"], None, False,
                     id="a-new-step-index-is-never-folded-away"),
        pytest.param(chain(to(1), to(2, ScaleReplicaSet("rs", 3))), 2, [], None, False,
                     id="folds-up-to-a-plan-with-an-action"),
        pytest.param(chain(*(to(i + 1) for i in range(10))), SETTLE_LIMIT + 1, [], None, False,
                     id="bounded"),
        pytest.param(chain(to(0)), 0, [], None, False, id="nothing-to-write"),
    ],
)  # fmt: skip
def test_settle(decide: Any, n: int, events: list[str], requeue: float | None, settled: bool) -> None:
    obs = observed({"n": 0, "currentStepIndex": 0, "observedGeneration": "2"})
    plan, is_settled = settle(decide, obs, decide(obs, NOW), NOW)
    assert plan.new_status["n"] == n
    assert [a.reason for a in plan.actions if isinstance(a, EmitEvent)] == events
    assert plan.requeue_after == requeue
    assert is_settled is settled


def test_settle_stops_where_decide_raises() -> None:
    def decide(obs: Observed, now: datetime) -> Plan:
        if (obs.rollout_raw.get("status") or {}).get("n") == 1:
            raise ValueError("boom")
        return Plan({"n": 1}, (EV_A,))

    obs = observed({"n": 0})
    plan, is_settled = settle(decide, obs, decide(obs, NOW), NOW)
    assert (plan.new_status, plan.actions, is_settled) == ({"n": 1}, (EV_A,), False)


def test_settle_hands_the_spec_verdict_forward() -> None:
    """The folded passes see the same spec and children: a spec the first decision validated is not walked again."""
    seen: list[bool] = []

    def decide(obs: Observed, now: datetime) -> Plan:
        seen.append(obs.spec_valid)
        n = int((obs.rollout_raw.get("status") or {}).get("n", 0))
        return Plan({"n": min(n + 1, 2), "currentStepIndex": 0}, (), spec_valid=True)

    obs = observed({"n": 0, "currentStepIndex": 0})
    plan, is_settled = settle(decide, obs, decide(obs, NOW), NOW)
    assert (plan.new_status["n"], plan.spec_valid, is_settled) == (2, True, True)
    assert seen == [False, True, True]


def test_the_strategy_reports_whether_the_spec_passed_validation() -> None:
    invalid = observed({})  # no containers
    valid_raw = {**invalid.rollout_raw, "spec": {**invalid.rollout_raw["spec"], "template": TEMPLATE}}
    valid = Observed(rollout=Rollout.from_wire(valid_raw), rollout_raw=valid_raw)
    assert decide_rollout(invalid, NOW).spec_valid is False
    assert decide_rollout(valid, NOW).spec_valid is True
    # told the spec is valid, `decide` trusts it (only `settle` says so, for the spec it has just validated)
    trusted = decide_rollout(dataclasses.replace(invalid, spec_valid=True), NOW)
    assert "InvalidSpec" not in [c["type"] for c in trusted.new_status.get("conditions") or []]


TEMPLATE = {"metadata": {"labels": {"app": "r"}}, "spec": {"containers": [{"name": "app", "image": "app:1"}]}}


def test_parsed_rollouts_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """The typed Rollouts kept between passes are a bounded LRU: a rollout pushed out is parsed again, equal."""
    monkeypatch.setattr(reconciling, "PARSED_MODELS", 2)
    client = KubeClient(settings_for_url("http://127.0.0.1:9"))  # never sends: only `_model` is called
    reconciler = reconciling.RolloutReconciler(client)
    raws = []
    for i in range(3):
        raw = copy.deepcopy(observed({}).rollout_raw)
        raw["metadata"].update(name=f"r{i}", resourceVersion=str(10 + i))
        raws.append(raw)
    first, _ = reconciler._model(raws[0])
    assert reconciler._model(raws[0])[0] is first  # same version: the kept model
    for raw in raws[1:]:
        reconciler._model(raw)
    assert len(reconciler._parsed) == 2
    again, _ = reconciler._model(raws[0])
    assert again is not first and again == first


def run(phase: str, measurements: int, **meta: Any) -> JSON:
    return {
        "metadata": {"name": "run", "namespace": "default", "labels": {"rollout-type": "Background"}, **meta},
        "spec": {"metrics": [{"name": "m"}]},
        "status": {
            "phase": phase,
            "metricResults": [{"name": "m", "count": measurements, "measurements": [{}] * measurements}],
        },
    }


@pytest.mark.parametrize(
    ("before", "after", "concerns_rollout"),
    [
        pytest.param(run("Running", 1), run("Running", 2), False, id="a-new-measurement"),
        pytest.param(run("Running", 2), run("Successful", 3), True, id="phase-changed"),
        pytest.param(run("Running", 1), {**run("Running", 1), "spec": {"terminate": True}}, True, id="terminated"),
        pytest.param(run("Running", 1), run("Running", 1, deletionTimestamp="2026-01-02T03:04:05Z"), True,
                     id="being-deleted"),
    ],
)  # fmt: skip
def test_run_view(before: JSON, after: JSON, concerns_rollout: bool) -> None:
    assert (run_view(before) != run_view(after)) is concerns_rollout


def rs(replicas: int, ready: int, generation: int) -> JSON:
    return {
        "metadata": {"name": "rs", "namespace": "default", "labels": {"rollouts-pod-template-hash": "h"}},
        "spec": {"replicas": replicas},
        "status": {"replicas": replicas, "readyReplicas": ready, "observedGeneration": generation},
    }


@pytest.mark.parametrize(
    ("before", "after", "concerns_rollout"),
    [
        pytest.param(rs(2, 1, 1), rs(2, 1, 2), False, id="observed-generation-only"),
        pytest.param(rs(2, 1, 1), rs(2, 2, 1), True, id="a-pod-became-ready"),
        pytest.param(rs(2, 2, 1), rs(3, 2, 1), True, id="scaled"),
    ],
)
def test_replica_set_view(before: JSON, after: JSON, concerns_rollout: bool) -> None:
    assert (replica_set_view(before) != replica_set_view(after)) is concerns_rollout


async def test_read_through_store_answers_when_listed_and_asks_the_api_otherwise(
    kube: KubeClient, async_sandbox: Sandbox
) -> None:
    template = {"metadata": {"name": "t", "namespace": "default"}, "spec": {"metrics": [{"name": "m"}]}}
    await kube.create(ANALYSIS_TEMPLATES, template, "default")
    listed = {"ready": False}
    store = Store(ANALYSIS_TEMPLATES)
    store.upsert({"metadata": {"name": "cached", "namespace": "default"}, "spec": {}})
    source = CachedSource(kube)
    source.add(store, ready=lambda: listed["ready"])

    def gets() -> int:
        return sum(
            1 for r in async_sandbox.requests.records() if r.resource == "analysistemplates" and r.name
        )

    async_sandbox.requests.reset()
    assert (await source.get(ANALYSIS_TEMPLATES, "t", "default"))["metadata"]["name"] == "t"  # not listed yet
    assert gets() == 1
    listed["ready"] = True
    assert (await source.get(ANALYSIS_TEMPLATES, "cached", "default"))["metadata"]["name"] == "cached"
    assert gets() == 1  # a hit costs no request
    assert (await source.get(ANALYSIS_TEMPLATES, "t", "default"))["metadata"]["name"] == "t"  # a miss reads
    assert gets() == 2


def test_analysis_run_series_rebuilt_only_for_a_new_version() -> None:
    registry = CollectorRegistry()
    metrics = ControllerMetrics(registry)

    def phase() -> float | None:
        return registry.get_sample_value(
            "analysis_run_info", {"namespace": "default", "name": "run", "phase": "Successful"}
        )

    metrics.observe_analysis_run(run("Running", 1, resourceVersion="5"))
    metrics.observe_analysis_run(run("Successful", 1, resourceVersion="5"))  # same version: already set
    assert phase() is None
    metrics.observe_analysis_run(run("Successful", 1, resourceVersion="6"))
    assert phase() == 1.0
