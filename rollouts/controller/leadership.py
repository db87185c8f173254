"""Leader election on a coordination.k8s.io/v1 Lease, with write fencing: of several controller processes, only
one acts, and one that may have lost the lease writes nothing.

Gates the manager (`rollouts.controller.manager`) from the supervisor thread (`rollouts.controller.supervising`):
workers start after `acquire()` returns and stop when `hold()` returns (leadership lost) or on shutdown, when
`release()` hands the lease over at once.

Semantics follow client-go's leaderelection: a candidate may take the lease when it is free (no holder) or
when the holder has not renewed it for `lease_duration` seconds *as observed on the candidate's own clock*
(so clock skew between nodes does not matter); every write carries the resourceVersion it read, so of two
candidates racing only one wins (the other gets 409). The leader renews every `retry_period` and gives up
when it could not renew for `renew_deadline`. A standby also watches the Lease, so it sees each renewal as it
happens and tries again the moment the lease expires (or is released) rather than at its next poll.

Fencing: a renewal that started at t (our monotonic clock) lets this process write until t + `renew_deadline`
(`may_write`, asked by the KubeClient right before every write through `check_write`). A candidate saw that
renewal no earlier than t and waits `lease_duration` from then, so between the last write the old leader may
send and the first one the new leader sends lie at least `lease_duration - renew_deadline` seconds (5 s by
default), even when the old leader's process was frozen (SIGSTOP, a stalled VM) and resumes with writes queued.
What fencing by the clock cannot cover: a write that passed the check and then waited longer than that margin
before reaching the API server.

`kubernetes.aio.leaderelection` was not used: it has no release on shutdown and no fencing, reads time as naive
local datetimes, and talks through its own API objects, bypassing our rate limiter and request metrics.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from loguru import logger

from rollouts.controller.clocks import Clock, MonotonicClock
from rollouts.kube.client import KubeClient
from rollouts.kube.errors import AlreadyExists, Conflict, Gone, KubeError, NotFound
from rollouts.kube.resources import LEASES, Resource


@dataclass(frozen=True)
class ElectionConfig:
    namespace: str
    name: str = "rollouts-controller-lock"
    identity: str = ""
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def validate(self) -> None:
        check_lease_timing("leader election", self.lease_duration, self.renew_deadline, self.retry_period)


def check_lease_timing(user: str, lease_duration: float, renew_deadline: float, retry_period: float) -> None:
    """client-go's rule for Lease timings, shared by leader election and sharding: duration > deadline > retry > 0."""
    if not (lease_duration > renew_deadline > retry_period > 0):
        raise ValueError(
            f"{user} needs lease duration > renew deadline > retry period > 0, got "
            f"{lease_duration}s / {renew_deadline}s / {retry_period}s"
        )


class NotLeader(KubeError):
    """A write refused before it was sent: this process does not hold the lease, or can no longer be sure it
    does (its last renewal is older than the renew deadline)."""


def default_identity() -> str:
    return f"{os.environ.get('POD_NAME') or socket.gethostname()}_{uuid.uuid4().hex[:8]}"


