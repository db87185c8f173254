"""The `job` metric provider: a measurement is a batch/v1 Job, Successful when it succeeds, Failed when it fails.

Part of the AnalysisRun reconciler (`rollouts.controller.analyzing`): it lives with the controller, not in
`analysis.providers`, because it needs the Kubernetes API. It implements `analysis.providers.base.MetricProvider`:

* ``measure`` creates a Job from ``metric.provider.job`` (its metadata and spec), named
  ``<run uid>.<metric>.<n>`` (n = the measurement's number), labelled with the run's uid and owned by the
  AnalysisRun (so deleting the run deletes its Jobs), and returns a Running measurement whose ``resumeAt`` is
  the next poll; the Job's name and namespace go to ``measurement.metadata`` (``job-name``, ``job-namespace``).
* ``resume`` reads the Job: condition Complete → Successful, Failed → Failed, otherwise still Running (next
  poll later). A finished Job is deleted (its pods with it).
* ``terminate`` deletes the Job; the measurement ends Successful (docs/semantics/analysis.md#run-status: the runner marks it "Metric Terminated").
A failure to talk to the API server is an Error measurement, never an exception (provider contract).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from analysis.models import AnalysisPhase, Measurement, Metric
from analysis.providers.base import BaseProvider, error_measurement
from rollouts.kube.client import KubeClient, expecting
from rollouts.kube.errors import KubeError, NotFound
from rollouts.kube.resources import ANALYSIS_RUNS, JOBS
from rollouts.models.vocabulary import (
    ANALYSIS_RUN_METRIC_NAME_ANNOTATION,
    ANALYSIS_RUN_NAME_ANNOTATION,
    ANALYSIS_RUN_UID_LABEL,
)

JOB_NAME = "job-name"
JOB_NAMESPACE = "job-namespace"
DEFAULT_POLL_SECONDS = 2.0


#: A Job's name becomes its pods' `job-name` label, whose values may have 63 characters (Argo: DNS limit).
JOB_NAME_LIMIT = 63


def job_name(run_uid: str, metric: str, n: int) -> str:
    """``<uid>.<metric>.<n>`` as Argo names it (metricproviders/job/job.go `newJobName`): when that passes 63
    characters, the metric's part is shortened by the excess, so the uid and the measurement number stay whole."""
    name = f"{run_uid}.{metric}.{n}"
    excess = len(name) - JOB_NAME_LIMIT
    if excess <= 0:
        return name
    return f"{run_uid}.{metric[: max(0, len(metric) - excess)]}.{n}"


def job_phase(job: Mapping[str, Any]) -> AnalysisPhase:
    """Successful / Failed from the Job's conditions (or its succeeded/failed counters); else Running."""
    status = job.get("status") or {}
    for condition in status.get("conditions") or ():
        if condition.get("status") != "True":
            continue
        if condition.get("type") in ("Complete", "SuccessCriteriaMet"):
            return AnalysisPhase.SUCCESSFUL
        if condition.get("type") in ("Failed", "FailureTarget"):
            return AnalysisPhase.FAILED
    spec = job.get("spec") or {}
    if int(status.get("succeeded") or 0) >= int(spec.get("completions") or 1):
        return AnalysisPhase.SUCCESSFUL
    if int(status.get("failed") or 0) > int(spec.get("backoffLimit", 6) or 0):
        return AnalysisPhase.FAILED
    return AnalysisPhase.RUNNING


