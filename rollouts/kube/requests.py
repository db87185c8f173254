"""What the client's callers and hooks see of a request: its record, its retry policy, list answers, stats.

Where it sits: beside `rollouts.kube.client` (which re-exports all of it). A `RequestRecord` goes to every
request hook after each attempt — the controller's metrics count it (`controller_clientset_k8s_request_total`)
and, for a refused write, log it and count it apart (`controller_write_refused_total`). A caller that meets a
refusal as an ordinary outcome (404 on a delete, 409 AlreadyExists on a create it then adopts) says so with
`with expecting(404): …`; the record is then marked `expected` and is not a refusal.
"""

from __future__ import annotations

import contextlib
import contextvars
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]

WRITE_VERBS = frozenset({"Create", "Update", "Patch", "Delete"})

_EXPECTED: contextvars.ContextVar[frozenset[int]] = contextvars.ContextVar("expected", default=frozenset())


@contextlib.contextmanager
def expecting(*codes: int) -> Iterator[None]:
    """Within the block, an answer with one of `codes` is an outcome the caller handles, not a refusal."""
    token = _EXPECTED.set(_EXPECTED.get() | frozenset(codes))
    try:
        yield
    finally:
        _EXPECTED.reset(token)


def is_expected(status: int) -> bool:
    """Whether the code running now declared `status` an ordinary outcome (`expecting`)."""
    return status in _EXPECTED.get()


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request as the hooks see it (labels of `controller_clientset_k8s_request_total`)."""

    kind: str
    namespace: str
    name: str
    verb: str  # Get, List, Watch, Create, Update, Patch, Delete
    status_code: int  # 0 when the server did not answer
    subresource: str = ""
    message: str = ""  # the server's reason and message when it refused
    expected: bool = False  # the caller declared this answer an ordinary outcome (`expecting`)

    @property
    def refused(self) -> bool:
        """A write the API server answered with an error the caller did not anticipate."""
        return self.verb in WRITE_VERBS and self.status_code >= 300 and not self.expected

    @property
    def failed(self) -> bool:
        """A write that did not succeed: refused, or unanswered (status 0)."""
        return self.refused or (self.verb in WRITE_VERBS and self.status_code == 0)


RequestHook = Callable[[RequestRecord], None]


class ObjectList(list[Obj]):
    """A list answer: a list of the items that also carries the list's resourceVersion (start a watch from it).

    Being a `list`, it satisfies callers that only want the objects (`ObjectSource.list` in observing).
    """

    def __init__(
        self, items: Iterable[Obj] = (), resource_version: str = "", continue_token: str = ""
    ) -> None:
        super().__init__(items)
        self.resource_version = resource_version
        self.continue_token = continue_token

    @property
    def items(self) -> list[Obj]:
        return self


@dataclass
class RetryPolicy:
    """Backoff for retried requests: base * 2**attempt, capped, with ±20 % jitter."""

    attempts: int = 5
    base: float = 0.05
    cap: float = 5.0
    jitter: float = 0.2

    def delay(self, attempt: int) -> float:
        d = min(self.cap, self.base * (2**attempt))
        return float(d * (1 + random.uniform(-self.jitter, self.jitter)))


@dataclass
class ClientStats:
    requests: int = 0
    retries: int = 0
    by_verb: dict[str, int] = field(default_factory=dict)
