"""The compact per-object families (`rollouts.controller.series`): the same text on /metrics as
prometheus_client's own Gauge, Counter and Histogram for the same calls, and a scrape in a thread while the loop
adds and removes series."""

from __future__ import annotations

import threading

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from rollouts.controller.metrics import RECONCILE_BUCKETS
from rollouts.controller.series import CompactCounter, CompactGauge, CompactHistogram

LABELS = ["namespace", "name"]


def exposition(build: str) -> tuple[str, str]:
    """The /metrics text of the same calls on prometheus_client's class and on ours."""
    texts = []
    for classes in ((Gauge, Counter, Histogram), (CompactGauge, CompactCounter, CompactHistogram)):
        gauge_class, counter_class, histogram_class = classes
        r = CollectorRegistry()
        g = gauge_class("rollout_info_replicas_available", "Available replicas.", LABELS, registry=r)
        c = counter_class("rollout_events", "Kubernetes events.", [*LABELS, "reason"], registry=r)
        h = histogram_class(
            "rollout_reconcile", "Reconcile (s).", LABELS, registry=r, buckets=RECONCILE_BUCKETS
        )
        if build == "values":
            g.labels("prod", "a").set(3)
            g.labels("prod", "b").set(1)
            g.labels("prod", "b").inc(2.5)
            c.labels("prod", "a", "RolloutUpdated").inc()
            c.labels("prod", "a", "RolloutUpdated").inc(2)
            c.labels("prod", "a", "RolloutPaused").inc()
            for seconds in (0.001, 0.01, 0.15, 0.2, 0.3, 7.0, 0.01):  # 0.01 and 0.15 sit on bucket bounds
                h.labels("prod", "a").observe(seconds)
            h.labels("dev", "b").observe(0.5)
        elif build == "removed":
            g.labels("prod", "a").set(3)
            c.labels("prod", "a", "RolloutUpdated").inc()
            h.labels("prod", "a").observe(0.2)
            for family, values in (
                (g, ("prod", "a")),
                (c, ("prod", "a", "RolloutUpdated")),
                (h, ("prod", "a")),
            ):
                family.remove(*values)
                family.remove(*values)  # no error for a series already gone, on either
        texts.append(generate_latest(r).decode())
    return texts[0], texts[1]


@pytest.mark.parametrize("build", ["values", "removed"])
def test_same_exposition_as_prometheus_client(build: str) -> None:
    theirs, ours = exposition(build)
    assert ours == theirs


def test_misuse_is_refused_like_prometheus_client() -> None:
    r = CollectorRegistry()
    c = CompactCounter("x", "x", LABELS, r)
    with pytest.raises(ValueError, match="2 label values expected"):
        c.labels("prod")
    with pytest.raises(ValueError):
        c.labels("prod", "a").inc(-1)
    with pytest.raises(ValueError):  # the registry refuses a second family of the same name
        CompactGauge("x", "x", LABELS, r)


def test_remove_where() -> None:
    r = CollectorRegistry()
    g = CompactGauge("g", "g", ["kind", "namespace", "name"], r)
    for kind, name in (("Rollout", "a"), ("Rollout", "b"), ("AnalysisRun", "a")):
        g.labels(kind, "prod", name).set(1)
    assert g.remove_where(lambda labels: labels[2] == "a") == 2
    assert r.get_sample_value("g", {"kind": "Rollout", "namespace": "prod", "name": "b"}) == 1
    assert len(g) == 1


def test_a_scrape_in_a_thread_while_series_come_and_go() -> None:
    r = CollectorRegistry()
    g = CompactGauge("g", "g", LABELS, r)
    h = CompactHistogram("h", "h", LABELS, r, buckets=RECONCILE_BUCKETS)
    stop = threading.Event()
    errors: list[BaseException] = []

    def scrape() -> None:
        try:
            while not stop.is_set():
                generate_latest(r)
        except BaseException as e:  # handed to the test
            errors.append(e)

    scraper = threading.Thread(target=scrape)
    scraper.start()
    try:
        for i in range(20_000):
            name = f"r{i % 500}"
            g.labels("prod", name).set(i)
            h.labels("prod", name).observe(i / 1000)
            if i % 3 == 0:
                g.remove("prod", name)
                h.remove("prod", name)
    finally:
        stop.set()
        scraper.join(10)
    assert errors == []
    assert "g{" in generate_latest(r).decode()
