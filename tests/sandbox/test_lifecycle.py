"""Deletion: finalizers, ownerReference garbage collection (cascading, orphan), namespaces, CRDs,
preconditions, deletecollection; and optimistic concurrency under racing writers."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from rollouts.sandbox import Sandbox
from tests.sandbox.helpers import (
    NS,
    AppsApi,
    CoreApi,
    CustomObjects,
    G,
    P,
    V,
    replicaset,
    rollout,
    status_body,
    wait_until,
)


def owned_by(
    obj: dict[str, Any], kind: str = "Rollout", api_version: str = f"{G}/{V}"
) -> list[dict[str, Any]]:
    m = obj["metadata"]
    return [{"apiVersion": api_version, "kind": kind, "name": m["name"], "uid": m["uid"], "controller": True}]


def exists(fn: Any, *args: Any) -> bool:
    try:
        fn(*args)
    except ApiException as e:
        assert e.status == 404
        return False
    return True


def test_finalizers_hold_the_object_until_removed(co: CustomObjects) -> None:
    body = rollout("fin")
    body["metadata"]["finalizers"] = ["example.com/cleanup"]
    co.create_namespaced_custom_object(G, V, NS, P, body)
    deleted = co.delete_namespaced_custom_object(G, V, NS, P, "fin")
    assert deleted["metadata"]["deletionTimestamp"]
    again = co.delete_namespaced_custom_object(G, V, NS, P, "fin")  # idempotent while terminating
    assert again["metadata"]["resourceVersion"] == deleted["metadata"]["resourceVersion"]
    co.patch_namespaced_custom_object(G, V, NS, P, "fin", {"metadata": {"finalizers": None}})
    assert not exists(co.get_namespaced_custom_object, G, V, NS, P, "fin")


@pytest.mark.sandbox(pod_ready_delay=0.0)
def test_cascading_gc_rollout_to_replicasets_to_pods(
    sandbox: Sandbox, co: CustomObjects, apps: AppsApi, core: CoreApi
) -> None:
    ro = co.create_namespaced_custom_object(G, V, NS, P, rollout("owner"))
    rs = replicaset("owner-abc", 2)
    rs["metadata"]["ownerReferences"] = owned_by(ro)
    apps.create_namespaced_replica_set(NS, rs)
    wait_until(
        lambda: len(core.list_namespaced_pod(NS, label_selector="app=owner-abc").items) == 2, what="2 pods"
    )
    ar = {
        "apiVersion": f"{G}/{V}",
        "kind": "AnalysisRun",
        "metadata": {"name": "owner-run", "ownerReferences": owned_by(ro)},
        "spec": {"metrics": []},
    }
    co.create_namespaced_custom_object(G, V, NS, "analysisruns", ar)
    co.delete_namespaced_custom_object(G, V, NS, P, "owner")
    assert not exists(apps.read_namespaced_replica_set, "owner-abc", NS)
    assert not exists(co.get_namespaced_custom_object, G, V, NS, "analysisruns", "owner-run")
    assert core.list_namespaced_pod(NS).items == []


def test_orphan_propagation_keeps_dependents(co: CustomObjects, apps: AppsApi) -> None:
    ro = co.create_namespaced_custom_object(G, V, NS, P, rollout("orph"))
    rs = replicaset("orph-abc", 0)
    rs["metadata"]["ownerReferences"] = owned_by(ro)
    apps.create_namespaced_replica_set(NS, rs)
    co.delete_namespaced_custom_object(G, V, NS, P, "orph", propagation_policy="Orphan")
    kept = apps.read_namespaced_replica_set("orph-abc", NS)
    assert not kept.metadata.owner_references


def test_dependent_with_another_live_owner_survives(co: CustomObjects, apps: AppsApi) -> None:
    a = co.create_namespaced_custom_object(G, V, NS, P, rollout("a"))
    b = co.create_namespaced_custom_object(G, V, NS, P, rollout("b"))
    rs = replicaset("shared", 0)
    rs["metadata"]["ownerReferences"] = [*owned_by(a), dict(owned_by(b)[0], controller=False)]
    apps.create_namespaced_replica_set(NS, rs)
    co.delete_namespaced_custom_object(G, V, NS, P, "a")
    refs = apps.read_namespaced_replica_set("shared", NS).metadata.owner_references
    assert [r.name for r in refs] == ["b"]
    co.delete_namespaced_custom_object(G, V, NS, P, "b")
    assert not exists(apps.read_namespaced_replica_set, "shared", NS)


def test_delete_preconditions(co: CustomObjects) -> None:
    co.create_namespaced_custom_object(G, V, NS, P, rollout("pre"))
    with pytest.raises(ApiException) as info:
        co.delete_namespaced_custom_object(
            G,
            V,
            NS,
            P,
            "pre",
            body=client.V1DeleteOptions(preconditions=client.V1Preconditions(resource_version="1")),
        )
    assert info.value.status == 409
    assert exists(co.get_namespaced_custom_object, G, V, NS, P, "pre")


def test_deletecollection_with_selector(co: CustomObjects) -> None:
    for name, team in (("d1", "a"), ("d2", "a"), ("d3", "b")):
        co.create_namespaced_custom_object(G, V, NS, P, rollout(name, {"team": team}))
    co.delete_collection_namespaced_custom_object(G, V, NS, P, label_selector="team=a")
    names = [i["metadata"]["name"] for i in co.list_namespaced_custom_object(G, V, NS, P)["items"]]
    assert names == ["d3"]


def test_deleting_a_namespace_deletes_its_contents(co: CustomObjects, core: CoreApi) -> None:
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="team-x")))
    assert core.read_namespace("team-x").status.phase == "Active"
    co.create_namespaced_custom_object(G, V, "team-x", P, rollout("inside"))
    core.delete_namespace("team-x")
    assert not exists(co.get_namespaced_custom_object, G, V, "team-x", P, "inside")
    assert not exists(core.read_namespace, "team-x")


def test_deleting_a_crd_stops_serving_it(co: CustomObjects, sandbox_api_client: client.ApiClient) -> None:
    ext: Any = client.ApiextensionsV1Api(sandbox_api_client)
    co.create_namespaced_custom_object(G, V, NS, P, rollout("gone"))
    ext.delete_custom_resource_definition(f"{P}.{G}")
    with pytest.raises(ApiException) as info:
        co.list_namespaced_custom_object(G, V, NS, P)
    assert info.value.status == 404


def test_crd_with_wrong_name_is_invalid(sandbox_api_client: client.ApiClient) -> None:
    ext: Any = client.ApiextensionsV1Api(sandbox_api_client)
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "wrong.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "things", "kind": "Thing"},
            "versions": [{"name": "v1", "served": True, "storage": True}],
        },
    }
    with pytest.raises(ApiException) as info:
        ext.create_custom_resource_definition(crd)
    assert info.value.status == 422
    assert "things.example.com" in status_body(info.value)["message"]


@pytest.mark.parametrize("verb", ["replace", "patch"])
def test_racing_writers_exactly_one_wins(co: CustomObjects, verb: str) -> None:
    base = co.create_namespaced_custom_object(G, V, NS, P, rollout("race"))
    rv = base["metadata"]["resourceVersion"]
    writers = 8
    barrier = threading.Barrier(writers)
    outcomes: list[int] = []
    lock = threading.Lock()

    def write(i: int) -> None:
        barrier.wait()
        try:
            if verb == "replace":
                body = dict(base, spec=dict(base["spec"], replicas=10 + i))
                co.replace_namespaced_custom_object(G, V, NS, P, "race", body)
            else:
                co.patch_namespaced_custom_object(
                    G, V, NS, P, "race", {"metadata": {"resourceVersion": rv}, "spec": {"replicas": 10 + i}}
                )
            code = 200
        except ApiException as e:
            code = e.status
        with lock:
            outcomes.append(code)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(outcomes) == [200] + [409] * (writers - 1)
    final = co.get_namespaced_custom_object(G, V, NS, P, "race")
    assert final["metadata"]["generation"] == 2


def test_create_in_a_missing_namespace_when_namespaces_are_strict(sandbox_factory: Any) -> None:
    sb = sandbox_factory(auto_namespaces=False)
    co = client.CustomObjectsApi(client.ApiClient(client.Configuration(host=sb.url)))
    with pytest.raises(ApiException) as info:
        co.create_namespaced_custom_object(G, V, "nowhere", P, rollout("r"))
    assert info.value.status == 404
    assert status_body(info.value)["message"] == 'namespaces "nowhere" not found'


def test_an_invalid_create_leaves_no_namespace_behind(co: CustomObjects, core: CoreApi) -> None:
    with pytest.raises(ApiException) as info:
        co.create_namespaced_custom_object(G, V, "fresh", P, rollout("Not_Valid"))
    assert info.value.status == 422
    assert "fresh" not in {n.metadata.name for n in core.list_namespace().items}
    co.create_namespaced_custom_object(G, V, "fresh", P, rollout("valid"))
    assert core.read_namespace("fresh").status.phase == "Active"


def test_namespaces_carry_their_name_label(core: CoreApi) -> None:
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="labelled")))
    names = [
        n.metadata.name
        for n in core.list_namespace(label_selector="kubernetes.io/metadata.name=labelled").items
    ]
    assert names == ["labelled"]
