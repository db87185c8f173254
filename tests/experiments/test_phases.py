"""When an Experiment is Running, Successful, Failed, Error or Inconclusive (Argo's experiments/experiment.go
`reconcileTemplate`, `calculateStatus`, `assessTemplates`, `assessAnalysisRuns`): one pure pass over a stored
state, as a table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rollouts.experiments import ExperimentObserved, decide_experiment
from rollouts.models.experiment import Experiment
from rollouts.models.vocabulary import format_time
from rollouts.strategy.plan import AnalysisRunState, ReplicaSetState, TerminateAnalysisRun

T0 = datetime(2026, 1, 1, tzinfo=UTC)
AVAILABLE_AT = format_time(T0)


def template(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "replicas": 1,
        "selector": {"matchLabels": {"role": name}},
        "template": {
            "metadata": {"labels": {"role": name}},
            "spec": {"containers": [{"name": "c", "image": name}]},
        },
    }


def rs(name: str, available: int) -> ReplicaSetState:
    return ReplicaSetState(
        name=f"ex-{name}",
        pod_template_hash=f"h-{name}",
        spec_replicas=1,
        replicas=1,
        ready_replicas=available,
        available_replicas=available,
        revision=0,
        created=T0,
        template={},
        annotations={"experiment.argoproj.io/name": "ex", "experiment.argoproj.io/template-name": name},
    )


def run(name: str, phase: str, message: str = "") -> AnalysisRunState:
    return AnalysisRunState(
        name=f"ex-{name}", phase=phase, message=message, rollout_type="", pod_template_hash="", created=T0
    )


def decide(
    *,
    now: datetime,
    available: dict[str, int],
    runs: dict[str, tuple[str, str]] | None = None,
    required: tuple[str, ...] = (),
    duration: str | None = "10m",
    terminate: bool = False,
    since: datetime = T0,
    stored_available: dict[str, int] | None = None,
) -> tuple[dict[str, Any], Any]:
    """A Running experiment of templates a and b (available as given), analyses as given, decided at `now`."""
    spec: dict[str, Any] = {"templates": [template("a"), template("b")], "terminate": terminate}
    if duration:
        spec["duration"] = duration
    if runs:
        spec["analyses"] = [
            {"name": n, "templateName": "t", "requiredForCompletion": n in required} for n in runs
        ]
    status = {
        "phase": "Running",
        "availableAt": AVAILABLE_AT,
        "templateStatuses": [
            {
                "name": n,
                "replicas": 1,
                "updatedReplicas": 1,
                "readyReplicas": (stored_available or {"a": 1, "b": 1})[n],
                "availableReplicas": (stored_available or {"a": 1, "b": 1})[n],
                "status": "Running",
                "lastTransitionTime": format_time(since),
            }
            for n in ("a", "b")
        ],
        "analysisRuns": [{"name": n, "analysisRun": f"ex-{n}", "phase": "Running"} for n in (runs or {})],
    }
    raw = {"metadata": {"name": "ex", "namespace": "ns", "uid": "u"}, "spec": spec, "status": status}
    observed = ExperimentObserved(
        experiment=Experiment.from_wire(raw),
        raw=raw,
        replica_sets={n: rs(n, count) for n, count in available.items()},
        runs={f"ex-{n}": run(n, *value) for n, value in (runs or {}).items()},
        templates={("AnalysisTemplate", "ns", "t"): {"metrics": [{"name": "m"}]}},
    )
    plan = decide_experiment(observed, now)
    return plan.new_status, plan


@pytest.mark.parametrize(
    ("case", "expected_phase", "expected_message"),
    [
        (dict(now=T0 + timedelta(minutes=5), available={"a": 1, "b": 1}), "Running", None),
        (dict(now=T0 + timedelta(minutes=11), available={"a": 1, "b": 1}), "Successful", None),
        # a template without its pods for longer than progressDeadlineSeconds (600 s) since its last change
        (dict(now=T0 + timedelta(minutes=11), available={"a": 1, "b": 0}, duration="1h"), "Pending", None),
        (dict(now=T0 + timedelta(minutes=11), available={"a": 1, "b": 0}, stored_available={"a": 1, "b": 0},
              duration="1h"), "Failed", "Template 'b' exceeded its progressDeadlineSeconds (600)"),
        (dict(now=T0 + timedelta(minutes=5), available={"a": 1, "b": 1}, runs={"x": ("Failed", "bad numbers")}),
         "Failed", "bad numbers"),
        (dict(now=T0 + timedelta(minutes=5), available={"a": 1, "b": 1}, runs={"x": ("Inconclusive", "")}),
         "Inconclusive", None),
        (dict(now=T0 + timedelta(minutes=5), available={"a": 1, "b": 1}, runs={"x": ("Error", "no data")}),
         "Error", "no data"),
        # the worst run wins: Failed over Error
        (dict(now=T0 + timedelta(minutes=5), available={"a": 1, "b": 1},
              runs={"x": ("Error", "e"), "y": ("Failed", "f")}), "Failed", "f"),
        # the required runs succeeded: done, without a duration
        (dict(now=T0 + timedelta(minutes=5), available={"a": 1, "b": 1}, duration=None, required=("x",),
              runs={"x": ("Successful", "")}), "Successful", "Required AnalysisRuns completed"),
        # ... but a run that is not required is still running: it is terminated first (the next passes)
        (dict(now=T0 + timedelta(minutes=5), available={"a": 1, "b": 1}, duration=None, required=("x",),
              runs={"x": ("Successful", ""), "y": ("Running", "")}), "Running", None),
        # the duration is over: Successful even though a run that is not required is still running
        (dict(now=T0 + timedelta(minutes=11), available={"a": 1, "b": 1}, runs={"x": ("Running", "")}),
         "Successful", None),
        # the duration is over but a required run is still running: wait for it
        (dict(now=T0 + timedelta(minutes=11), available={"a": 1, "b": 1}, required=("x",),
              runs={"x": ("Running", "")}), "Running", None),
    ],
    ids=[
        "running", "duration-passed", "template-changed", "template-deadline", "run-failed", "run-inconclusive",
        "run-error", "worst-run", "required-done", "required-done-other-running", "duration-over-run-running",
        "duration-over-required-running",
    ],
)  # fmt: skip
def test_phase(case: dict[str, Any], expected_phase: str, expected_message: str | None) -> None:
    status, _ = decide(**case)
    assert status["phase"] == expected_phase
    assert status.get("message") == expected_message


def test_terminate_ends_the_templates_and_the_runs() -> None:
    status, plan = decide(
        now=T0 + timedelta(minutes=1), available={"a": 1, "b": 1}, runs={"x": ("Running", "")}, terminate=True
    )
    assert [t["status"] for t in status["templateStatuses"]] == ["Successful", "Successful"]
    assert status["phase"] == "Successful"
    assert TerminateAnalysisRun("ex-x") in plan.actions


def test_the_next_look_is_when_the_duration_ends() -> None:
    _, plan = decide(now=T0 + timedelta(minutes=4), available={"a": 1, "b": 1}, duration="10m")
    assert plan.requeue_after == 360.0


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ({"templateName": "gone"},
         "AnalysisTemplate verification failed for analysis 'x': analysistemplates.argoproj.io \"gone\" not found"),
        ({"templateName": "gone", "clusterScope": True},
         "ClusterAnalysisTemplate verification failed for analysis 'x': "
         "clusteranalysistemplates.argoproj.io \"gone\" not found"),
    ],
    ids=["template", "cluster-template"],
)  # fmt: skip
def test_an_analysis_naming_a_missing_template_is_an_error(ref: dict[str, Any], message: str) -> None:
    """Argo's `reconcileAnalysisRun` verifies the templates before the pods are available: a name that does not
    exist is the analysis's Error, and the Experiment's (from its second pass: the first only marks it Pending,
    as `calculateStatus` does), with the API server's not-found text."""
    spec = {"templates": [template("a")], "duration": "10m", "analyses": [{"name": "x", **ref}]}
    raw = {
        "metadata": {"name": "ex", "namespace": "ns", "uid": "u"},
        "spec": spec,
        "status": {"phase": "Pending"},
    }
    observed = ExperimentObserved(
        experiment=Experiment.from_wire(raw), raw=raw, replica_sets={}, runs={}, templates={}
    )
    status = decide_experiment(observed, T0).new_status
    (analysis,) = status["analysisRuns"]
    assert (analysis["phase"], analysis["message"]) == ("Error", message)
    assert status["phase"] == "Error"
    assert status["message"] == message
