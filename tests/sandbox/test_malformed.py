"""Malformed requests get a 4xx with a `kind: Status` body, never a 500: the hardening findings one by one,
then Hypothesis throwing malformed paths, query parameters, headers and bodies at every verb."""

from __future__ import annotations

import http.client as httpclient
import json
import socket
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollouts.sandbox import Sandbox
from tests.sandbox.helpers import assert_status, http, replicaset, rollout

CMS = "/api/v1/namespaces/default/configmaps"


@pytest.mark.parametrize(
    ("metadata", "words"),
    [
        pytest.param([], "cannot unmarshal array into Go struct field ConfigMap.metadata of type v1.ObjectMeta", id="list"),
        pytest.param({"name": "a", "labels": "x"}, "ObjectMeta.metadata.labels of type map[string]string", id="labels-string"),
        pytest.param({"name": "a", "labels": {"k": 1}}, "number into Go struct field ObjectMeta.metadata.labels of type string", id="label-number"),
        pytest.param({"name": 5}, "cannot unmarshal number into Go struct field ObjectMeta.metadata.name of type string", id="name-number"),
        pytest.param({"generateName": ["x"]}, "ObjectMeta.metadata.generateName of type string", id="generate-name-list"),
        pytest.param({"name": "a", "ownerReferences": "x"}, "of type []v1.OwnerReference", id="owners-string"),
        pytest.param({"name": "a", "finalizers": [1]}, "ObjectMeta.metadata.finalizers of type string", id="finalizer-number"),
    ],
)  # fmt: skip
def test_wrong_typed_metadata_is_400_as_the_decoder_says(sandbox: Sandbox, metadata: Any, words: str) -> None:
    body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata}).encode()
    status, _, answer = http(sandbox.url, "POST", CMS, body)
    doc = assert_status(answer, 400)
    assert doc["reason"] == "BadRequest"
    assert doc["message"].startswith('ConfigMap in version "v1" cannot be handled as a ConfigMap: json: ')
    assert words in doc["message"]
    assert status == 400


def test_wrong_typed_metadata_of_a_custom_resource_is_400(sandbox: Sandbox) -> None:
    body = rollout("r")
    body["metadata"]["labels"] = ["x"]
    status, _, answer = http(
        sandbox.url,
        "POST",
        "/apis/argoproj.io/v1alpha1/namespaces/default/rollouts",
        json.dumps(body).encode(),
    )
    assert status == 400
    assert "ObjectMeta.metadata.labels of type map[string]string" in assert_status(answer, 400)["message"]


def test_a_put_with_wrong_typed_metadata_is_400_and_a_patch_422_on_patch(sandbox: Sandbox) -> None:
    sandbox.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "z"}})
    put = json.dumps({"metadata": {"name": "z", "labels": "x"}}).encode()
    assert_status(http(sandbox.url, "PUT", CMS + "/z", put)[2], 400)
    patch = json.dumps({"metadata": {"labels": "x"}}).encode()
    status, _, answer = http(
        sandbox.url, "PATCH", CMS + "/z", patch, content_type="application/merge-patch+json"
    )
    doc = assert_status(answer, 422)
    assert status == 422 and doc["reason"] == "Invalid"
    assert doc["message"].startswith(' "" is invalid: patch: Invalid value: ')
    assert doc["details"]["causes"][0]["field"] == "patch"


def test_wrong_typed_spec_of_a_builtin_is_400_not_500(sandbox: Sandbox) -> None:
    body = replicaset("rs")
    body["spec"]["selector"]["matchLabels"] = "app=rs"
    status, _, answer = http(
        sandbox.url, "POST", "/apis/apps/v1/namespaces/default/replicasets", json.dumps(body).encode()
    )
    assert status == 400
    assert (
        "LabelSelector.spec.selector.matchLabels of type map[string]string"
        in assert_status(answer, 400)["message"]
    )
    body = replicaset("rs", replicas=3)
    body["spec"]["replicas"] = 2.5
    answer = http(
        sandbox.url, "POST", "/apis/apps/v1/namespaces/default/replicasets", json.dumps(body).encode()
    )[2]
    assert (
        "cannot unmarshal number 2.5 into Go struct field ReplicaSetSpec.spec.replicas of type int32"
        in (assert_status(answer, 400)["message"])
    )


def test_secret_data_must_be_base64(sandbox: Sandbox) -> None:
    body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "not base64!"}}
    status, _, answer = http(
        sandbox.url, "POST", "/api/v1/namespaces/default/secrets", json.dumps(body).encode()
    )
    assert status == 400
    assert assert_status(answer, 400)["message"] == (
        'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 3'
    )


