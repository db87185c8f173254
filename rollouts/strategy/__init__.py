"""PURE strategy core: `decide(observed, now) -> Plan`. No I/O, no asyncio, no Kubernetes imports."""

from rollouts.strategy.deciding import decide

__all__ = ["decide"]
