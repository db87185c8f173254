"""The metric-provider contract: what `runner` calls to take one measurement, and what providers return.

Sits between the pure analysis core and the outside world. The runner resolves a run's arguments, decides
which metrics are due (`schedule`), then calls ``provider.measure(metric)`` for each of them concurrently; a
provider is looked up by `kind`, the key under ``metric.provider`` (``prometheus``, ``web``, ``job``).

Rules every provider follows:

* ``measure`` never raises for a backend failure (connection refused, timeout, HTTP 400, garbage): it
  returns a measurement in phase ``Error`` whose message says what happened (`error_measurement`).
* ``at=None`` measures *now* (live); ``at=T`` evaluates the query at instant T (replay, ``--at``).
* A value-producing provider returns the string form in ``measurement.value`` (docs/semantics/analysis.md#prometheus-results) and attaches the parsed
  result with ``measurement.with_result(result)``: a float for a scalar, a list of floats for a vector or
  matrix, the decoded JSON value for web. It may leave ``phase`` unset (None): the runner then evaluates
  ``successCondition``/``failureCondition`` on the result (docs/semantics/analysis.md#measurement-assessment) and sets phase and message.
* An asynchronous provider (Jobs) returns phase ``Running`` with ``resumeAt`` set; the runner calls
  ``resume`` at or after that time, and ``terminate`` when the run is terminating.
* ``startedAt``/``finishedAt`` may be left unset: the runner fills them from its clock (so replays get the
  replayed instants).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import datetime
from typing import Protocol, TypeVar, runtime_checkable

import aiohttp

from analysis.models import AnalysisPhase, Measurement, Metric
from analysis.providers.shaping import format_sample_list, format_sample_value

__all__ = [
    "BaseProvider",
    "MetricProvider",
    "PooledSession",
    "error_measurement",
    "format_sample",
    "format_samples",
    "off_loop",
    "short_cause",
    "value_measurement",
]


@runtime_checkable
class MetricProvider(Protocol):
    """One metric backend. Implementations: prometheus, web (analysis.providers), job (controller)."""

    kind: str
    """The key under ``metric.provider`` this provider serves: ``prometheus`` | ``web`` | ``job``."""

    async def measure(self, metric: Metric, *, at: datetime | None = None) -> Measurement:
        """Take one measurement of `metric` (args already substituted). Never raises for backend failures."""
        ...

    async def resume(self, metric: Metric, measurement: Measurement) -> Measurement:
        """Continue an in-flight (Running) measurement once its ``resumeAt`` has passed."""
        ...

    async def terminate(self, metric: Metric, measurement: Measurement) -> Measurement:
        """Stop an in-flight measurement because the run is terminating."""
        ...

    def metadata(self, metric: Metric) -> dict[str, str] | None:
        """Metadata for the metric result, e.g. ``{"ResolvedPrometheusQuery": query}``."""
        ...


class BaseProvider:
    """Defaults for the optional parts of the contract: resume/terminate are no-ops, no metadata."""

    kind: str = ""

    async def measure(self, metric: Metric, *, at: datetime | None = None) -> Measurement:
        raise NotImplementedError

    async def resume(self, metric: Metric, measurement: Measurement) -> Measurement:
        return measurement

    async def terminate(self, metric: Metric, measurement: Measurement) -> Measurement:
        return measurement

    def metadata(self, metric: Metric) -> dict[str, str] | None:
        return None


def value_measurement(value: str) -> Measurement:
    """`Measurement(value=value)` without validation (a copy of a blank prototype through pydantic's
    `model_copy`): for providers that made `value` themselves, hundreds of times a second. Attach the parsed
    result with `with_result`."""
    return _BLANK.model_copy(update={"value": value})


_BLANK = Measurement()


def error_measurement(
    message: str,
    *,
    started_at: datetime | None = None,
    finished_at: datetime | None = None,
    metadata: dict[str, str] | None = None,
) -> Measurement:
    """A completed Error measurement (a backend failure); counts toward consecutiveErrorLimit (docs/semantics/analysis.md#metric-status)."""
    finished = finished_at or started_at
    return Measurement(
        phase=AnalysisPhase.ERROR,
        message=message,
        started_at=started_at,
        finished_at=finished,
        metadata=metadata,
    )


# docs/semantics/analysis.md#prometheus-results value strings: one implementation, in `shaping`; re-exported here for providers built on this base.
format_sample = format_sample_value
format_samples = format_sample_list


_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\")]+")


def short_cause(error: Exception) -> str:
    """A short cause for a network failure: `[Errno 111] Connection refused` rather than three nested reprs
    of urllib3's wrappers; `timed out` for a timeout."""
    text = str(error)
    found = _ERRNO.search(text)
    if found:
        return found.group(0).strip()
    if "timed out" in text or isinstance(error, TimeoutError):
        return "timed out"
    text = text or type(error).__name__
    return text if len(text) <= 300 else text[:300] + "…"


OFF_LOOP_BYTES = 262_144
"""Answers larger than this are decoded in a worker thread: a 10 MiB JSON answer takes ~0.3 s of CPU to decode,
and the event loop serves every namespace's measurements and rollouts (an endpoint a metric names can be anyone's)."""

_T = TypeVar("_T")


async def off_loop(decode: Callable[[bytes], _T], raw: bytes) -> _T:
    """`decode(raw)`, in a worker thread when `raw` is large; exceptions propagate as they would."""
    if len(raw) <= OFF_LOOP_BYTES:
        return decode(raw)
    return await asyncio.to_thread(decode, raw)


class PooledSession:
    """One aiohttp session per provider instance, at most `connections` sockets, opened at first use (inside the
    event loop that uses it) and reopened if closed; `aclose` releases it."""

    connections: int
    _session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self.connections))
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
