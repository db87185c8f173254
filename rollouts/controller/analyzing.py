"""The AnalysisRun reconciler: one pass of the analysis engine on one AnalysisRun object, written back as status.

Called by the analysis work queue with a key; returns when to look again. A pass:

1. read the run (from the caches, preferring what our own last status write returned — `reconciling.Freshest`);
2. a finished run only waits for its `ttlStrategy` (docs/semantics/analysis.md#analysis-scheduling) to pass strictly, as Argo counts it, and is then
   deleted;
3. otherwise `analysis.runner.reconcile_run` takes the measurements that are due (providers `prometheus` and
   `web` shared by the whole process, `job` bound to this run — `rollouts.controller.jobs`), honours
   `spec.terminate`, assesses metrics and run (docs/semantics/analysis.md#metric-status, docs/semantics/analysis.md#run-status), trims measurement history (docs/semantics/analysis.md#analysis-scheduling) and says when the
   next measurement is due;
4. ONE merge patch of the status (a diff; none when nothing changed), written the way the AnalysisRun CRD
   takes it: Argo's CRD (and ours, which matches it) has no status subresource, so the patch goes to the object
   and carries only `status` (`KubeClient.patch_status` finds out from discovery).

Secrets for `valueFrom.secretKeyRef` args are read from core/v1 Secrets in the run's namespace (base64 data)
by `KubeSecrets`; their values never reach a log or a message (the runner redacts them).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from loguru import logger
from pydantic import ValidationError

from analysis import runner
from analysis.models import AnalysisPhase, AnalysisRun
from analysis.providers.credentials import CredentialsError
from analysis.providers.registry import Providers
from rollouts.controller.applying import merge_diff
from rollouts.controller.jobs import JobProvider
from rollouts.controller.metering import AnalysisMetrics, NoMetrics
from rollouts.controller.observing import ClientSource, ObjectSource
from rollouts.controller.reconciling import Freshest, split_key
from rollouts.kube.client import KubeClient, expecting
from rollouts.kube.errors import Forbidden, KubeError, NotFound
from rollouts.kube.resources import ANALYSIS_RUNS, SECRETS
from rollouts.models.vocabulary import format_time, parse_time
from rollouts.strategy.plan import JSON

MIN_REQUEUE = 0.05


class SecretError(LookupError):
    """A secretKeyRef that cannot be resolved; the message is Argo's (docs/semantics/analysis.md#analysis-args)."""


class KubeSecrets:
    """Resolves `secretKeyRef` args from Secrets in one namespace, caching each Secret for one pass."""

    def __init__(self, client: KubeClient, namespace: str) -> None:
        self.client = client
        self.namespace = namespace
        self._secrets: dict[str, JSON | None] = {}

    async def fetch(self, name: str) -> JSON | None:
        if name not in self._secrets:
            try:
                self._secrets[name] = await self.client.get(SECRETS, name, self.namespace)
            except NotFound:
                self._secrets[name] = None
            except Forbidden as e:  # the install grants reading Secrets per namespace (deploy/, README)
                raise SecretError(
                    f"{e.message}: the controller may not read Secrets in namespace {self.namespace}; bind "
                    "ClusterRole rollouts-controller-secrets to its ServiceAccount there (installed from deploy/: "
                    f"kubectl -n {self.namespace} create rolebinding rollouts-controller-secrets "
                    "--clusterrole=rollouts-controller-secrets --serviceaccount=rollouts:rollouts-controller)"
                ) from e
        return self._secrets[name]

    async def resolve(self, name: str, key: str) -> str:
        """The decoded value of `key` in Secret `name`; raises `SecretError` with Argo's message."""
        secret = await self.fetch(name)
        if secret is None:
            raise SecretError(f'secrets "{name}" not found')
        data = secret.get("data") or {}
        if key in data:
            return base64.b64decode(str(data[key])).decode("utf-8", "replace")
        string_data = secret.get("stringData") or {}
        if key in string_data:
            return str(string_data[key])
        raise SecretError(f"key '{key}' does not exist in secret '{name}'")

    __call__ = resolve


