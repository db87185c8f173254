"""Active-active sharding (`rollouts controller --sharding`): several replicas split the Rollouts between them,
each Rollout (with its AnalysisRuns) acted on by exactly one live replica, with write fencing per key.

Membership: every replica holds a Lease of its own in the controller's namespace, labelled
`rollouts.argoproj.io/controller-shard=<group>`. A *round* (every retry period, on the supervisor thread) lists
those Leases, works out who is live, decides which keys this replica wants, and renews its own Lease with the
keys it claims (annotation `rollouts.argoproj.io/shard-claims`, a short digest per key).

Assignment: consistent hashing with bounded loads over the live members (each member has `vnodes` points on a
ring; a key goes to the first member clockwise from its own point that still has room under
`ceil(load_factor * keys / members)`). A membership change moves about its share of keys; the cap keeps every
member within `load_factor` of an even split however the names hash. The key of a Rollout is its
`namespace/name`; an AnalysisRun goes with the Rollout that owns it (its own key when it has none).

Fencing (a replica stops acting on a key before another may start). A replica acts on key k at time T only when
 1. a list that started at t ≤ T with T < t + renew_deadline showed k in this replica's committed claims and in
    no other live member's claims (`actionable`), and the renewal that followed that list succeeded;
 2. its permission is continuous: a renewal that answered after the previous permission had lapsed, or a Lease
    (re)created, starts a quarantine of renew_deadline before anything is actionable (`active_from`).
Another member is live while its Lease's renewTime changed less than leaseDurationSeconds ago, *as observed on
this replica's clock* at the start of the list (client-go's rule); a Lease that vanished is remembered until it
would have expired. Dropping a key takes effect in memory before the renewal that withdraws the claim is sent.
Why this suffices, in brief: two replicas acting on k at T would each have listed within the last
renew_deadline without seeing the other's claim of k; a claim is committed before the list that shows it, so
one of the two lists would have to precede the other's commit and follow it at once — unless one replica saw
the other as expired (then the other's permission lapsed lease_duration - renew_deadline earlier, and any
renewal after the snapshot is a rejoin in quarantine) or absent (a new Lease is quarantined). As with leader
election, what clocks cannot cover is a write that passed the fence and then waited longer than that margin
before reaching the API server, and clocks that run at different rates.

The fence is asked by the KubeClient right before every write (`check_write`), with the key of the pass that
sends it (`acting_on`, a context variable the manager sets around each reconcile).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import contextvars
import hashlib
import math
import re
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

from loguru import logger
from prometheus_client import CollectorRegistry, Gauge

from rollouts.controller.clocks import Clock, MonotonicClock
from rollouts.controller.leadership import NotLeader, check_lease_timing
from rollouts.kube.client import KubeClient
from rollouts.kube.errors import AlreadyExists, Conflict, KubeError, NotFound
from rollouts.kube.resources import LEASES, Resource

SHARD_LABEL = "rollouts.argoproj.io/controller-shard"
CLAIMS_ANNOTATION = "rollouts.argoproj.io/shard-claims"
FORGET_AFTER = 5  # lease durations after which an expired member's Lease is deleted by whoever sees it

_ACTING_ON: contextvars.ContextVar[str | None] = contextvars.ContextVar("rollouts_shard_key", default=None)


class NotOwner(NotLeader):
    """A write refused before it was sent: this replica does not (or not yet, or no longer surely) own the key
    of the pass that sent it."""


@contextlib.contextmanager
def acting_on(key: str) -> Iterator[None]:
    """Around one reconcile pass: the writes it sends are fenced by `key` (namespace/name of the Rollout)."""
    token = _ACTING_ON.set(key)
    try:
        yield
    finally:
        _ACTING_ON.reset(token)


def digest(key: str) -> str:
    """The short, stable digest of a key (the same on every replica and Python process)."""
    return hashlib.blake2b(key.encode(), digest_size=6).hexdigest()


def _point(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


# ------------------------------------------------------------------ assignment


class Ring:
    """Consistent hashing with bounded loads over a set of members (a pure function of members and keys)."""

    def __init__(self, members: Iterable[str], vnodes: int = 64) -> None:
        self.members = tuple(sorted(set(members)))
        points = sorted((_point(f"{m}#{i}"), m) for m in self.members for i in range(vnodes))
        self._points = [p for p, _ in points]
        self._owners = [m for _, m in points]

    def owner(self, key_digest: str) -> str:
        """The member a key goes to without load bounds."""
        i = bisect.bisect(self._points, int(key_digest, 16) << 16) % len(self._points)
        return self._owners[i]

    def assign(self, key_digests: Collection[str], load_factor: float = 1.1) -> dict[str, str]:
        """digest → member; no member gets more than ceil(load_factor * keys / members).

        The cap is computed exactly (the load factor as the decimal it is written as), so 1.1 × 60 / 3 is 22, not
        the 23 that binary floating point rounds up to. With m members the cap also bounds the smallest share
        from below: at least keys − (m − 1) × cap, which for three replicas and 1.1 is 80 % of even.
        """
        if not self.members:
            return {}
        cap = max(1, math.ceil(Fraction(repr(load_factor)) * len(key_digests) / len(self.members)))
        load = dict.fromkeys(self.members, 0)
        out: dict[str, str] = {}
        n = len(self._points)
        for d in sorted(key_digests):
            i = bisect.bisect(self._points, int(d, 16) << 16)
            for step in range(n):
                member = self._owners[(i + step) % n]
                if load[member] < cap:
                    load[member] += 1
                    out[d] = member
                    break
        return out


# ------------------------------------------------------------------ membership


@dataclass(frozen=True)
class ShardConfig:
    namespace: str
    group: str = "rollouts-controller"
    identity: str = ""
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    vnodes: int = 64
    load_factor: float = 1.1

    def validate(self) -> None:
        check_lease_timing("sharding", self.lease_duration, self.renew_deadline, self.retry_period)
        if self.load_factor < 1.0:
            raise ValueError(f"sharding load factor must be at least 1, got {self.load_factor}")


@dataclass
class _Seen:
    """Another member's Lease as this replica last saw it."""

    holder: str
    renew: str
    duration: float
    claims: frozenset[str]
    observed_at: float  # our clock, when `renew` was first seen
    listed: bool = True


