"""`KubeClient`: the one async seam between the project and the Kubernetes API.

Everything above it (controller informers and reconcilers, the kubectl plugin, leader election) speaks wire
JSON dicts and `Resource`s; everything below is `kubernetes.aio`'s `ApiClient` (auth, TLS, connection pool).
Requests go through `ApiClient.param_serialize` + `call_api` and the body is decoded with `json.loads`: no
OpenAPI model (de)serialization, which is the costly part of the generated API classes, and one code path
for built-ins and custom resources alike.

Per request: the client-side token bucket (`--qps`/`--burst`), the write fence (`rollouts.kube.fencing`), the
request hooks (they feed `controller_clientset_k8s_request_total` and `controller_write_refused_total`),
retries with backoff for 429 (honouring Retry-After) on every verb and for 5xx/unreachable on idempotent verbs,
and translation of failures into `rollouts.kube.errors`. A refusal the caller anticipates as an ordinary outcome (404 on a delete, 409
AlreadyExists on a create it then adopts) is declared with `with expecting(404): …` and marked so in the
record. Status is written the way the resource's CRD takes it (`rollouts.kube.discovering`).
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator
from typing import Any, Literal

import aiohttp
from kubernetes.aio.client import ApiClient

from rollouts.kube import fencing
from rollouts.kube.config import KubeSettings, pin_environment
from rollouts.kube.discovering import Discovery, StatusWrites
from rollouts.kube.errors import (
    KubeError,
    NotFound,
    ServerError,
    TooManyRequests,
    Unreachable,
    error_for,
)
from rollouts.kube.requests import (
    WRITE_VERBS,
    ClientStats,
    ObjectList,
    RequestHook,
    RequestRecord,
    RetryPolicy,
    expecting,
    is_expected,
)
from rollouts.kube.resources import Resource
from rollouts.kube.throttling import TokenBucket

__all__ = [
    "WRITE_VERBS",
    "ClientStats",
    "KubeClient",
    "ObjectList",
    "PatchType",
    "RequestHook",
    "RequestRecord",
    "RetryPolicy",
    "expecting",
]

PatchType = Literal["merge", "json", "strategic"]
PropagationPolicy = Literal["Background", "Foreground", "Orphan"]
Obj = dict[str, Any]
Query = list[tuple[str, Any]]
PatchBody = Obj | list[Obj]

_CONTENT_TYPES: dict[str, str] = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
}


class KubeClient:
    """Async, dict-in/dict-out client, generic over `Resource`.

    Build with `await KubeClient.connect(settings, qps=40, burst=80)` (or `KubeClient(settings)`), close with
    `await client.close()` or use `async with`.
    """

    def __init__(
        self,
        settings: KubeSettings,
        *,
        qps: float = 40.0,
        burst: int = 80,
        retry: RetryPolicy | None = None,
        request_timeout: float = 60.0,
        user_agent: str = "rollouts",
    ) -> None:
        self.settings = settings
        self.namespace = settings.namespace
        fencing.install(settings.configuration)
        pin_environment(settings.configuration)
        self._api = ApiClient(configuration=settings.configuration)
        self._api.user_agent = user_agent
        self.limiter = TokenBucket(qps, burst)
        self.retry = retry or RetryPolicy()
        self.request_timeout = request_timeout
        self.hooks: list[RequestHook] = []
        self.stats = ClientStats()
        self.write_fence: fencing.WriteFence | None = None
        self._sleep = asyncio.sleep
        self.discovery = Discovery(self.resource_list)
        self._status = StatusWrites(self, self.discovery)

    @classmethod
    async def connect(cls, settings: KubeSettings, **kwargs: Any) -> KubeClient:
        return cls(settings, **kwargs)

    async def close(self) -> None:
        await self._api.close()  # type: ignore[no-untyped-call]

    async def __aenter__(self) -> KubeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def with_write_fence(self, fence: fencing.WriteFence) -> KubeClient:
        """A view of this client (same connection pool, limiter, hooks and statistics) whose every write, retries
        included, first asks `fence`; reads and watches are not fenced. Closing the view closes this client."""
        view = copy.copy(self)
        view.write_fence = fence
        view._status = StatusWrites(view, view.discovery)  # status writes go through the view too
        return view

    def independent(self, *, qps: float, burst: int) -> KubeClient:
        """A new client to the same server, with its own connection pool and rate limiter (same settings, user
        agent, retry policy and timeout): requests that must not queue behind this client's traffic."""
        client = KubeClient(
            self.settings,
            qps=qps,
            burst=burst,
            retry=self.retry,
            request_timeout=self.request_timeout,
            user_agent=str(self._api.user_agent),
        )
        return client

    def add_hook(self, hook: RequestHook) -> None:
        """Call `hook(RequestRecord)` after every answered (or failed) request."""
        self.hooks.append(hook)

    # ---------------------------------------------------------------- verbs

    async def get(self, resource: Resource, name: str, namespace: str | None = None) -> Obj:
        ns = self._ns(resource, namespace)
        return await self._call("GET", "Get", resource, ns, name, idempotent=True)

    async def get_or_none(self, resource: Resource, name: str, namespace: str | None = None) -> Obj | None:
        try:
            return await self.get(resource, name, namespace)
        except NotFound:
            return None

    async def list(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resource_version: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
    ) -> ObjectList:
        """List; `namespace=None` lists all namespaces. Pages are followed when `limit` is given and no
        `continue_token` is: the answer then holds every item."""
        query: Query = []
        if label_selector:
            query.append(("labelSelector", label_selector))
        if field_selector:
            query.append(("fieldSelector", field_selector))
        if resource_version is not None:
            query.append(("resourceVersion", resource_version))
        if limit:
            query.append(("limit", limit))
        follow = bool(limit) and continue_token is None
        items: list[Obj] = []
        token = continue_token
        while True:
            q = [*query, ("continue", token)] if token else query
            body = await self._call("GET", "List", resource, namespace, None, query=q, idempotent=True)
            items.extend(body.get("items") or [])
            meta = body.get("metadata") or {}
            token = meta.get("continue") or ""
            rv = str(meta.get("resourceVersion") or "")
            if not follow or not token:
                return ObjectList(items=items, resource_version=rv, continue_token=token or "")

    async def create(
        self, resource: Resource, body: Obj, namespace: str | None = None, *, retry: bool = False
    ) -> Obj:
        """Create. `retry=True` retries 5xx and unreachable answers too, for objects whose duplicate does no
        harm (Events)."""
        ns = self._ns(resource, namespace or (body.get("metadata") or {}).get("namespace"))
        body = _with_type(resource, body)
        return await self._call(
            "POST",
            "Create",
            resource,
            ns,
            None,
            body=body,
            idempotent=retry,
            obj_name=(body.get("metadata") or {}).get("name") or "",
        )

    async def replace(self, resource: Resource, body: Obj, namespace: str | None = None) -> Obj:
        """PUT the whole object; its metadata.resourceVersion is the precondition (409 Conflict when stale)."""
        meta = body.get("metadata") or {}
        ns = self._ns(resource, namespace or meta.get("namespace"))
        return await self._call(
            "PUT", "Update", resource, ns, meta["name"], body=_with_type(resource, body), idempotent=True
        )

    async def replace_status(self, resource: Resource, body: Obj, namespace: str | None = None) -> Obj:
        """Replace the status: a PUT of the status subresource, or (no subresource) a JSON patch of `/status`
        guarded by the body's resourceVersion."""
        return await self._status.replace(resource, body, namespace)

    async def put_status(self, resource: Resource, body: Obj, namespace: str | None = None) -> Obj:
        """PUT the status subresource (404 when the resource has none: use `replace_status`)."""
        meta = body.get("metadata") or {}
        ns = self._ns(resource, namespace or meta.get("namespace"))
        return await self._call(
            "PUT",
            "Update",
            resource,
            ns,
            meta["name"],
            subresource="status",
            body=_with_type(resource, body),
            idempotent=True,
        )

    async def patch(
        self,
        resource: Resource,
        name: str,
        patch: PatchBody,
        namespace: str | None = None,
        *,
        patch_type: PatchType = "merge",
        resource_version: str | None = None,
        subresource: str | None = None,
    ) -> Obj:
        """Patch. `resource_version` makes it conditional (409 Conflict when the object moved on): for merge
        and strategic patches it is set in `metadata.resourceVersion`, for JSON patches a `test` op is
        prepended."""
        ns = self._ns(resource, namespace)
        if patch_type == "json":
            if not isinstance(patch, list):
                raise TypeError("a JSON patch is a list of operations")
            if resource_version is not None:
                patch = [
                    {"op": "test", "path": "/metadata/resourceVersion", "value": resource_version},
                    *patch,
                ]
        else:
            if not isinstance(patch, dict):
                raise TypeError(f"a {patch_type} patch is an object")
            if resource_version is not None:
                patch = {
                    **patch,
                    "metadata": {**(patch.get("metadata") or {}), "resourceVersion": resource_version},
                }
        return await self._call(
            "PATCH",
            "Patch",
            resource,
            ns,
            name,
            subresource=subresource,
            body=patch,
            content_type=_CONTENT_TYPES[patch_type],
            idempotent=patch_type != "json",
        )

    async def patch_status(
        self,
        resource: Resource,
        name: str,
        patch: PatchBody,
        namespace: str | None = None,
        *,
        patch_type: PatchType = "merge",
        resource_version: str | None = None,
    ) -> Obj:
        """Patch the status the way the resource's CRD takes it: the status subresource when it has one, else
        the object itself with only the status part of `patch` (see `rollouts.kube.discovering`)."""
        return await self._status.patch(
            resource,
            name,
            patch,
            self._ns(resource, namespace),
            patch_type=patch_type,
            resource_version=resource_version,
        )

    async def resource_list(self, group: str, version: str) -> Obj:
        """Discovery: the APIResourceList of one group-version (`/apis/argoproj.io/v1alpha1`)."""
        listing = Resource(group, version, "", "APIResourceList", False)
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        return await self._call("GET", "Get", listing, None, None, path=path, idempotent=True)

    async def evict(self, name: str, namespace: str) -> Obj:
        """POST `pods/<name>/eviction` (policy/v1 Eviction): the pod is deleted unless a PodDisruptionBudget
        forbids it now, which is 429 TooManyRequests; that answer is not retried here (the caller looks again
        later, as Argo's restarter does)."""
        pods = Resource("", "v1", "pods", "Pod", True)
        body = {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": name, "namespace": namespace},
        }
        return await self._call(
            "POST",
            "Create",
            pods,
            namespace,
            name,
            subresource="eviction",
            body=body,
            idempotent=False,
            retry_throttled=False,
        )

    async def delete(
        self,
        resource: Resource,
        name: str,
        namespace: str | None = None,
        *,
        propagation_policy: PropagationPolicy | None = "Background",
        resource_version: str | None = None,
        uid: str | None = None,
    ) -> Obj:
        """Delete; returns the server's answer (the object with deletionTimestamp, or a Status)."""
        ns = self._ns(resource, namespace)
        body: Obj = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation_policy:
            body["propagationPolicy"] = propagation_policy
        pre: Obj = {}
        if resource_version is not None:
            pre["resourceVersion"] = resource_version
        if uid is not None:
            pre["uid"] = uid
        if pre:
            body["preconditions"] = pre
        return await self._call("DELETE", "Delete", resource, ns, name, body=body, idempotent=True)

    async def watch(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_seconds: int = 300,
        allow_bookmarks: bool = True,
    ) -> AsyncIterator[tuple[str, Obj]]:
        """Stream `(type, object)` — ADDED, MODIFIED, DELETED, BOOKMARK — from `resource_version`.

        Ends when the server closes the stream (after `timeout_seconds`). Raises `Gone` when the
        resourceVersion is too old (either as an HTTP 410 or as an ERROR event), other `KubeError`s on failures.
        """
        query: Query = [("watch", "true"), ("timeoutSeconds", int(timeout_seconds))]
        if resource_version:
            query.append(("resourceVersion", resource_version))
        if label_selector:
            query.append(("labelSelector", label_selector))
        if field_selector:
            query.append(("fieldSelector", field_selector))
        if allow_bookmarks:
            query.append(("allowWatchBookmarks", "true"))
        what = f"watch {resource.plural}" + (f" in {namespace}" if namespace else "")
        await self.limiter.acquire()
        # The read timeout backs up timeoutSeconds: a server that stops talking must not hang us forever.
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=timeout_seconds + 30)
        resp = await self._send("GET", resource.path(namespace), query, None, None, timeout, what)
        status = resp.status
        self._record(resource, namespace, "", "Watch", status)
        try:
            if status != 200:
                raw = await resp.read()
                raise error_for(status, _decode(raw), what=what, retry_after=_retry_after(resp))
            content = resp.response.content
            while True:
                try:
                    line = await content.readline()
                except (aiohttp.ClientError, TimeoutError) as e:
                    raise Unreachable(f"{what}: stream from {self.settings.host} broke: {e}") from e
                if not line.endswith(b"\n"):
                    return  # end of stream; a partial last line means the server cut it: resume from the last rv
                line = line.strip()
                if not line:
                    continue
                try:
                    event = json.loads(line)
                except ValueError as e:
                    raise KubeError(f"{what}: malformed watch event from {self.settings.host}: {e}") from e
                etype = str(event.get("type"))
                obj = event.get("object") or {}
                if etype == "ERROR":
                    code = int(obj.get("code") or 500)
                    raise error_for(code, obj, what=what)
                yield etype, obj
        finally:
            # An unfinished stream cannot go back to the pool: close its connection.
            resp.response.close()

    # ---------------------------------------------------------------- internals

    def _ns(self, resource: Resource, namespace: str | None) -> str | None:
        if not resource.namespaced:
            return None
        return namespace or self.namespace

    def _record(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        verb: str,
        status: int,
        subresource: str | None = None,
        error: KubeError | None = None,
    ) -> None:
        self.stats.requests += 1
        self.stats.by_verb[verb] = self.stats.by_verb.get(verb, 0) + 1
        if self.hooks:
            message = ""
            if error is not None:
                message = f"{error.reason} {error.body.get('message') or error.message}".strip()
            record = RequestRecord(
                resource.kind,
                namespace or "",
                name,
                verb,
                status,
                subresource or "",
                message,
                is_expected(status),
            )
            for hook in self.hooks:
                hook(record)

    async def _send(
        self,
        method: str,
        path: str,
        query: Query | None,
        body: Any,
        content_type: str | None,
        client_timeout: aiohttp.ClientTimeout,
        what: str,
    ) -> Any:
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        try:
            method, url, headers, body, _ = await self._api.param_serialize(
                method,
                path,
                query_params=query or None,
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
            )
            return await self._api.call_api(
                method, url, header_params=headers, body=body, _request_timeout=client_timeout
            )
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            raise Unreachable(
                f"{what}: API server {self.settings.describe()} unreachable: {e or type(e).__name__}"
            ) from e

    async def _call(
        self,
        method: str,
        verb: str,
        resource: Resource,
        namespace: str | None,
        name: str | None,
        *,
        subresource: str | None = None,
        query: Query | None = None,
        body: Any = None,
        content_type: str | None = None,
        idempotent: bool,
        obj_name: str = "",
        path: str | None = None,
        retry_throttled: bool = True,
    ) -> Obj:
        path = path or resource.path(namespace, name, subresource)
        shown = name or obj_name
        target = f"{namespace}/{shown}" if namespace and shown else (shown or namespace or "")
        what = f"{verb.lower()} {resource.plural}{'/' + subresource if subresource else ''} {target}".rstrip()
        timeout = aiohttp.ClientTimeout(total=self.request_timeout)
        attempt = 0
        while True:
            await self.limiter.acquire()  # first: the limiter may make us wait
            status = 0
            try:
                with fencing.sending(self.write_fence if method != "GET" else None, verb, resource):
                    resp = await self._send(method, path, query, body, content_type, timeout, what)
                status = resp.status
                raw = await resp.read()
            except Unreachable as e:
                self._record(resource, namespace, name or obj_name, verb, 0, subresource, e)
                err: KubeError = e
            except (aiohttp.ClientError, TimeoutError) as e:
                err = Unreachable(f"{what}: API server {self.settings.host} broke the answer: {e}")
                err.__cause__ = e
                self._record(resource, namespace, name or obj_name, verb, status, subresource, err)
            else:
                if 200 <= status < 300:
                    self._record(resource, namespace, name or obj_name, verb, status, subresource)
                    return _decode(raw)
                err = error_for(status, _decode(raw), what=what, retry_after=_retry_after(resp))
                self._record(resource, namespace, name or obj_name, verb, status, subresource, err)
            retryable = (retry_throttled and isinstance(err, TooManyRequests)) or (
                idempotent and isinstance(err, ServerError | Unreachable)
            )
            if not retryable or attempt >= self.retry.attempts:
                raise err
            delay = self.retry.delay(attempt)
            if isinstance(err, TooManyRequests) and err.retry_after is not None:
                delay = max(delay, err.retry_after)
            attempt += 1
            self.stats.retries += 1
            await self._sleep(delay)


def _decode(raw: bytes) -> Obj:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {"message": raw[:200].decode("utf-8", "replace")}
    return value if isinstance(value, dict) else {"items": value}


def _retry_after(resp: Any) -> float | None:
    value = resp.headers.get("Retry-After") if resp is not None else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _with_type(resource: Resource, body: Obj) -> Obj:
    if body.get("apiVersion") and body.get("kind"):
        return body
    return {"apiVersion": resource.api_version, "kind": resource.kind, **body}
