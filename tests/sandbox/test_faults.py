"""Fault injection (500, 429 + Retry-After, latency, watch cuts) and the request log, in-process and over
the admin HTTP endpoints."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from rollouts.sandbox import Faults, Sandbox
from tests.sandbox.helpers import NS, CustomObjects, G, P, V, new_watch, rollout, status_body


def admin(sb: Sandbox, method: str, path: str, body: Any = None) -> Any:
    req = urllib.request.Request(
        sb.url + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


@pytest.mark.sandbox(faults={"error_rate": 1.0})
def test_error_rate_one_answers_500(co: CustomObjects) -> None:
    with pytest.raises(ApiException) as info:
        co.list_namespaced_custom_object(G, V, NS, P)
    assert info.value.status == 500
    assert status_body(info.value)["reason"] == "InternalError"


def test_throttling_sets_retry_after(sandbox: Sandbox, co: CustomObjects) -> None:
    sandbox.set_faults(throttle_rate=1.0, retry_after=3, verbs=["create"])
    co.list_namespaced_custom_object(G, V, NS, P)  # other verbs unaffected
    with pytest.raises(ApiException) as info:
        co.create_namespaced_custom_object(G, V, NS, P, rollout("t"))
    assert info.value.status == 429
    assert info.value.headers is not None and info.value.headers["Retry-After"] == "3"
    assert status_body(info.value)["details"] == {"retryAfterSeconds": 3}


def test_fault_rates_are_seeded_and_proportional(sandbox: Sandbox, co: CustomObjects) -> None:
    sandbox.set_faults(error_rate=0.3, seed=42, verbs=["list"])
    codes = []
    for _ in range(200):
        try:
            co.list_namespaced_custom_object(G, V, NS, P)
            codes.append(200)
        except ApiException as e:
            codes.append(e.status)
    failures = codes.count(500)
    assert 35 <= failures <= 85, failures  # 30 % of 200 with a fixed seed; loose bounds document the intent
    replay = Faults(error_rate=0.3, seed=42)
    assert [replay.decide("list") for _ in range(200)] == [0 if c == 200 else 500 for c in codes]


def test_admin_endpoint_toggles_faults(sandbox: Sandbox, co: CustomObjects) -> None:
    state = admin(sandbox, "POST", "/sandbox/faults", {"error_rate": 1.0, "verbs": ["get"]})
    assert state["error_rate"] == 1.0
    with pytest.raises(ApiException):
        co.get_namespaced_custom_object(G, V, NS, P, "x")
    assert admin(sandbox, "DELETE", "/sandbox/faults")["error_rate"] == 0.0
    with pytest.raises(ApiException) as info:
        co.get_namespaced_custom_object(G, V, NS, P, "x")
    assert info.value.status == 404


def test_admin_rejects_unknown_settings(sandbox: Sandbox) -> None:
    with pytest.raises(urllib.error.HTTPError) as info:
        admin(sandbox, "POST", "/sandbox/faults", {"error_rat": 1})
    assert info.value.code == 400
    assert "unknown fault setting(s) ['error_rat']" in json.loads(info.value.read())["error"]


def test_latency_is_added(sandbox: Sandbox, co: CustomObjects) -> None:
    sandbox.set_faults(latency=0.05)
    co.list_namespaced_custom_object(G, V, NS, P)
    record = sandbox.requests.records(verb="list")[-1]
    assert record.duration >= 0.045  # measured on the wall clock, slept on the monotonic one


@pytest.mark.sandbox(faults={"watch_cut_after": 0.2})
def test_watch_streams_are_cut(co: CustomObjects) -> None:
    started = time.monotonic()
    events = list(
        new_watch().stream(
            co.list_namespaced_custom_object, G, V, NS, P, timeout_seconds=30, _request_timeout=10
        )
    )
    assert events == []
    assert time.monotonic() - started < 25  # cut by the fault, not by the 30 s timeout


def test_request_log_records_verbs_and_resets(sandbox: Sandbox, co: CustomObjects) -> None:
    co.create_namespaced_custom_object(G, V, NS, P, rollout("log"))
    co.patch_namespaced_custom_object(G, V, NS, P, "log", {"spec": {"replicas": 1}})
    co.patch_namespaced_custom_object_status(G, V, NS, P, "log", {"status": {"phase": "Healthy"}})
    co.get_namespaced_custom_object(G, V, NS, P, "log")
    co.list_namespaced_custom_object(G, V, NS, P, label_selector="a=b")
    records = sandbox.requests.records(resource="rollouts")
    assert [(r.verb, r.subresource, r.status) for r in records] == [
        ("create", "", 201),
        ("patch", "", 200),
        ("patch", "status", 200),
        ("get", "", 200),
        ("list", "", 200),
    ]
    assert (
        records[0].namespace == NS and records[1].name == "log" and records[4].query == "labelSelector=a%3Db"
    )
    assert sandbox.requests.count(writes=True, resource="rollouts") == 3
    over_http = admin(sandbox, "GET", "/sandbox/requests?resource=rollouts&verb=patch")["items"]
    assert [(r["name"], r["subresource"]) for r in over_http] == [("log", ""), ("log", "status")]
    admin(sandbox, "POST", "/sandbox/requests/reset")
    assert admin(sandbox, "GET", "/sandbox/requests")["items"] == []


def test_watches_are_logged_once_with_their_outcome(sandbox: Sandbox, co: CustomObjects) -> None:
    list(new_watch().stream(co.list_namespaced_custom_object, G, V, NS, P, timeout_seconds=1))
    with pytest.raises(ApiException):
        list(new_watch().stream(co.list_namespaced_custom_object, G, V, NS, "nothings", timeout_seconds=1))
    assert [(r.resource, r.status) for r in sandbox.requests.records(verb="watch")] == [
        ("rollouts", 200),
        ("nothings", 404),
    ]
