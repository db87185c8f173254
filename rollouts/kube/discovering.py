"""Discovery of status subresources: write an object's status the way its CustomResourceDefinition takes it.

Where it sits: under `KubeClient.patch_status` / `replace_status`. A cluster may carry our CRDs or Argo Rollouts'
(a team moving from Argo keeps its CRDs: deleting a CRD deletes every object of its kind), and CRDs can be
replaced while the controller runs. Argo's AnalysisRun and Experiment CRDs have no status subresource: there
`PATCH …/analysisruns/<name>/status` answers 404 and status is written with the object itself. Which one a
resource has is read from the API group's resource list (`GET /apis/argoproj.io/v1alpha1`: an entry
`analysisruns/status` exists or not), cached per group-version, and asked again (at most once per
`min_interval` seconds) when a status write meets a 404 or comes back without the status it carried.

When discovery cannot be read (403, the server down), the status subresource is assumed, as every built-in
kind has one; the 404 path then corrects it.

Pure helpers for the write without a subresource: `status_only` keeps only the status part of a patch (a write
of the whole object could otherwise change spec or metadata), `status_kept` checks that an answer carries it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from loguru import logger

from rollouts.kube.errors import KubeError, NotFound
from rollouts.kube.resources import Resource

Obj = dict[str, Any]
Fetch = Callable[[str, str], Awaitable[Obj]]  # (group, version) -> APIResourceList
PRUNED_WARNING_INTERVAL = 600.0  # seconds between two warnings about the same dropped status fields


def subresources_of(resource_list: Mapping[str, Any]) -> dict[str, frozenset[str]]:
    """plural → the subresources served for it, from an APIResourceList.

    >>> subresources_of({"resources": [{"name": "rollouts"}, {"name": "rollouts/status"},
    ...                                {"name": "rollouts/scale"}, {"name": "analysisruns"}]})
    {'rollouts': frozenset({'scale', 'status'}), 'analysisruns': frozenset()}
    """
    out: dict[str, set[str]] = {}
    for entry in resource_list.get("resources") or ():
        name = str((entry or {}).get("name") or "") if isinstance(entry, Mapping) else ""
        plural, _, sub = name.partition("/")
        if not plural:
            continue
        subs = out.setdefault(plural, set())
        if sub:
            subs.add(sub)
    return {plural: frozenset(subs) for plural, subs in out.items()}


class Discovery:
    """Per group-version: which resources have a status subresource (cached; re-read on demand, rate-limited)."""

    def __init__(
        self,
        fetch: Fetch,
        *,
        min_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fetch = fetch
        self.min_interval = min_interval
        self.clock = clock
        self.fetches = 0
        # (group, version) -> (when read, plural -> subresources; None when discovery could not be read)
        self._known: dict[tuple[str, str], tuple[float, dict[str, frozenset[str]] | None]] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    async def has_status(self, resource: Resource) -> bool:
        """Whether `resource` is served with a status subresource (from the cache when known)."""
        entry = self._known.get((resource.group, resource.version))
        if entry is None:
            entry = await self._read(resource, force=False)
        return _status_in(entry[1], resource)

    async def refresh(self, resource: Resource) -> bool:
        """Ask the API server again (unless it was asked less than `min_interval` ago); then `has_status`."""
        entry = await self._read(resource, force=True)
        return _status_in(entry[1], resource)

    def forget(self) -> None:
        self._known.clear()

    async def _read(
        self, resource: Resource, *, force: bool
    ) -> tuple[float, dict[str, frozenset[str]] | None]:
        key = (resource.group, resource.version)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:  # concurrent writers share one request
            entry = self._known.get(key)
            if entry is not None and (not force or self.clock() - entry[0] < self.min_interval):
                return entry
            self.fetches += 1
            try:
                found: dict[str, frozenset[str]] | None = subresources_of(
                    await self.fetch(resource.group, resource.version)
                )
            except KubeError as e:
                found = None
                logger.warning(
                    "cannot read the API server's resource list for {}: {}; status is written to the status "
                    "subresource until it can be read",
                    resource.api_version,
                    e,
                )
            before = entry[1] if entry is not None else None
            if before is not None and found is not None and before != found:
                logger.info("resources of {} changed (CRDs replaced): {}", resource.api_version, found)
            entry = (self.clock(), found)
            self._known[key] = entry
            return entry


def _status_in(found: dict[str, frozenset[str]] | None, resource: Resource) -> bool:
    if found is None or resource.plural not in found:
        return True  # unknown: every built-in kind has one, and the 404 path corrects it
    return "status" in found[resource.plural]


def status_only(patch: Any, patch_type: str) -> Any:
    """The part of a status patch that concerns `status`, for a write of the object itself.

    Through the status subresource the API server ignores everything but status; a write of the object would
    apply it all, so the rest is left out.

    >>> status_only({"status": {"phase": "Running"}, "spec": {"terminate": True}}, "merge")
    {'status': {'phase': 'Running'}}
    >>> status_only([{"op": "replace", "path": "/status/phase", "value": "Running"},
    ...              {"op": "add", "path": "/spec/terminate", "value": True}], "json")
    [{'op': 'replace', 'path': '/status/phase', 'value': 'Running'}]
    """
    if patch_type == "json":
        return [
            op
            for op in patch
            if str(op.get("path") or "") == "/status" or str(op.get("path") or "").startswith("/status/")
        ]
    return {"status": patch["status"]} if isinstance(patch, Mapping) and "status" in patch else {}


def status_kept(sent: Any, answer: Any) -> list[str]:
    """The fields of a merge patch `sent` (of a status) that the `answer` (the status now stored) lacks.

    A null in the patch asks for removal; a nested object is checked field by field.

    >>> status_kept({"phase": "Running", "message": None, "a": {"b": 1}}, {"phase": "Running", "a": {"b": 1}})
    []
    >>> status_kept({"phase": "Running", "runSummary": {"count": 2}}, {"phase": "Pending"})
    ['phase', 'runSummary']
    """
    missing: list[str] = []
    answer = answer if isinstance(answer, Mapping) else {}
    for key, value in (sent or {}).items():
        if value is None:
            if answer.get(key) is not None:
                missing.append(key)
        elif isinstance(value, Mapping):
            inner = status_kept(value, answer.get(key))
            if inner and not isinstance(answer.get(key), Mapping):
                missing.append(key)
            else:
                missing.extend(f"{key}.{sub}" for sub in inner)
        elif answer.get(key) != value:
            missing.append(key)
    return missing


class StatusWrites:
    """`patch_status` / `replace_status` of `KubeClient`: through the status subresource when the resource has
    one, else a write of the object carrying only its status; re-detected on 404 and on a status not kept."""

    def __init__(self, client: Any, discovery: Discovery) -> None:
        self.client = client  # a KubeClient (not imported: it imports this module)
        self.discovery = discovery
        self._pruned: dict[tuple[str, tuple[str, ...]], float] = {}

    async def patch(
        self,
        resource: Resource,
        name: str,
        patch: Any,
        namespace: str | None,
        *,
        patch_type: str,
        resource_version: str | None,
    ) -> Obj:
        if await self.discovery.has_status(resource):
            try:
                answer: Obj = await self.client.patch(
                    resource,
                    name,
                    patch,
                    namespace,
                    patch_type=patch_type,
                    resource_version=resource_version,
                    subresource="status",
                )
                return answer
            except NotFound:
                if await self.discovery.refresh(resource):
                    raise  # the subresource is served: the object itself is gone
                logger.info(
                    "{} has no status subresource now: status is written with the object", resource.plural
                )
        body = status_only(patch, patch_type)
        answer = await self.client.patch(
            resource, name, body, namespace, patch_type=patch_type, resource_version=resource_version
        )
        if patch_type == "json" or not isinstance(body, Mapping) or "status" not in body:
            return answer
        lost = status_kept(body["status"], answer.get("status"))
        if not lost:
            return answer
        if await self.discovery.refresh(resource):
            # The CRD gained a status subresource: the API server ignored the status of our object write.
            logger.info("{} has a status subresource now: status is written to it", resource.plural)
            answer = await self.client.patch(
                resource, name, patch, namespace, patch_type=patch_type, subresource="status"
            )
            lost = status_kept(body["status"], answer.get("status"))
        self._warn_pruned(resource, name, namespace, lost)
        return answer

    async def replace(self, resource: Resource, body: Obj, namespace: str | None) -> Obj:
        meta = body.get("metadata") or {}
        if await self.discovery.has_status(resource):
            try:
                answer: Obj = await self.client.put_status(resource, body, namespace)
                return answer
            except NotFound:
                if await self.discovery.refresh(resource):
                    raise
        # No subresource: replace only the status. The resourceVersion set in the patched object is the
        # precondition, as for a PUT (409 Conflict when stale; a JSON-patch `test` op would answer 422 instead).
        ops: list[Obj] = [{"op": "add", "path": "/status", "value": body.get("status") or {}}]
        if meta.get("resourceVersion"):
            ops.insert(
                0, {"op": "replace", "path": "/metadata/resourceVersion", "value": meta["resourceVersion"]}
            )
        answer = await self.client.patch(
            resource, str(meta["name"]), ops, namespace or meta.get("namespace"), patch_type="json"
        )
        return answer

    def _warn_pruned(self, resource: Resource, name: str, namespace: str | None, lost: list[str]) -> None:
        """Status fields the API server dropped (its CRD schema lacks them): said once per kind and fields."""
        if not lost:
            return
        key, now = (resource.kind, tuple(sorted(lost))), time.monotonic()
        if now - self._pruned.get(key, -PRUNED_WARNING_INTERVAL) < PRUNED_WARNING_INTERVAL:
            return
        self._pruned[key] = now
        logger.warning(
            "the API server did not keep status fields {} of {} {}/{}: the installed {} CRD does not declare "
            "them (install this release's CRDs, or a newer Argo Rollouts CRD)",
            ", ".join(sorted(lost)),
            resource.kind,
            namespace or "",
            name,
            resource.plural,
        )
