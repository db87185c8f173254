"""What the core reads from objects it observes but does not model as manifests.

`ReplicaSetLike` is the view of a ReplicaSet that the replica arithmetic (`rollouts.strategy`) and the traffic
routers (`rollouts.traffic`) read; the controller's `ReplicaSetState` fits it, and so does `RS`, a minimal
ReplicaSet for callers that have no observed one (tests, `rollouts plan`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["RS", "ReplicaSetLike"]


class ReplicaSetLike(Protocol):
    """What the arithmetic reads from a ReplicaSet."""

    @property
    def name(self) -> str: ...
    @property
    def pod_template_hash(self) -> str: ...
    @property
    def spec_replicas(self) -> int: ...
    @property
    def replicas(self) -> int: ...  # status.replicas
    @property
    def available_replicas(self) -> int: ...


@dataclass(frozen=True)
class RS:
    """A minimal ReplicaSet for callers without a `ReplicaSetState` (tests, `rollouts plan`)."""

    name: str
    spec_replicas: int
    available_replicas: int = 0
    replicas: int = -1  # status.replicas; -1 = same as spec_replicas
    pod_template_hash: str = ""

    def __post_init__(self) -> None:
        if self.replicas < 0:
            object.__setattr__(self, "replicas", self.spec_replicas)
        if not self.pod_template_hash:
            object.__setattr__(self, "pod_template_hash", self.name)