class JobProvider(BaseProvider):
    """The `job` provider bound to one AnalysisRun (built per reconcile pass by the analysis reconciler)."""

    kind = "job"

    def __init__(
        self,
        client: KubeClient,
        run: Mapping[str, Any],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        poll_seconds: float = DEFAULT_POLL_SECONDS,
    ) -> None:
        self.client = client
        meta = run.get("metadata") or {}
        self.run_name = str(meta.get("name") or "")
        self.run_uid = str(meta.get("uid") or "")
        self.namespace = str(meta.get("namespace") or "default")
        self.clock = clock
        self.poll = timedelta(seconds=poll_seconds)
        # Measurements already taken per metric (errors included), so the n-th Job gets a fresh name.
        self.taken: dict[str, int] = {}
        for result in (run.get("status") or {}).get("metricResults") or ():
            self.taken[str(result.get("name"))] = _taken(result)

    def body(self, metric: Metric, name: str) -> dict[str, Any]:
        job = metric.provider.job
        assert job is not None
        raw_meta = copy.deepcopy(job.metadata or {})
        labels = {**(raw_meta.get("labels") or {}), ANALYSIS_RUN_UID_LABEL: self.run_uid}
        annotations = {
            **(raw_meta.get("annotations") or {}),
            ANALYSIS_RUN_NAME_ANNOTATION: self.run_name,
            ANALYSIS_RUN_METRIC_NAME_ANNOTATION: metric.name,
        }
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": name,
                "namespace": self.namespace,
                "labels": labels,
                "annotations": annotations,
                "ownerReferences": [
                    {
                        "apiVersion": ANALYSIS_RUNS.api_version,
                        "kind": "AnalysisRun",
                        "name": self.run_name,
                        "uid": self.run_uid,
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": copy.deepcopy(job.spec),
        }

    async def measure(self, metric: Metric, *, at: datetime | None = None) -> Measurement:
        now = self.clock()
        n = self.taken.get(metric.name, 0) + 1
        self.taken[metric.name] = n
        name = job_name(self.run_uid, metric.name, n)
        if metric.provider.job is None:
            return error_measurement("job metric has no job spec", started_at=now)
        try:
            with expecting(409):  # a retried pass: the Job is already running
                await self.client.create(JOBS, self.body(metric, name), self.namespace)
        except KubeError as e:
            if getattr(e, "reason", "") != "AlreadyExists":  # a retried pass: the Job is already running
                return error_measurement(f"could not create job {name}: {e.message}", started_at=now)
        return Measurement(
            phase=AnalysisPhase.RUNNING,
            started_at=now,
            resume_at=now + self.poll,
            metadata={JOB_NAME: name, JOB_NAMESPACE: self.namespace},
        )

    async def resume(self, metric: Metric, measurement: Measurement) -> Measurement:
        now = self.clock()
        name, namespace = _job_ref(measurement, self.namespace)
        if not name:
            return _finish(measurement, AnalysisPhase.ERROR, "measurement has no job-name metadata", now)
        try:
            job = await self.client.get(JOBS, name, namespace)
        except NotFound:
            return _finish(measurement, AnalysisPhase.ERROR, f"job {namespace}/{name} not found", now)
        except KubeError as e:
            return _finish(measurement, AnalysisPhase.ERROR, f"could not read job {name}: {e.message}", now)
        phase = job_phase(job)
        if phase is AnalysisPhase.RUNNING:
            return measurement.model_copy(update={"resume_at": now + self.poll})
        await self._delete(name, namespace)
        message = None if phase is AnalysisPhase.SUCCESSFUL else f"job {name} failed"
        return _finish(measurement, phase, message, now)

    async def terminate(self, metric: Metric, measurement: Measurement) -> Measurement:
        now = self.clock()
        name, namespace = _job_ref(measurement, self.namespace)
        if name:
            await self._delete(name, namespace)
        return _finish(measurement, AnalysisPhase.SUCCESSFUL, measurement.message, now)

    async def _delete(self, name: str, namespace: str) -> None:
        # Already gone, or the API is failing: the ownerReference collects it with the run.
        with contextlib.suppress(KubeError), expecting(404):
            await self.client.delete(JOBS, name, namespace, propagation_policy="Background")


def _taken(result: Mapping[str, Any]) -> int:
    """Measurements taken so far: the finished ones from the counters (retention may have trimmed the list,
    docs/semantics/analysis.md#analysis-scheduling), plus those still in flight."""
    finished = sum(int(result.get(k) or 0) for k in ("successful", "failed", "inconclusive", "error"))
    in_flight = sum(1 for m in result.get("measurements") or () if not m.get("finishedAt"))
    return finished + in_flight


def _job_ref(measurement: Measurement, default_namespace: str) -> tuple[str, str]:
    meta = measurement.metadata or {}
    return meta.get(JOB_NAME, ""), meta.get(JOB_NAMESPACE, default_namespace)


def _finish(
    measurement: Measurement, phase: AnalysisPhase, message: str | None, now: datetime
) -> Measurement:
    return measurement.model_copy(
        update={"phase": phase, "message": message, "finished_at": now, "resume_at": None}
    )
