"""Metric provider specs: the ``provider`` section of a Metric (docs/semantics/objects.md#analysis-objects), as read from manifests.

Part of the analysis models (re-exported by `analysis.models`, which is where callers import them from).
Prometheus, web and job are modelled field by field because this project runs them; the other providers Argo
knows (kayenta, datadog, …) are kept as opaque objects so templates using them load, validate and round-trip.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from analysis.wire import RawObject, WireModel

__all__ = [
    "PROVIDER_KINDS",
    "Authentication",
    "BasicAuthConfig",
    "JobMetric",
    "MetricProvider",
    "OAuth2Config",
    "PrometheusMetric",
    "PrometheusRangeQuery",
    "Sigv4Config",
    "WebMetric",
    "WebMetricHeader",
]

PROVIDER_KINDS = (
    "prometheus",
    "kayenta",
    "web",
    "datadog",
    "wavefront",
    "newRelic",
    "job",
    "cloudWatch",
    "graphite",
    "influxdb",
    "skywalking",
    "plugin",
)


class WebMetricHeader(WireModel):
    key: str
    value: str


class Sigv4Config(WireModel):
    region: str | None = None
    profile: str | None = None
    role_arn: str | None = None


class OAuth2Config(WireModel):
    token_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    scopes: list[str] | None = None


class BasicAuthConfig(WireModel):
    username: str | None = None
    password: str | None = None


class Authentication(WireModel):
    sigv4: Sigv4Config | None = None
    oauth2: OAuth2Config | None = None
    basic_auth: BasicAuthConfig | None = None


class PrometheusRangeQuery(WireModel):
    """`rangeQuery`: start/end are expr-lang time expressions, step a Go duration."""

    start: str | None = None
    end: str | None = None
    step: str | None = None


class PrometheusMetric(WireModel):
    address: str | None = None
    query: str | None = None
    authentication: Authentication | None = None
    timeout: int | None = None
    """Seconds; default 30 (docs/semantics/analysis.md#prometheus-results)."""
    insecure: bool | None = None
    headers: list[WebMetricHeader] | None = None
    range_query: PrometheusRangeQuery | None = None


class WebMetric(WireModel):
    method: str | None = None
    url: str
    headers: list[WebMetricHeader] | None = None
    body: str | None = None
    timeout_seconds: int | None = None
    json_path: str | None = None
    insecure: bool | None = None
    json_body: Annotated[Any, Field(json_schema_extra={"x-kubernetes-preserve-unknown-fields": True})] = None
    authentication: Authentication | None = None


class JobMetric(WireModel):
    metadata: RawObject | None = None
    spec: RawObject


class MetricProvider(WireModel):
    """`provider`: exactly one key. Only prometheus, web and job are modelled; the rest load as objects."""

    prometheus: PrometheusMetric | None = None
    kayenta: RawObject | None = None
    web: WebMetric | None = None
    datadog: RawObject | None = None
    wavefront: RawObject | None = None
    new_relic: RawObject | None = None
    job: JobMetric | None = None
    cloud_watch: RawObject | None = None
    graphite: RawObject | None = None
    influxdb: RawObject | None = None
    skywalking: RawObject | None = None
    plugin: RawObject | None = None

    def kinds(self) -> list[str]:
        """The provider keys set, in wire spelling; a plugin map counts once per plugin (docs/semantics/analysis.md#metric-validation)."""
        found: list[str] = []
        for kind in PROVIDER_KINDS:
            value = getattr(self, _PY_NAME.get(kind, kind))
            if value is None:
                continue
            if kind == "plugin":
                found.extend(f"plugin/{name}" for name in value)
            else:
                found.append(kind)
        return found

    @property
    def kind(self) -> str | None:
        """The single provider key (``prometheus``, ``web``, ``job``, …), or None when not exactly one."""
        kinds = self.kinds()
        return kinds[0] if len(kinds) == 1 else None


_PY_NAME = {"newRelic": "new_relic", "cloudWatch": "cloud_watch"}