def provider_secrets(client: KubeClient) -> Callable[[str, str], Awaitable[dict[str, str] | None]]:
    """The metric providers' Secret lookup (`analysis.providers.credentials.SecretLookup`): the Secret's data
    decoded to text, None when it does not exist; a refusal says which binding is missing."""

    async def lookup(name: str, namespace: str) -> dict[str, str] | None:
        try:
            with expecting(404):
                secret = await client.get(SECRETS, name, namespace)
        except NotFound:
            return None
        except Forbidden as e:
            raise CredentialsError(
                f"{e.message}: the controller may not read Secret {namespace}/{name}; add it to the Role "
                "rollouts-controller-provider-secrets (deploy/base/role-provider-secrets.yaml)"
            ) from None
        data = {
            str(k): base64.b64decode(str(v)).decode("utf-8", "replace")
            for k, v in (secret.get("data") or {}).items()
        }
        data.update({str(k): str(v) for k, v in (secret.get("stringData") or {}).items()})
        return data

    return lookup


def ttl_seconds(run: Mapping[str, Any]) -> int | None:
    """The TTL that applies to a finished run, as Argo chooses it (analysis/analysis.go,
    `isAnalysisRunTtlExceeded`): `secondsAfterSuccess` for a Successful run, `secondsAfterFailure` for a Failed
    one, else `secondsAfterCompletion` (so an Error or Inconclusive run uses only that one). None: no TTL."""
    status = run.get("status") or {}
    ttl = (run.get("spec") or {}).get("ttlStrategy")
    if not isinstance(ttl, Mapping) or not AnalysisPhase.is_completed(status.get("phase")):
        return None
    phase = status.get("phase")
    if phase == "Successful" and _int_or_none(ttl.get("secondsAfterSuccess")) is not None:
        return _int_or_none(ttl.get("secondsAfterSuccess"))
    if phase == "Failed" and _int_or_none(ttl.get("secondsAfterFailure")) is not None:
        return _int_or_none(ttl.get("secondsAfterFailure"))
    return _int_or_none(ttl.get("secondsAfterCompletion"))


def ttl_exceeded(run: Mapping[str, Any], now: datetime) -> bool:
    """Whether a finished run's TTL has STRICTLY passed: the whole seconds since `completedAt` (truncated, as
    Go's int32 conversion does) exceed the TTL (analysis/analysis.go, `isAnalysisRunTtlExceeded`). A run with
    no `completedAt` never expires."""
    seconds = ttl_seconds(run)
    completed = parse_time((run.get("status") or {}).get("completedAt"))
    if seconds is None or completed is None:
        return False
    return int((now - completed).total_seconds()) > seconds


def ttl_deadline(run: Mapping[str, Any]) -> datetime | None:
    """The first instant at which `ttl_exceeded` holds (when to look again); None when the run never expires.

    >>> run = {"spec": {"ttlStrategy": {"secondsAfterCompletion": 30}},
    ...        "status": {"phase": "Error", "completedAt": "2026-11-26T07:00:00Z"}}
    >>> ttl_deadline(run).isoformat()
    '2026-11-26T07:00:31+00:00'
    """
    seconds = ttl_seconds(run)
    completed = parse_time((run.get("status") or {}).get("completedAt"))
    if seconds is None or completed is None:
        return None
    # int(elapsed) > ttl  ⇔  elapsed >= ttl + 1 for ttl >= 0; for a negative ttl, as soon as elapsed > ttl.
    return completed + timedelta(seconds=seconds + 1 if seconds >= 0 else seconds)


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None  # the CRD schema makes these integers; anything else is treated as absent
    return value


