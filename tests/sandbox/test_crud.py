"""CRUD, versions, generation and error bodies through the real `kubernetes` client."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from rollouts.sandbox import Sandbox
from tests.sandbox.helpers import NS, CoreApi, CustomObjects, G, P, V, rollout, status_body


def status_of(e: ApiException) -> dict[str, Any]:
    return status_body(e)


def test_create_fills_server_metadata(co: CustomObjects) -> None:
    obj = co.create_namespaced_custom_object(G, V, NS, P, rollout("r1"))
    meta = obj["metadata"]
    assert meta["namespace"] == NS
    assert meta["generation"] == 1
    assert meta["resourceVersion"].isdigit()
    assert meta["uid"] and meta["creationTimestamp"].endswith("Z")


def test_not_found_body_is_a_real_status(co: CustomObjects) -> None:
    with pytest.raises(ApiException) as info:
        co.get_namespaced_custom_object(G, V, NS, P, "missing")
    body = status_of(info.value)
    assert info.value.status == 404
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'rollouts.argoproj.io "missing" not found',
        "reason": "NotFound",
        "details": {"name": "missing", "group": "argoproj.io", "kind": "rollouts"},
        "code": 404,
    }


def test_duplicate_create_is_already_exists(co: CustomObjects) -> None:
    co.create_namespaced_custom_object(G, V, NS, P, rollout("dup"))
    with pytest.raises(ApiException) as info:
        co.create_namespaced_custom_object(G, V, NS, P, rollout("dup"))
    assert (info.value.status, status_of(info.value)["reason"]) == (409, "AlreadyExists")


def test_generation_bumps_on_spec_only_and_noop_writes_change_nothing(co: CustomObjects) -> None:
    created = co.create_namespaced_custom_object(G, V, NS, P, rollout("gen"))
    rv0 = created["metadata"]["resourceVersion"]
    same = co.patch_namespaced_custom_object(G, V, NS, P, "gen", {"spec": {"replicas": 3}})
    assert same["metadata"]["resourceVersion"] == rv0  # no-op: no new version
    labelled = co.patch_namespaced_custom_object(G, V, NS, P, "gen", {"metadata": {"labels": {"a": "b"}}})
    assert labelled["metadata"]["generation"] == 1
    assert int(labelled["metadata"]["resourceVersion"]) > int(rv0)
    scaled = co.patch_namespaced_custom_object(G, V, NS, P, "gen", {"spec": {"replicas": 4}})
    assert scaled["metadata"]["generation"] == 2
    status = co.patch_namespaced_custom_object_status(G, V, NS, P, "gen", {"status": {"phase": "Healthy"}})
    assert status["metadata"]["generation"] == 2


def test_stale_put_is_conflict(co: CustomObjects) -> None:
    obj = co.create_namespaced_custom_object(G, V, NS, P, rollout("stale"))
    co.patch_namespaced_custom_object(G, V, NS, P, "stale", {"spec": {"replicas": 1}})
    obj["spec"]["replicas"] = 2
    with pytest.raises(ApiException) as info:
        co.replace_namespaced_custom_object(G, V, NS, P, "stale", obj)
    body = status_of(info.value)
    assert (info.value.status, body["reason"]) == (409, "Conflict")
    assert body["message"].startswith('Operation cannot be fulfilled on rollouts.argoproj.io "stale"')


def test_generate_name(co: CustomObjects) -> None:
    body = rollout("x")
    del body["metadata"]["name"]
    body["metadata"]["generateName"] = "ar-"
    obj = co.create_namespaced_custom_object(G, V, NS, P, body)
    assert obj["metadata"]["name"].startswith("ar-") and len(obj["metadata"]["name"]) == 8


def test_sync_helpers_share_the_store(sandbox: Sandbox, co: CustomObjects) -> None:
    sandbox.create(rollout("helper"))
    assert co.get_namespaced_custom_object(G, V, NS, P, "helper")["spec"]["replicas"] == 3
    got = sandbox.get(f"{G}/{V}", "Rollout", "helper")
    assert got is not None
    got["spec"]["replicas"] = 99  # a copy: the stored object is untouched
    assert co.get_namespaced_custom_object(G, V, NS, P, "helper")["spec"]["replicas"] == 3


def test_put_of_a_custom_resource_needs_a_resource_version(co: CustomObjects) -> None:
    obj = co.create_namespaced_custom_object(G, V, NS, P, rollout("uncond"))
    del obj["metadata"]["resourceVersion"]
    with pytest.raises(ApiException) as info:
        co.replace_namespaced_custom_object(G, V, NS, P, "uncond", obj)
    assert info.value.status == 422
    assert "metadata.resourceVersion" in status_of(info.value)["message"]


def test_put_of_a_builtin_may_be_unconditional(core: CoreApi) -> None:
    core.create_namespaced_config_map(
        NS, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="cm"), data={"a": "1"})
    )
    replaced = core.replace_namespaced_config_map(
        "cm", NS, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="cm"), data={"a": "2"})
    )
    assert replaced.data == {"a": "2"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("POST", f"/apis/{G}/{V}/namespaces/{NS}/{P}/named", id="post-to-a-name"),
        pytest.param("PUT", f"/apis/{G}/{V}/namespaces/{NS}/{P}", id="put-to-a-collection"),
    ],
)
def test_wrong_method_is_405(sandbox: Sandbox, method: str, path: str) -> None:
    import urllib3

    resp = urllib3.PoolManager().request(
        method, sandbox.url + path, body=b"{}", headers={"Content-Type": "application/json"}
    )
    assert resp.status == 405
    assert json.loads(resp.data)["reason"] == "MethodNotAllowed"


def test_without_a_status_subresource_status_is_content(sandbox: Sandbox, co: CustomObjects) -> None:
    sandbox.create(
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "things.example.com"},
            "spec": {
                "group": "example.com",
                "scope": "Namespaced",
                "names": {"plural": "things", "kind": "Thing"},
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "schema": {
                            "openAPIV3Schema": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            }
                        },
                    }
                ],
            },
        }
    )
    thing = {"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "t"}, "spec": {"a": 1}}
    co.create_namespaced_custom_object("example.com", "v1", NS, "things", thing)
    got = co.patch_namespaced_custom_object("example.com", "v1", NS, "things", "t", {"status": {"x": "y"}})
    assert got["status"] == {"x": "y"}
    assert got["metadata"]["generation"] == 2
