"""What the sandbox refused or cut, counted, and said at warning level without flooding the log.

Where it sits: one `Refusals` per store (`Store.counters`), noted by every layer that turns a client away —
`eventlog` (an object over etcd's size limit), `streaming` (a watch whose client fell behind), `serving` (a
body that did not arrive in time), `guarding` (too many connections, headers too slow). `/sandbox/healthz`
shows the counts under `refused`. A client repeating the same mistake a thousand times a second gets the same
answer each time, but the log gets one line per kind every 10 seconds, with the running count.
"""

from __future__ import annotations

import logging
import time
from collections import Counter

log = logging.getLogger("rollouts.sandbox")

WARN_EVERY = 10.0


class Refusals(Counter[str]):
    """Counts by kind, with a throttled warning per kind."""

    def __init__(self) -> None:
        super().__init__()
        self._warned: dict[str, float] = {}

    def note(self, kind: str, message: str) -> None:
        self[kind] += 1
        now = time.monotonic()
        if now - self._warned.get(kind, -WARN_EVERY) >= WARN_EVERY:
            self._warned[kind] = now
            log.warning("sandbox: %s (%s: %d so far)", message, kind, self[kind])
