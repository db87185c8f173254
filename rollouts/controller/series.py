"""Per-object metric families kept compactly: one dict entry per series, turned into samples when scraped.

Where it sits: `rollouts.controller.metrics` declares the series labelled by a Rollout's or an AnalysisRun's
namespace and name (Argo's `rollout_info`, `analysis_run_metric_phase`, `controller_clientset_k8s_request_total`,
…) with these families, and the few process-wide ones with prometheus_client's own classes. prometheus_client
keeps every labelled child as an object of its own (its value with a lock, its label values, its kwargs: about
750 bytes, and a histogram child one such value per bucket); the controller exports about 40 series per rollout,
so at 10,000 rollouts those objects alone were a third of its memory. Here a series is a tuple of label values
mapped to a float (a histogram's: a list of bucket counts and the sum), and `collect` builds the samples only
when Prometheus asks.

The interface is the part of prometheus_client's the controller uses: `labels(*values)` returns a child with
`set`/`inc` (gauge), `inc` (counter) or `observe` (histogram); `remove(*values)` (a series that does not
exist is no error, as in prometheus_client). Children are views, not stored: `labels` allocates nothing kept. Writers run on the event
loop; a scrape runs in a thread and copies each table first (one C-level copy under the GIL), so it never sees
a table change size under it.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

LabelValues = tuple[str, ...]


class _Family:
    """What the three kinds share: name, help, label names, the table, registration and `remove`."""

    def __init__(
        self, name: str, documentation: str, labelnames: Sequence[str], registry: CollectorRegistry
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self._values: dict[LabelValues, Any] = {}
        registry.register(self)  # type: ignore[arg-type]  # a collector: `collect` and `describe`

    def _key(self, values: tuple[Any, ...]) -> LabelValues:
        if len(values) != len(self.labelnames):
            raise ValueError(f"{self.name}: {len(self.labelnames)} label values expected, got {len(values)}")
        return tuple(v if isinstance(v, str) else str(v) for v in values)

    def remove(self, *values: Any) -> None:
        self._values.pop(self._key(values), None)

    def __len__(self) -> int:
        return len(self._values)

    def remove_where(self, keep_out: Callable[[LabelValues], bool]) -> int:
        """Remove every series whose label values `keep_out` accepts; returns how many."""
        gone = [key for key in list(self._values) if keep_out(key)]
        for key in gone:
            self._values.pop(key, None)
        return len(gone)

    def describe(self) -> Iterable[Metric]:
        return [self._family()]

    def _family(self) -> Metric:
        raise NotImplementedError

    def _items(self) -> list[tuple[LabelValues, Any]]:
        return list(self._values.items())  # one C-level copy: the loop may add or remove meanwhile


class _GaugeChild:
    __slots__ = ("_key", "_table")

    def __init__(self, table: dict[LabelValues, float], key: LabelValues) -> None:
        self._table, self._key = table, key

    def set(self, value: float) -> None:
        self._table[self._key] = float(value)

    def inc(self, amount: float = 1.0) -> None:
        self._table[self._key] = self._table.get(self._key, 0.0) + amount


class CompactGauge(_Family):
    def labels(self, *values: Any) -> _GaugeChild:
        return _GaugeChild(self._values, self._key(values))

    def _family(self) -> Metric:
        return GaugeMetricFamily(self.name, self.documentation, labels=self.labelnames)

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for key, value in self._items():
            family.add_metric(key, value)
        return [family]


class _CounterChild:
    __slots__ = ("_key", "_table")

    def __init__(self, table: dict[LabelValues, float], key: LabelValues) -> None:
        self._table, self._key = table, key

    def inc(self, amount: float = 1.0) -> None:
        if amount < 0:
            raise ValueError("counters can only be incremented by non-negative amounts")
        self._table[self._key] = self._table.get(self._key, 0.0) + amount


class CompactCounter(_Family):
    """Exposed as `<name>_total`, as prometheus_client's Counter (and without `_created`, as Argo's)."""

    def labels(self, *values: Any) -> _CounterChild:
        return _CounterChild(self._values, self._key(values))

    def _family(self) -> Metric:
        return CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)

    def collect(self) -> Iterable[Metric]:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for key, value in self._items():
            family.add_metric(key, value)
        return [family]


class _HistogramChild:
    __slots__ = ("_family", "_key")

    def __init__(self, family: CompactHistogram, key: LabelValues) -> None:
        self._family, self._key = family, key

    def observe(self, value: float) -> None:
        table = self._family._values
        counts = table.get(self._key)
        if counts is None:
            counts = table[self._key] = [0] * (len(self._family.bounds) + 1) + [0.0]
        counts[bisect.bisect_left(self._family.bounds, value)] += 1
        counts[-1] += value


class CompactHistogram(_Family):
    """Buckets as prometheus_client's Histogram (`le` inclusive, `+Inf` last), `_count` and `_sum`."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        registry: CollectorRegistry,
        buckets: Sequence[float],
    ) -> None:
        self.bounds = sorted(float(b) for b in buckets if not math.isinf(b))
        self._les = [floatToGoString(b) for b in self.bounds] + ["+Inf"]  # type: ignore[no-untyped-call]
        super().__init__(name, documentation, labelnames, registry)

    def labels(self, *values: Any) -> _HistogramChild:
        return _HistogramChild(self, self._key(values))

    def _family(self) -> Metric:
        return HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)

    def collect(self) -> Iterable[Metric]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for key, counts in self._items():
            counts = list(counts)  # observations may land meanwhile
            cumulative, buckets = 0, []
            for le, n in zip(self._les, counts[:-1], strict=True):
                cumulative += n
                buckets.append((le, cumulative))
            family.add_metric(key, buckets, counts[-1])
        return [family]