@pytest.mark.parametrize("limit", ["-1", "0", "-9999999999"])
def test_a_limit_of_zero_or_less_lists_everything(sandbox: Sandbox, limit: str) -> None:
    for name in ("a", "b"):
        sandbox.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}})
    status, _, body = http(sandbox.url, "GET", f"{CMS}?limit={limit}")
    assert status == 200 and [i["metadata"]["name"] for i in json.loads(body)["items"]] == ["a", "b"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        pytest.param("limit=abc", 'strconv.ParseInt: parsing "abc": invalid syntax', id="limit"),
        pytest.param("limit=99999999999999999999", 'strconv.ParseInt: parsing "99999999999999999999": value out of range', id="limit-range"),
        pytest.param("watch=true&timeoutSeconds=1.5", 'strconv.ParseInt: parsing "1.5": invalid syntax', id="timeout"),
        pytest.param("watch=true&resourceVersion=1e3", 'invalid resource version "1e3"', id="version"),
        pytest.param("labelSelector=a+in+(", "unable to parse requirement", id="selector"),
        pytest.param("continue=%25%25", "invalid continue token", id="continue"),
    ],
)  # fmt: skip
def test_malformed_query_parameters_are_400(sandbox: Sandbox, query: str, message: str) -> None:
    status, _, body = http(sandbox.url, "GET", f"{CMS}?{query}")
    assert status == 400 and message in assert_status(body, 400)["message"]


def test_bad_options_are_422_on_the_options_kind(sandbox: Sandbox) -> None:
    sandbox.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "o"}})
    status, _, body = http(sandbox.url, "DELETE", CMS + "/o?propagationPolicy=Sideways")
    doc = assert_status(body, 422)
    assert status == 422 and doc["message"].startswith(
        'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "Sideways"'
    )
    status, _, body = http(sandbox.url, "POST", CMS + "?dryRun=Yes", b'{"metadata":{"name":"p"}}')
    assert status == 422 and "CreateOptions.meta.k8s.io" in assert_status(body, 422)["message"]
    body = json.dumps({"preconditions": "x"}).encode()
    status, _, answer = http(sandbox.url, "DELETE", CMS + "/o", body)
    assert (
        status == 400
        and "DeleteOptions.preconditions of type v1.Preconditions" in (assert_status(answer, 400)["message"])
    )
    assert sandbox.get("v1", "ConfigMap", "o") is not None


def test_http_level_garbage_is_a_plain_400_and_the_server_carries_on(sandbox: Sandbox) -> None:
    host, port = urlsplit(sandbox.url).hostname, urlsplit(sandbox.url).port
    for garbage in (
        b"\x00\x01\x02 / HTTP/1.1\r\n\r\n",
        b"GET /api HTTP/9.9\r\n\r\n",
        b"GET /\x7f HTTP/1.1\r\nBad Header\r\n\r\n",
    ):
        with socket.create_connection((host or "127.0.0.1", port or 80), timeout=5) as s:
            s.sendall(garbage)
            answer = s.recv(4096)
        assert answer.startswith((b"HTTP/1.1 4", b"HTTP/1.0 4")), answer[:200]
    assert http(sandbox.url, "GET", "/version")[0] == 200


# ---------------------------------------------------------------------- fuzzing
PREFIXES = [
    "/api/v1", "/apis/apps/v1", "/apis/argoproj.io/v1alpha1", "/apis/batch/v1", "/apis/apiextensions.k8s.io/v1",
    "/apis/coordination.k8s.io/v1", "/apis/networking.k8s.io/v1", "/apis/nowhere.io/v1", "/api", "/apis",
    "/api/v1/watch", "/apis/apps/v1/watch", "", "/openapi/v3", "/version",
]  # fmt: skip
RESOURCES = [
    "pods", "configmaps", "secrets", "services", "namespaces", "replicasets", "deployments", "rollouts",
    "analysisruns", "analysistemplates", "jobs", "leases", "customresourcedefinitions", "events", "nodes",
    "endpoints", "ingresses", "nothings",
]  # fmt: skip
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
SEGMENT = st.one_of(
    st.sampled_from(
        ["default", "team-a", "a", "big", "x", "..", ".", "UPPER", "a_b", "status", "scale", "log"]
    ),
    TEXT.map(lambda t: quote(t, safe="")),
)


