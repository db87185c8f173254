"""Experiments against the sandbox with the real Experiment reconciler (docs/semantics/experiments.md): the
templates' ReplicaSets (Argo's names, labels and annotations), the phases Pending → Running → Successful when the
duration has passed, Failed when an analysis fails, the scale-down after `scaleDownDelaySeconds`, the template
Service, and an invalid spec. The AnalysisRuns' outcomes are written here as the AnalysisRun controller would."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest

from rollouts.controller.experimenting import ExperimentReconciler
from rollouts.kube import KubeClient
from rollouts.kube.errors import NotFound
from rollouts.kube.resources import (
    ANALYSIS_RUNS,
    ANALYSIS_TEMPLATES,
    EVENTS,
    EXPERIMENTS,
    REPLICA_SETS,
    SERVICES,
)
from rollouts.models.vocabulary import POD_TEMPLATE_HASH_LABEL
from rollouts.sandbox.running import Sandbox
from tests.controller.test_reconciling import NS, ManualTime, env  # noqa: F401 - env is a fixture
from tests.fixtures.argocd_health import Health, builtin_check

KEY = (NS, "compare")


def template(name: str, image: str, *, service: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": name,
        "replicas": 2,
        "selector": {"matchLabels": {"app": "guestbook", "role": name}},
        "template": {
            "metadata": {"labels": {"app": "guestbook", "role": name}},
            "spec": {
                "containers": [{"name": "guestbook", "image": image, "ports": [{"containerPort": 8080}]}]
            },
        },
    }
    if service:
        out["service"] = {}
    return out


def experiment(**spec: Any) -> dict[str, Any]:
    """Argo's examples/experiment-with-analysis.yaml, shaped down: a baseline and a canary side by side."""
    body: dict[str, Any] = {
        "templates": [
            template("baseline", "argoproj/rollouts-demo:blue"),
            template("canary", "argoproj/rollouts-demo:yellow"),
        ],
        "duration": "1m",
    }
    body.update(spec)
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Experiment",
        "metadata": {"name": "compare"},
        "spec": body,
    }


ANALYSIS_TEMPLATE = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "AnalysisTemplate",
    "metadata": {"name": "compare-hashes"},
    "spec": {
        "args": [{"name": "baseline-hash"}, {"name": "canary-hash"}],
        "metrics": [
            {
                "name": "compare",
                "provider": {
                    "job": {
                        "spec": {
                            "template": {
                                "spec": {
                                    "containers": [{"name": "c", "image": "busybox"}],
                                    "restartPolicy": "Never",
                                }
                            }
                        }
                    }
                },
            }
        ],
    },
}
ANALYSES = [
    {
        "name": "compare",
        "templateName": "compare-hashes",
        "args": [
            {"name": "baseline-hash", "value": "{{templates.baseline.podTemplateHash}}"},
            {"name": "canary-hash", "value": "{{templates.canary.podTemplateHash}}"},
        ],
    }
]


async def drive(
    reconciler: ExperimentReconciler, client: KubeClient, time: ManualTime, until: Any, limit: int = 200
) -> dict[str, Any]:
    """Passes until `until(experiment)`; a requeue is skipped on the clock, otherwise the pods get a moment."""
    ex: dict[str, Any] = {}
    for _ in range(limit):
        requeue = await reconciler.reconcile(KEY)
        ex = await client.get(EXPERIMENTS, "compare", NS)
        if until(ex):
            return ex
        if requeue is not None and requeue > 0.5:
            time.advance(requeue)
        else:  # the pods get a moment; a deadline reached exactly is passed a moment later, as on a real clock
            time.advance(0.001)
            await asyncio.sleep(0.01)
    raise AssertionError(f"not reached; status {ex.get('status')}")


def phase(value: str) -> Any:
    return lambda ex: (ex.get("status") or {}).get("phase") == value