def _micro_time(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def lease_name(group: str, identity: str) -> str:
    """A DNS-1123 name for a member's Lease: the group, the pod name's safe part, and a digest of the identity."""
    base = re.sub(r"[^a-z0-9-]+", "-", identity.lower()).strip("-")[:30].strip("-")
    return f"{group}-{base}-{digest(identity)[:8]}" if base else f"{group}-{digest(identity)[:8]}"


@dataclass
class RoundResult:
    """What one round decided (for logs and tests)."""

    members: tuple[str, ...]
    claims: frozenset[str]
    actionable: frozenset[str]
    renewed: bool


@dataclass
class Membership:
    """One replica's view of the shard group, and its fence. Rounds run on one loop; `check_write`, `owns` and
    the read-only attributes are safe to read from any thread (single assignments of immutable values)."""

    client: KubeClient
    config: ShardConfig
    keys: Callable[[], Collection[str]]  # every key this controller serves (namespace/name), any replica's
    clock: Clock = field(default_factory=MonotonicClock)
    on_refused: Callable[[str, Resource], None] | None = None
    on_change: Callable[[], None] | None = None

    def __post_init__(self) -> None:
        self.config.validate()
        self.identity = self.config.identity
        self.name = lease_name(self.config.group, self.identity)
        self.valid_until = 0.0  # our clock: permission (from the start of the last good round's list)
        self.active_from = math.inf  # our clock: end of the quarantine after (re)joining
        self.actionable: frozenset[str] = frozenset()  # digests this replica may act on
        self.members: tuple[str, ...] = ()
        self.known = False  # one round completed: membership is known
        self.rounds = 0
        self._seen: dict[str, _Seen] = {}  # lease name → another member
        self._claims: frozenset[str] = frozenset()  # what our Lease says (as last written)
        self._digests: dict[str, str] = {}

    # ------------------------------------------------------------------ the fence

    def may_act(self) -> bool:
        now = self.clock.now()
        return self.active_from <= now < self.valid_until

    def owns(self, key: str) -> bool:
        """This replica may act on `key` (namespace/name) now."""
        return self.may_act() and self.digest(key) in self.actionable

    def digest(self, key: str) -> str:
        d = self._digests.get(key)
        if d is None:
            d = self._digests[key] = digest(key)
        return d

    def check_write(self, verb: str, resource: Resource) -> None:
        """The KubeClient's write fence: raises `NotOwner` unless this replica surely owns the pass's key (or,
        for a write outside any pass, surely is a member)."""
        key = _ACTING_ON.get()
        if (key is None and self.may_act()) or (key is not None and self.owns(key)):
            return
        if self.on_refused is not None:
            self.on_refused(verb, resource)
        what = f"key {key}" if key is not None else "the shard group"
        raise NotOwner(
            f"{verb.lower()} {resource.plural}: not sent, this replica does not surely own {what} "
            f"(shard lease {self.config.namespace}/{self.name})"
        )

    # ------------------------------------------------------------------ one round

    async def round(self) -> RoundResult:
        """List the group, decide, renew (never raises on API errors)."""
        cfg = self.config
        started = self.clock.now()
        try:
            listing = await self.client.list(
                LEASES, cfg.namespace, label_selector=f"{SHARD_LABEL}={cfg.group}"
            )
        except KubeError as e:
            logger.warning("sharding: cannot list the leases of group {}: {}", cfg.group, e)
            return RoundResult(self.members, self._claims, self.actionable, False)
        own = self._observe(listing.items)
        live = {s.holder: s for s in self._seen.values() if started - s.observed_at < s.duration and s.holder}
        live.pop(self.identity, None)
        members = tuple(sorted({*live, self.identity}))
        others = frozenset().union(*(s.claims for s in live.values()))
        ours = own is not None and (own.get("spec") or {}).get("holderIdentity") == self.identity
        committed = _claims_of(own) if own is not None and ours else frozenset()
        wanted = self._wanted(members)
        actionable = (committed & wanted) - others
        self.actionable = self.actionable & actionable  # drop first: before the renewal withdraws a claim
        claims = wanted - others
        renewed = await self._renew(own, claims, started, actionable if ours else frozenset())
        if renewed:
            self.members = members
            self.known = True
        self.rounds += 1
        for name in self._forget_expired(started):
            await self._delete(name)
        if self.on_change is not None:
            self.on_change()
        return RoundResult(members, claims, self.actionable, renewed)

    def _observe(self, items: list[dict[str, Any]]) -> dict[str, Any] | None:
        """Note the others' Leases (a changed renewTime is observed now); returns our own Lease, if listed."""
        now = self.clock.now()
        own: dict[str, Any] | None = None
        for s in self._seen.values():
            s.listed = False
        for lease in items:
            meta = lease.get("metadata") or {}
            name = str(meta.get("name") or "")
            spec: dict[str, Any] = lease.get("spec") or {}
            holder = str(spec.get("holderIdentity") or "")
            if name == self.name:
                own = lease
                continue
            renew = str(spec.get("renewTime") or "")
            try:
                duration = float(spec.get("leaseDurationSeconds") or self.config.lease_duration)
            except (TypeError, ValueError):
                duration = self.config.lease_duration
            seen = self._seen.get(name)
            if seen is None or (seen.holder, seen.renew) != (holder, renew):
                self._seen[name] = _Seen(holder, renew, duration, _claims_of(lease), now)
            else:
                seen.claims, seen.duration, seen.listed = _claims_of(lease), duration, True
        return own

    def _wanted(self, members: tuple[str, ...]) -> frozenset[str]:
        keys = self.keys()
        if len(self._digests) > 2 * len(keys) + 1024:  # keys of deleted objects: start over
            self._digests = {}
        digests = {self.digest(k) for k in keys}
        assignment = Ring(members, self.config.vnodes).assign(digests, self.config.load_factor)
        return frozenset(d for d, m in assignment.items() if m == self.identity)

    async def _renew(
        self, own: dict[str, Any] | None, claims: frozenset[str], started: float, actionable: frozenset[str]
    ) -> bool:
        cfg = self.config
        now_wall = _micro_time(datetime.now(UTC))
        spec = {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": math.ceil(cfg.lease_duration),
            "renewTime": now_wall,
        }
        annotations = {CLAIMS_ANNOTATION: ",".join(sorted(claims))}
        rejoin = own is None or (own.get("spec") or {}).get("holderIdentity") != self.identity
        if rejoin:
            self.actionable = frozenset()
        try:
            if own is None:
                body = {
                    "metadata": {
                        "name": self.name,
                        "namespace": cfg.namespace,
                        "labels": {SHARD_LABEL: cfg.group},
                        "annotations": annotations,
                    },
                    "spec": {**spec, "acquireTime": now_wall},
                }
                await self.client.create(LEASES, body, cfg.namespace)
            else:
                meta = {
                    **own["metadata"],
                    "annotations": {**(own["metadata"].get("annotations") or {}), **annotations},
                }
                await self.client.replace(
                    LEASES, {**own, "metadata": meta, "spec": {**own["spec"], **spec}}, cfg.namespace
                )
        except (AlreadyExists, Conflict, NotFound) as e:
            logger.debug("sharding: renewal of {} lost a race: {}", self.name, e)
            return False
        except KubeError as e:
            logger.warning("sharding: cannot renew lease {}/{}: {}", cfg.namespace, self.name, e)
            return False
        answered = self.clock.now()
        if rejoin or answered >= self.valid_until:
            self.active_from = answered + cfg.renew_deadline
            logger.info(
                "sharding: {} joined group {} (acting in {:g}s, once every other member has surely seen it)",
                self.identity,
                cfg.group,
                cfg.renew_deadline,
            )
        self._claims = claims
        self.valid_until = started + cfg.renew_deadline
        self.actionable = actionable
        return True

    def _forget_expired(self, now: float) -> list[str]:
        """Drop members gone for good; returns the names of their Leases, to delete."""
        gone: list[str] = []
        for name, s in list(self._seen.items()):
            expired_for = now - s.observed_at - s.duration
            if expired_for <= 0:
                continue
            if not s.listed:
                del self._seen[name]
            elif expired_for > FORGET_AFTER * s.duration:
                del self._seen[name]
                gone.append(name)
        return gone

    async def _delete(self, name: str) -> None:
        with contextlib.suppress(KubeError):
            await self.client.delete(LEASES, name, self.config.namespace, propagation_policy=None)
            logger.info("sharding: deleted the lease {} of a member gone for good", name)

    # ------------------------------------------------------------------ loops

    async def run(self) -> None:
        """Rounds every retry period, forever (run it as a task)."""
        while True:
            try:
                await self.round()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug: stop acting rather than act unsure
                logger.exception("sharding round failed; acting on nothing until the next one")
                self.actionable = frozenset()
            await self.clock.sleep(self.config.retry_period)

    async def release(self) -> None:
        """Leave the group: stop acting, then withdraw every claim at once (holder cleared). The Lease stays so
        the others see the withdrawal (a Lease that vanishes unseen is honoured until it would have expired);
        they delete it `FORGET_AFTER` lease durations later."""
        self.valid_until = 0.0
        self.actionable = frozenset()
        cfg = self.config
        try:
            lease = await self.client.get(LEASES, self.name, cfg.namespace)
            if (lease.get("spec") or {}).get("holderIdentity") != self.identity:
                return
            meta = lease.get("metadata") or {}
            lease["metadata"] = {
                **meta,
                "annotations": {**(meta.get("annotations") or {}), CLAIMS_ANNOTATION: ""},
            }
            lease["spec"] = {**(lease.get("spec") or {}), "holderIdentity": ""}
            await self.client.replace(LEASES, lease, cfg.namespace)
            logger.info("sharding: {} left group {}", self.identity, cfg.group)
        except KubeError as e:
            logger.warning("sharding: leaving group {} failed: {}", cfg.group, e)


class ShardGauges:
    """`controller_shard_rollouts` (Rollouts this replica acts on) and `controller_shard_members` (live members
    of its group, itself included)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.rollouts = Gauge(
            "controller_shard_rollouts", "Rollouts this replica owns and acts on.", registry=registry
        )
        self.members = Gauge(
            "controller_shard_members", "Live replicas in this replica's shard group.", registry=registry
        )

    def update(self, *, rollouts: int, members: int) -> None:
        self.rollouts.set(rollouts)
        self.members.set(members)


def _claims_of(lease: dict[str, Any]) -> frozenset[str]:
    annotations = (lease.get("metadata") or {}).get("annotations") or {}
    text = str(annotations.get(CLAIMS_ANNOTATION) or "")
    return frozenset(c for c in text.split(",") if c)
