"""Leader election on a coordination.k8s.io/v1 Lease: of several controller processes, only one acts.

Gates the manager (`rollouts.controller.manager`): workers start after `acquire()` returns and stop when
`hold()` returns (leadership lost) or on shutdown, when `release()` hands the lease over at once.

Semantics follow client-go's leaderelection: a candidate may take the lease when it is free (no holder) or
when the holder has not renewed it for `lease_duration` seconds *as observed on the candidate's own clock*
(so clock skew between nodes does not matter); every write carries the resourceVersion it read, so of two
candidates racing only one wins (the other gets 409). The leader renews every `retry_period` and gives up
when it could not renew for `renew_deadline`. `kubernetes.aio.leaderelection` was not used: it has no
release on shutdown, reads time as naive local datetimes, and talks through its own API objects, bypassing
our rate limiter and request metrics.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from loguru import logger

from rollouts.controller.clocks import Clock, SystemClock
from rollouts.kube.client import KubeClient
from rollouts.kube.errors import AlreadyExists, Conflict, KubeError, NotFound
from rollouts.kube.resources import LEASES


@dataclass(frozen=True)
class ElectionConfig:
    namespace: str
    name: str = "rollouts-controller-lock"
    identity: str = ""
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def validate(self) -> None:
        if not (self.lease_duration > self.renew_deadline > self.retry_period > 0):
            raise ValueError(
                "leader election needs lease duration > renew deadline > retry period > 0, got "
                f"{self.lease_duration}s / {self.renew_deadline}s / {self.retry_period}s"
            )


def default_identity() -> str:
    return f"{os.environ.get('POD_NAME') or socket.gethostname()}_{uuid.uuid4().hex[:8]}"


def _micro_time(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    def __init__(self, client: KubeClient, config: ElectionConfig, *, clock: Clock | None = None) -> None:
        config.validate()
        self.client = client
        self.config = config
        self.identity = config.identity or default_identity()
        self.clock: Clock = clock or SystemClock()
        self.is_leader = False
        self.transitions = 0  # how many times this elector became leader
        self._observed: tuple[str, str] | None = None  # (holder, renewTime) last seen
        self._observed_at = 0.0  # our clock when it last changed

    # ------------------------------------------------------------------ one attempt

    async def try_acquire_or_renew(self) -> bool:
        """One attempt (never raises on API errors): True when we hold the lease afterwards."""
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
                return self._set_leader(False)
            except KubeError as e:
                logger.warning("leader election: cannot create lease {}/{}: {}", cfg.namespace, cfg.name, e)
                return self._set_leader(False)
            self._observe(self.identity, now_wall)
            return self._set_leader(True)
        except KubeError as e:
            logger.warning("leader election: cannot read lease {}/{}: {}", cfg.namespace, cfg.name, e)
            return self._set_leader(False)

        spec: dict[str, Any] = lease.get("spec") or {}
        holder = str(spec.get("holderIdentity") or "")
        renew = str(spec.get("renewTime") or "")
        self._observe(holder, renew)
        duration = float(spec.get("leaseDurationSeconds") or cfg.lease_duration)
        held_by_other = holder not in ("", self.identity)
        if held_by_other and self._observed_at + duration > self.clock.now():
            return self._set_leader(False)
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
            return self._set_leader(False)
        self._observe(self.identity, now_wall)
        return self._set_leader(True)

    def _spec(self, acquire: str, renew: str, transitions: int) -> dict[str, Any]:
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": round(self.config.lease_duration),
            "acquireTime": acquire,
            "renewTime": renew,
            "leaseTransitions": transitions,
        }

    def _observe(self, holder: str, renew: str) -> None:
        if self._observed != (holder, renew):
            self._observed = (holder, renew)
            self._observed_at = self.clock.now()

    def _set_leader(self, leader: bool) -> bool:
        if leader and not self.is_leader:
            self.transitions += 1
            logger.info("leader election: {} became leader of {}", self.identity, self.config.name)
        elif not leader and self.is_leader:
            logger.warning("leader election: {} is no longer leader", self.identity)
        self.is_leader = leader
        return leader

    # ------------------------------------------------------------------ loops

    async def acquire(self) -> None:
        """Until we are leader (retrying every retry_period)."""
        while not await self.try_acquire_or_renew():
            await self.clock.sleep(self.config.retry_period)

    async def hold(self) -> None:
        """Renew every retry_period; returns when renewal failed for renew_deadline (leadership lost)."""
        last_ok = self.clock.now()
        while True:
            await self.clock.sleep(self.config.retry_period)
            if await self.try_acquire_or_renew():
                last_ok = self.clock.now()
            elif self.clock.now() - last_ok >= self.config.renew_deadline or self._held_by_other():
                self.is_leader = False
                return

    def _held_by_other(self) -> bool:
        return self._observed is not None and self._observed[0] not in ("", self.identity)

    async def release(self) -> None:
        """Give the lease up (holder cleared) so a standby takes over without waiting for expiry."""
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
