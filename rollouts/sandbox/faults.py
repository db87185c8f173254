"""Fault injection and the request log: what resilience tests switch on, and what they count afterwards.

Where it sits: the HTTP layer asks `Faults.decide(verb)` before serving an API request (admin endpoints under
`/sandbox/` are never faulted) and appends one `RequestRecord` per request to the `RequestLog`. Both are
reachable in-process (`Sandbox.faults`, `Sandbox.requests`) and over HTTP (`/sandbox/faults`,
`/sandbox/requests`) so a test can drive a controller running as a subprocess.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import asdict, dataclass, field, fields
from typing import Any


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass
class Faults:
    """What goes wrong, and how often. Rates are fractions of API requests (0.0–1.0), drawn from a seeded RNG.

    - `error_rate`: answered 500 InternalError;
    - `throttle_rate`: answered 429 TooManyRequests with `Retry-After: retry_after`;
    - `latency`: seconds added before every API request is served;
    - `watch_cut_after`: seconds after which every watch stream is closed by the server (0 = never);
    - `verbs`: restrict errors, throttling and latency to these verbs (e.g. ["patch", "update"]); empty = all;
    - `forbid`: requests refused with 403 Forbidden as RBAC refuses them, each rule "<verb> <resource>" with
      the resource plural, optionally with its subresource (`"patch rollouts"`, `"patch rollouts/status"`,
      `"* pods"`): a user whose Role lacks that permission.
    """

    error_rate: float = 0.0
    throttle_rate: float = 0.0
    retry_after: int = 1
    latency: float = 0.0
    watch_cut_after: float = 0.0
    verbs: list[str] = field(default_factory=list)
    seed: int | None = None
    forbid: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self.validate()

    def validate(self) -> None:
        for name in ("error_rate", "throttle_rate"):
            value = getattr(self, name)
            if not _number(value) or not 0.0 <= value <= 1.0:
                raise ValueError(f"faults.{name} must be a fraction between 0 and 1, got {value!r}")
        for name in ("latency", "watch_cut_after"):
            value = getattr(self, name)
            if not _number(value) or not 0 <= value <= 86_400:
                raise ValueError(f"faults.{name} must be a number of seconds from 0 to 86400, got {value!r}")
        if (
            not isinstance(self.retry_after, int)
            or isinstance(self.retry_after, bool)
            or self.retry_after < 0
        ):
            raise ValueError(
                f"faults.retry_after must be a whole number of seconds >= 0, got {self.retry_after!r}"
            )
        if not isinstance(self.forbid, list) or not all(
            isinstance(r, str) and len(r.split()) == 2 for r in self.forbid
        ):
            raise ValueError(
                "faults.forbid must be a list of '<verb> <resource>' rules such as 'patch rollouts'"
            )
        if not isinstance(self.verbs, list) or not all(isinstance(v, str) for v in self.verbs):
            raise ValueError("faults.verbs must be a list of verbs such as ['patch', 'update']")
        if self.seed is not None and (not isinstance(self.seed, int) or isinstance(self.seed, bool)):
            raise ValueError(f"faults.seed must be a whole number or null, got {self.seed!r}")

    def update(self, **changes: Any) -> None:
        """Change some settings in place; unknown names raise ValueError naming the valid ones."""
        names = {f.name for f in fields(self)}
        unknown = set(changes) - names
        if unknown:
            raise ValueError(f"unknown fault setting(s) {sorted(unknown)}; valid: {sorted(names)}")
        previous = self.as_dict()
        for k, v in changes.items():
            setattr(self, k, v)
        try:
            self.validate()
        except ValueError:
            for k, v in previous.items():
                setattr(self, k, v)
            raise
        if "seed" in changes:
            self._rng = random.Random(self.seed)

    def reset(self) -> None:
        self.update(**{f.name: f.default if f.name not in ("verbs", "forbid") else [] for f in fields(self)})

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def forbids(self, verb: str, resource: str) -> bool:
        """Whether a rule of `forbid` refuses this verb on this resource (`plural` or `plural/subresource`)."""
        for rule in self.forbid:
            rule_verb, rule_resource = rule.split()
            if rule_verb in ("*", verb) and rule_resource in ("*", resource):
                return True
        return False

    def applies(self, verb: str) -> bool:
        return not self.verbs or verb in self.verbs

    def decide(self, verb: str) -> int:
        """0 to serve normally, or the status code (500/429) to answer instead."""
        if not self.applies(verb) or (self.error_rate == 0 and self.throttle_rate == 0):
            return 0
        draw = self._rng.random()
        if draw < self.error_rate:
            return 500
        if draw < self.error_rate + self.throttle_rate:
            return 429
        return 0


@dataclass(frozen=True)
class RequestRecord:
    """One API request as served: enough to count a controller's writes per resource and verb."""

    time: float
    method: str
    path: str
    query: str
    verb: str
    group: str
    version: str
    resource: str
    subresource: str
    namespace: str
    name: str
    status: int
    duration: float
    user_agent: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})


class RequestLog:
    """A bounded, in-memory log of served requests (oldest dropped first)."""

    def __init__(self, size: int = 100_000) -> None:
        self._records: deque[RequestRecord] = deque(maxlen=size)

    def append(self, record: RequestRecord) -> None:
        self._records.append(record)

    def reset(self) -> None:
        self._records.clear()

    def records(
        self,
        *,
        verb: str | None = None,
        resource: str | None = None,
        namespace: str | None = None,
        name: str | None = None,
        subresource: str | None = None,
        since: float | None = None,
        writes: bool = False,
    ) -> list[RequestRecord]:
        out = []
        for r in list(self._records):
            if verb is not None and r.verb != verb:
                continue
            if writes and r.verb not in WRITE_VERBS:
                continue
            if resource is not None and r.resource != resource:
                continue
            if namespace is not None and r.namespace != namespace:
                continue
            if name is not None and r.name != name:
                continue
            if subresource is not None and r.subresource != subresource:
                continue
            if since is not None and r.time < since:
                continue
            out.append(r)
        return out

    def count(self, **filters: Any) -> int:
        return len(self.records(**filters))

    def __len__(self) -> int:
        return len(self._records)
