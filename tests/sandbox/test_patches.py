"""Patch formats (merge, JSON, strategic merge, apply) and the status/scale subresources."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from rollouts.sandbox.patching import merge_patch, strategic_merge
from tests.sandbox.helpers import NS, AppsApi, CustomObjects, G, P, V, replicaset, rollout

C1 = {"name": "app", "image": "a:1", "ports": [{"containerPort": 80, "name": "http"}]}
C2 = {"name": "side", "image": "s:1"}


@pytest.mark.parametrize(
    ("target", "patch", "expected"),
    [
        pytest.param(
            {"a": 1, "b": {"c": 2}}, {"b": {"d": 3}}, {"a": 1, "b": {"c": 2, "d": 3}}, id="maps-merge"
        ),
        pytest.param({"a": 1, "b": 2}, {"b": None}, {"a": 1}, id="null-deletes"),
        pytest.param({"l": [1, 2]}, {"l": [3]}, {"l": [3]}, id="lists-replace"),
        pytest.param({"a": {"b": 1}}, {"a": 5}, {"a": 5}, id="scalar-replaces-map"),
    ],
)
def test_merge_patch(target: Any, patch: Any, expected: Any) -> None:
    assert merge_patch(target, patch) == expected


@pytest.mark.parametrize(
    ("target", "patch", "expected"),
    [
        pytest.param(
            {"containers": [C1, C2]},
            {"containers": [{"name": "app", "image": "a:2"}]},
            {"containers": [dict(C1, image="a:2"), C2]},
            id="containers-merge-by-name",
        ),
        pytest.param(
            {"containers": [C1]},
            {"containers": [{"name": "new", "image": "n:1"}]},
            {"containers": [C1, {"name": "new", "image": "n:1"}]},
            id="unknown-name-appends",
        ),
        pytest.param(
            {"containers": [C1, C2]},
            {"containers": [{"name": "side", "$patch": "delete"}]},
            {"containers": [C1]},
            id="patch-delete-item",
        ),
        pytest.param(
            {"ports": [{"containerPort": 80, "name": "http"}]},
            {"ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 90}]},
            {"ports": [{"containerPort": 80, "name": "http", "protocol": "TCP"}, {"containerPort": 90}]},
            id="container-ports-by-containerPort",
        ),
        pytest.param(
            {"ports": [{"port": 80, "targetPort": 8080}]},
            {"ports": [{"port": 80, "targetPort": 9090}]},
            {"ports": [{"port": 80, "targetPort": 9090}]},
            id="service-ports-by-port",
        ),
        pytest.param(
            {"env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
            {"env": [{"name": "B", "value": "3"}]},
            {"env": [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}]},
            id="env-by-name",
        ),
        pytest.param({"args": ["a", "b"]}, {"args": ["c"]}, {"args": ["c"]}, id="other-lists-replace"),
        pytest.param(
            {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}},
            {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}},
            {"strategy": {"type": "Recreate"}},
            id="retainKeys",
        ),
        pytest.param(
            {"m": {"a": 1, "b": 2}},
            {"m": {"$patch": "replace", "c": 3}},
            {"m": {"c": 3}},
            id="patch-replace-map",
        ),
        pytest.param(
            {"finalizers": ["a", "b"]},
            {"$deleteFromPrimitiveList/finalizers": ["a"]},
            {"finalizers": ["b"]},
            id="deleteFromPrimitiveList",
        ),
    ],
)
def test_strategic_merge(target: Any, patch: Any, expected: Any) -> None:
    before = json.dumps(target, sort_keys=True)
    assert strategic_merge(target, patch) == expected
    assert json.dumps(target, sort_keys=True) == before  # inputs are never mutated


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=2), children, max_size=3)
    ),
    max_leaves=8,
)
json_objects = st.dictionaries(st.text(max_size=2), json_values, max_size=4)


@given(json_objects, json_objects)
def test_merge_patch_is_idempotent_and_pure(target: dict[str, Any], patch: dict[str, Any]) -> None:
    snapshot = json.dumps(target, sort_keys=True)
    once = merge_patch(target, patch)
    assert merge_patch(once, patch) == once
    assert json.dumps(target, sort_keys=True) == snapshot


def test_json_patch_and_failing_test_op(co: CustomObjects) -> None:
    co.create_namespaced_custom_object(G, V, NS, P, rollout("jp"))
    ops = [
        {"op": "test", "path": "/spec/replicas", "value": 3},
        {"op": "replace", "path": "/spec/replicas", "value": 4},
    ]
    got = co.patch_namespaced_custom_object(
        G, V, NS, P, "jp", ops, _content_type="application/json-patch+json"
    )
    assert got["spec"]["replicas"] == 4
    with pytest.raises(ApiException) as info:
        co.patch_namespaced_custom_object(G, V, NS, P, "jp", ops, _content_type="application/json-patch+json")
    assert info.value.status == 422
    assert co.get_namespaced_custom_object(G, V, NS, P, "jp")["spec"]["replicas"] == 4


def test_json_patch_to_a_stale_version_conflicts(co: CustomObjects) -> None:
    co.create_namespaced_custom_object(G, V, NS, P, rollout("jpv"))
    ops = [{"op": "replace", "path": "/metadata/resourceVersion", "value": "1"}]
    with pytest.raises(ApiException) as info:
        co.patch_namespaced_custom_object(
            G, V, NS, P, "jpv", ops, _content_type="application/json-patch+json"
        )
    assert info.value.status == 409


def test_strategic_merge_patch_of_a_replicaset_merges_containers(apps: AppsApi) -> None:
    body = replicaset("smp", 0)
    body["spec"]["template"]["spec"]["containers"].append({"name": "side", "image": "s:1"})
    apps.create_namespaced_replica_set(NS, body)
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:2"}]}}}}
    rs = apps.patch_namespaced_replica_set("smp", NS, patch)
    assert [(c.name, c.image) for c in rs.spec.template.spec.containers] == [
        ("app", "nginx:2"),
        ("side", "s:1"),
    ]
    assert rs.metadata.generation == 2


def test_apply_patch_creates_then_merges(sandbox_api_client: client.ApiClient) -> None:
    path = f"/apis/{G}/{V}/namespaces/{NS}/{P}/ssa"
    headers = {"Content-Type": "application/apply-patch+yaml", "Accept": "application/json"}

    def apply(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        resp = sandbox_api_client.rest_client.pool_manager.request(
            "PATCH",
            sandbox_api_client.configuration.host + path + "?fieldManager=test",
            body=json.dumps(body),
            headers=headers,
        )
        return resp.status, json.loads(resp.data)

    status, obj = apply(rollout("ssa"))
    assert status == 201 and obj["spec"]["replicas"] == 3
    status, obj = apply({"apiVersion": f"{G}/{V}", "kind": "Rollout", "spec": {"replicas": 5}})
    assert status == 200 and obj["spec"]["replicas"] == 5 and obj["spec"]["strategy"]


def test_unsupported_patch_type_is_415(sandbox_api_client: client.ApiClient, co: CustomObjects) -> None:
    co.create_namespaced_custom_object(G, V, NS, P, rollout("ct"))
    resp = sandbox_api_client.rest_client.pool_manager.request(
        "PATCH",
        f"{sandbox_api_client.configuration.host}/apis/{G}/{V}/namespaces/{NS}/{P}/ct",
        body=b"{}",
        headers={"Content-Type": "text/plain"},
    )
    assert resp.status == 415 and json.loads(resp.data)["reason"] == "UnsupportedMediaType"


def test_status_subresource_is_isolated(co: CustomObjects) -> None:
    body = rollout("st")
    body["status"] = {"phase": "ignored-on-create"}
    created = co.create_namespaced_custom_object(G, V, NS, P, body)
    assert "status" not in created
    co.patch_namespaced_custom_object_status(
        G,
        V,
        NS,
        P,
        "st",
        {"status": {"phase": "Paused"}, "spec": {"replicas": 99}, "metadata": {"labels": {"x": "y"}}},
    )
    got = co.get_namespaced_custom_object(G, V, NS, P, "st")
    assert got["status"] == {"phase": "Paused"}
    assert got["spec"]["replicas"] == 3 and not got["metadata"].get("labels")
    co.patch_namespaced_custom_object(G, V, NS, P, "st", {"status": {"phase": "Hacked"}})
    assert co.get_namespaced_custom_object(G, V, NS, P, "st")["status"] == {"phase": "Paused"}


def test_replicaset_scale_subresource(apps: AppsApi) -> None:
    apps.create_namespaced_replica_set(NS, replicaset("sc", 2))
    scale = apps.read_namespaced_replica_set_scale("sc", NS)
    assert scale.spec.replicas == 2
    assert scale.status.selector == "app=sc,rollouts-pod-template-hash=abc"
    apps.patch_namespaced_replica_set_scale("sc", NS, {"spec": {"replicas": 5}})
    assert apps.read_namespaced_replica_set("sc", NS).spec.replicas == 5
    stale = client.V1Scale(
        metadata=client.V1ObjectMeta(name="sc", resource_version="1"), spec=client.V1ScaleSpec(replicas=1)
    )
    with pytest.raises(ApiException) as info:
        apps.replace_namespaced_replica_set_scale("sc", NS, stale)
    assert info.value.status == 409


def test_rollout_scale_follows_the_crd_paths(co: CustomObjects) -> None:
    co.create_namespaced_custom_object(G, V, NS, P, rollout("rsc"))
    co.patch_namespaced_custom_object_status(
        G, V, NS, P, "rsc", {"status": {"HPAReplicas": 2, "selector": "app=x"}}
    )
    scale = co.get_namespaced_custom_object_scale(G, V, NS, P, "rsc")
    assert (scale["kind"], scale["spec"]["replicas"], scale["status"]) == (
        "Scale",
        3,
        {"replicas": 2, "selector": "app=x"},
    )
    co.patch_namespaced_custom_object_scale(G, V, NS, P, "rsc", {"spec": {"replicas": 6}})
    assert co.get_namespaced_custom_object(G, V, NS, P, "rsc")["spec"]["replicas"] == 6


def test_fields_outside_the_crd_schema_are_pruned(co: CustomObjects) -> None:
    body = rollout("pruned")
    body["spec"]["notInSchema"] = 1
    body["spec"]["template"] = {"metadata": {"labels": {"a": "b"}}, "anything": {"kept": True}}
    created = co.create_namespaced_custom_object(G, V, NS, P, body)
    assert "notInSchema" not in created["spec"]
    assert created["spec"]["template"]["anything"] == {"kept": True}  # preserve-unknown-fields
    got = co.patch_namespaced_custom_object_status(
        G, V, NS, P, "pruned", {"status": {"phase": "Healthy", "bogus": 1}}
    )
    assert got["status"] == {"phase": "Healthy"}


@pytest.mark.parametrize(
    ("value", "schema", "expected"),
    [
        pytest.param(
            {"a": 1, "b": 2}, {"type": "object", "properties": {"a": {}}}, {"a": 1}, id="unknown-dropped"
        ),
        pytest.param(
            {"a": {"x": 1}},
            {
                "type": "object",
                "properties": {"a": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
            },
            {"a": {"x": 1}},
            id="preserved",
        ),
        pytest.param(
            {"m": {"k": {"v": 1, "w": 2}}},
            {
                "type": "object",
                "properties": {
                    "m": {
                        "type": "object",
                        "additionalProperties": {"type": "object", "properties": {"v": {}}},
                    }
                },
            },
            {"m": {"k": {"v": 1}}},
            id="additionalProperties",
        ),
        pytest.param(
            {"l": [{"a": 1, "z": 0}]},
            {
                "type": "object",
                "properties": {"l": {"type": "array", "items": {"type": "object", "properties": {"a": {}}}}},
            },
            {"l": [{"a": 1}]},
            id="items",
        ),
        pytest.param(
            {"metadata": {"x": 1}, "kind": "K"},
            {"type": "object", "properties": {}},
            {"metadata": {"x": 1}, "kind": "K"},
            id="root-metadata-kept",
        ),
    ],
)
def test_prune(value: dict[str, Any], schema: dict[str, Any], expected: dict[str, Any]) -> None:
    from rollouts.sandbox.pruning import prune

    assert prune(value, schema) == expected
