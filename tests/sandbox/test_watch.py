"""Watch semantics through the sync client and `kubernetes.aio`: events, resume without gaps, 410, bookmarks,
selector transitions, timeouts and disconnects."""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from rollouts.sandbox import Sandbox
from tests.fixtures.sandbox import sandbox_configuration
from tests.sandbox.helpers import NS, AppsApi, CustomObjects, G, P, V, new_watch, rollout, wait_until


def collect(co: CustomObjects, n: int, **kwargs: Any) -> list[tuple[str, str, dict[str, Any]]]:
    """The first `n` events of a watch (the server closes it after timeout_seconds at the latest)."""
    out: list[tuple[str, str, dict[str, Any]]] = []
    w = new_watch()
    for ev in w.stream(co.list_namespaced_custom_object, G, V, NS, P, _request_timeout=10, **kwargs):
        out.append((ev["type"], ev["object"]["metadata"].get("name", ""), ev["object"]))
        if len(out) >= n:
            w.stop()
    return out


def test_watch_from_list_version_has_no_gap(co: CustomObjects) -> None:
    co.create_namespaced_custom_object(G, V, NS, P, rollout("a"))
    rv = co.list_namespaced_custom_object(G, V, NS, P)["metadata"]["resourceVersion"]
    co.patch_namespaced_custom_object(G, V, NS, P, "a", {"spec": {"replicas": 5}})
    co.create_namespaced_custom_object(G, V, NS, P, rollout("b"))
    co.delete_namespaced_custom_object(G, V, NS, P, "a")
    events = collect(co, 3, resource_version=rv, timeout_seconds=5)
    assert [(t, n) for t, n, _ in events] == [("MODIFIED", "a"), ("ADDED", "b"), ("DELETED", "a")]
    versions = [int(o["metadata"]["resourceVersion"]) for _, _, o in events]
    assert versions == sorted(versions) and versions[0] > int(rv)


@pytest.mark.parametrize("rv", [None, "0"], ids=["absent", "zero"])
def test_watch_without_version_starts_with_synthetic_added(co: CustomObjects, rv: str | None) -> None:
    co.create_namespaced_custom_object(G, V, NS, P, rollout("x"))
    co.create_namespaced_custom_object(G, V, NS, P, rollout("y"))
    kwargs = {"resource_version": rv} if rv else {}
    events = collect(co, 2, timeout_seconds=5, **kwargs)
    assert [(t, n) for t, n, _ in events] == [("ADDED", "x"), ("ADDED", "y")]


@pytest.mark.sandbox(history=5)
def test_compacted_version_gives_410(sandbox: Sandbox, co: CustomObjects) -> None:
    co.create_namespaced_custom_object(G, V, NS, P, rollout("churn"))
    rv = co.list_namespaced_custom_object(G, V, NS, P)["metadata"]["resourceVersion"]
    for i in range(6):
        co.patch_namespaced_custom_object(G, V, NS, P, "churn", {"metadata": {"annotations": {"i": str(i)}}})
    with pytest.raises(ApiException) as info:
        collect(co, 1, resource_version=rv, timeout_seconds=2)
    assert info.value.status == 410
    # A version still in the history replays fine.
    recent = co.get_namespaced_custom_object(G, V, NS, P, "churn")["metadata"]["resourceVersion"]
    co.patch_namespaced_custom_object(G, V, NS, P, "churn", {"spec": {"replicas": 9}})
    assert [t for t, _, _ in collect(co, 1, resource_version=recent, timeout_seconds=2)] == ["MODIFIED"]


def test_label_change_turns_modified_into_added_and_deleted(co: CustomObjects) -> None:
    co.create_namespaced_custom_object(G, V, NS, P, rollout("m", {"team": "b"}))
    rv = co.list_namespaced_custom_object(G, V, NS, P)["metadata"]["resourceVersion"]
    co.patch_namespaced_custom_object(G, V, NS, P, "m", {"metadata": {"labels": {"team": "a"}}})
    co.patch_namespaced_custom_object(G, V, NS, P, "m", {"spec": {"replicas": 1}})
    co.patch_namespaced_custom_object(G, V, NS, P, "m", {"metadata": {"labels": {"team": "c"}}})
    events = collect(co, 3, resource_version=rv, label_selector="team=a", timeout_seconds=5)
    assert [t for t, _, _ in events] == ["ADDED", "MODIFIED", "DELETED"]


def test_field_selector_on_name(co: CustomObjects) -> None:
    for name in ("one", "two"):
        co.create_namespaced_custom_object(G, V, NS, P, rollout(name))
    events = collect(co, 1, field_selector="metadata.name=two", timeout_seconds=5)
    assert [(t, n) for t, n, _ in events] == [("ADDED", "two")]
    lst = co.list_namespaced_custom_object(G, V, NS, P, field_selector="metadata.name!=two")
    assert [i["metadata"]["name"] for i in lst["items"]] == ["one"]


@pytest.mark.sandbox(bookmark_interval=0.05)
def test_bookmarks_when_allowed(co: CustomObjects, sandbox_api_client: client.ApiClient) -> None:
    resp = co.list_namespaced_custom_object(
        G, V, NS, P, watch=True, allow_watch_bookmarks=True, timeout_seconds=1, _preload_content=False
    )
    lines = [line for line in resp.read().decode().splitlines() if line]
    assert any('"type":"BOOKMARK"' in line for line in lines)
    assert all('"resourceVersion"' in line for line in lines)


