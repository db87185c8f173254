"""The supervisor thread: /healthz, /readyz and the Lease do not wait on the reconcilers' loop.

Each test blocks the manager's event loop from inside a reconcile (a blocking wait, as a runaway computation
would) and watches from another thread what still works: the probes answer, the lease is renewed; a loop
stalled past the stall limit turns /healthz red, and one stalled past the renew deadline hands the lease over.
The sandbox runs in its own thread here, so the blocked loop is only the controller's.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from rollouts.controller.manager import ControllerConfig, Manager, Runtime
from rollouts.controller.queueing import ObjectKey
from rollouts.kube.client import KubeClient
from rollouts.kube.config import settings_for_url
from rollouts.kube.resources import ROLLOUTS
from rollouts.sandbox import Sandbox
from tests.controller.test_manager import rollout, until


class Blocking:
    """A reconciler that blocks the whole event loop on its first pass until `release` is set."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def factory(self, rt: Runtime) -> Blocking:
        return self

    async def reconcile(self, key: ObjectKey) -> float | None:
        if not self.entered.is_set():
            self.entered.set()
            self.release.wait(30)  # blocking on purpose: the loop is frozen meanwhile
        return None


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    thread.start()
    return thread, out


@pytest.fixture
async def client(sandbox: Sandbox) -> AsyncIterator[KubeClient]:
    kube = KubeClient(settings_for_url(sandbox.url), qps=0)
    try:
        yield kube
    finally:
        await kube.close()


async def _manager(client: KubeClient, blocking: Blocking, **settings: Any) -> Manager:
    config = ControllerConfig(
        lease_namespace="default", healthz_port=0, metrics_port=0, bind="127.0.0.1", **settings
    )
    manager = Manager(
        client,
        config,
        registry=CollectorRegistry(),
        rollout_reconciler=blocking.factory,
        analysis_reconciler=None,
    )
    await manager.start()
    await until(manager.leading.is_set)
    return manager


async def test_probes_answer_while_the_reconcilers_loop_is_blocked(client: KubeClient) -> None:
    blocking = Blocking()
    manager = await _manager(client, blocking, leader_elect=False)
    base = f"http://127.0.0.1:{manager.health.healthz_port}"
    try:

        def probe() -> list[int]:
            blocking.entered.wait(30)
            try:  # while the loop is frozen
                return [status_of(base + "/healthz"), status_of(base + "/readyz")]
            finally:
                blocking.release.set()

        thread, out = in_thread(probe)
        await client.create(ROLLOUTS, rollout("block"))
        await until(lambda: not thread.is_alive(), 40)
        assert out == [[200, 200]]
    finally:
        blocking.release.set()
        await manager.stop(grace=1)


async def test_a_stalled_loop_turns_healthz_red_and_back(client: KubeClient) -> None:
    blocking = Blocking()
    manager = await _manager(client, blocking, leader_elect=False, stall_limit=0.3)
    url = f"http://127.0.0.1:{manager.health.healthz_port}/healthz"
    try:

        def watch() -> bool:
            blocking.entered.wait(30)
            deadline = time.monotonic() + 20
            red = False
            while not red and time.monotonic() < deadline:
                red = status_of(url) == 503
                time.sleep(0.02)
            blocking.release.set()
            return red

        thread, out = in_thread(watch)
        await client.create(ROLLOUTS, rollout("stall"))
        await until(lambda: not thread.is_alive(), 40)
        assert out == [True]
        await until(lambda: status_of(url) == 200)  # the loop answers again
    finally:
        blocking.release.set()
        await manager.stop(grace=1)


async def test_the_lease_is_renewed_while_the_loop_is_busy_and_handed_over_when_it_is_stuck(
    client: KubeClient, sandbox: Sandbox
) -> None:
    blocking = Blocking()
    manager = await _manager(
        client, blocking, leader_elect=True, retry_period=0.05, renew_deadline=1.0, lease_duration=5.0
    )
    elector = manager.elector
    assert elector is not None
    try:

        def renewals_since(t: float) -> int:
            return len([r for r in sandbox.requests.records(resource="leases", verb="update") if r.time >= t])

        def observe() -> tuple[bool, bool, bool]:
            blocking.entered.wait(30)
            frozen = time.time()
            deadline = time.monotonic() + 20
            while renewals_since(frozen) < 3 and time.monotonic() < deadline:
                time.sleep(0.01)
            renewed = renewals_since(frozen) >= 3  # on the supervisor thread, while the loop is frozen
            while elector.is_leader and time.monotonic() < deadline:
                time.sleep(0.01)
            gave_up = not elector.is_leader and not elector.may_write()  # frozen past the renew deadline
            stopped = time.time()
            time.sleep(10 * 0.05)  # ten retry periods, still frozen: it must not take the lease back
            retaken = renewals_since(stopped) > 0
            blocking.release.set()
            return renewed, gave_up, retaken

        thread, out = in_thread(observe)
        await client.create(ROLLOUTS, rollout("busy"))
        await until(lambda: not thread.is_alive(), 40)
        assert out == [(True, True, False)]
        await until(manager.leading.is_set, 20)  # the loop answers again: it leads again (nobody else does)
    finally:
        blocking.release.set()
        await manager.stop(grace=1)
