"""Discovery documents, the DynamicClient, URL grammar edge cases, and selectors."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kubernetes import client, dynamic
from kubernetes.client.exceptions import ApiException

from rollouts.sandbox.errors import ApiError
from rollouts.sandbox.selectors import Selector
from tests.sandbox.helpers import NS, AppsApi, CustomObjects, G, P, V, rollout, status_body


def get(api: client.ApiClient, path: str) -> tuple[int, Any]:
    resp = api.rest_client.pool_manager.request("GET", api.configuration.host + path)
    return resp.status, json.loads(resp.data)


def test_resource_lists_carry_short_names_verbs_and_subresources(
    sandbox_api_client: client.ApiClient,
) -> None:
    _, doc = get(sandbox_api_client, f"/apis/{G}/{V}")
    by_name = {r["name"]: r for r in doc["resources"]}
    assert by_name["rollouts"]["shortNames"] == ["ro"]
    assert by_name["rollouts"]["namespaced"] is True
    assert "watch" in by_name["rollouts"]["verbs"]
    assert by_name["rollouts/status"]["verbs"] == ["get", "patch", "update"]
    assert (by_name["rollouts/scale"]["group"], by_name["rollouts/scale"]["kind"]) == ("autoscaling", "Scale")
    assert by_name["clusteranalysistemplates"]["namespaced"] is False
    _, core = get(sandbox_api_client, "/api/v1")
    short = {r["name"]: r.get("shortNames") for r in core["resources"]}
    assert short["services"] == ["svc"] and short["pods"] == ["po"]


@pytest.mark.parametrize(
    ("path", "code"),
    [
        pytest.param("/apis/nope.io/v1", 404, id="unknown-group-version"),
        pytest.param("/apis/apps/v1/namespaces/default/nothings", 404, id="unknown-resource"),
        pytest.param("/apis/apps/v1/namespaces/default/replicasets/x/nosub", 404, id="unknown-subresource"),
        pytest.param(
            "/apis/apiextensions.k8s.io/v1/namespaces/default/customresourcedefinitions",
            404,
            id="cluster-scoped-under-namespace",
        ),
        pytest.param("/api/v1/namespaces/default", 200, id="namespace-itself"),
        pytest.param("/api/v1/namespaces/default/status", 200, id="namespace-status"),
        pytest.param("/api/v1/pods", 200, id="cluster-wide-list"),
        pytest.param("/api/v1/watch/namespaces/default/pods?timeoutSeconds=1", 200, id="legacy-watch-path"),
        pytest.param("/openapi/v3", 200, id="openapi-v3-root"),
        pytest.param("/apis/apps", 200, id="api-group"),
    ],
)
def test_url_grammar(sandbox_api_client: client.ApiClient, path: str, code: int) -> None:
    resp = sandbox_api_client.rest_client.pool_manager.request(
        "GET", sandbox_api_client.configuration.host + path
    )
    assert resp.status == code, resp.data[:300]


def test_dynamic_client_round_trip(sandbox_api_client: client.ApiClient) -> None:
    dyn: Any = dynamic.DynamicClient(sandbox_api_client)  # type: ignore[no-untyped-call]
    ro = dyn.resources.get(api_version=f"{G}/{V}", kind="Rollout")
    assert set(ro.subresources) == {"status", "scale"}
    dyn.create(ro, body=rollout("dyn"), namespace=NS)
    dyn.patch(
        ro.subresources["status"],
        name="dyn",
        namespace=NS,
        body={"status": {"phase": "Healthy"}},
        content_type="application/merge-patch+json",
    )
    assert dyn.get(ro, name="dyn", namespace=NS).status.phase == "Healthy"
    assert [i.metadata.name for i in dyn.get(ro, namespace=NS, label_selector="missing").items] == []


def test_invalid_name_is_422_with_field(co: CustomObjects) -> None:
    with pytest.raises(ApiException) as info:
        co.create_namespaced_custom_object(G, V, NS, P, rollout("Bad_Name"))
    body = status_body(info.value)
    assert (info.value.status, body["reason"]) == (422, "Invalid")
    assert body["message"].startswith(
        'Rollout.argoproj.io "Bad_Name" is invalid: metadata.name: Invalid value'
    )


def test_replicaset_selector_must_match_template(apps: AppsApi) -> None:
    from tests.sandbox.helpers import replicaset

    body = replicaset("mismatch")
    body["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    with pytest.raises(ApiException) as info:
        apps.create_namespaced_replica_set(NS, body)
    assert info.value.status == 422
    assert "spec.template.metadata.labels" in status_body(info.value)["message"]


def test_list_pagination(co: CustomObjects) -> None:
    for i in range(5):
        co.create_namespaced_custom_object(G, V, NS, P, rollout(f"p{i}"))
    names, token = [], None
    while True:
        page = co.list_namespaced_custom_object(
            G, V, NS, P, limit=2, **({"_continue": token} if token else {})
        )
        names += [i["metadata"]["name"] for i in page["items"]]
        token = page["metadata"].get("continue")
        if not token:
            break
    assert names == ["p0", "p1", "p2", "p3", "p4"]


def obj(labels: dict[str, str], name: str = "n", namespace: str = "default") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "status": {"phase": "Running"},
    }


@pytest.mark.parametrize(
    ("labels", "fields", "target", "expected"),
    [
        pytest.param("app=web", None, obj({"app": "web"}), True, id="equals"),
        pytest.param("app==web", None, obj({"app": "api"}), False, id="double-equals"),
        pytest.param("app!=web", None, obj({}), True, id="not-equals-absent"),
        pytest.param("app in (web, api)", None, obj({"app": "api"}), True, id="in"),
        pytest.param("app notin (web,api)", None, obj({"app": "api"}), False, id="notin"),
        pytest.param("app notin (web)", None, obj({}), True, id="notin-absent"),
        pytest.param("app", None, obj({"app": ""}), True, id="exists"),
        pytest.param("!app", None, obj({"app": "x"}), False, id="not-exists"),
        pytest.param("a=1,b in (2,3),!c", None, obj({"a": "1", "b": "3"}), True, id="conjunction"),
        pytest.param(
            "rollouts-pod-template-hash=abc",
            None,
            obj({"rollouts-pod-template-hash": "abc"}),
            True,
            id="dashed-key",
        ),
        pytest.param(
            "app.kubernetes.io/name=x", None, obj({"app.kubernetes.io/name": "x"}), True, id="prefixed"
        ),
        pytest.param(None, "metadata.name=n", obj({}), True, id="field-name"),
        pytest.param(None, "metadata.namespace!=default", obj({}), False, id="field-namespace"),
        pytest.param(None, "status.phase=Running", obj({}), True, id="field-status-phase"),
        pytest.param("", "", obj({}), True, id="empty"),
    ],
)
def test_selectors(labels: str | None, fields: str | None, target: dict[str, Any], expected: bool) -> None:
    assert Selector(labels, fields)(target) is expected


@pytest.mark.parametrize("text", ["app in web", "=x", "a b c"], ids=["in-no-parens", "no-key", "spaces"])
def test_bad_selector_is_400(text: str) -> None:
    with pytest.raises(ApiError) as info:
        Selector(text)
    assert info.value.code == 400


keys = st.sampled_from(["a", "b", "app.kubernetes.io/name"])
values = st.sampled_from(["x", "y", "z"])


@given(st.dictionaries(keys, values), keys, st.sets(values, min_size=1))
def test_selector_algebra(labels: dict[str, str], key: str, vals: set[str]) -> None:
    target = obj(labels)
    joined = ",".join(sorted(vals))
    assert Selector(f"{key} in ({joined})")(target) != Selector(f"{key} notin ({joined})")(target)
    assert Selector(key)(target) != Selector(f"!{key}")(target)
    one = next(iter(vals))
    assert Selector(f"{key}={one}")(target) == Selector(f"{key} in ({one})")(target)


@pytest.mark.parametrize(
    ("labels", "ok"),
    [
        pytest.param(
            {"app.kubernetes.io/name": "web", "rollouts-pod-template-hash": "6b7f9c"}, True, id="valid"
        ),
        pytest.param({"a": ""}, True, id="empty-value"),
        pytest.param({"a": "x" * 64}, False, id="value-too-long"),
        pytest.param({"a": "has space"}, False, id="value-with-space"),
        pytest.param({"Bad_Prefix.io/a": "x"}, False, id="bad-prefix"),
        pytest.param({"-a": "x"}, False, id="key-starts-with-dash"),
    ],
)
def test_label_syntax_is_validated(co: CustomObjects, labels: dict[str, str], ok: bool) -> None:
    try:
        co.create_namespaced_custom_object(G, V, NS, P, rollout("labelled", labels))
        created = True
    except ApiException as e:
        assert e.status == 422 and status_body(e)["message"].startswith(
            'Rollout.argoproj.io "labelled" is invalid'
        )
        created = False
    assert created is ok


def test_negative_replicas_are_invalid(apps: AppsApi) -> None:
    from tests.sandbox.helpers import replicaset

    with pytest.raises(ApiException) as info:
        apps.create_namespaced_replica_set(NS, replicaset("neg", -1))
    assert info.value.status == 422
    assert "spec.replicas: Invalid value: -1" in status_body(info.value)["message"]
