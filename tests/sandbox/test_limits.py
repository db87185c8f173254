"""kube-apiserver's and etcd's size and shape limits: request bodies (3 MiB, 413), stored objects (1.5 MiB,
etcd's 500), JSON patch operations and copies, nesting depth, YAML aliasing and values JSON cannot hold."""

from __future__ import annotations

import json
import socket

import pytest

from rollouts.sandbox import Sandbox
from rollouts.sandbox.limits import (
    JSON_PATCH_MAX_COPY_BYTES,
    MAX_DEPTH,
    MAX_OBJECT_BYTES,
    MAX_REQUEST_BYTES,
)
from tests.sandbox.helpers import assert_status, http

CMS = "/api/v1/namespaces/default/configmaps"


def configmap_of_size(size: int, name: str = "big") -> bytes:
    """A ConfigMap whose compact JSON is exactly `size` bytes."""
    doc = {"metadata": {"name": name}, "data": {"blob": ""}}
    base = len(json.dumps(doc, separators=(",", ":")))
    doc["data"]["blob"] = "x" * (size - base)
    raw = json.dumps(doc, separators=(",", ":")).encode()
    assert len(raw) == size
    return raw


def test_a_body_of_exactly_3_mib_is_read_and_one_byte_more_is_413(sandbox: Sandbox) -> None:
    # A dry run never reaches etcd, so only the request limit applies (as on a real cluster).
    status, _, body = http(sandbox.url, "POST", CMS + "?dryRun=All", configmap_of_size(MAX_REQUEST_BYTES))
    assert status == 201, body[:300]
    status, _, body = http(sandbox.url, "POST", CMS + "?dryRun=All", configmap_of_size(MAX_REQUEST_BYTES + 1))
    doc = assert_status(body, 413)
    assert (doc["reason"], doc["message"]) == (
        "RequestEntityTooLarge",
        "Request entity too large: limit is 3145728",
    )


def test_a_70_mb_body_is_413_not_500(sandbox: Sandbox) -> None:
    status, _, body = http(sandbox.url, "POST", CMS, configmap_of_size(70 * 1024 * 1024), timeout=60)
    assert assert_status(body, 413)["message"] == "Request entity too large: limit is 3145728"
    assert status == 413
    assert sandbox.get("v1", "ConfigMap", "big") is None


def test_a_chunked_body_over_the_limit_is_413(sandbox: Sandbox) -> None:
    """No Content-Length to refuse up front: the body is read up to the limit, then refused."""
    payload = configmap_of_size(MAX_REQUEST_BYTES + 1)
    host, port = sandbox.url.split("//")[1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as s:
        head = f"POST {CMS} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        s.sendall(head.encode() + b"%x\r\n" % len(payload) + payload + b"\r\n0\r\n\r\n")
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
    head_text, _, body = answer.partition(b"\r\n\r\n")
    assert head_text.startswith(b"HTTP/1.1 413"), answer[:300]
    assert_status(body[body.index(b"{") :], 413)


def test_an_object_over_etcds_limit_is_refused_as_kube_apiserver_passes_it_on(sandbox: Sandbox) -> None:
    raw = configmap_of_size(MAX_OBJECT_BYTES + 200)
    status, _, body = http(sandbox.url, "POST", CMS, raw)
    assert status == 500
    # kube-apiserver does not translate etcd's error: code 500, no reason (kubernetes/kubernetes#112152).
    assert json.loads(body) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "etcdserver: request is too large",
        "code": 500,
    }
    assert sandbox.get("v1", "ConfigMap", "big") is None
    assert http(sandbox.url, "POST", CMS + "?dryRun=All", raw)[0] == 201  # never reaches etcd
    health = json.loads(http(sandbox.url, "GET", "/sandbox/healthz")[2])
    assert health["refused"]["writes_too_large"] == 1


