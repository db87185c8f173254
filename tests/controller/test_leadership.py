"""Leader election on a Lease (rollouts.controller.leadership) against the sandbox: one leads; when it stops
renewing the other takes over after the lease duration; a release hands over at once; two controller
processes, the leader killed, the standby takes over."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from rollouts.controller.clocks import ManualClock
from rollouts.controller.leadership import ElectionConfig, LeaderElector
from rollouts.kube.client import KubeClient
from rollouts.kube.resources import LEASES

CFG = ElectionConfig(namespace="default", name="lock", lease_duration=15, renew_deadline=10, retry_period=2)


def electors(kube: KubeClient, clock: ManualClock) -> tuple[LeaderElector, LeaderElector]:
    return (
        LeaderElector(kube, ElectionConfig(**{**CFG.__dict__, "identity": "one"}), clock=clock),
        LeaderElector(kube, ElectionConfig(**{**CFG.__dict__, "identity": "two"}), clock=clock),
    )


async def test_one_leads_the_other_waits_for_the_lease_to_expire(kube: KubeClient) -> None:
    clock = ManualClock()
    one, two = electors(kube, clock)
    assert await one.try_acquire_or_renew()
    assert not await two.try_acquire_or_renew()
    lease = await kube.get(LEASES, "lock", "default")
    assert lease["spec"]["holderIdentity"] == "one"
    assert lease["spec"]["leaseDurationSeconds"] == 15
    # "one" dies (stops renewing); "two" observed the record at t0 and must wait a full lease duration
    clock._now += 14.9
    assert not await two.try_acquire_or_renew()
    clock._now += 0.2
    assert await two.try_acquire_or_renew()
    lease = await kube.get(LEASES, "lock", "default")
    assert lease["spec"]["holderIdentity"] == "two"
    assert lease["spec"]["leaseTransitions"] == 1


async def test_renewals_keep_the_lease(kube: KubeClient) -> None:
    clock = ManualClock()
    one, two = electors(kube, clock)
    assert await one.try_acquire_or_renew()
    assert not await two.try_acquire_or_renew()
    for _ in range(20):  # 20 renewals, 2 s apart: 40 s, far beyond the lease duration
        clock._now += 2
        assert await one.try_acquire_or_renew()
        assert not await two.try_acquire_or_renew()


async def test_racing_candidates_only_one_wins(kube: KubeClient) -> None:
    clock = ManualClock()
    one, two = electors(kube, clock)
    results = await asyncio.gather(one.try_acquire_or_renew(), two.try_acquire_or_renew())
    assert sorted(results) == [False, True]


async def test_release_hands_over_without_waiting(kube: KubeClient) -> None:
    clock = ManualClock()
    one, two = electors(kube, clock)
    await one.acquire()
    await one.release()
    assert not one.is_leader
    assert await two.try_acquire_or_renew()  # same instant: no lease duration to wait


async def test_hold_returns_when_leadership_is_lost(kube: KubeClient) -> None:
    clock = ManualClock()
    one, _ = electors(kube, clock)
    await one.acquire()
    holding = asyncio.create_task(one.hold())
    await clock.advance(2)
    assert not holding.done() and one.is_leader
    # another process overwrote the lease (as after a long pause of ours)
    lease = await kube.get(LEASES, "lock", "default")
    lease["spec"]["holderIdentity"] = "two"
    await kube.replace(LEASES, lease)
    await clock.advance(2)
    await asyncio.wait_for(holding, 5)
    assert not one.is_leader


def test_invalid_timings_are_refused() -> None:
    with pytest.raises(ValueError, match="lease duration > renew deadline"):
        ElectionConfig(namespace="x", lease_duration=5, renew_deadline=10).validate()


# ---------------------------------------------------------------------------------------------- processes


def _start_controller(kubeconfig: Path, identity: str) -> tuple[subprocess.Popen[str], int]:
    cmd = [
        sys.executable,
        "-m",
        "rollouts.cli",
        "controller",
        "--kubeconfig",
        str(kubeconfig),
        "--healthz-port",
        "0",
        "--metrics-port",
        "0",
        "--bind",
        "127.0.0.1",
        "--lease-duration",
        "2",
        "--renew-deadline",
        "1.5",
        "--retry-period",
        "0.25",
        "--log-level",
        "warning",
    ]
    env = dict(os.environ, POD_NAME=identity, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"metrics http://127\.0\.0\.1:(\d+)/metrics", line)
    if match is None:
        proc.kill()
        raise AssertionError(
            f"controller did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}"
        )
    return proc, int(match.group(1))


def _leader(port: int) -> bool | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
    except OSError:
        return None
    match = re.search(r"^rollouts_controller_leader (\S+)$", text, re.M)
    return bool(match and float(match.group(1)) == 1.0)


def _wait(cond: object, limit: float) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


@pytest.mark.slow
def test_two_controller_processes_one_leads_and_the_other_takes_over_on_death(
    sandbox_process: object,
) -> None:
    kubeconfig = sandbox_process.kubeconfig_path  # type: ignore[attr-defined]
    procs = [_start_controller(kubeconfig, "a"), _start_controller(kubeconfig, "b")]
    try:
        assert _wait(lambda: sum(_leader(p) is True for _, p in procs) == 1, 20)
        time.sleep(1.0)  # real processes, no injectable clock: let 4 renew periods pass, still one leader
        leaders = [i for i, (_, port) in enumerate(procs) if _leader(port)]
        assert len(leaders) == 1
        dead, standby = procs[leaders[0]], procs[1 - leaders[0]]
        dead[0].send_signal(signal.SIGKILL)  # no release: the standby must wait for expiry
        dead[0].wait(10)
        killed_at = time.monotonic()
        assert _wait(lambda: _leader(standby[1]) is True, 10)
        assert (
            time.monotonic() - killed_at < 2 + 1.5
        )  # within the lease duration (+ slack for a loaded machine)
        standby[0].send_signal(signal.SIGTERM)
        assert standby[0].wait(20) == 0
        url = (
            sandbox_process.url
            + "/apis/coordination.k8s.io/v1/namespaces/default/leases/rollouts-controller-lock"
        )  # type: ignore[attr-defined]
        with urllib.request.urlopen(url, timeout=5) as resp:
            lease = json.loads(resp.read())
        assert lease["spec"]["holderIdentity"] == ""  # a clean shutdown releases the lease
    finally:
        for proc, _ in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
            for stream in (proc.stdout, proc.stderr):
                if stream:
                    stream.close()
