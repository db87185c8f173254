"""Active-active sharding (rollouts.controller.sharding) against the sandbox's Leases, on a manual clock: the ring
splits keys evenly and moves only a membership change's share; members split the keys, take over a dead
member's keys within two lease durations, hand keys to a joining member; and under random schedules (freezes,
joins, leaves, renewals in any order) no two members may ever act on the same key at the same instant.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from fractions import Fraction

import pytest

from rollouts.controller.clocks import ManualClock
from rollouts.controller.sharding import (
    CLAIMS_ANNOTATION,
    SHARD_LABEL,
    Membership,
    NotOwner,
    Ring,
    ShardConfig,
    acting_on,
    digest,
)
from rollouts.kube.client import KubeClient
from rollouts.kube.resources import LEASES, ROLLOUTS

KEYS = frozenset(f"team-{i % 7}/app-{i}" for i in range(300))
CFG = ShardConfig(namespace="default", lease_duration=15, renew_deadline=10, retry_period=2)


def member(kube: KubeClient, clock: ManualClock, identity: str, keys: frozenset[str] = KEYS) -> Membership:
    return Membership(kube, ShardConfig(**{**CFG.__dict__, "identity": identity}), lambda: keys, clock=clock)


def owned(m: Membership, keys: frozenset[str] = KEYS) -> set[str]:
    return {k for k in keys if m.owns(k)}


async def rounds(clock: ManualClock, members: list[Membership], n: int, step: float = 2.0) -> None:
    for _ in range(n):
        for m in members:
            await m.round()
        clock._now += step


# ---------------------------------------------------------------------------------------------- the ring


def test_the_ring_keeps_every_member_within_the_load_factor_of_even() -> None:
    for n_members, n_keys in ((3, 60), (3, 3000), (5, 1000), (2, 7), (3, 30)):
        members = [f"replica-{i}_{(0x9E3779B1 * (i + 1)) % 2**32:08x}" for i in range(n_members)]
        digests = {digest(f"ns/r-{i}") for i in range(n_keys)}
        counts = Counter(Ring(members).assign(digests, 1.1).values())
        assert sum(counts.values()) == n_keys
        cap = math.ceil(Fraction(11, 10) * n_keys / n_members)
        assert max(counts.values()) <= cap, counts
        assert min(counts.values()) >= n_keys - (n_members - 1) * cap, counts


def test_three_replicas_always_get_within_20_percent_of_even() -> None:
    """The guarantee the cap gives with three members (1.1 × 60 / 3 is exactly 22: floats would say 23)."""
    digests = {digest(f"ns/r-{i}") for i in range(60)}
    for salt in range(50):
        members = [f"replica-{i}_{salt:04x}{i}" for i in range(3)]
        counts = Counter(Ring(members).assign(digests, 1.1).values())
        assert max(counts.values()) <= 22 and min(counts.values()) >= 16, counts


def test_a_membership_change_moves_about_its_share() -> None:
    digests = {digest(f"ns/r-{i}") for i in range(3000)}
    before = Ring(["a", "b", "c", "d"]).assign(digests, 1.1)
    after = Ring(["a", "b", "c"]).assign(digests, 1.1)
    moved = sum(1 for d in digests if before[d] != after[d])
    d_share = sum(1 for m in before.values() if m == "d")
    assert d_share <= moved <= d_share * 1.5  # d's keys, and a few pushed on by the caps
    joined = Ring(["a", "b", "c", "d", "e"]).assign(digests, 1.1)
    moved = sum(1 for d in digests if before[d] != joined[d])
    assert moved <= len(digests) / 5 * 1.5


def test_assignment_is_the_same_on_every_replica() -> None:
    digests = [digest(f"ns/r-{i}") for i in range(500)]
    one = Ring(["x", "y", "z"]).assign(set(digests))
    other = Ring(["z", "x", "y", "x"]).assign(set(reversed(digests)))
    assert one == other


def test_invalid_timings_are_refused() -> None:
    with pytest.raises(ValueError, match="lease duration > renew deadline > retry period"):
        ShardConfig(namespace="default", lease_duration=5, renew_deadline=5, retry_period=1).validate()


# ---------------------------------------------------------------------------------------------- members


async def test_two_members_split_every_key_once_past_the_quarantine(kube: KubeClient) -> None:
    clock = ManualClock()
    a, b = member(kube, clock, "a"), member(kube, clock, "b")
    await rounds(clock, [a, b], 1)
    assert a.known and b.known
    assert not owned(a) and not owned(b)  # nobody acts within renew_deadline of joining
    await rounds(clock, [a, b], 7)
    mine_a, mine_b = owned(a), owned(b)
    assert mine_a | mine_b == KEYS
    assert not mine_a & mine_b
    assert abs(len(mine_a) - len(mine_b)) <= 0.2 * len(KEYS)
    assert a.members == b.members == ("a", "b")
    leases = (await kube.list(LEASES, "default", label_selector=f"{SHARD_LABEL}=rollouts-controller")).items
    claims = {
        lease["spec"]["holderIdentity"]: lease["metadata"]["annotations"][CLAIMS_ANNOTATION]
        for lease in leases
    }
    assert set(claims) == {"a", "b"}
    assert set(claims["a"].split(",")) == {digest(k) for k in mine_a}


async def test_the_fence_refuses_a_write_for_a_key_of_another_member(kube: KubeClient) -> None:
    clock = ManualClock()
    a, b = member(kube, clock, "a"), member(kube, clock, "b")
    await rounds(clock, [a, b], 8)
    key_a, key_b = sorted(owned(a))[0], sorted(owned(b))[0]
    with acting_on(key_a):
        a.check_write("Patch", ROLLOUTS)
        with pytest.raises(NotOwner, match=f"key {key_a}"):
            b.check_write("Patch", ROLLOUTS)
    with acting_on(key_b):
        b.check_write("Patch", ROLLOUTS)
    a.check_write("Create", ROLLOUTS)  # outside a pass: a member in good standing may write (Events)
    clock._now += CFG.renew_deadline  # no renewal for the renew deadline: nothing at all
    with pytest.raises(NotOwner):
        a.check_write("Create", ROLLOUTS)
    with acting_on(key_a), pytest.raises(NotOwner):
        a.check_write("Patch", ROLLOUTS)


async def test_a_dead_members_keys_are_taken_over_within_two_lease_durations(kube: KubeClient) -> None:
    clock = ManualClock()
    a, b, c = (member(kube, clock, name) for name in "abc")
    await rounds(clock, [a, b, c], 8)
    assert owned(a) | owned(b) | owned(c) == KEYS
    died = clock.now()  # c stops renewing (SIGKILL)
    while (owned(a) | owned(b)) != KEYS:
        assert clock.now() - died < 2 * CFG.lease_duration, "takeover took two lease durations"
        assert not (owned(a) & owned(b))
        await rounds(clock, [a, b], 1, step=0.5)
    assert a.members == b.members == ("a", "b")


async def test_a_joining_member_gets_its_share_after_the_others_dropped_it(kube: KubeClient) -> None:
    clock = ManualClock()
    a, b = member(kube, clock, "a"), member(kube, clock, "b")
    await rounds(clock, [a, b], 8)
    c = member(kube, clock, "c")
    for _ in range(20):
        await rounds(clock, [c, a, b], 1, step=1.0)
        mine = [owned(m) for m in (a, b, c)]
        assert sum(len(s) for s in mine) == len(set().union(*mine)), "a key owned twice"
    counts = [len(owned(m)) for m in (a, b, c)]
    assert sum(counts) == len(KEYS)
    assert min(counts) >= 0.8 * len(KEYS) / 3, counts


async def test_a_frozen_member_that_resumes_rejoins_and_acts_on_nothing_at_first(kube: KubeClient) -> None:
    clock = ManualClock()
    a, b = member(kube, clock, "a"), member(kube, clock, "b")
    await rounds(clock, [a, b], 8)
    before = owned(a)
    assert before
    await rounds(clock, [b], 20, step=1.0)  # a is frozen for 20 s: b takes everything
    assert owned(b) == KEYS
    await a.round()  # a resumes: its permission lapsed long ago, so this renewal is a rejoin
    assert not owned(a)
    await rounds(clock, [a, b], 12, step=1.0)
    assert not (owned(a) & owned(b))
    assert owned(a) | owned(b) == KEYS and owned(a)


async def test_a_released_members_keys_move_at_once(kube: KubeClient) -> None:
    clock = ManualClock()
    a, b = member(kube, clock, "a"), member(kube, clock, "b")
    await rounds(clock, [a, b], 8)
    await a.release()
    assert not owned(a)
    await rounds(clock, [b], 3)  # no lease duration to wait: the claims were withdrawn
    assert owned(b) == KEYS
    assert (await kube.get(LEASES, a.name, "default"))["spec"]["holderIdentity"] == ""
    await rounds(clock, [b], 50)  # and after five lease durations, the released Lease is deleted
    assert await kube.get_or_none(LEASES, a.name, "default") is None


@pytest.mark.parametrize("seed", range(6))
async def test_no_two_members_ever_own_a_key_at_the_same_instant(kube: KubeClient, seed: int) -> None:
    """Random schedules: members renew in any order and at uneven times, freeze for up to two lease durations
    (their reconcilers still asking the fence), join late, and leave; after every single step, at that instant,
    every key is owned by at most one member."""
    rng = random.Random(seed)
    keys = frozenset(f"ns/r-{i}" for i in range(60))
    clock = ManualClock()
    pool = [member(kube, clock, f"m{i}", keys) for i in range(4)]
    active = pool[:2]
    frozen_until: dict[str, float] = {}
    owners_seen: Counter[str] = Counter()
    for _ in range(400):
        event = rng.random()
        if event < 0.03 and len(active) < len(pool):
            active.append(pool[len(active)])  # a member joins
        elif event < 0.06:
            frozen_until[rng.choice(active).identity] = clock.now() + rng.uniform(1, 2 * CFG.lease_duration)
        else:
            m = rng.choice(active)
            if frozen_until.get(m.identity, 0) <= clock.now():
                await m.round()
        clock._now += rng.uniform(0.05, 1.5)
        for k in keys:
            holders = [m.identity for m in active if m.owns(k)]
            assert len(holders) <= 1, f"{k} owned by {holders} at once"
            if holders:
                owners_seen[holders[0]] += 1
    assert len(owners_seen) >= 2  # the schedule did exercise a split, not one member acting alone