def _micro_time(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    """One candidate. `responsive()` (optional) says whether the work this lease protects is being done: while
    it answers False the leader stops renewing, so a replica whose reconcilers are stuck hands over."""

    def __init__(
        self,
        client: KubeClient,
        config: ElectionConfig,
        *,
        clock: Clock | None = None,
        responsive: Callable[[], bool] | None = None,
        on_refused: Callable[[str, Resource], None] | None = None,
    ) -> None:
        config.validate()
        self.client = client
        self.config = config
        self.identity = config.identity or default_identity()
        self.clock: Clock = clock or MonotonicClock()
        self.responsive = responsive
        self.on_refused = on_refused
        self.is_leader = False
        self.transitions = 0  # how many times this elector became leader
        self.valid_until = 0.0  # our clock: writes are allowed before this instant (the fence)
        self._observed: tuple[str, str] | None = None  # (holder, renewTime) last seen
        self._observed_at = 0.0  # our clock when it last changed
        self._observed_duration = config.lease_duration
        self._poked: asyncio.Event | None = None  # the lease changed (watch) or may be free: try now
        self._unresponsive = False  # the stall was said at warning level

    # ------------------------------------------------------------------ the fence

    def may_write(self) -> bool:
        return self.clock.now() < self.valid_until

    def check_write(self, verb: str, resource: Resource) -> None:
        """The KubeClient's write fence: raises `NotLeader` unless this process surely holds the lease."""
        if self.clock.now() < self.valid_until:
            return
        if self.on_refused is not None:
            self.on_refused(verb, resource)
        cfg = self.config
        raise NotLeader(
            f"{verb.lower()} {resource.plural}: not sent, this replica does not hold the lease "
            f"{cfg.namespace}/{cfg.name} (or has not renewed it for {cfg.renew_deadline:g}s)"
        )

    # ------------------------------------------------------------------ one attempt

    async def try_acquire_or_renew(self) -> bool:
        """One attempt (never raises on API errors): True when we hold the lease afterwards.

        On success the fence moves to this attempt's start + renew deadline; on finding the lease held by
        another it closes at once; on an API error it is left to expire."""
        started = self.clock.now()
        if self.responsive is not None and not self.responsive():
            if not self._unresponsive:
                self._unresponsive = True
                logger.warning(
                    "leader election: the reconcilers do not answer; not taking or renewing the lease"
                )
            return False
        self._unresponsive = False
        held = await self._attempt()
        if held:
            self.valid_until = started + self.config.renew_deadline
            self._set_leader(True)
        elif self._held_by_other():
            self.valid_until = 0.0
            self._set_leader(False)
        return held

    async def _attempt(self) -> bool:
        cfg = self.config
        now_wall = _micro_time(datetime.now(UTC))
        try:
            lease = await self.client.get(LEASES, cfg.name, cfg.namespace)
        except NotFound:
            body = {
                "metadata": {"name": cfg.name, "namespace": cfg.namespace},
                "spec": self._spec(now_wall, now_wall, 0),
            }
            try:
                await self.client.create(LEASES, body, cfg.namespace)
            except (AlreadyExists, Conflict):
                return False
            except KubeError as e:
                logger.warning("leader election: cannot create lease {}/{}: {}", cfg.namespace, cfg.name, e)
                return False
            self._observe(self.identity, now_wall)
            return True
        except KubeError as e:
            logger.warning("leader election: cannot read lease {}/{}: {}", cfg.namespace, cfg.name, e)
            return False

        spec: dict[str, Any] = lease.get("spec") or {}
        holder = self.observe_lease(lease)
        held_by_other = holder not in ("", self.identity)
        if held_by_other and self._observed_at + self._observed_duration > self.clock.now():
            return False
        transitions = int(spec.get("leaseTransitions") or 0)
        if holder != self.identity:
            transitions += 1
            acquire = now_wall
        else:
            acquire = str(spec.get("acquireTime") or now_wall)
        new = dict(lease)
        new["spec"] = {**spec, **self._spec(acquire, now_wall, transitions)}
        try:
            await self.client.replace(LEASES, new, cfg.namespace)
        except KubeError as e:
            if not isinstance(e, Conflict):
                logger.warning("leader election: cannot update lease {}/{}: {}", cfg.namespace, cfg.name, e)
            return False
        self._observe(self.identity, now_wall)
        return True

    def _spec(self, acquire: str, renew: str, transitions: int) -> dict[str, Any]:
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": round(self.config.lease_duration),
            "acquireTime": acquire,
            "renewTime": renew,
            "leaseTransitions": transitions,
        }

    def observe_lease(self, lease: dict[str, Any]) -> str:
        """Note the lease's holder and renew time (as read or as a watch event brought it); returns the holder."""
        spec: dict[str, Any] = lease.get("spec") or {}
        holder = str(spec.get("holderIdentity") or "")
        try:
            self._observed_duration = float(spec.get("leaseDurationSeconds") or self.config.lease_duration)
        except (TypeError, ValueError):
            self._observed_duration = self.config.lease_duration
        self._observe(holder, str(spec.get("renewTime") or ""))
        return holder

    def _observe(self, holder: str, renew: str) -> None:
        if self._observed != (holder, renew):
            self._observed = (holder, renew)
            self._observed_at = self.clock.now()
            if self._poked is not None:
                self._poked.set()

    def _set_leader(self, leader: bool) -> None:
        if leader and not self.is_leader:
            self.transitions += 1
            logger.info("leader election: {} became leader of {}", self.identity, self.config.name)
        elif not leader and self.is_leader:
            logger.warning("leader election: {} is no longer leader", self.identity)
        self.is_leader = leader

    def _held_by_other(self) -> bool:
        return self._observed is not None and self._observed[0] not in ("", self.identity)

    # ------------------------------------------------------------------ loops

    async def acquire(self) -> None:
        """Until we are leader: try, then wait for the lease to expire (as we observed it), to change (the
        lease watch pokes us), or for the retry period, whichever comes first."""
        while not await self.try_acquire_or_renew():
            delay = self.config.retry_period
            if self._held_by_other():
                expiry = self._observed_at + self._observed_duration
                delay = min(delay, max(0.0, expiry - self.clock.now()) + 0.001)
            await self._wait_poke(delay)

    async def _wait_poke(self, delay: float) -> None:
        if self._poked is None:
            self._poked = asyncio.Event()
        self._poked.clear()
        poke = asyncio.ensure_future(self._poked.wait())
        nap = asyncio.ensure_future(self.clock.sleep(delay))
        try:
            await asyncio.wait({poke, nap}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            poke.cancel()
            nap.cancel()

    async def hold(self) -> None:
        """Renew every retry_period; returns when renewal failed for renew_deadline (leadership lost)."""
        last_ok = self.clock.now()
        while True:
            await self.clock.sleep(self.config.retry_period)
            if await self.try_acquire_or_renew():
                last_ok = self.clock.now()
                continue
            if self.clock.now() - last_ok >= self.config.renew_deadline or self._held_by_other():
                self.valid_until = 0.0
                self._set_leader(False)
                return

    async def watch(self) -> None:
        """Follow the Lease with a watch (forever; run it as a task): every renewal is observed as it happens,
        and a release or an expiry wakes `acquire` at once. Errors are retried after the retry period."""
        cfg = self.config
        selector = f"metadata.name={cfg.name}"
        version: str | None = None
        while True:
            try:
                if version is None:
                    lease = await self.client.get_or_none(LEASES, cfg.name, cfg.namespace)
                    if lease is not None:
                        self.observe_lease(lease)
                        version = str((lease.get("metadata") or {}).get("resourceVersion") or "") or None
                stream = self.client.watch(
                    LEASES, cfg.namespace, resource_version=version, field_selector=selector
                )
                async for etype, obj in stream:
                    version = str((obj.get("metadata") or {}).get("resourceVersion") or "") or version
                    if etype == "DELETED":
                        self._observe("", "")
                    elif etype in ("ADDED", "MODIFIED"):
                        self.observe_lease(obj)
            except Gone:
                version = None
            except KubeError as e:
                logger.debug("leader election: watch of lease {}/{}: {}", cfg.namespace, cfg.name, e)
                version = None
                await self.clock.sleep(cfg.retry_period)

    async def release(self) -> None:
        """Give the lease up (holder cleared) so a standby takes over without waiting for expiry."""
        self.valid_until = 0.0  # first: nothing of ours may be written once the lease could be someone else's
        if not self.is_leader:
            return
        self.is_leader = False
        cfg = self.config
        try:
            lease = await self.client.get(LEASES, cfg.name, cfg.namespace)
            spec = lease.get("spec") or {}
            if spec.get("holderIdentity") != self.identity:
                return
            now_wall = _micro_time(datetime.now(UTC))
            lease["spec"] = {**spec, "holderIdentity": "", "leaseDurationSeconds": 1, "renewTime": now_wall}
            await self.client.replace(LEASES, lease, cfg.namespace)
            logger.info("leader election: {} released {}", self.identity, cfg.name)
        except KubeError as e:
            logger.warning("leader election: release of {}/{} failed: {}", cfg.namespace, cfg.name, e)
        except asyncio.CancelledError:
            raise
