"""The workload simulator: ReplicaSet pods and status, readiness delays, never-ready pods, minReadySeconds,
scripted Jobs and Deployments — observed through the real client like a controller would."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from rollouts.sandbox import Sandbox
from rollouts.sandbox.objects import parse_duration
from tests.sandbox.helpers import NS, AppsApi, CoreApi, new_watch, replicaset, wait_until


def rs_status(apps: AppsApi, name: str) -> dict[str, Any]:
    status: dict[str, Any] = apps.read_namespaced_replica_set(name, NS).to_dict()["status"]
    return {k: v for k, v in status.items() if v is not None}


@pytest.mark.sandbox(pod_ready_delay=0.0)
def test_replicaset_gets_ready_pods_and_true_status(apps: AppsApi, core: CoreApi) -> None:
    apps.create_namespaced_replica_set(NS, replicaset("web", 3))
    want = {
        "replicas": 3,
        "fully_labeled_replicas": 3,
        "ready_replicas": 3,
        "available_replicas": 3,
        "observed_generation": 1,
    }
    wait_until(lambda: rs_status(apps, "web") == want, what="3 ready replicas")
    pods = core.list_namespaced_pod(NS, label_selector="app=web,rollouts-pod-template-hash=abc").items
    assert len(pods) == 3
    for pod in pods:
        assert pod.metadata.owner_references[0].kind == "ReplicaSet"
        assert pod.metadata.owner_references[0].controller is True
        assert pod.status.phase == "Running"
        assert {c.type: c.status for c in pod.status.conditions}["Ready"] == "True"
        assert pod.status.container_statuses[0].restart_count == 0
    apps.patch_namespaced_replica_set("web", NS, {"spec": {"replicas": 1}})
    wait_until(
        lambda: (
            rs_status(apps, "web").get("observed_generation") == 2 and rs_status(apps, "web")["replicas"] == 1
        ),
        what="scaled down",
    )
    assert len(core.list_namespaced_pod(NS).items) == 1


@pytest.mark.sandbox(pod_ready_delay=0.0)
def test_scale_to_zero_omits_zero_counts(apps: AppsApi) -> None:
    apps.create_namespaced_replica_set(NS, replicaset("zero", 0))
    wait_until(
        lambda: rs_status(apps, "zero") == {"replicas": 0, "observed_generation": 1}, what="empty status"
    )


@pytest.mark.sandbox(pod_ready_delay=0.0)
def test_never_ready_pods_stay_unready(apps: AppsApi, core: CoreApi) -> None:
    apps.create_namespaced_replica_set(
        NS, replicaset("stuck", 2, annotations={"sandbox.rollouts.io/never-ready": "true"})
    )
    wait_until(
        lambda: (
            all(p.status.phase == "Running" for p in core.list_namespaced_pod(NS).items)
            and len(core.list_namespaced_pod(NS).items) == 2
        ),
        what="running pods",
    )
    assert rs_status(apps, "stuck") == {"replicas": 2, "fully_labeled_replicas": 2, "observed_generation": 1}
    pod = core.list_namespaced_pod(NS).items[0]
    assert {c.type: c.status for c in pod.status.conditions}["Ready"] == "False"


@pytest.mark.sandbox(pod_ready_delay=0.0, time_scale=0.1)
def test_min_ready_seconds_delays_availability(apps: AppsApi) -> None:
    created = apps.create_namespaced_replica_set(NS, replicaset("slow", 2, minReadySeconds=5))
    wait_until(lambda: rs_status(apps, "slow").get("available_replicas") == 2, timeout=10, what="available")
    # The status history, in order: ready pods were reported before they counted as available
    # (5 simulated seconds = 0.5 s here).
    history = []
    w = new_watch()
    for ev in w.stream(
        apps.list_namespaced_replica_set,
        NS,
        resource_version=created.metadata.resource_version,
        timeout_seconds=1,
        _request_timeout=10,
    ):
        st = ev["object"].status
        history.append((st.ready_replicas or 0, st.available_replicas or 0))
        if st.available_replicas == 2:
            w.stop()
    assert (2, 0) in history
    assert history.index((2, 0)) < history.index((2, 2))


def job(name: str, outcome: str | None = None, duration: str = "1s") -> dict[str, Any]:
    annotations = {"sandbox.rollouts.io/job-duration": duration}
    if outcome:
        annotations["sandbox.rollouts.io/job-outcome"] = outcome
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}
            }
        },
    }


@pytest.mark.sandbox(time_scale=0.02)
@pytest.mark.parametrize(
    ("outcome", "field", "condition"),
    [
        pytest.param(None, "succeeded", "Complete", id="default-succeeds"),
        pytest.param("succeeded", "succeeded", "Complete", id="succeeded"),
        pytest.param("failed", "failed", "Failed", id="failed"),
    ],
)
def test_jobs_finish_with_the_scripted_outcome(
    sandbox: Sandbox, sandbox_api_client: client.ApiClient, outcome: str | None, field: str, condition: str
) -> None:
    batch: Any = client.BatchV1Api(sandbox_api_client)
    batch.create_namespaced_job(NS, job("j", outcome))
    running = wait_until(lambda: batch.read_namespaced_job_status("j", NS).status.start_time, what="started")
    assert running
    done = wait_until(
        lambda: (s := batch.read_namespaced_job_status("j", NS).status) and s.conditions and s,
        what="finished",
    )
    assert getattr(done, field) == 1
    assert {c.type: c.status for c in done.conditions}[condition] == "True"
    assert (done.completion_time is not None) == (condition == "Complete")


@pytest.mark.sandbox(pod_ready_delay=0.0)
def test_deployment_rolls_to_a_new_replicaset(apps: AppsApi) -> None:
    labels = {"app": "d"}
    dep = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="d"),
        spec=client.V1DeploymentSpec(
            replicas=2,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="v1")]),
            ),
        ),
    )
    apps.create_namespaced_deployment(NS, dep)
    wait_until(
        lambda: apps.read_namespaced_deployment("d", NS).status.available_replicas == 2, what="available"
    )
    apps.patch_namespaced_deployment(
        "d", NS, {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "v2"}]}}}}
    )

    def rolled() -> bool:
        rss = apps.list_namespaced_replica_set(NS).items
        by_image = {r.spec.template.spec.containers[0].image: r.spec.replicas for r in rss}
        status = apps.read_namespaced_deployment("d", NS).status
        return (
            by_image == {"v1": 0, "v2": 2} and status.updated_replicas == 2 and status.available_replicas == 2
        )

    wait_until(rolled, what="rolled to v2")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        pytest.param("500ms", 0.5, id="ms"),
        pytest.param("2s", 2.0, id="s"),
        pytest.param("1m", 60.0, id="m"),
        pytest.param("1.5", 1.5, id="bare"),
        pytest.param("1h", 3600.0, id="h"),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_parse_duration_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="invalid duration 'soon'"):
        parse_duration("soon")


@pytest.mark.sandbox(pod_ready_delay=0.0)
def test_a_deleted_pod_is_replaced_on_the_node(apps: AppsApi, core: CoreApi) -> None:
    apps.create_namespaced_replica_set(NS, replicaset("heal", 2))
    first = wait_until(
        lambda: (pods := core.list_namespaced_pod(NS).items) and len(pods) == 2 and pods, what="2 pods"
    )
    assert {p.spec.node_name for p in first} == {"sandbox-node"}
    assert core.read_node("sandbox-node").status.conditions[0].type == "Ready"
    core.delete_namespaced_pod(first[0].metadata.name, NS)

    def replaced() -> bool:
        names = {p.metadata.name for p in core.list_namespaced_pod(NS).items}
        return len(names) == 2 and first[0].metadata.name not in names

    wait_until(replaced, what="a replacement pod")
    wait_until(lambda: rs_status(apps, "heal").get("available_replicas") == 2, what="available again")
