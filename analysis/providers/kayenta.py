"""The Kayenta metric provider: a measurement is one Kayenta canary execution, started then polled.

Sits at the edge of the analysis pipeline. It is *asynchronous*, as Argo's `metricproviders/kayenta/kayenta.go`:

* ``measure`` looks the canary config up by name
  (``GET <address>/canaryConfig?application=<application>&configurationAccountName=<storageAccountName>`` —
  Argo fills that parameter with ``storageAccountName``, and so does this provider), then starts an execution
  (``POST <address>/canary/<configId>?application=…&metricsAccountName=…&configurationAccountName=…&storageAccountName=…``
  with ``{"scopes": {<name>: {"controlScope": …, "experimentScope": …}}, "thresholds": {"pass", "marginal"}}``,
  each scope ``{scope, location (= region), step, start, end}``), and returns phase Running, ``resumeAt`` =
  now + 15 s and the execution id in ``metadata["canaryExecutionId"]``;
* a scope without ``start``/``end`` gets ``start`` = the run's start (``lookback: true``) or the measurement's
  start − the metric's ``interval``, and ``end`` = the measurement's start (RFC 3339); control and experiment
  must both set them or both leave them out;
* ``resume`` reads ``GET <address>/canary/<executionId>``: ``complete: false`` → still Running, polled again
  15 s later; ``complete: true`` → the score ``result.judgeResult.score.score`` (its integer part is the
  value) gives Successful at or above ``threshold.pass``, Inconclusive at or above ``threshold.marginal``,
  Failed below;
* every failure is an Error measurement with Argo's sentence: ``Canary config not found``,
  ``Invalid Response: HTTP 500``, ``Invalid canaryExecutionId``, ``Missing Complete Status``, ``Missing Score``,
  ``controlScope.start and experimentScope.start must both be set or be empty``; each request has 15 s
  (Argo's ``httpConnectionTimeout``), counting the wait for the namespace's and the backend's slots.

Differences from Argo, on purpose:

* ``terminate`` ends the measurement Successful (the runner marks it ``Metric Terminated``), as the job
  provider does. Argo leaves it Running, so the terminating run would never complete; no request is sent
  (Argo sends none either: Kayenta's execution finishes on its own).
* a poll answered 429 (or 503 with ``Retry-After``) keeps the measurement Running and polls again after the
  ``Retry-After`` (15 s at least, 10 min at most) instead of abandoning the execution as an Error;
* ``Invalid Response`` names the status (and its ``Retry-After``); ``Missing Score`` of a finished execution
  that failed adds Kayenta's status and exception; an execution id that is absent is refused (Argo stored
  ``<nil>`` and polled ``/canary/<nil>``);
* unknown keys (``thresholds`` for ``threshold``, the spelling of Argo's own docs, which Kubernetes would
  prune or refuse) and values of the wrong type are Error measurements naming the field; query values are
  percent-encoded, a trailing ``/`` of the address is dropped.

A replayed measurement (``at``) uses ``at`` as its start, so scopes without ``start``/``end`` ask about the
window before ``at``; explicit ``start``/``end`` are sent as written. The polls use the provider's `clock`:
pass the replay clock's ``now`` for a replay. ``lookback`` needs the run's start: the runner sets
`RUN_STARTED_AT` (a context variable) around its measurements; without it a lookback measurement is an Error.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
from yarl import URL

from analysis.durations import DurationError, parse_go_duration
from analysis.models import AnalysisPhase, Measurement, Metric
from analysis.providers.base import BaseProvider, PooledSession, error_measurement, short_cause
from analysis.providers.skywalking import go_decode, retry_after
from analysis.providers.throttling import LimiterRegistry
from analysis.wire import format_time

__all__ = [
    "CANARY_EXECUTION_ID",
    "DEFAULT_KAYENTA_TIMEOUT_SECONDS",
    "KAYENTA_RESUME_DELAY",
    "RUN_STARTED_AT",
    "KayentaConfig",
    "KayentaProvider",
    "KayentaScope",
    "ScopeDetail",
    "evaluate_score",
    "parse_kayenta",
    "scope_requests",
]

CANARY_EXECUTION_ID = "canaryExecutionId"
"""The measurement metadata key holding the execution id (Argo's)."""
KAYENTA_RESUME_DELAY = timedelta(seconds=15)
"""Argo's `resumeDelay`: how long after starting or polling an execution it is polled (again)."""
DEFAULT_KAYENTA_TIMEOUT_SECONDS = 15.0
"""Argo's `httpConnectionTimeout`, the time one request has."""
MAX_RETRY_AFTER = timedelta(minutes=10)

RUN_STARTED_AT: ContextVar[datetime | None] = ContextVar("analysis_run_started_at", default=None)
"""The start of the AnalysisRun being measured (Argo's ``run.Status.StartedAt``), for ``lookback: true``."""

_MAX_BODY = 32 * 1024 * 1024  # an execution's answer carries its config and every metric's judgement
_FIELDS = (
    "address",
    "application",
    "canaryConfigName",
    "metricsAccountName",
    "configurationAccountName",
    "storageAccountName",
    "threshold",
    "scopes",
    "lookback",
)
_SCOPE_FIELDS = ("name", "controlScope", "experimentScope")
_DETAIL_FIELDS = ("scope", "region", "step", "start", "end")


class KayentaConfigError(ValueError):
    """A `kayenta` section that cannot be used; the message names the field."""


@dataclass(frozen=True)
class ScopeDetail:
    """`controlScope` / `experimentScope`: Argo's ScopeDetail."""

    scope: str = ""
    region: str = ""
    step: int = 0
    start: str = ""
    end: str = ""


@dataclass(frozen=True)
class KayentaScope:
    name: str
    control: ScopeDetail
    experiment: ScopeDetail


@dataclass(frozen=True)
class KayentaConfig:
    """`metric.provider.kayenta`, checked (Argo's KayentaMetric; absent strings are empty, as in Go)."""

    address: str
    application: str
    canary_config_name: str
    metrics_account_name: str
    configuration_account_name: str
    storage_account_name: str
    pass_score: int
    marginal_score: int
    scopes: tuple[KayentaScope, ...]
    lookback: bool = False

    def lookup_url(self) -> str:
        """The canary-config listing, as Argo asks for it (its account parameter holds the storage account)."""
        return (
            f"{self.address}/canaryConfig?application={_q(self.application)}"
            f"&configurationAccountName={_q(self.storage_account_name)}"
        )

    def job_url(self, config_id: str) -> str:
        return (
            f"{self.address}/canary/{_q(config_id)}?application={_q(self.application)}"
            f"&metricsAccountName={_q(self.metrics_account_name)}"
            f"&configurationAccountName={_q(self.configuration_account_name)}"
            f"&storageAccountName={_q(self.storage_account_name)}"
        )

    def score_url(self, execution_id: str) -> str:
        return f"{self.address}/canary/{_q(execution_id)}"


def _q(value: str) -> str:
    return quote(value, safe="")


def _object(raw: Any, path: str, fields: tuple[str, ...]) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise KayentaConfigError(f"{path} must be an object, got {json.dumps(raw)}")
    unknown = sorted(k for k in raw if k not in fields)
    if unknown:
        hint = " (did you mean threshold?)" if unknown[0] == "thresholds" else ""
        raise KayentaConfigError(
            f"{path}.{unknown[0]} is not a field of the kayenta provider{hint} (fields: {', '.join(fields)})"
        )
    return raw


def _string(raw: Mapping[str, Any], key: str, path: str) -> str:
    value = raw.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise KayentaConfigError(f"{path}.{key} must be a string, got {json.dumps(value)}")
    return value


def _integer(raw: Mapping[str, Any], key: str, path: str) -> int:
    """An int64 field; an integer written as a string (an ``{{args.x}}`` filled in) is read too."""
    value = raw.get(key)
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise KayentaConfigError(f"{path}.{key} must be an integer, got {json.dumps(value)}")


def _detail(raw: Any, path: str) -> ScopeDetail:
    body = _object(raw, path, _DETAIL_FIELDS)
    return ScopeDetail(
        scope=_string(body, "scope", path),
        region=_string(body, "region", path),
        step=_integer(body, "step", path),
        start=_string(body, "start", path),
        end=_string(body, "end", path),
    )


def parse_kayenta(raw: Any) -> KayentaConfig:
    """The `kayenta` object of a metric, checked; `KayentaConfigError` names the field at fault."""
    if not isinstance(raw, dict):
        raise KayentaConfigError("kayenta must be an object")
    body = _object(raw, "kayenta", _FIELDS)
    address = _string(body, "address", "kayenta").strip().rstrip("/")
    parts = urlsplit(address)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise KayentaConfigError(f"kayenta.address is not a http(s) URL: {address!r}")
    threshold = _object(body.get("threshold"), "kayenta.threshold", ("pass", "marginal"))
    raw_scopes = body.get("scopes")
    if raw_scopes is None:
        raw_scopes = []
    if not isinstance(raw_scopes, list):
        raise KayentaConfigError(f"kayenta.scopes must be a list, got {json.dumps(raw_scopes)}")
    scopes = []
    for i, item in enumerate(raw_scopes):
        path = f"kayenta.scopes[{i}]"
        scope = _object(item, path, _SCOPE_FIELDS)
        scopes.append(
            KayentaScope(
                name=_string(scope, "name", path),
                control=_detail(scope.get("controlScope"), f"{path}.controlScope"),
                experiment=_detail(scope.get("experimentScope"), f"{path}.experimentScope"),
            )
        )
    lookback = body.get("lookback")
    if lookback is not None and not isinstance(lookback, bool):
        raise KayentaConfigError(f"kayenta.lookback must be true or false, got {json.dumps(lookback)}")
    return KayentaConfig(
        address=address,
        application=_string(body, "application", "kayenta"),
        canary_config_name=_string(body, "canaryConfigName", "kayenta"),
        metrics_account_name=_string(body, "metricsAccountName", "kayenta"),
        configuration_account_name=_string(body, "configurationAccountName", "kayenta"),
        storage_account_name=_string(body, "storageAccountName", "kayenta"),
        pass_score=_integer(threshold, "pass", "kayenta.threshold"),
        marginal_score=_integer(threshold, "marginal", "kayenta.threshold"),
        scopes=tuple(scopes),
        lookback=bool(lookback),
    )


def scope_requests(
    config: KayentaConfig, started: datetime, interval: str | None, run_started: datetime | None
) -> dict[str, Any]:
    """The ``scopes`` of the execution request (Argo's getScopeRequest per scope, keyed by name).

    Raises `KayentaConfigError` with Argo's sentences for mismatched or unresolvable start/end."""
    scopes: dict[str, Any] = {}
    for scope in config.scopes:
        control, experiment = scope.control, scope.experiment
        if (control.start == "") != (experiment.start == ""):
            raise KayentaConfigError(
                "controlScope.start and experimentScope.start must both be set or be empty"
            )
        if (control.end == "") != (experiment.end == ""):
            raise KayentaConfigError("controlScope.end and experimentScope.end must both be set or be empty")
        start_c, start_e, end_c, end_e = control.start, experiment.start, control.end, experiment.end
        if not start_c:
            start_c = start_e = _default_start(config, started, interval, run_started)
        if not end_c:
            end_c = end_e = format_time(started)
        scopes[scope.name] = {
            "controlScope": _detail_request(control, start_c, end_c),
            "experimentScope": _detail_request(experiment, start_e, end_e),
        }
    return scopes


def _default_start(
    config: KayentaConfig, started: datetime, interval: str | None, run_started: datetime | None
) -> str:
    if config.lookback:
        if run_started is None:
            raise KayentaConfigError(
                "kayenta.lookback: the analysis run's start time is not known, so the scopes' start cannot be set"
            )
        return format_time(run_started)
    text = interval or ""
    try:
        duration = parse_go_duration(text)
    except DurationError as e:
        raise KayentaConfigError(f"Invalid duration {json.dumps(text)}: {e}") from None
    return format_time(started - duration)


def _detail_request(detail: ScopeDetail, start: str, end: str) -> dict[str, Any]:
    request: dict[str, Any] = {"scope": detail.scope, "location": detail.region, "step": detail.step}
    if start:
        request["start"] = start
    if end:
        request["end"] = end
    return request


def evaluate_score(score: int, pass_score: int, marginal_score: int) -> AnalysisPhase:
    """Argo's evaluateResult: at or above pass → Successful, at or above marginal → Inconclusive, else Failed.

    >>> [evaluate_score(s, 90, 75).value for s in (100, 90, 80, 75, 74)]
    ['Successful', 'Successful', 'Inconclusive', 'Inconclusive', 'Failed']
    """
    if score >= pass_score:
        return AnalysisPhase.SUCCESSFUL
    if score >= marginal_score:
        return AnalysisPhase.INCONCLUSIVE
    return AnalysisPhase.FAILED


class _Failure(Exception):
    """A request that produced no usable answer; the message is the measurement's."""

    def __init__(self, message: str, wait: float | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.wait = wait
        self.status = status


def _go_type(value: Any) -> str:
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, float | int):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "[]interface {}"
    return "map[string]interface {}"


def _go_value(value: Any) -> str:
    if value is None:
        return "<nil>"
    if isinstance(value, str):
        return value
    text = json.dumps(value, separators=(",", ":"))
    return text if len(text) <= 200 else text[:200] + "…"


class _Missing(Exception):
    pass


def _nested(document: Mapping[str, Any], *fields: str) -> Any:
    """unstructured.NestedFieldNoCopy: the value at `fields`; `_Missing` when a key is absent; `_Failure`
    (Go's accessor error) when a step is not an object."""
    value: Any = document
    for i, field in enumerate(fields):
        if not isinstance(value, dict):
            path = "." + ".".join(fields[: i + 1])
            raise _Failure(
                f"{path} accessor error: {_go_value(value)} is of the type {_go_type(value)}, "
                "expected map[string]interface{}"
            )
        if field not in value:
            raise _Missing
        value = value[field]
    return value


def _execution_trouble(document: Mapping[str, Any]) -> str:
    """`` (canary execution terminal: <exception>)`` for a finished execution that reports a failure."""
    status = document.get("status")
    exception = document.get("exception")
    if not exception and status in (None, "", "succeeded"):
        return ""
    detail = ""
    if isinstance(exception, dict):
        details = exception.get("details")
        if isinstance(details, dict):
            errors = details.get("errors")
            if isinstance(errors, list) and errors:
                detail = "; ".join(str(e) for e in errors)
            elif details.get("error"):
                detail = str(details["error"])
        detail = detail or str(exception.get("message") or exception.get("exceptionType") or "")
        detail = detail or _go_value(exception)
    elif exception:
        detail = _go_value(exception)
    said = f"canary execution {status}" if isinstance(status, str) and status else "canary execution failed"
    detail = " ".join(detail.split())
    if len(detail) > 300:
        detail = detail[:300] + "…"
    return f" ({said}: {detail})" if detail else f" ({said})"


class KayentaProvider(PooledSession, BaseProvider):
    """`provider.kayenta` metrics. One instance per event loop; share `limiters` with the other providers.

    `clock` is "now" for live measurements and for every poll; `timeout` bounds one request (Argo: 15 s);
    `resume_delay` is the time between polls (Argo: 15 s)."""

    kind = "kayenta"

    def __init__(
        self,
        *,
        limiters: LimiterRegistry | None = None,
        connections: int = 8,
        timeout: float = DEFAULT_KAYENTA_TIMEOUT_SECONDS,
        resume_delay: timedelta = KAYENTA_RESUME_DELAY,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.limiters = limiters or LimiterRegistry()
        self.connections = max(1, connections)
        self.timeout = timeout
        self.resume_delay = resume_delay
        self.clock = clock
        self._session: aiohttp.ClientSession | None = None

    # --- contract ------------------------------------------------------------------------------

    async def measure(self, metric: Metric, *, at: datetime | None = None) -> Measurement:
        started = at or self.clock()
        raw = metric.provider.kayenta
        if raw is None:
            return error_measurement(f"metric '{metric.name}' has no kayenta provider", started_at=started)
        try:
            config = parse_kayenta(raw)
            config_id = await self._config_id(config)
            request = {
                "scopes": scope_requests(config, started, metric.interval, RUN_STARTED_AT.get()),
                "thresholds": {"pass": config.pass_score, "marginal": config.marginal_score},
            }
            answer = await self._exchange("POST", config.job_url(config_id), json.dumps(request).encode())
        except (KayentaConfigError, _Failure) as e:
            return error_measurement(str(e), started_at=started)
        execution_id = answer.get(CANARY_EXECUTION_ID) if isinstance(answer, dict) else None
        if isinstance(execution_id, float) and execution_id.is_integer():
            execution_id = str(int(execution_id))
        if not isinstance(execution_id, str) or not execution_id:
            return error_measurement("Invalid canaryExecutionId", started_at=started)
        return Measurement(
            phase=AnalysisPhase.RUNNING,
            started_at=started,
            resume_at=started + self.resume_delay,
            metadata={CANARY_EXECUTION_ID: execution_id},
        )

    async def resume(self, metric: Metric, measurement: Measurement) -> Measurement:
        now = self.clock()
        execution_id = (measurement.metadata or {}).get(CANARY_EXECUTION_ID, "")
        try:
            config = parse_kayenta(metric.provider.kayenta)
            if not execution_id:
                raise _Failure(f"the measurement has no {CANARY_EXECUTION_ID} metadata")
            document = await self._exchange("GET", config.score_url(execution_id))
            if not isinstance(document, dict):
                raise _Failure(
                    f"json: cannot unmarshal {_go_kind(document)} into Go value of type map[string]interface {{}}"
                )
            return self._judged(config, measurement, document, now)
        except _Failure as e:
            if e.status == 429 or (e.status == 503 and e.wait is not None):
                wait = timedelta(seconds=e.wait or 0)
                wait = min(max(wait, self.resume_delay), MAX_RETRY_AFTER)
                return measurement.model_copy(
                    update={"phase": AnalysisPhase.RUNNING, "resume_at": now + wait, "message": str(e)}
                )
            return _finish(measurement, AnalysisPhase.ERROR, str(e), now)
        except KayentaConfigError as e:
            return _finish(measurement, AnalysisPhase.ERROR, str(e), now)

    async def terminate(self, metric: Metric, measurement: Measurement) -> Measurement:
        return _finish(measurement, AnalysisPhase.SUCCESSFUL, measurement.message, self.clock())

    # --- steps ---------------------------------------------------------------------------------

    def _judged(
        self, config: KayentaConfig, measurement: Measurement, document: Mapping[str, Any], now: datetime
    ) -> Measurement:
        """The measurement after one poll's answer (Argo's Resume after the request)."""
        try:
            complete = _nested(document, "complete")
        except _Missing:
            raise _Failure("Missing Complete Status") from None
        if not isinstance(complete, bool):
            raise _Failure(
                f".complete accessor error: {_go_value(complete)} is of the type {_go_type(complete)}, expected bool"
            )
        if not complete:
            return measurement.model_copy(
                update={"phase": AnalysisPhase.RUNNING, "resume_at": now + self.resume_delay, "message": None}
            )
        fields = ("result", "judgeResult", "score", "score")
        try:
            score = _nested(document, *fields)
        except _Missing:
            raise _Failure("Missing Score" + _execution_trouble(document)) from None
        except _Failure as e:
            raise _Failure(str(e) + _execution_trouble(document)) from None
        if not isinstance(score, float | int) or isinstance(score, bool):
            raise _Failure(
                f".{'.'.join(fields)} accessor error: {_go_value(score)} is of the type {_go_type(score)}, "
                "expected float64"
            )
        value = int(score)
        phase = evaluate_score(value, config.pass_score, config.marginal_score)
        return _finish(measurement, phase, None, now, value=str(value))

    async def _config_id(self, config: KayentaConfig) -> str:
        """Argo's getCanaryConfigId: the id of the listed config whose name is `canaryConfigName`."""
        listing = await self._exchange("GET", config.lookup_url())
        if not isinstance(listing, list):
            raise _Failure(
                f"json: cannot unmarshal {_go_kind(listing)} into Go value of type []kayenta.canaryConfig"
            )
        for entry in listing:
            if not isinstance(entry, dict):
                raise _Failure(
                    f"json: cannot unmarshal {_go_kind(entry)} into Go value of type kayenta.canaryConfig"
                )
            fields = {
                str(k).lower(): v for k, v in entry.items()
            }  # Go matches field names case-insensitively
            if fields.get("name") == config.canary_config_name:
                config_id = fields.get("id")
                if config_id is not None and not isinstance(config_id, str):
                    raise _Failure(
                        f"json: cannot unmarshal {_go_kind(config_id)} into Go struct field canaryConfig.Id of type string"
                    )
                return config_id or ""
        raise _Failure("Canary config not found")

    async def _exchange(self, method: str, url: str, body: bytes | None = None) -> Any:
        """The decoded JSON of a 200 answer to one request; `_Failure` with the sentence otherwise."""
        admission = self.limiters.admit(url)
        timeout = self.timeout
        headers = {"Content-Type": "application/json"} if body is not None else None
        verb = method.title()
        try:
            async with (
                asyncio.timeout(timeout),
                admission,
                self._client().request(
                    method,
                    URL(url, encoded=True),
                    data=body,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=timeout),
                ) as response,
            ):
                status = response.status
                wait = retry_after(response.headers.get("Retry-After"))
                content = await _read_body(response.content) if status == 200 else b""
        except TimeoutError:
            if admission.waiting_for is not None:
                self.limiters.observe("refused", admission.waiting_for, admission.tenant)
                raise _Failure(admission.describe_refusal(timeout)) from None
            raise _Failure(
                f'{verb} "{url}": context deadline exceeded (Client.Timeout of {timeout:g}s exceeded)'
            ) from None
        except aiohttp.ClientError as e:
            raise _Failure(f'{verb} "{url}": {short_cause(e)}') from None
        except Exception as e:  # a library bug must not take the run down
            raise _Failure(f'{verb} "{url}": {type(e).__name__}: {e}') from None
        if status != 200:
            said = f"Invalid Response: HTTP {status}"
            if wait is not None:
                said += f" (Retry-After: {wait:g}s)"
            raise _Failure(said, wait, status)
        if len(content) > _MAX_BODY:
            raise _Failure(
                f"the Kayenta answer to {verb} {url} is larger than {_MAX_BODY // (1024 * 1024)} MiB"
            )
        try:
            # every JSON number a float64, as Go decodes it; up to 32 MiB the metric's server chose, polled every
            # 15 s: seconds of CPU, in a worker thread so the event loop keeps serving every other namespace
            return await asyncio.to_thread(go_decode, content)
        except ValueError as e:
            raise _Failure(f"the Kayenta answer to {verb} {url} is not JSON: {e}") from None


def _go_kind(value: Any) -> str:
    """How encoding/json names the JSON value it could not decode (`object`, `array`, `string`, `number`…)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, float | int):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _finish(
    measurement: Measurement,
    phase: AnalysisPhase,
    message: str | None,
    now: datetime,
    *,
    value: str | None = None,
) -> Measurement:
    update: dict[str, Any] = {"phase": phase, "message": message, "finished_at": now, "resume_at": None}
    if value is not None:
        update["value"] = value
    return measurement.model_copy(update=update)


async def _read_body(content: aiohttp.StreamReader) -> bytes:
    """The body up to `_MAX_BODY` + 1 bytes (one more than allowed tells a body that is too large)."""
    chunks: list[bytes] = []
    size = 0
    while size <= _MAX_BODY:
        chunk = await content.read(_MAX_BODY + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)