@st.composite
def paths(draw: st.DrawFn) -> str:
    parts = [draw(st.sampled_from(PREFIXES))]
    if draw(st.booleans()):
        parts.append("namespaces/" + draw(SEGMENT))
    parts.append(draw(st.one_of(st.sampled_from(RESOURCES), SEGMENT)))
    parts.extend(draw(st.lists(SEGMENT, max_size=3)))
    return "/".join(parts).replace("//", "/") or "/"


PARAMS = [
    "limit", "continue", "watch", "timeoutSeconds", "labelSelector", "fieldSelector", "resourceVersion", "dryRun",
    "propagationPolicy", "fieldManager", "allowWatchBookmarks", "sendInitialEvents", "gracePeriodSeconds",
    "orphanDependents", "resourceVersionMatch", "pretty", "zzz",
]  # fmt: skip
VALUES = st.one_of(
    st.sampled_from(["-1", "0", "1", "abc", "", "true", "false", "All", "a=b", "a in (", "!!", "x==y,z", "NaN",
                     "9" * 30, "Orphan", "Foreground", "metadata.name=a", "a notin (b,c)", "%"]),
    TEXT,
)  # fmt: skip
CONTENT_TYPES = [
    "application/json", "application/merge-patch+json", "application/json-patch+json",
    "application/strategic-merge-patch+json", "application/apply-patch+yaml", "application/yaml",
    "application/vnd.kubernetes.protobuf", "application/cbor", "text/plain", "application/json; charset=latin1",
    "multipart/form-data; boundary=x", "a/b/c", ";;;",
]  # fmt: skip
ACCEPTS = [
    "application/json", "application/json;as=Table;v=v1;g=meta.k8s.io", "*/*", "application/vnd.kubernetes.protobuf",
    "text/html", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json", "???",
]  # fmt: skip
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30)

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
MANIFESTS: list[dict[str, Any]] = [
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fz", "labels": {"a": "b"}}, "data": {"k": "v"}},
    {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "fz"}, "data": {"k": "dg=="}, "stringData": {"s": "t"}},
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "fz"},
     "spec": {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80}]}]}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "fz"},
     "spec": {"selector": {"a": "b"}, "ports": [{"port": 80, "targetPort": "http"}]}},
    replicaset("fz"),
    {**replicaset("fz"), "apiVersion": "apps/v1", "kind": "Deployment"},
    {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "fz", "annotations": {"a": "b"}},
     "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}},
    {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "fz"},
     "spec": {"holderIdentity": "me", "leaseDurationSeconds": 15}},
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fz"}},
    rollout("fz"),
    {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
     "metadata": {"name": "widgets.fz.io"},
     "spec": {"group": "fz.io", "scope": "Namespaced", "names": {"plural": "widgets", "kind": "Widget"},
              "versions": [{"name": "v1", "served": True, "storage": True,
                            "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                            "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                                                                     "statusReplicasPath": ".status.replicas"}},
                            "additionalPrinterColumns": [{"name": "R", "type": "integer", "jsonPath": ".spec.replicas"}]}]}},
    {"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "fz"}, "spec": {"replicas": 2}},
    {"kind": "DeleteOptions", "propagationPolicy": "Orphan", "preconditions": {"uid": "u"}},
]  # fmt: skip


