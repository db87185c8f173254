"""The Prometheus metric provider: one `measure()` = one PromQL query through prometheus-api-client.

Sits at the edge of the analysis pipeline: the runner hands it a metric whose `{{args.*}}` are already
substituted, it returns a `Measurement` carrying the value string and the parsed result (reference §b.3),
and the runner's `assess` evaluates the conditions. It follows Argo's `metricproviders/prometheus`:

* instant query at *now* (live) or at the instant `at` (replay, `rollouts analyze --at/--from`);
  `rangeQuery` with `start`/`end` time expressions (`now() - duration("5m")`, `now()` = the evaluation
  instant) and a Go-duration `step`; their parse errors become Error measurements (§b.3);
* address from the metric, else the `address_override` (`--prometheus`), else `ARGO_ROLLOUTS_PROMETHEUS_ADDRESS`;
* `timeout` seconds (default 30, negative is an error), `headers`, basic auth, `insecure`;
* warnings kept in `measurement.metadata["warnings"]`; `metadata()` → `ResolvedPrometheusQuery`.

Every backend failure (connection refused, timeout, HTTP 400 for bad PromQL, a non-JSON answer, an answer of
an unsupported type) becomes an Error measurement whose message quotes the cause; `measure()` never raises
for them and never reports success.

prometheus-api-client is synchronous: each query runs in the provider's own `QueryThreads` (sized like the
concurrency cap, because the loop's default executor has only `cpu + 4` threads) under an explicit
`asyncio.timeout`, after taking a slot of the backend's `Limiter` (`throttling`). One `PrometheusConnect`
(one HTTP session with a connection pool) is kept per distinct backend configuration.
`PrometheusConnect.custom_query` returns only `data.result` and drops `resultType` and `warnings`, which §b.3
needs, so the subclass `_Connection` sends the same request with the library's session and returns the whole
document. It prepares each live query's request once and reads the environment's proxy settings once per
connection (`Session.request` does both on every call, ~40 % of a query's CPU), and asks for instant queries'
answers uncompressed (gzip cost Prometheus more CPU than answering the query; a metric's own
`Accept-Encoding` header wins).
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import requests
from prometheus_api_client import PrometheusConnect
from requests.adapters import HTTPAdapter
from urllib3.exceptions import InsecureRequestWarning
from urllib3.util.retry import Retry

from analysis.durations import DurationError, parse_go_duration
from analysis.models import Measurement, Metric, PrometheusMetric
from analysis.providers.base import BaseProvider, error_measurement, value_measurement
from analysis.providers.shaping import (
    PrometheusResult,
    ResponseError,
    UnsupportedResult,
    error_message,
    format_warnings,
    shape_response,
    warnings_of,
)
from analysis.providers.threads import QueryThreads
from analysis.providers.throttling import LimiterRegistry
from analysis.providers.timeexpr import TimeExpressionError, evaluate_time

__all__ = ["ADDRESS_ENV", "DEFAULT_TIMEOUT_SECONDS", "PrometheusProvider", "QueryFailed"]

ADDRESS_ENV = "ARGO_ROLLOUTS_PROMETHEUS_ADDRESS"
DEFAULT_TIMEOUT_SECONDS = 30
_MAX_CONNECTIONS = 256  # distinct (address, headers, auth, insecure) sessions kept
_MAX_PREPARED = 1024  # distinct live queries whose prepared request a connection keeps
_NO_RETRY = Retry(total=0, connect=0, read=0, status=0, other=0, redirect=3, raise_on_status=False)


class QueryFailed(Exception):
    """A query that produced no result; the message is what the Error measurement says."""


class _Unsupported(QueryFailed):
    """An answer of a type Argo does not measure: its message stands alone (§b.3)."""


@dataclass(frozen=True)
class _Request:
    """Everything one query needs, resolved from the metric (hashable parts identify the connection)."""

    address: str
    headers: tuple[tuple[str, str], ...]
    auth: tuple[str, str] | None
    insecure: bool
    timeout: float
    endpoint: str  # "query" | "query_range"
    params: dict[str, str]


class _Connection(PrometheusConnect):  # type: ignore[misc]
    """The library's connection, plus a call that keeps the whole answer (resultType, warnings, error)."""

    def __init__(
        self,
        url: str,
        headers: dict[str, str] | None,
        auth: tuple[str, str] | None,
        insecure: bool,
        pool: int,
    ):
        super().__init__(url=url, headers=headers, disable_ssl=insecure, auth=auth, retry=_NO_RETRY)
        if insecure:  # asked for explicitly in the metric: do not warn on every query
            warnings.filterwarnings("ignore", category=InsecureRequestWarning)
        # The library mounts a 10-connection adapter; match the concurrency cap instead so that connections
        # are reused rather than discarded when more than 10 queries are in flight.
        self._session.mount(url, HTTPAdapter(max_retries=_NO_RETRY, pool_connections=1, pool_maxsize=pool))
        # What `Session.request` would work out on every call, worked out once per connection: the
        # environment's proxies and CA bundle (`merge_environment_settings`, which also stats ~/.netrc and the
        # bundle's path on every call), and the prepared request of each distinct live query. Together they
        # were ~40% of the CPU of a query; the request sent is the same.
        self._settings = self._session.merge_environment_settings(
            f"{self.url}/api/v1/query", {}, None, self._session.verify, self._session.cert
        )
        self._requests: dict[tuple[str, tuple[tuple[str, str], ...]], requests.PreparedRequest] = {}
        self._lock = threading.Lock()
        self._asks_encoding = any(k.lower() == "accept-encoding" for k in (headers or {}))

    def _prepared(self, endpoint: str, params: dict[str, str]) -> requests.PreparedRequest:
        """The prepared GET of one query; live queries (no `time`) repeat, so theirs is kept and reused.

        A prepared request is only read while sent (redirects work on a copy), so threads may share it. Not
        kept when the session holds cookies, which `prepare_request` merges in at each call.
        """
        key = (endpoint, tuple(params.items()))
        kept = self._requests.get(key)
        if kept is not None and not self._session.cookies:
            return kept
        request = requests.Request(
            "GET", f"{self.url}/api/v1/{endpoint}", params=params, headers=self.headers, auth=self.auth
        )
        prepared: requests.PreparedRequest = self._session.prepare_request(request)
        if endpoint == "query" and not self._asks_encoding:
            # An instant query's answer is a few hundred bytes: gzip makes it no smaller, and it cost
            # Prometheus 0.55 ms and us 0.09 ms of CPU per query (measured). Range queries keep it.
            prepared.headers["Accept-Encoding"] = "identity"
        if "time" not in params and "start" not in params and not self._session.cookies:
            with self._lock:  # query threads may add at once; only a new query gets here
                if len(self._requests) >= _MAX_PREPARED:
                    self._requests.pop(next(iter(self._requests)))
                self._requests[key] = prepared
        return prepared

    def fetch(
        self, endpoint: str, params: dict[str, str], timeout: float
    ) -> tuple[PrometheusResult, str, list[str]]:
        """Send one query and shape its answer (§b.3). Raises `QueryFailed` with the cause; runs in a thread."""
        try:
            response = self._session.send(self._prepared(endpoint, params), timeout=timeout, **self._settings)
        except requests.Timeout:
            raise QueryFailed(f"timed out after {timeout:g}s") from None
        except requests.RequestException as e:
            if "Read timed out" in str(e):  # urllib3 wraps it in MaxRetryError when retries are off
                raise QueryFailed(f"timed out after {timeout:g}s") from None
            raise QueryFailed(_connection_error(e)) from None
        try:
            body: Any = response.json()
        except ValueError:
            text = response.text.strip().replace("\n", " ")
            raise QueryFailed(
                f"HTTP {response.status_code}: the answer is not JSON: {text[:200] or '(empty body)'}"
            ) from None
        if response.status_code != 200:
            raise QueryFailed(f"HTTP {response.status_code}: {error_message(body)}")
        try:
            result, value = shape_response(body)
        except UnsupportedResult as e:
            raise _Unsupported(str(e)) from None
        except ResponseError as e:
            raise QueryFailed(str(e)) from None
        return result, value, warnings_of(body)


