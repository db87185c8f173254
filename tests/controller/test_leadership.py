"""Leader election on a Lease (rollouts.controller.leadership) against the sandbox: one leads; when it stops
renewing the other takes over after the lease duration; a release hands over at once; two controller
processes, the leader killed, the standby takes over."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import urllib.request

import pytest

from rollouts.controller.clocks import ManualClock
from rollouts.controller.leadership import ElectionConfig, LeaderElector, NotLeader
from rollouts.kube.client import KubeClient
from rollouts.kube.resources import LEASES, ROLLOUTS
from tests.controller.processes import FAST_LEASE, controllers, wait

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


async def test_the_fence_closes_a_renew_deadline_after_the_last_renewal_started(kube: KubeClient) -> None:
    clock = ManualClock()
    one, two = electors(kube, clock)
    assert not one.may_write()  # never led
    with pytest.raises(NotLeader, match="does not hold the lease default/lock"):
        one.check_write("Patch", ROLLOUTS)
    await one.acquire()
    one.check_write("Patch", ROLLOUTS)  # leading: allowed
    clock._now += 9.9
    assert one.may_write()
    clock._now += 0.1  # renew deadline (10 s) reached without a renewal: nothing more is sent
    assert not one.may_write()
    refused: list[tuple[str, str]] = []
    one.on_refused = lambda verb, resource: refused.append((verb, resource.kind))
    with pytest.raises(NotLeader):
        one.check_write("Update", ROLLOUTS)
    assert refused == [("Update", "Rollout")]
    assert await one.try_acquire_or_renew()  # a renewal opens it again, from when it started
    assert one.may_write()
    # a candidate can take over only lease duration (15 s) after it saw that renewal: 5 s after the fence closed
    assert not await two.try_acquire_or_renew()
    clock._now += 10.0
    assert not one.may_write() and not await two.try_acquire_or_renew()
    clock._now += 5.0
    assert await two.try_acquire_or_renew() and two.may_write()
    assert not await one.try_acquire_or_renew() and not one.may_write() and not one.is_leader


async def test_release_closes_the_fence_first(kube: KubeClient) -> None:
    clock = ManualClock()
    one, _ = electors(kube, clock)
    await one.acquire()
    await one.release()
    assert not one.may_write()


async def test_an_unresponsive_leader_stops_renewing(kube: KubeClient) -> None:
    clock = ManualClock()
    answering = {"now": True}
    one = LeaderElector(
        kube,
        ElectionConfig(**{**CFG.__dict__, "identity": "one"}),
        clock=clock,
        responsive=lambda: answering["now"],
    )
    await one.acquire()
    holding = asyncio.create_task(one.hold())
    await clock.advance(2)
    assert one.is_leader
    answering["now"] = False
    updates = (await kube.get(LEASES, "lock", "default"))["metadata"]["resourceVersion"]
    await clock.advance(10)
    await asyncio.wait_for(holding, 5)
    assert not one.is_leader and not one.may_write()
    assert (await kube.get(LEASES, "lock", "default"))["metadata"]["resourceVersion"] == updates
    assert not await one.try_acquire_or_renew()  # nor takes it back while it does not answer


async def test_a_standby_watching_the_lease_takes_it_the_moment_it_is_released(kube: KubeClient) -> None:
    clock = ManualClock()
    one, two = electors(kube, clock)
    await one.acquire()
    watching = asyncio.create_task(two.watch())
    acquiring = asyncio.create_task(two.acquire())
    try:
        await asleep(clock)  # two tried once, found it held and waits (retry period 2 s, expiry 15 s)
        assert not acquiring.done()
        await one.release()  # no clock advance from here: only the watch can wake it
        await asyncio.wait_for(acquiring, 5)
        assert two.is_leader and two.may_write()
    finally:
        watching.cancel()
        acquiring.cancel()


async def asleep(clock: ManualClock) -> None:
    """Until a task sleeps on the manual clock (the elector's requests are real: they take real time)."""
    async with asyncio.timeout(10):
        while not clock.sleepers:  # noqa: ASYNC110 - real requests, then a manual-clock sleep
            await asyncio.sleep(0.002)


async def test_a_standby_tries_exactly_when_the_observed_lease_expires(kube: KubeClient) -> None:
    clock = ManualClock()
    one, two = electors(kube, clock)
    await one.acquire()
    acquiring = asyncio.create_task(two.acquire())
    await asleep(clock)
    for _ in range(7):  # polls every retry period (2 s) while it waits: 14 s
        await clock.advance(2)
        await asleep(clock)
        assert not acquiring.done()
    await clock.advance(0.99)  # 14.99 s
    assert not acquiring.done()
    await clock.advance(0.02)  # 15.01 s: the next try is at the expiry, not at the next 2 s tick (16 s)
    await asyncio.wait_for(acquiring, 5)
    assert two.is_leader


def test_invalid_timings_are_refused() -> None:
    with pytest.raises(ValueError, match="lease duration > renew deadline"):
        ElectionConfig(namespace="x", lease_duration=5, renew_deadline=10).validate()


# ---------------------------------------------------------------------------------------------- processes


@pytest.mark.slow
def test_two_controller_processes_one_leads_and_the_other_takes_over_on_death(
    sandbox_process: object,
) -> None:
    kubeconfig = sandbox_process.kubeconfig_path  # type: ignore[attr-defined]
    with controllers(kubeconfig, "a", "b", args=FAST_LEASE) as (a, b):
        assert wait(lambda: a.leads() != b.leads(), 20)
        time.sleep(1.0)  # real processes, no injectable clock: let 4 renew periods pass, still one leader
        assert a.leads() != b.leads()
        dead, standby = (a, b) if a.leads() else (b, a)
        dead.process.send_signal(signal.SIGKILL)  # no release: the standby must wait for expiry
        dead.process.wait(10)
        assert wait(standby.leads, 10)
        standby.process.send_signal(signal.SIGTERM)
        assert standby.process.wait(20) == 0
    url = (
        sandbox_process.url
        + "/apis/coordination.k8s.io/v1/namespaces/default/leases/rollouts-controller-lock"
    )  # type: ignore[attr-defined]
    with urllib.request.urlopen(url, timeout=5) as resp:
        lease = json.loads(resp.read())
    assert lease["spec"]["holderIdentity"] == ""  # a clean shutdown releases the lease