def _paths_of(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(_paths_of(v, (*prefix, k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(_paths_of(v, (*prefix, i)))
    return out


@st.composite
def mutated_manifests(draw: st.DrawFn) -> Any:
    doc = json.loads(json.dumps(draw(st.sampled_from(MANIFESTS))))
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(_paths_of(doc)))
        value = draw(JSON)
        if not where:
            return value
        parent = doc
        for key in where[:-1]:
            parent = parent[key]
        parent[where[-1]] = value
    return doc


JSON_PATCHES = st.lists(
    st.fixed_dictionaries(
        {"op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "bogus"])},
        optional={
            "path": st.sampled_from(
                ["/metadata/labels/a", "/spec/replicas", "/data", "/metadata", "", "/x/-", "~"]
            )
            | TEXT,
            "from": st.sampled_from(["/metadata", "/data", "/spec", ""]) | TEXT,
            "value": JSON,
        },
    ),
    max_size=4,
)
BODIES = st.one_of(
    st.none(),
    st.binary(max_size=64),
    JSON.map(lambda v: json.dumps(v).encode()),
    mutated_manifests().map(lambda v: json.dumps(v).encode()),
    JSON_PATCHES.map(lambda v: json.dumps(v).encode()),
)


def exchange(
    url: str, method: str, target: str, body: bytes | None, headers: dict[str, str]
) -> tuple[int, bytes]:
    """Send one request; read the body unless it is a stream (a watch), which is closed unread."""
    parts = urlsplit(url)
    conn = httpclient.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        conn.request(method, target, body=body, headers=headers)
        resp = conn.getresponse()
        if (resp.getheader("Transfer-Encoding") or "").lower() == "chunked" and resp.status < 400:
            return resp.status, b""
        return resp.status, resp.read()
    finally:
        conn.close()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]),
    path=paths(),
    query=st.dictionaries(st.sampled_from(PARAMS), VALUES, max_size=4),
    content_type=st.sampled_from(CONTENT_TYPES),
    accept=st.sampled_from(ACCEPTS),
    extra=st.dictionaries(st.sampled_from(["X-Fuzz", "User-Agent", "Expect", "Accept-Encoding"]), HEADER_TEXT, max_size=2),
    body=BODIES,
)  # fmt: skip
def test_no_malformed_request_gets_a_5xx(
    sandbox: Sandbox,
    method: str,
    path: str,
    query: dict[str, str],
    content_type: str,
    accept: str,
    extra: dict[str, str],
    body: bytes | None,
) -> None:
    if extra.get("Expect"):
        extra["Expect"] = "100-continue"
    target = path + ("?" + urlencode(query) if query else "")
    headers = {"Content-Type": content_type, "Accept": accept, **extra}
    status, answer = exchange(sandbox.url, method, target, body, headers)
    assert status < 500, (method, target, headers, body, answer[:500])
    if status >= 400 and method != "HEAD" and answer:
        try:
            assert_status(answer, status)
        except (ValueError, AssertionError, KeyError) as e:
            raise AssertionError((method, target, headers, body, answer[:500])) from e


COLLECTIONS = {
    "ConfigMap": "/api/v1/namespaces/default/configmaps",
    "Secret": "/api/v1/namespaces/default/secrets",
    "Pod": "/api/v1/namespaces/default/pods",
    "Service": "/api/v1/namespaces/default/services",
    "ReplicaSet": "/apis/apps/v1/namespaces/default/replicasets",
    "Deployment": "/apis/apps/v1/namespaces/default/deployments",
    "Job": "/apis/batch/v1/namespaces/default/jobs",
    "Lease": "/apis/coordination.k8s.io/v1/namespaces/default/leases",
    "Namespace": "/api/v1/namespaces",
    "Rollout": "/apis/argoproj.io/v1alpha1/namespaces/default/rollouts",
    "CustomResourceDefinition": "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
}
OBJECTS = [m for m in MANIFESTS if m.get("kind") in COLLECTIONS]


@st.composite
def object_requests(draw: st.DrawFn) -> tuple[str, str, str, bytes]:
    """A request aimed at a real object of a kind the sandbox serves, with a mutated body."""
    manifest = draw(st.sampled_from(OBJECTS))
    collection = COLLECTIONS[manifest["kind"]]
    name = manifest["metadata"]["name"]
    method = draw(st.sampled_from(["POST", "PUT", "PATCH", "DELETE"]))
    sub = draw(st.sampled_from(["", "", "/status", "/scale"]))
    path = collection if method == "POST" else f"{collection}/{name}{sub}"
    if method == "PATCH":
        ctype = draw(st.sampled_from(CONTENT_TYPES[1:5]))
        body = draw(JSON_PATCHES) if ctype == "application/json-patch+json" else draw(mutated_manifests())
        path += "?fieldManager=fuzz" if ctype.startswith("application/apply") else ""
    else:
        ctype = "application/json"
        body = draw(mutated_manifests())
    return method, path, ctype, json.dumps(body).encode()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(requests=st.lists(object_requests(), min_size=1, max_size=6))
def test_no_mutated_object_gets_a_5xx(sandbox: Sandbox, requests: list[tuple[str, str, str, bytes]]) -> None:
    for manifest in OBJECTS:  # every kind has an object to update, patch and delete
        exchange(sandbox.url, "POST", COLLECTIONS[manifest["kind"]], json.dumps(manifest).encode(), {})
    for method, path, ctype, body in requests:
        status, answer = exchange(sandbox.url, method, path, body, {"Content-Type": ctype})
        assert status < 500, (method, path, ctype, body, answer[:500])
        if status >= 400:
            assert_status(answer, status)
    # The simulated controllers may be refused a write (a conflict), never break on what clients stored.
    problems = json.loads(http(sandbox.url, "GET", "/sandbox/healthz")[2])["simulatorErrors"]
    assert all(": ApiError(" in p for p in problems), problems
