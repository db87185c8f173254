"""The controller's provider caps: flags → `ControllerConfig` → the shared providers, and the counter of
measurements that waited for or were refused by a cap (`analysis_provider_cap_total`)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from click.testing import CliRunner
from prometheus_client import CollectorRegistry

from rollouts.controller import main as controller_main
from rollouts.controller.manager import ControllerConfig, default_analysis_reconciler
from rollouts.controller.metrics import ControllerMetrics


def test_flags_reach_the_providers_and_waits_are_counted() -> None:
    registry = CollectorRegistry()
    metrics = ControllerMetrics(registry)
    config = ControllerConfig(
        analysis_backend_concurrency=5,
        analysis_backend_rate=7.0,
        analysis_namespace_concurrency=3,
        analysis_query_threads=9,
    )
    runtime: Any = SimpleNamespace(client=None, source=None, metrics=metrics, config=config)
    reconciler: Any = default_analysis_reconciler(runtime)
    providers = reconciler.providers
    try:
        limiters = providers.limiters
        assert (limiters.default.concurrency, limiters.default.rate) == (5, 7.0)
        assert limiters.namespace_concurrency == 3
        assert providers.prometheus._executor.max_workers == 9
        assert providers.web.connections == 9
        limiters.observe("waited", "namespace", "team-a")
        limiters.observe("waited", "namespace", "team-a")
        limiters.observe("refused", "backend", "team-b")
    finally:
        asyncio.run(reconciler.close())
    value = registry.get_sample_value
    assert (
        value("analysis_provider_cap_total", {"namespace": "team-a", "cap": "namespace", "outcome": "waited"})
        == 2
    )
    assert (
        value("analysis_provider_cap_total", {"namespace": "team-b", "cap": "backend", "outcome": "refused"})
        == 1
    )


def test_flags_are_documented_with_their_defaults() -> None:
    result = CliRunner().invoke(controller_main.controller, ["--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for flag, default in (
        ("--analysis-namespace-concurrency", "8"),
        ("--analysis-backend-concurrency", "16"),
        ("--analysis-backend-rate", "100.0"),
        ("--analysis-query-threads", "64"),
    ):
        line = next(line for line in result.output.splitlines() if flag in line)
        section = result.output[result.output.index(line) :].split("\n  --", 1)[0]
        assert f"default: {default}" in section, section


def test_a_nonsense_cap_is_refused_with_the_flag_named() -> None:
    result = CliRunner().invoke(controller_main.controller, ["--analysis-namespace-concurrency", "0"])
    assert result.exit_code == 2
    assert "--analysis-namespace-concurrency" in result.output
