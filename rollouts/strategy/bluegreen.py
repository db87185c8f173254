"""The blue-green strategy for one pass (§c.9), placeholder until filled in below."""

from __future__ import annotations

from rollouts.strategy.context import Context
from rollouts.strategy.plan import JSON


def decide_bluegreen(ctx: Context, st: JSON) -> None:
    raise NotImplementedError