_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\")]+")


def _connection_error(error: Exception) -> str:
    """A short cause for a requests failure: `[Errno 111] Connection refused` rather than three nested reprs."""
    found = _ERRNO.search(str(error))
    if found:
        return found.group(0).strip()
    text = str(error)
    return text if len(text) <= 300 else text[:300] + "…"


class ConfigError(ValueError):
    """A provider configuration problem of the metric (Argo's provider-construction errors, §b.3)."""


class PrometheusProvider(BaseProvider):
    """`provider.prometheus` metrics. One instance serves every metric of a process; share `limiters`."""

    kind = "prometheus"

    def __init__(
        self,
        *,
        limiters: LimiterRegistry | None = None,
        address_override: str | None = None,
        environ: Mapping[str, str] | None = None,
        max_workers: int | None = None,
    ) -> None:
        self.limiters = limiters or LimiterRegistry()
        self.address_override = address_override
        self._environ = os.environ if environ is None else environ
        self._pool = max(1, self.limiters.default.concurrency)
        self._executor = QueryThreads(max_workers or max(4, self._pool), "prometheus-query")
        self._connections: dict[tuple[Any, ...], _Connection] = {}

    # --- contract ------------------------------------------------------------------------------

    async def measure(self, metric: Metric, *, at: datetime | None = None) -> Measurement:
        config = metric.provider.prometheus
        if config is None:
            return error_measurement(f"metric '{metric.name}' has no prometheus provider")
        try:
            request = self._request(config, at)
        except ConfigError as e:
            return error_measurement(str(e))
        connection = self._connection(request)
        limiter = self.limiters.get(request.address)
        loop = asyncio.get_running_loop()
        try:
            async with limiter.slot():
                # The socket timeout bounds each read; this bounds the whole exchange (`asyncio.timeout`
                # is `wait_for` without its extra task and callbacks).
                async with asyncio.timeout(request.timeout + 0.5):
                    result, value, warnings = await self._executor.run(
                        loop, connection.fetch, request.endpoint, request.params, request.timeout
                    )
        except _Unsupported as e:
            return error_measurement(str(e))
        except QueryFailed as e:
            return error_measurement(f"prometheus query failed at {request.address}: {e}")
        except TimeoutError:
            return error_measurement(
                f"prometheus query failed at {request.address}: timed out after {request.timeout:g}s"
            )
        except Exception as e:  # a bug in a library must not take the run down: report it as an error
            return error_measurement(f"prometheus query failed at {request.address}: {type(e).__name__}: {e}")
        measurement = value_measurement(value)  # the string shape_response made: nothing to validate
        if warnings:
            measurement.metadata = {"warnings": format_warnings(warnings)}
        return measurement.with_result(result)

    def metadata(self, metric: Metric) -> dict[str, str] | None:
        config = metric.provider.prometheus
        if config is None or config.query is None:
            return None
        return {"ResolvedPrometheusQuery": config.query}

    def close(self) -> None:
        """Release the thread pool and the HTTP sessions."""
        self._executor.shutdown()
        for connection in self._connections.values():
            connection.close()
        self._connections.clear()

    # --- resolution ----------------------------------------------------------------------------

    def resolve_address(self, config: PrometheusMetric) -> str:
        """§b.3: `--prometheus` override, else the metric's address, else the environment; must be a URL."""
        return _checked_address(self.address_override or config.address or self._environ.get(ADDRESS_ENV, ""))

    def _request(self, config: PrometheusMetric, at: datetime | None) -> _Request:
        address = self.resolve_address(config)
        timeout: float = DEFAULT_TIMEOUT_SECONDS
        if config.timeout is not None:
            if config.timeout < 0:
                raise ConfigError("prometheus timeout should not be negative")
            if config.timeout > 0:
                timeout = config.timeout
        auth: tuple[str, str] | None = None
        authentication = config.authentication
        if authentication is not None:
            basic = authentication.basic_auth
            if basic is not None and (basic.username or basic.password):
                if not basic.username:
                    raise ConfigError("missing mandatory parameter in metric for basic auth setup: username")
                if not basic.password:
                    raise ConfigError("missing mandatory parameter in metric for basic auth setup: password")
                auth = (basic.username, basic.password)
            if authentication.oauth2 is not None and authentication.oauth2.token_url:
                raise ConfigError(
                    "prometheus OAuth2 authentication is not supported yet: use headers instead"
                )
            if authentication.sigv4 is not None and "aps-workspaces" in address:
                raise ConfigError("prometheus SigV4 authentication is not supported yet")
        headers = tuple((h.key, h.value) for h in config.headers or ())
        query = config.query or ""
        now = at or datetime.now(UTC)
        if config.range_query is not None:
            rq = config.range_query
            try:
                start = evaluate_time(rq.start or "", now)
            except TimeExpressionError as e:
                raise ConfigError(f"failed to parse rangeQuery.start as time: {e}") from None
            try:
                end = evaluate_time(rq.end or "", now)
            except TimeExpressionError as e:
                raise ConfigError(f"failed to parse rangeQuery.end as time: {e}") from None
            try:
                step = parse_go_duration(rq.step or "")
            except DurationError as e:
                raise ConfigError(f"failed to parse rangeQuery.step as duration: {e}") from None
            params = {
                "query": query,
                "start": _seconds(start),
                "end": _seconds(end),
                "step": f"{step.total_seconds():g}",
            }
            return _Request(address, headers, auth, bool(config.insecure), timeout, "query_range", params)
        params = {"query": query}
        if at is not None:
            params["time"] = _seconds(at)
        return _Request(address, headers, auth, bool(config.insecure), timeout, "query", params)

    def _connection(self, request: _Request) -> _Connection:
        key = (request.address, request.headers, request.auth, request.insecure)
        connection = self._connections.get(key)
        if connection is None:
            if len(self._connections) >= _MAX_CONNECTIONS:
                # Configurations come from manifests (a token per run in a header, say): keep the set bounded.
                # The oldest session is dropped, not closed: a query in another thread may still be using it.
                self._connections.pop(next(iter(self._connections)))
            connection = self._connections[key] = _Connection(
                request.address, dict(request.headers) or None, request.auth, request.insecure, self._pool
            )
        return connection


@lru_cache(maxsize=256)
def _checked_address(address: str) -> str:
    """The address stripped of blanks and a trailing slash; `ConfigError` unless an http(s) URL (§b.3)."""
    address = address.strip()
    if not address:
        raise ConfigError("prometheus address is not configured")
    parts = urlsplit(address)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"prometheus address is not is url format: {address!r}")
    return address.rstrip("/")


def _seconds(instant: datetime) -> str:
    """A Unix timestamp as Prometheus reads it (seconds, millisecond precision)."""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return f"{instant.timestamp():.3f}"