def test_timeout_seconds_closes_the_stream(sandbox: Sandbox, co: CustomObjects) -> None:
    resp = co.list_namespaced_custom_object(
        G, V, NS, P, watch=True, timeout_seconds=1, _preload_content=False, _request_timeout=5
    )
    assert resp.read() == b""  # closed by the server, nothing happened
    wait_until(lambda: not sandbox.watchers, what="watcher released")


def test_client_disconnect_releases_the_watcher(sandbox: Sandbox, co: CustomObjects) -> None:
    conn = http.client.HTTPConnection(sandbox.options.host, sandbox.port, timeout=5)
    conn.request("GET", f"/apis/{G}/{V}/namespaces/{NS}/{P}?watch=true&timeoutSeconds=60")
    resp = conn.getresponse()
    assert resp.status == 200
    wait_until(lambda: sandbox.watchers, what="watcher registered")
    conn.close()
    co.create_namespaced_custom_object(G, V, NS, P, rollout("after-close"))  # the write finds a dead stream
    wait_until(lambda: not sandbox.watchers, timeout=5, what="watcher released after disconnect")


def test_typed_watch_of_replicasets_deserialises(sandbox: Sandbox, apps: AppsApi) -> None:
    from tests.sandbox.helpers import replicaset

    events: list[tuple[str, Any]] = []  # (type, V1ReplicaSet)
    ready = threading.Event()

    def run() -> None:
        w = new_watch()
        for ev in w.stream(apps.list_namespaced_replica_set, NS, timeout_seconds=5, _request_timeout=10):
            events.append((ev["type"], ev["object"]))
            if ev["type"] == "ADDED":
                ready.set()
                w.stop()

    th = threading.Thread(target=run)
    th.start()
    wait_until(lambda: sandbox.watchers, what="watch started")
    apps.create_namespaced_replica_set(NS, replicaset("typed", 0))
    th.join(10)
    assert events and isinstance(events[0][1], client.V1ReplicaSet)
    first: Any = events[0][1]
    assert first.metadata.name == "typed"


async def test_aio_client_lists_and_watches(async_sandbox: Sandbox) -> None:
    from kubernetes.aio import client as aclient
    from kubernetes.aio import watch as awatch

    cfg = aclient.Configuration(host=async_sandbox.url)
    async with aclient.ApiClient(cfg) as api:
        co: Any = aclient.CustomObjectsApi(api)
        await co.create_namespaced_custom_object(G, V, NS, P, rollout("aio"))
        lst = await co.list_namespaced_custom_object(G, V, NS, P)
        assert [i["metadata"]["name"] for i in lst["items"]] == ["aio"]
        rv = lst["metadata"]["resourceVersion"]

        async def later() -> None:
            await asyncio.sleep(0.05)
            await co.patch_namespaced_custom_object(G, V, NS, P, "aio", {"spec": {"replicas": 7}})

        task = asyncio.create_task(later())
        w: Any = awatch.Watch()  # type: ignore[no-untyped-call]
        seen = []
        async for ev in w.stream(
            co.list_namespaced_custom_object, G, V, NS, P, resource_version=rv, timeout_seconds=5
        ):
            seen.append((ev["type"], ev["object"]["spec"]["replicas"]))
            w.stop()
        await task
        assert seen == [("MODIFIED", 7)]


def test_configuration_helper_points_at_the_sandbox(sandbox: Sandbox) -> None:
    api = client.VersionApi(client.ApiClient(sandbox_configuration(sandbox)))
    assert api.get_code().git_version.startswith("v1.32")


def test_send_initial_events_ends_with_a_marked_bookmark(sandbox: Sandbox, co: CustomObjects) -> None:
    co.create_namespaced_custom_object(G, V, NS, P, rollout("init"))
    conn = http.client.HTTPConnection(sandbox.options.host, sandbox.port, timeout=5)
    conn.request(
        "GET",
        f"/apis/{G}/{V}/namespaces/{NS}/{P}?watch=true&allowWatchBookmarks=true"
        "&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=1",
    )
    events = [json.loads(line) for line in conn.getresponse().read().decode().splitlines() if line]
    conn.close()
    assert [e["type"] for e in events][:2] == ["ADDED", "BOOKMARK"]
    assert events[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


@pytest.mark.sandbox(faults={"watch_cut_after": 0.05})
def test_resuming_cut_watches_from_the_last_version_loses_nothing(co: CustomObjects) -> None:
    co.create_namespaced_custom_object(G, V, NS, P, rollout("resume"))
    rv = co.list_namespaced_custom_object(G, V, NS, P)["metadata"]["resourceVersion"]
    seen: list[int] = []
    for batch in range(8):
        # Writes land while no stream is open; the next stream, resumed from the last version seen, must
        # replay exactly those, in order. Every stream is cut by the server after 50 ms.
        for i in range(5):
            co.patch_namespaced_custom_object(
                G, V, NS, P, "resume", {"spec": {"replicas": 10 + batch * 5 + i}}
            )
        for ev in new_watch().stream(
            co.list_namespaced_custom_object,
            G,
            V,
            NS,
            P,
            resource_version=rv,
            timeout_seconds=5,
            _request_timeout=10,
        ):
            rv = ev["object"]["metadata"]["resourceVersion"]
            seen.append(ev["object"]["spec"]["replicas"])
    assert seen == list(range(10, 50))