class AnalysisRunReconciler:
    """Reconciles AnalysisRuns: `await reconcile(key)` → seconds until the next due measurement (None: idle)."""

    def __init__(
        self,
        client: KubeClient,
        source: ObjectSource | None = None,
        *,
        providers: Mapping[str, Any] | None = None,
        metrics: AnalysisMetrics | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        job_poll_seconds: float = 2.0,
    ) -> None:
        self.client = client
        self.fresh = Freshest(source or ClientSource(client))
        self._providers = providers
        self.metrics: AnalysisMetrics = metrics if metrics is not None else NoMetrics()
        self.clock = clock
        self.job_poll_seconds = job_poll_seconds

    @property
    def providers(self) -> Mapping[str, Any]:
        if self._providers is None:
            self._providers = Providers()
        return self._providers

    async def close(self) -> None:
        if isinstance(self._providers, Providers):  # a plain mapping of providers has nothing to close
            await self._providers.aclose()

    async def reconcile(self, key: Any) -> float | None:
        namespace, name = split_key(key)
        started = time.perf_counter()
        error = True
        try:
            result = await self._reconcile(namespace, name)
            error = False
            return result
        finally:
            seconds = time.perf_counter() - started
            self.metrics.observe_reconcile("AnalysisRun", namespace, name, seconds, error=error)

    async def _reconcile(self, namespace: str, name: str) -> float | None:
        try:
            raw = await self.fresh.get(ANALYSIS_RUNS, name, namespace)
        except NotFound:
            self.fresh.forget(ANALYSIS_RUNS, namespace, name)
            self.metrics.forget_analysis_run(namespace, name)
            return None
        if (raw.get("metadata") or {}).get("deletionTimestamp"):
            return None
        now = self.clock()
        if AnalysisPhase.is_completed((raw.get("status") or {}).get("phase")):
            self.metrics.observe_analysis_run(raw)
            return await self._expire(raw, now)
        new_status, wakeup = await self._one_pass(raw, now)
        updated = await self._write_status(raw, new_status)
        current = updated or raw
        self.metrics.observe_analysis_run(current)
        if AnalysisPhase.is_completed((current.get("status") or {}).get("phase")):
            return await self._expire(current, now)
        if wakeup is None:
            return None
        return max(MIN_REQUEUE, (wakeup - self.clock()).total_seconds())

    async def _one_pass(self, raw: JSON, now: datetime) -> tuple[JSON, datetime | None]:
        """The engine's pass over this run: (new status wire JSON, when the next measurement is due)."""
        namespace = str((raw.get("metadata") or {}).get("namespace") or "default")
        try:
            run = AnalysisRun.model_validate(raw)
        except ValueError as e:
            return _error_status(raw, f"Analysis spec invalid: {_first_error(e)}", now), None
        providers = _WithJob(
            self.providers,
            JobProvider(self.client, raw, clock=self.clock, poll_seconds=self.job_poll_seconds),
        )
        outcome = await runner.reconcile_run(
            run, providers, now=now, secrets=KubeSecrets(self.client, namespace)
        )
        return outcome.status.to_wire(), outcome.next_wakeup

    async def _write_status(self, raw: JSON, new_status: JSON) -> JSON | None:
        diff = merge_diff(raw.get("status") or {}, new_status)
        if not diff:
            return None
        meta = raw.get("metadata") or {}
        updated = await self.client.patch_status(
            ANALYSIS_RUNS, str(meta.get("name")), {"status": diff}, meta.get("namespace")
        )
        self.fresh.remember(ANALYSIS_RUNS, updated)
        return updated

    async def _expire(self, raw: JSON, now: datetime) -> float | None:
        """ttlStrategy (docs/semantics/analysis.md#analysis-scheduling): delete the finished run once its TTL has strictly passed, else look again then."""
        deadline = ttl_deadline(raw)
        if deadline is None:
            return None
        if not ttl_exceeded(raw, now):
            return max(MIN_REQUEUE, (deadline - now).total_seconds())
        meta = raw.get("metadata") or {}
        try:
            with expecting(404):
                await self.client.delete(ANALYSIS_RUNS, str(meta.get("name")), meta.get("namespace"))
            logger.info(
                "deleted AnalysisRun {}/{}: ttlStrategy expired", meta.get("namespace"), meta.get("name")
            )
        except NotFound:
            pass
        except KubeError:
            raise
        return None


class _WithJob(Mapping[str, Any]):
    """The shared providers plus this run's `job` provider."""

    def __init__(self, shared: Mapping[str, Any], job: JobProvider) -> None:
        self.shared = shared
        self.job = job

    def __getitem__(self, kind: str) -> Any:
        if kind == "job":
            return self.job
        return self.shared[kind]

    def __iter__(self) -> Any:
        return iter({*self.shared, "job"})

    def __len__(self) -> int:
        return len({*self.shared, "job"})


def _first_error(error: ValueError) -> str:
    """A pydantic error as one line naming the field (`spec.metrics.0.name: Field required`)."""
    if not isinstance(error, ValidationError):
        return str(error)
    first = error.errors()[0]
    field = ".".join(str(p) for p in first.get("loc", ()))
    return f"{field}: {first.get('msg')}" if field else str(first.get("msg"))


def _error_status(raw: JSON, message: str, now: datetime) -> JSON:
    status = dict(raw.get("status") or {})
    stamp = format_time(now)
    status.update({"phase": "Error", "message": message, "completedAt": stamp})
    status.setdefault("startedAt", stamp)
    return status
