"""The Prometheus metric provider: one `measure()` = one PromQL query through prometheus-api-client.

Sits at the edge of the analysis pipeline: the runner hands it a metric whose `{{args.*}}` are already
substituted, it returns a `Measurement` carrying the value string and the parsed result (docs/semantics/analysis.md#prometheus-results),
and the runner's `assess` evaluates the conditions. It follows Argo's `metricproviders/prometheus`:

* instant query at *now* (live) or at the instant `at` (replay, `rollouts analyze --at/--from`);
  `rangeQuery` with `start`/`end` time expressions (`now() - duration("5m")`, `now()` = the evaluation
  instant) and a Go-duration `step`; their parse errors become Error measurements (docs/semantics/analysis.md#prometheus-results);
* address from the metric, else the `address_override` (`--prometheus`), else `ARGO_ROLLOUTS_PROMETHEUS_ADDRESS`;
* `timeout` seconds (default 30, negative is an error), `headers`, basic auth, OAuth2 client credentials
  (`oauth2`), SigV4 towards an `aps-workspaces` address (`sigv4`, signed in the query thread after OAuth2, so
  its Authorization wins as in Argo; a signing failure is an Error that does not count against the backend's
  circuit breaker), `insecure`;
* warnings kept in `measurement.metadata["warnings"]`; `metadata()` → `ResolvedPrometheusQuery`.

Every backend failure (connection refused, timeout, HTTP 400 for bad PromQL, a non-JSON answer, an answer of
an unsupported type, one larger than `MAX_ANSWER_BYTES`) becomes an Error measurement whose message quotes
the cause; `measure()` never raises for them and never reports success. An error answer is worded as the Go
client Argo uses words it (`bad_data: …`, `server_error: server error: 503`; see `_shaped`).

The timeout is one deadline over the whole measurement: waiting for the namespace's and the backend's slots
(`throttling`), then the exchange, a body that trickles included. prometheus-api-client is synchronous: each
query runs in the provider's own `QueryThreads` (shared by every backend and namespace), under a
`SocketDeadline` whose `abort()` shuts the query's sockets down when the deadline fires, so the thread is
free at once (`deadlines`). One `PrometheusConnect` (one HTTP session with a connection pool) is kept per
distinct backend configuration.
`PrometheusConnect.custom_query` returns only `data.result` and drops `resultType` and `warnings`, which docs/semantics/analysis.md#prometheus-results
needs, so the subclass `_Connection` sends the same request with the library's session and returns the whole
document. It prepares each live query's request once and reads the environment's proxy settings once per
connection (`Session.request` does both on every call, ~40 % of a query's CPU), and asks for instant queries'
answers uncompressed (gzip cost Prometheus more CPU than answering the query; a metric's own
`Accept-Encoding` header wins).
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import requests
from prometheus_api_client import PrometheusConnect
from urllib3.exceptions import InsecureRequestWarning
from urllib3.util.retry import Retry

from analysis.durations import DurationError, parse_go_duration
from analysis.models import Measurement, Metric, PrometheusMetric
from analysis.providers.base import BaseProvider, error_measurement, short_cause, value_measurement
from analysis.providers.deadlines import GuardedAdapter, SocketDeadline
from analysis.providers.governance import BackendObserver, Breakers, Coalescer, GovernanceConfig
from analysis.providers.oauth2 import OAuth2Config, TokenError, TokenSource
from analysis.providers.shaping import (
    ResponseError,
    UnsupportedResult,
    api_error,
    format_warnings,
    shape_response,
    warnings_of,
)
from analysis.providers.sigv4 import SigV4Error, SigV4Signer
from analysis.providers.threads import QueryThreads
from analysis.providers.throttling import DEFAULT_WORKERS, LimiterRegistry
from analysis.providers.timeexpr import TimeExpressionError, evaluate_time

__all__ = ["ADDRESS_ENV", "DEFAULT_TIMEOUT_SECONDS", "PrometheusProvider", "QueryFailed"]

ADDRESS_ENV = "ARGO_ROLLOUTS_PROMETHEUS_ADDRESS"
DEFAULT_TIMEOUT_SECONDS = 30
_MAX_CONNECTIONS = 256  # distinct (address, headers, auth, insecure) sessions kept
_MAX_PREPARED = 1024  # distinct live queries whose prepared request a connection keeps
MAX_ANSWER_BYTES = 16 * 1024 * 1024  # a larger answer is an Error, not a process out of memory
Shape = Callable[[Any], tuple[Any, str]]
"""A successful answer's body → (result, value string): `shape_response` for measurements, `series_of` for the
judge."""
_NO_RETRY = Retry(total=0, connect=0, read=0, status=0, other=0, redirect=3, raise_on_status=False)


class QueryFailed(Exception):
    """A query that produced no result; the message is what the Error measurement says."""


class _SigningFailed(QueryFailed):
    """SigV4 could not sign (no region, no credentials): a fault of the configuration, not of the backend."""


class _Unsupported(QueryFailed):
    """An answer of a type Argo does not measure: its message stands alone (docs/semantics/analysis.md#prometheus-results)."""


class _ApiError(QueryFailed):
    """Prometheus answered with an error: the message is the Go client's wording and stands alone, as in
    Argo (`<errorType>: <error>`, `server_error: server error: 503`)."""


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
    oauth2: OAuth2Config | None = None
    sigv4: tuple[str | None, str | None, str | None] | None = None  # (region, profile, roleArn)


class _Connection(PrometheusConnect):  # type: ignore[misc]
    """The library's connection, plus a call that keeps the whole answer (resultType, warnings, error)."""

    def __init__(
        self,
        url: str,
        headers: dict[str, str] | None,
        auth: tuple[str, str] | None,
        insecure: bool,
        pool: int,
        oauth2: OAuth2Config | None = None,
        sigv4: tuple[str | None, str | None, str | None] | None = None,
        environ: Mapping[str, str] | None = None,
    ):
        super().__init__(url=url, headers=headers, disable_ssl=insecure, auth=auth, retry=_NO_RETRY)
        if insecure:  # asked for explicitly in the metric: do not warn on every query
            warnings.filterwarnings("ignore", category=InsecureRequestWarning)
        # The library mounts a 10-connection adapter; match the concurrency cap instead so that connections
        # are reused rather than discarded when more than 10 queries are in flight. The adapter's
        # connections obey the query's `SocketDeadline` (see `deadlines`). Mounted on the scheme as well, so
        # that a redirect or an OAuth2 token endpoint elsewhere is guarded too.
        adapter = GuardedAdapter(max_retries=_NO_RETRY, pool_connections=4, pool_maxsize=pool)
        for prefix in ("http://", "https://", url):
            self._session.mount(prefix, adapter)
        # What `Session.request` would work out on every call, worked out once per connection: the
        # environment's proxies and CA bundle (`merge_environment_settings`, which also stats ~/.netrc and the
        # bundle's path on every call), and the prepared request of each distinct live query. Together they
        # were ~40% of the CPU of a query; the request sent is the same.
        self._settings = self._session.merge_environment_settings(
            f"{self.url}/api/v1/query", {}, None, self._session.verify, self._session.cert
        )
        self._settings["stream"] = True  # the body is read here, bounded in size (`MAX_ANSWER_BYTES`)
        self._requests: dict[tuple[str, tuple[tuple[str, str], ...]], requests.PreparedRequest] = {}
        self._lock = threading.Lock()
        self._asks_encoding = any(k.lower() == "accept-encoding" for k in (headers or {}))
        self._tokens = TokenSource(oauth2, tuple((headers or {}).items())) if oauth2 is not None else None
        self._signer = SigV4Signer(*sigv4, environ=environ) if sigv4 is not None else None

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
        self, endpoint: str, params: dict[str, str], deadline: SocketDeadline, shape: Shape = shape_response
    ) -> tuple[Any, str, list[str]]:
        """Send one query and shape its answer (docs/semantics/analysis.md#prometheus-results). Raises `QueryFailed` with the cause; runs in a thread.

        Every socket it touches is registered with `deadline`, whose `abort()` (from the event loop, when the
        measurement's time is up) makes a blocked read return at once.
        """
        with deadline:
            if deadline.aborted:
                raise QueryFailed("timed out")
            try:
                prepared = self._prepared(endpoint, params)
                if self._tokens is not None:
                    prepared = self._authorized(prepared, deadline)
                if self._signer is not None:  # after OAuth2: SigV4's Authorization wins, as in Argo
                    prepared = self._signed(prepared, deadline)
                response = self._session.send(prepared, timeout=deadline.remaining(), **self._settings)
                try:
                    raw = response.raw.read(MAX_ANSWER_BYTES + 1, decode_content=True) or b""
                finally:
                    response.close()
            except TokenError as e:
                raise QueryFailed("timed out" if deadline.aborted else str(e)) from None
            except SigV4Error as e:
                raise _SigningFailed("timed out" if deadline.aborted else str(e)) from None
            except requests.Timeout:
                raise QueryFailed("timed out") from None
            except (requests.RequestException, OSError, ValueError) as e:
                if deadline.aborted or "timed out" in str(e):  # urllib3 wraps it when retries are off
                    raise QueryFailed("timed out") from None
                raise QueryFailed(short_cause(e)) from None
        if len(raw) > MAX_ANSWER_BYTES:
            raise _ApiError(
                f"bad_response: the answer is larger than {MAX_ANSWER_BYTES // (1024 * 1024)} MiB: "
                "narrow the query (fewer series or a coarser step)"
            )
        return _shaped(response.status_code, raw, shape)

    def _signed(
        self, prepared: requests.PreparedRequest, deadline: SocketDeadline
    ) -> requests.PreparedRequest:
        """A copy of `prepared` signed with SigV4 (service `aps`), its query in the canonical form signed."""
        assert self._signer is not None
        prepared = prepared.copy()  # live queries share one prepared request
        body = prepared.body if isinstance(prepared.body, bytes) else (prepared.body or "").encode()
        url, added = self._signer.prepare(
            str(prepared.method),
            str(prepared.url),
            dict(prepared.headers),
            body,
            timeout=deadline.remaining(),
        )
        prepared.url = url
        prepared.headers.update(added)
        return prepared

    def _authorized(
        self, prepared: requests.PreparedRequest, deadline: SocketDeadline
    ) -> requests.PreparedRequest:
        """A copy of `prepared` carrying the OAuth2 token (the metric's own headers still win, as in Argo)."""
        assert self._tokens is not None
        authorization = self._tokens.authorization(self._session, deadline.remaining(), **self._settings)
        prepared = prepared.copy()
        prepared.headers["Authorization"] = authorization
        for key, value in (self.headers or {}).items():
            prepared.headers[key] = value
        return prepared