async def test_an_experiment_runs_its_templates_for_its_duration_then_succeeds(
    env: tuple[Sandbox, KubeClient],  # noqa: F811
) -> None:
    _, client = env
    await client.create(EXPERIMENTS, experiment(), NS)
    time = ManualTime()
    reconciler = ExperimentReconciler(client, clock=time)
    running = await drive(reconciler, client, time, phase("Running"))
    status = running["status"]
    assert status["availableAt"]
    health = builtin_check("Experiment")  # Argo CD's own check reads the status as Argo's
    assert health(running) == Health("Progressing", "Experiment is running")
    assert [(t["name"], t["status"], t["availableReplicas"]) for t in status["templateStatuses"]] == [
        ("baseline", "Running", 2),
        ("canary", "Running", 2),
    ]
    rs = await client.get(REPLICA_SETS, "compare-baseline", NS)
    assert rs["metadata"]["annotations"] == {
        "experiment.argoproj.io/name": "compare",
        "experiment.argoproj.io/template-name": "baseline",
    }
    pod_hash = rs["metadata"]["labels"][POD_TEMPLATE_HASH_LABEL]
    assert rs["spec"]["selector"]["matchLabels"] == {
        "app": "guestbook",
        "role": "baseline",
        POD_TEMPLATE_HASH_LABEL: pod_hash,
    }
    (owner,) = rs["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("Experiment", "compare", True)
    (cond,) = status["conditions"]
    assert (cond["type"], cond["status"], cond["reason"]) == ("Progressing", "True", "ReplicaSetUpdated")
    await reconciler.reconcile(KEY)  # the counts no longer move: running
    (cond,) = (await client.get(EXPERIMENTS, "compare", NS))["status"]["conditions"]
    assert (cond["status"], cond["reason"], cond["message"]) == (
        "True",
        "NewReplicaSetAvailable",
        'Experiment "compare" is running.',
    )
    done = await drive(reconciler, client, time, phase("Successful"))
    assert health(done) == Health("Healthy", "Experiment is successful")
    assert done["status"]["conditions"][0]["reason"] == "ExperimentCompleted"
    assert (
        done["status"]["conditions"][0]["message"]
        == 'Experiment "compare" has successfully ran and completed.'
    )
    # the pass after the end sets the scale-down deadline; scaleDownDelaySeconds (30 s by default) later they go
    assert await reconciler.reconcile(KEY) == 30.0
    assert (await client.get(REPLICA_SETS, "compare-baseline", NS))["spec"]["replicas"] == 2
    time.advance(30.001)
    await reconciler.reconcile(KEY)
    assert (await client.get(REPLICA_SETS, "compare-baseline", NS))["spec"]["replicas"] == 0
    reasons = [e["reason"] for e in (await client.list(EVENTS, NS)).items]
    assert {"TemplateRunning", "TemplateSuccessful", "ExperimentRunning", "ExperimentSuccessful"} <= set(
        reasons
    )


async def test_a_failed_analysis_fails_the_experiment(env: tuple[Sandbox, KubeClient]) -> None:  # noqa: F811
    _, client = env
    await client.create(ANALYSIS_TEMPLATES, copy.deepcopy(ANALYSIS_TEMPLATE), NS)
    await client.create(EXPERIMENTS, experiment(analyses=ANALYSES), NS)
    time = ManualTime()
    reconciler = ExperimentReconciler(client, clock=time)
    running = await drive(
        reconciler,
        client,
        time,
        lambda ex: bool((ex.get("status") or {}).get("analysisRuns", [{}])[0].get("analysisRun")),
    )
    (run_status,) = running["status"]["analysisRuns"]
    assert run_status["analysisRun"] == "compare-compare" and run_status["phase"] == "Pending"
    run = await client.get(ANALYSIS_RUNS, "compare-compare", NS)
    baseline_hash = (await client.get(REPLICA_SETS, "compare-baseline", NS))["metadata"]["labels"][
        POD_TEMPLATE_HASH_LABEL
    ]
    assert {"name": "baseline-hash", "value": baseline_hash} in run["spec"]["args"]
    await client.patch(
        ANALYSIS_RUNS,
        "compare-compare",
        {"status": {"phase": "Failed", "message": 'Metric "compare" assessed Failed'}},
        NS,
    )
    failed = await drive(reconciler, client, time, phase("Failed"))
    assert builtin_check("Experiment")(failed) == Health("Degraded", "Experiment has failed")
    assert failed["status"]["message"] == 'Metric "compare" assessed Failed'
    (run_status,) = failed["status"]["analysisRuns"]
    assert run_status["phase"] == "Failed"


async def test_required_analyses_end_the_experiment_without_a_duration(
    env: tuple[Sandbox, KubeClient],  # noqa: F811
) -> None:
    _, client = env
    await client.create(ANALYSIS_TEMPLATES, copy.deepcopy(ANALYSIS_TEMPLATE), NS)
    analyses = [{**ANALYSES[0], "requiredForCompletion": True}]
    body = experiment(analyses=analyses)
    del body["spec"]["duration"]
    await client.create(EXPERIMENTS, body, NS)
    time = ManualTime()
    reconciler = ExperimentReconciler(client, clock=time)
    await drive(
        reconciler,
        client,
        time,
        lambda ex: bool((ex.get("status") or {}).get("analysisRuns", [{}])[0].get("analysisRun")),
    )
    await client.patch(ANALYSIS_RUNS, "compare-compare", {"status": {"phase": "Successful"}}, NS)
    done = await drive(reconciler, client, time, phase("Successful"))
    assert done["status"]["message"] == "Required AnalysisRuns completed"


async def test_a_template_service_follows_its_pods(env: tuple[Sandbox, KubeClient]) -> None:  # noqa: F811
    _, client = env
    body = experiment(templates=[template("canary", "argoproj/rollouts-demo:yellow", service=True)])
    await client.create(EXPERIMENTS, body, NS)
    time = ManualTime()
    reconciler = ExperimentReconciler(client, clock=time)
    running = await drive(reconciler, client, time, phase("Running"))
    (ts,) = running["status"]["templateStatuses"]
    assert ts["serviceName"] == "compare-canary"
    svc = await client.get(SERVICES, "compare-canary", NS)
    assert svc["spec"]["selector"][POD_TEMPLATE_HASH_LABEL] == ts["podTemplateHash"]
    assert [p["port"] for p in svc["spec"]["ports"]] == [8080]
    await client.patch(EXPERIMENTS, "compare", {"spec": {"terminate": True}}, NS)
    await drive(reconciler, client, time, phase("Successful"))
    await reconciler.reconcile(KEY)  # the scale-down deadline
    time.advance(30.001)
    for _ in range(5):  # scaled to 0; once no pod is available the Service goes
        await reconciler.reconcile(KEY)
        await asyncio.sleep(0.05)
    with pytest.raises(NotFound):
        await client.get(SERVICES, "compare-canary", NS)


@pytest.mark.parametrize(
    ("templates", "message"),
    [
        (
            [template("a", "x"), template("a", "y")],
            "Experiment compare has repeated template name 'a' in templates",
        ),
        (
            [{**template("a", "x"), "selector": {}}],
            "This experiment is selecting all pods at index 0. A non-empty selector is required.",
        ),
    ],
    ids=["repeated-name", "select-all"],
)
async def test_an_invalid_spec_is_a_condition_and_nothing_runs(
    env: tuple[Sandbox, KubeClient],  # noqa: F811
    templates: list[dict[str, Any]],
    message: str,
) -> None:
    _, client = env
    await client.create(EXPERIMENTS, experiment(templates=templates), NS)
    await ExperimentReconciler(client, clock=ManualTime()).reconcile(KEY)
    status = (await client.get(EXPERIMENTS, "compare", NS))["status"]
    (cond,) = status["conditions"]
    assert (cond["type"], cond["reason"], cond["message"]) == ("InvalidSpec", "InvalidSpec", message)
    assert (await client.list(REPLICA_SETS, NS)).items == []


async def test_a_template_the_api_server_refuses_is_an_error(env: tuple[Sandbox, KubeClient]) -> None:  # noqa: F811
    """A selector that does not match the template's labels: the API server refuses the ReplicaSet, the template
    and then the Experiment are in Error with the refusal (Argo's createReplicaSetForTemplate)."""
    _, client = env
    bad = template("canary", "argoproj/rollouts-demo:yellow")
    bad["selector"] = {"matchLabels": {"app": "other"}}
    await client.create(EXPERIMENTS, experiment(templates=[bad]), NS)
    time = ManualTime()
    reconciler = ExperimentReconciler(client, clock=time)
    failed = await drive(reconciler, client, time, phase("Error"))
    (ts,) = failed["status"]["templateStatuses"]
    assert ts["status"] == "Error"
    assert ts["message"].startswith("Failed to create ReplicaSet for template 'canary': ")
    assert "does not match template" in ts["message"]
    assert failed["status"]["message"] == ts["message"]
