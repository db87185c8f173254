"""Shared helpers for the sandbox tests: manifests and a bounded wait on a condition."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeAlias, TypeVar

T = TypeVar("T")

# The custom-objects API of the `kubernetes` client answers untyped JSON (declared `object`): tests index it.
CustomObjects: TypeAlias = Any
# The typed APIs' models declare every field Optional; the tests assert on what the server answered, so they
# read them without a None check per attribute.
AppsApi: TypeAlias = Any
CoreApi: TypeAlias = Any


def status_body(e: Any) -> dict[str, Any]:
    """The decoded `kind: Status` body of an ApiException."""
    import json

    body: dict[str, Any] = json.loads(e.body or "{}")
    return body


def new_watch() -> Any:
    """A `kubernetes.watch.Watch` (the class is untyped)."""
    from kubernetes import watch

    return watch.Watch()  # type: ignore[no-untyped-call]


G, V, P, NS = "argoproj.io", "v1alpha1", "rollouts", "default"


def rollout(name: str, labels: dict[str, str] | None = None, replicas: int = 3) -> dict[str, Any]:
    return {
        "apiVersion": f"{G}/{V}",
        "kind": "Rollout",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"replicas": replicas, "strategy": {"canary": {"steps": [{"setWeight": 20}]}}},
    }


def replicaset(
    name: str,
    replicas: int = 1,
    *,
    hash_: str = "abc",
    annotations: dict[str, str] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    labels = {"app": name, "rollouts-pod-template-hash": hash_}
    template_meta: dict[str, Any] = {"labels": labels}
    if annotations:
        template_meta["annotations"] = annotations
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": template_meta,
                "spec": {"containers": [{"name": "app", "image": "nginx:1"}]},
            },
            **spec,
        },
    }


def wait_until(condition: Callable[[], T | None], timeout: float = 5.0, what: str = "condition") -> T:
    """Poll `condition` every 5 ms until it returns a truthy value; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.005)


def http(
    url: str,
    method: str,
    path: str,
    body: bytes | None = None,
    *,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> tuple[int, dict[str, str], bytes]:
    """One raw HTTP request (any method, path, headers and bytes): status, headers and body of the answer."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        sent = {"Content-Type": content_type, **(headers or {})}
        conn.request(method, path, body=body, headers=sent)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def assert_status(body: bytes, code: int) -> dict[str, Any]:
    """`body` is a well-formed `kind: Status` failure for HTTP `code`, with a message; returns it decoded."""
    import json

    doc = json.loads(body)
    assert doc["kind"] == "Status" and doc["apiVersion"] == "v1", doc
    assert doc["status"] == "Failure" and doc["code"] == code, doc
    assert isinstance(doc["message"], str) and doc["message"], doc
    assert isinstance(doc.get("reason", ""), str) and isinstance(doc["metadata"], dict), doc
    return dict(doc)