def test_an_update_that_grows_an_object_past_the_limit_changes_nothing(sandbox: Sandbox) -> None:
    created = sandbox.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "grow"}, "data": {}}
    )
    patch = json.dumps({"data": {"blob": "y" * MAX_OBJECT_BYTES}}).encode()
    status, _, body = http(
        sandbox.url, "PATCH", CMS + "/grow", patch, content_type="application/merge-patch+json"
    )
    assert status == 500 and json.loads(body)["message"] == "etcdserver: request is too large"
    after = sandbox.get("v1", "ConfigMap", "grow")
    assert (
        after is not None and after["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    )


def test_more_than_10000_json_patch_operations_is_413(sandbox: Sandbox) -> None:
    sandbox.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ops"}, "data": {}})
    ops = [{"op": "add", "path": "/data/k", "value": "v"}] * 10_001
    status, _, body = http(
        sandbox.url,
        "PATCH",
        CMS + "/ops",
        json.dumps(ops).encode(),
        content_type="application/json-patch+json",
    )
    doc = assert_status(body, 413)
    assert status == 413
    assert doc["message"] == (
        "Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 10001"
    )
    ok = json.dumps(ops[:10_000]).encode()
    assert http(sandbox.url, "PATCH", CMS + "/ops", ok, content_type="application/json-patch+json")[0] == 200


def test_json_patch_copies_cannot_multiply_an_object(sandbox: Sandbox) -> None:
    sandbox.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "copy"},
            "data": {"seed": "z" * 100_000},
        }
    )
    ops = [{"op": "copy", "from": "/data/seed", "path": f"/data/c{i}"} for i in range(40)]
    status, _, body = http(
        sandbox.url,
        "PATCH",
        CMS + "/copy",
        json.dumps(ops).encode(),
        content_type="application/json-patch+json",
    )
    doc = assert_status(body, 422)
    assert status == 422 and "the accumulated size increase of copy is" in doc["message"]
    assert f"exceeding the limit {JSON_PATCH_MAX_COPY_BYTES}" in doc["message"]
    stored = sandbox.get("v1", "ConfigMap", "copy")
    assert stored is not None and set(stored["data"]) == {"seed"}


def nested(depth: int) -> object:
    value: object = "leaf"
    for _ in range(depth - 1):
        value = {"a": value}
    return value


@pytest.mark.parametrize("depth", [MAX_DEPTH + 10, 5000], ids=["past-the-limit", "past-python-recursion"])
def test_deeply_nested_bodies_are_400(sandbox: Sandbox, depth: int) -> None:
    body = ('{"metadata":{"name":"deep"},"data":{},"x":' + '{"a":' * depth + "1" + "}" * depth + "}").encode()
    status, _, answer = http(sandbox.url, "POST", CMS, body)
    assert "nests more than 200 levels deep" in assert_status(answer, 400)["message"]
    assert status == 400


def test_a_json_patch_cannot_nest_an_object_past_the_limit(sandbox: Sandbox) -> None:
    sandbox.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "deep"}})
    half = nested(MAX_DEPTH - 10)
    for path in ("/x", "/x" + "/a" * (MAX_DEPTH - 12)):
        op = json.dumps([{"op": "add", "path": path, "value": half}]).encode()
        status, _, body = http(
            sandbox.url, "PATCH", CMS + "/deep", op, content_type="application/json-patch+json"
        )
    assert status == 400 and "nests more than" in assert_status(body, 400)["message"]


def test_yaml_aliases_cannot_expand_a_small_body(sandbox: Sandbox) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    bomb = "\n".join(["metadata: {name: bomb}", "data: {}", *lines]).encode()  # 10^9 values expanded
    status, _, body = http(
        sandbox.url, "PATCH", CMS + "/bomb?fieldManager=t", bomb, content_type="application/apply-patch+yaml"
    )
    assert status == 400 and "excessive aliasing" in assert_status(body, 400)["message"]


@pytest.mark.parametrize(
    ("body", "ctype", "words"),
    [
        pytest.param(b'{"metadata":{"name":"n"},"data":{"a":NaN}}', "application/json", "NaN is not JSON", id="nan"),
        pytest.param(b'{"metadata":{"name":"n"},"x":Infinity}', "application/json", "Infinity is not JSON", id="inf"),
        pytest.param(b"metadata: {name: n}\nx: .nan\n", "application/apply-patch+yaml", "cannot be represented", id="yaml-nan"),
    ],
)  # fmt: skip
def test_values_json_cannot_hold_are_400(sandbox: Sandbox, body: bytes, ctype: str, words: str) -> None:
    method, path = ("PATCH", CMS + "/n?fieldManager=t") if "yaml" in ctype else ("POST", CMS)
    status, _, answer = http(sandbox.url, method, path, body, content_type=ctype)
    assert status == 400 and words in assert_status(answer, 400)["message"]


def test_yaml_timestamps_and_numeric_keys_become_strings(sandbox: Sandbox) -> None:
    doc = b"metadata: {name: dated}\ndata: {when: 2026-01-02, 7: seven}\n"
    status, _, body = http(
        sandbox.url, "PATCH", CMS + "/dated?fieldManager=t", doc, content_type="application/apply-patch+yaml"
    )
    assert status == 201, body[:300]
    assert json.loads(body)["data"] == {"when": "2026-01-02", "7": "seven"}
