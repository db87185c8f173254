"""The provider map a runner measures through, built once per process (CLI) or per controller.

Sits between configuration (command-line flags, controller settings) and the runner: `Providers` is a
read-only mapping `kind → MetricProvider` (`"prometheus"`, `"web"`, plus whatever the caller adds, e.g. the
controller's `job` provider), and every provider in it shares one `LimiterRegistry`, so all measurements
towards one backend address share one rate limit and one concurrency cap, and all measurements of one
namespace share that namespace's cap.

    async with Providers(ProviderOptions(prometheus_address="http://127.0.0.1:9090", rate=50)) as providers:
        status = await run_to_completion(run, providers, clock)

Create it inside the event loop that will use it (asyncio primitives belong to one loop).

It is also the list of which providers exist at all (`SUPPORTED_PROVIDERS`): a metric using any other of
Argo's providers is not supported yet, and the sentence saying so (`provider_findings`, `provider_unavailable`)
is the same in `lint`, `plan`, `analyze` and the measurement Error of the controller.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from analysis.models import Metric
from analysis.providers.base import MetricProvider
from analysis.providers.cloudwatch import CloudWatchProvider
from analysis.providers.credentials import Credentials
from analysis.providers.datadog import DatadogProvider
from analysis.providers.governance import BackendObserver, GovernanceConfig
from analysis.providers.graphite import GraphiteProvider
from analysis.providers.influxdb import InfluxdbProvider
from analysis.providers.judge import JUDGE_KIND, JudgeProvider
from analysis.providers.kayenta import KayentaProvider
from analysis.providers.newrelic import NewRelicProvider
from analysis.providers.prometheus import PrometheusProvider
from analysis.providers.skywalking import SkyWalkingProvider
from analysis.providers.throttling import (
    DEFAULT_CONCURRENCY,
    DEFAULT_NAMESPACE_CONCURRENCY,
    DEFAULT_RATE,
    DEFAULT_WORKERS,
    CapObserver,
    LimiterRegistry,
    ThrottleConfig,
)
from analysis.providers.wavefront import WavefrontProvider
from analysis.providers.web import WebProvider

__all__ = ["SUPPORTED_PROVIDERS", "ProviderOptions", "Providers", "provider_findings", "provider_unavailable"]

SUPPORTED_PROVIDERS = (
    "prometheus",
    "web",
    "job",
    "datadog",
    "newRelic",
    "cloudWatch",
    "graphite",
    "influxdb",
    "wavefront",
    "skywalking",
    "kayenta",
    JUDGE_KIND,
)
"""Built into every `Providers` (prometheus, web, the statistical judge `plugin/rollouts/judge`) or added by
the controller (job: it runs Kubernetes Jobs)."""
CONTROLLER_ONLY = ("job",)


def _not_supported(kind: str) -> str:
    return f"the {kind} metric provider is not supported yet (supported: {', '.join(SUPPORTED_PROVIDERS)})"


def provider_unavailable(kind: str) -> str:
    """The message of the Error measurement of a metric whose provider is not in the map it runs with."""
    if kind in CONTROLLER_ONLY:
        return f"the {kind} metric provider runs only in the controller (it needs a cluster)"
    return _not_supported(kind)


def provider_findings(metrics: Sequence[Metric], path: str = "spec.metrics") -> list[str]:
    """One sentence per metric whose provider is not supported: ``spec.metrics[0].provider.datadog: …``."""
    found: list[str] = []
    for i, metric in enumerate(metrics):
        for kind in metric.provider.kinds():
            if kind not in SUPPORTED_PROVIDERS:
                field = kind.replace("/", ".", 1)  # plugin/acme → provider.plugin.acme
                found.append(
                    f"{path}[{i}].provider.{field}: Forbidden: {_not_supported(kind)}; "
                    "its measurements end in Error"
                )
    return found


@dataclass(frozen=True)
class ProviderOptions:
    """How providers reach their backends.

    `prometheus_address` overrides every metric's Prometheus address (`--prometheus`); `rate` is the
    requests per second allowed towards one backend address (None: unlimited) and `concurrency` the requests
    in flight towards it; `namespace_concurrency` the requests in flight of one namespace over all its
    backends (None: no such cap, as for `rollouts analyze`, which serves one user); `workers` the query
    threads (and web connections) of the process; `observer` is told of every wait for and refusal by a
    cap; `environ` replaces `os.environ` (for `ARGO_ROLLOUTS_PROMETHEUS_ADDRESS`).
    """

    prometheus_address: str | None = None
    rate: float | None = DEFAULT_RATE
    concurrency: int = DEFAULT_CONCURRENCY
    namespace_concurrency: int | None = DEFAULT_NAMESPACE_CONCURRENCY
    workers: int = DEFAULT_WORKERS
    observer: CapObserver | None = None
    environ: Mapping[str, str] | None = None
    governance: GovernanceConfig = field(default_factory=GovernanceConfig)
    backend_observer: BackendObserver | None = None
    credentials: Credentials | None = None


class Providers(Mapping[str, MetricProvider]):
    """`kind → provider`, sharing one limiter registry. Close it (or use `async with`) to release sockets."""

    def __init__(self, options: ProviderOptions | None = None) -> None:
        self.options = options or ProviderOptions()
        options = self.options
        if options.workers < 1:
            raise ValueError(f"workers must be at least 1, got {options.workers}")
        self.limiters = LimiterRegistry(
            ThrottleConfig(rate=options.rate, concurrency=options.concurrency),
            namespace_concurrency=options.namespace_concurrency,
            observer=options.observer,
        )
        self.prometheus = PrometheusProvider(
            limiters=self.limiters,
            address_override=options.prometheus_address,
            environ=options.environ,
            max_workers=max(options.workers, options.concurrency),
            governance=options.governance,
            observer=options.backend_observer,
        )
        self.web = WebProvider(limiters=self.limiters, connections=options.workers)
        self.judge = JudgeProvider(self.prometheus)
        credentials = options.credentials or Credentials(environ=options.environ or os.environ)
        vendor: dict[str, Any] = {"limiters": self.limiters, "credentials": credentials}
        self.vendors: list[Any] = [
            DatadogProvider(**vendor),
            NewRelicProvider(**vendor),
            CloudWatchProvider(**vendor),
            GraphiteProvider(**vendor),
            InfluxdbProvider(**vendor),
            WavefrontProvider(**vendor),
            SkyWalkingProvider(limiters=self.limiters),
            KayentaProvider(limiters=self.limiters),
        ]
        self._by_kind: dict[str, MetricProvider] = {
            "prometheus": self.prometheus,
            "web": self.web,
            JUDGE_KIND: self.judge,
            **{p.kind: p for p in self.vendors},
        }
        assert set(self._by_kind) <= set(SUPPORTED_PROVIDERS)

    def add(self, provider: MetricProvider) -> None:
        """Register another provider (the controller's `job`), replacing one of the same kind."""
        self._by_kind[provider.kind] = provider

    def __getitem__(self, kind: str) -> MetricProvider:
        return self._by_kind[kind]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_kind)

    def __len__(self) -> int:
        return len(self._by_kind)

    async def aclose(self) -> None:
        await self.web.aclose()
        for vendor in self.vendors:
            await vendor.aclose()
        self.prometheus.close()

    async def __aenter__(self) -> Providers:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