def _shaped(status: int, raw: bytes, shape: Shape = shape_response) -> tuple[Any, str, list[str]]:
    """An answer as the Go client (client_golang api/prometheus/v1/api.go, `apiClientImpl.Do`) reads it.

    Only 400 and 422 are API errors whose body is read; any other non-2xx status is `client_error: client
    error: 404` / `server_error: server error: 503` (the body, which Go keeps aside, follows in parentheses);
    a body that says ``"status": "error"`` is ``<errorType>: <error>``.
    """
    if status // 100 != 2 and status not in (400, 422):
        raise _ApiError(api_error(status, None, raw))
    try:
        body: Any = json.loads(raw)
    except ValueError:
        text = " ".join(raw.decode("utf-8", "replace").split())
        raise _ApiError(f"bad_response: the answer is not JSON: {text[:200] or '(empty body)'}") from None
    if status // 100 != 2 or (isinstance(body, dict) and body.get("status") == "error"):
        raise _ApiError(api_error(status, body, raw))
    try:
        result, value = shape(body)
    except UnsupportedResult as e:
        raise _Unsupported(str(e)) from None
    except ResponseError as e:
        raise QueryFailed(str(e)) from None
    return result, value, warnings_of(body)


class ConfigError(ValueError):
    """A provider configuration problem of the metric (Argo's provider-construction errors, docs/semantics/analysis.md#prometheus-provider)."""


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
        governance: GovernanceConfig | None = None,
        observer: BackendObserver | None = None,
    ) -> None:
        self.limiters = limiters or LimiterRegistry()
        governance = governance or GovernanceConfig()
        self.coalescer = Coalescer(governance.coalesce_window, observer)
        self.breakers = Breakers(governance.breaker_failures, governance.breaker_cooldown, observer)
        self.address_override = address_override
        self._environ = os.environ if environ is None else environ
        self._pool = max(1, self.limiters.default.concurrency)
        # Threads are shared by every backend and namespace; the caps (`throttling`) keep one of them from
        # holding more than its share, and the socket deadlines give a thread back when its time is up.
        workers = max_workers or max(DEFAULT_WORKERS, self._pool)
        self._executor = QueryThreads(workers, "prometheus-query")
        self._connections: dict[tuple[Any, ...], _Connection] = {}

    # --- contract ------------------------------------------------------------------------------

    async def measure(self, metric: Metric, *, at: datetime | None = None) -> Measurement:
        config = metric.provider.prometheus
        if config is None:
            return error_measurement(f"metric '{metric.name}' has no prometheus provider")
        answer = await self.query(config, at)
        if isinstance(answer, Measurement):
            return answer
        result, value, warnings = answer
        measurement = value_measurement(value)  # the string shape_response made: nothing to validate
        if warnings:
            measurement.metadata = {"warnings": format_warnings(warnings)}
        return measurement.with_result(result)

    async def query(
        self, config: PrometheusMetric, at: datetime | None, shape: Shape = shape_response
    ) -> tuple[Any, str, list[str]] | Measurement:
        """One query of `config` at `at` (None: now), its answer shaped by `shape`: `(result, value, warnings)`,
        or the Error measurement saying why there is none. Never raises for a backend failure."""
        try:
            request = self._request(config, at)
        except ConfigError as e:
            return error_measurement(str(e))
        key = (
            request.address,
            request.headers,
            request.auth,
            request.insecure,
            request.oauth2,
            request.sigv4,
            request.timeout,
            request.endpoint,
            tuple(request.params.items()),
            shape,
        )
        try:
            # each asker keeps its own deadline, also when it waits for another's request (`governance`)
            async with asyncio.timeout(request.timeout + 0.5):
                return await self.coalescer.run(key, request.address, lambda: self._governed(request, shape))
        except TimeoutError:
            return error_measurement(_timed_out(request))

    async def _governed(self, request: _Request, shape: Shape) -> tuple[Any, str, list[str]] | Measurement:
        """The exchange, unless the backend's circuit breaker is open; its outcome tells the breaker."""
        refusal = self.breakers.refusal(request.address)
        if refusal is not None:
            return error_measurement(f"prometheus query failed at {request.address}: {refusal}")
        backend_failed: bool | None = None
        try:
            answer, backend_failed = await self._exchange(request, shape)
        finally:
            if backend_failed is None:  # no word from the backend (our cap refused, cancelled, a bug)
                self.breakers.abandoned(request.address)
        if backend_failed:
            assert isinstance(answer, Measurement)
            self.breakers.failed(request.address, answer.message or "")
        elif backend_failed is False:
            self.breakers.succeeded(request.address)
        return answer

    async def _exchange(
        self, request: _Request, shape: Shape
    ) -> tuple[tuple[Any, str, list[str]] | Measurement, bool | None]:
        """(answer or Error measurement, whether the backend failed: True for no answer, a timeout or a 5xx;
        False for any answer; None when the backend was not reached: a refusal by this process's caps, a bug)."""
        connection = self._connection(request)
        admission = self.limiters.admit(request.address)
        deadline = SocketDeadline(request.timeout)
        loop = asyncio.get_running_loop()
        try:
            # One deadline over the whole measurement: waiting for a slot of the namespace or the backend,
            # then the exchange, a body that trickles included. When it fires, the sockets are shut down and
            # the query thread returns (`deadlines`); `asyncio.timeout` is `wait_for` without its extra task.
            async with asyncio.timeout(request.timeout), admission:
                try:
                    answer = await self._executor.run(
                        loop, connection.fetch, request.endpoint, request.params, deadline, shape
                    )
                except asyncio.CancelledError:
                    # Shut the sockets before the slot is given back: the namespace's and the backend's caps
                    # count connections, and a released slot must not overlap a socket still open.
                    deadline.abort()
                    raise
        except _Unsupported as e:
            return error_measurement(str(e)), False
        except _ApiError as e:
            return error_measurement(str(e)), str(e).startswith("server_error")
        except _SigningFailed as e:  # our credentials, not the backend: the circuit breaker is not told
            if str(e) == "timed out":
                return error_measurement(_timed_out(request)), None
            return error_measurement(f"prometheus query failed at {request.address}: {e}"), None
        except QueryFailed as e:
            if str(e) == "timed out":
                return error_measurement(_timed_out(request)), True
            return error_measurement(f"prometheus query failed at {request.address}: {e}"), True
        except TimeoutError:
            deadline.abort()
            if admission.waiting_for is not None:
                self.limiters.observe("refused", admission.waiting_for, admission.tenant)
                return error_measurement(admission.describe_refusal(request.timeout)), None
            return error_measurement(_timed_out(request)), True
        except BaseException as e:
            deadline.abort()  # cancelled (a run terminated, the process stopping): free the thread too
            if not isinstance(e, Exception):
                raise
            # a bug in a library must not take the run down: report it as an error
            message = f"prometheus query failed at {request.address}: {type(e).__name__}: {e}"
            return error_measurement(message), None
        return answer, False

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
        """docs/semantics/analysis.md#prometheus-provider: `--prometheus` override, else the metric's address, else the environment; must be a URL."""
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
        oauth2: OAuth2Config | None = None
        sigv4_key: tuple[str | None, str | None, str | None] | None = None
        authentication = config.authentication
        if authentication is not None:
            basic = authentication.basic_auth
            if basic is not None and (basic.username or basic.password):
                if not basic.username:
                    raise ConfigError("missing mandatory parameter in metric for basic auth setup: username")
                if not basic.password:
                    raise ConfigError("missing mandatory parameter in metric for basic auth setup: password")
                auth = (basic.username, basic.password)
            oauth = authentication.oauth2
            if oauth is not None and oauth.token_url:
                if not oauth.client_id or not oauth.client_secret:
                    raise ConfigError("missing mandatory parameter in metric for OAuth2 setup")
                oauth2 = OAuth2Config(
                    oauth.token_url, oauth.client_id, oauth.client_secret, tuple(oauth.scopes or ())
                )
            sigv4 = authentication.sigv4
            if (
                sigv4 is not None
                and "aps-workspaces" in address
                and (sigv4.region or sigv4.profile or sigv4.role_arn)
            ):
                sigv4_key = (sigv4.region or None, sigv4.profile or None, sigv4.role_arn or None)
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
            return _Request(
                address,
                headers,
                auth,
                bool(config.insecure),
                timeout,
                "query_range",
                params,
                oauth2,
                sigv4_key,
            )
        params = {"query": query}
        if at is not None:
            params["time"] = _seconds(at)
        return _Request(
            address, headers, auth, bool(config.insecure), timeout, "query", params, oauth2, sigv4_key
        )

    def _connection(self, request: _Request) -> _Connection:
        key = (
            request.address,
            request.headers,
            request.auth,
            request.insecure,
            request.oauth2,
            request.sigv4,
        )
        connection = self._connections.get(key)
        if connection is None:
            if len(self._connections) >= _MAX_CONNECTIONS:
                # Configurations come from manifests (a token per run in a header, say): keep the set bounded.
                # The oldest session is dropped, not closed: a query in another thread may still be using it.
                self._connections.pop(next(iter(self._connections)))
            connection = self._connections[key] = _Connection(
                request.address,
                dict(request.headers) or None,
                request.auth,
                request.insecure,
                self._pool,
                request.oauth2,
                request.sigv4,
                self._environ,
            )
        return connection


def _timed_out(request: _Request) -> str:
    return f"prometheus query failed at {request.address}: timed out after {request.timeout:g}s"


@lru_cache(maxsize=256)
def _checked_address(address: str) -> str:
    """The address stripped of blanks and a trailing slash; `ConfigError` unless an http(s) URL (docs/semantics/analysis.md#prometheus-provider)."""
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
