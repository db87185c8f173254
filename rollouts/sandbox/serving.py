"""The HTTP face of the sandbox: URL parsing, verbs, discovery, watch streaming, admin endpoints.

Where it sits: between aiohttp and the store. One catch-all handler parses the Kubernetes URL grammar
(`/api/v1/namespaces/{ns}/{resource}/{name}/{subresource}`, `/apis/{group}/{version}/…`, the legacy
`/watch/` prefix, and `/api/v1/namespaces/{name}` for namespaces themselves), maps the method to a verb
(get, list, watch, create, update, patch, delete, deletecollection), applies injected faults, calls the store
and records the request. Errors leave as `kind: Status` bodies. Admin endpoints live under `/sandbox/`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from rollouts.sandbox import errors, tables
from rollouts.sandbox.faults import RequestRecord
from rollouts.sandbox.patching import PATCH_TYPES, parse_body
from rollouts.sandbox.selectors import Selector

if TYPE_CHECKING:
    from rollouts.sandbox.resources import ResourceType
    from rollouts.sandbox.running import Sandbox

log = logging.getLogger(__name__)

VERSION_INFO = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-sandbox",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.23",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(),
        status=status,
        content_type="application/json",
        headers=headers,
    )


@dataclass
class Target:
    """A parsed API URL."""

    group: str
    version: str
    plural: str
    namespace: str | None
    name: str | None
    subresource: str | None
    watch_path: bool


def parse_path(path: str) -> Target | None:
    """The resource a URL names, or None for a non-resource (discovery) path."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 3 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 4 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    watch_path = False
    if rest and rest[0] == "watch":
        watch_path, rest = True, rest[1:]
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        is_namespace_itself = not group and len(rest) == 3 and rest[2] in ("status", "finalize")
        if not is_namespace_itself:
            namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        return None
    return Target(
        group=group,
        version=version,
        plural=rest[0],
        namespace=namespace,
        name=rest[1] if len(rest) > 1 else None,
        subresource=rest[2] if len(rest) > 2 else None,
        watch_path=watch_path,
    )


def verb_of(method: str, target: Target | None, query: Any) -> str:
    if target is None:
        return "get"
    if method == "GET":
        if target.watch_path or query.get("watch") in ("true", "1"):
            return "watch"
        return "get" if target.name else "list"
    return {
        "POST": "create",
        "PUT": "update",
        "PATCH": "patch",
        "DELETE": "delete" if target.name else "deletecollection",
    }.get(method, method.lower())


def _encode_continue(key: tuple[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode()


def _decode_continue(token: str) -> tuple[str, str]:
    try:
        ns, name = json.loads(base64.urlsafe_b64decode(token.encode()))
        return (str(ns), str(name))
    except (ValueError, TypeError) as e:
        raise errors.bad_request(f"invalid continue token: {token!r}") from e


class Api:
    """The request handler bound to one sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sb = sandbox
        self.store = sandbox.store

    # ------------------------------------------------------------------ entry point
    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/sandbox/"):
            return await self.sb.admin(request)
        started = time.time()
        target = parse_path(request.path)
        verb = verb_of(request.method, target, request.query)
        status = 500
        try:
            faults = self.sb.faults
            if faults.applies(verb):
                if faults.latency:
                    await asyncio.sleep(faults.latency)
                code = faults.decide(verb)
                if code == 500:
                    raise errors.ApiError(
                        500, "InternalError", "Internal error occurred: injected fault (sandbox)"
                    )
                if code == 429:
                    raise errors.ApiError(
                        429,
                        "TooManyRequests",
                        "Too many requests, please try again later (injected fault, sandbox).",
                        {"retryAfterSeconds": faults.retry_after},
                        {"Retry-After": str(faults.retry_after)},
                    )
            if target is None:
                response = self.discovery(request)
            elif verb == "watch":
                # Recorded when the stream starts (inside `watch`), not when it ends minutes later.
                stream = await self.watch(request, target, started)
                status = 200
                return stream
            else:
                response = await self.resource(request, target, verb)
            status = response.status
            return response
        except errors.ApiError as e:
            status = e.code
            return _json(e.status(), e.code, e.headers)
        except Exception as e:  # a bug in the sandbox must look like a server error, not a dropped connection
            log.exception("sandbox: %s %s failed", request.method, request.path_qs)
            status = 500
            return _json(
                errors.ApiError(500, "InternalError", f"Internal error occurred: {e!r}").status(), 500
            )
        finally:
            if verb != "watch" or status != 200:
                self._record(request, target, verb, status, started)

    def _record(
        self, request: web.Request, target: Target | None, verb: str, status: int, started: float
    ) -> None:
        t = target
        self.sb.requests.append(
            RequestRecord(
                time=started,
                method=request.method,
                path=request.path,
                query=request.query_string,
                verb=verb,
                group=t.group if t else "",
                version=t.version if t else "",
                resource=t.plural if t else "",
                subresource=(t.subresource or "") if t else "",
                namespace=(t.namespace or "") if t else "",
                name=(t.name or "") if t else "",
                status=status,
                duration=time.time() - started,
                user_agent=request.headers.get("User-Agent", ""),
            )
        )

    # ------------------------------------------------------------------ discovery
    def discovery(self, request: web.Request) -> web.Response:
        if request.method != "GET":
            raise errors.method_not_allowed()
        reg = self.store.registry
        parts = [p for p in request.path.split("/") if p]
        doc: dict[str, Any] | None = None
        if parts == ["version"]:
            doc = VERSION_INFO
        elif parts in (["healthz"], ["readyz"], ["livez"]):
            return web.Response(text="ok", content_type="text/plain")
        elif parts == ["openapi", "v3"]:
            doc = reg.openapi_v3_root()
        elif len(parts) >= 4 and parts[:2] == ["openapi", "v3"]:
            if parts[2] == "api" and len(parts) == 4:
                doc = reg.openapi_v3_gv("", parts[3])
            elif parts[2] == "apis" and len(parts) == 5:
                doc = reg.openapi_v3_gv(parts[3], parts[4])
        elif parts == ["api"]:
            doc = {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": request.host}],
            }
        elif parts == ["apis"]:
            doc = reg.api_group_list()
        elif len(parts) == 2 and parts[0] == "api":
            doc = reg.resource_list("", parts[1])
        elif len(parts) == 2 and parts[0] == "apis":
            group = reg.api_group(parts[1])
            doc = dict(group, kind="APIGroup", apiVersion="v1") if group else None
        elif len(parts) == 3 and parts[0] == "apis":
            doc = reg.resource_list(parts[1], parts[2])
        if doc is None:
            raise errors.path_not_found(request.path)
        return _json(doc)

    # ------------------------------------------------------------------ resources
    def _resolve(self, t: Target, verb: str) -> ResourceType:
        rt = self.store.resource(t.group, t.version, t.plural)
        if t.namespace is not None and not rt.namespaced:
            raise errors.path_not_found(f"{t.plural} is cluster-scoped")
        if t.subresource is not None and t.subresource not in rt.subresources:
            raise errors.path_not_found(f"{t.plural}/{t.subresource}")
        if rt.namespaced and t.namespace is None and verb not in ("list", "watch", "deletecollection"):
            raise errors.path_not_found(f"{t.plural} is namespaced: use /namespaces/{{namespace}}/{t.plural}")
        return rt

    def _out(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        if obj.get("apiVersion") != rt.api_version and obj.get("kind") == rt.kind:
            obj = dict(obj)
            obj["apiVersion"] = rt.api_version
        return obj

    async def _body(self, request: web.Request) -> tuple[Any, str]:
        ctype = request.content_type or "application/json"
        raw = await request.read()
        return parse_body(raw, ctype), ctype

    async def resource(self, request: web.Request, t: Target, verb: str) -> web.Response:
        rt = self._resolve(t, verb)
        q = request.query
        ns = t.namespace or ""
        dry_run = bool(q.get("dryRun"))
        store = self.store
        as_table = t.subresource is None and tables.wants_table(request.headers.get("Accept", ""))
        if verb == "get":
            assert t.name is not None
            obj = store.get(rt, ns, t.name)
            if t.subresource == "scale":
                return _json(store.scale(rt, obj))
            if t.subresource == "log":  # simulated pods run nothing: say so, as `kubectl logs` shows it
                containers = [c.get("name", "") for c in (obj.get("spec") or {}).get("containers") or []]
                return web.Response(
                    text=f"sandbox: pod {t.name} (containers: {', '.join(containers)}) is simulated and logs nothing\n",
                    content_type="text/plain",
                )
            if as_table:
                return _json(tables.table(rt, [obj], store.rv))
            return _json(self._out(rt, obj))
        if verb in ("list", "deletecollection"):
            if t.name is not None:
                raise errors.method_not_allowed()
            selector = Selector(q.get("labelSelector"), q.get("fieldSelector"))
            if verb == "deletecollection":
                body, _ = await self._body(request)
                items = store.delete_collection(
                    rt, t.namespace, selector, body if isinstance(body, dict) else None
                )
                rv = store.rv
                nxt = None
            else:
                try:
                    limit = int(q.get("limit") or 0)
                except ValueError:
                    raise errors.bad_request(f"invalid limit: {q.get('limit')!r}") from None
                after = _decode_continue(q["continue"]) if q.get("continue") else None
                items, rv, nxt = store.select(rt, t.namespace, selector, limit, after)
            list_meta: dict[str, Any] = {"resourceVersion": str(rv)}
            if nxt is not None:
                list_meta["continue"] = _encode_continue(nxt)
            if as_table and verb == "list":
                doc = tables.table(rt, items, rv)
                doc["metadata"] = list_meta
                return _json(doc)
            return _json(
                {
                    "kind": rt.list_kind,
                    "apiVersion": rt.api_version,
                    "metadata": list_meta,
                    "items": [self._out(rt, o) for o in items],
                }
            )
        if verb == "create":
            if t.subresource is not None or t.name is not None:
                raise errors.method_not_allowed()
            body, _ = await self._body(request)
            obj = store.create(rt, ns, body, dry_run=dry_run)
            return _json(self._out(rt, obj), 201)
        if t.name is None or t.subresource == "log":
            raise errors.method_not_allowed()
        if verb == "update":
            body, _ = await self._body(request)
            obj = store.replace(rt, ns, t.name, body, subresource=t.subresource, dry_run=dry_run)
            return _json(obj if t.subresource == "scale" else self._out(rt, obj))
        if verb == "patch":
            body, ctype = await self._body(request)
            if ctype not in PATCH_TYPES:
                raise errors.unsupported_media_type(ctype)
            if ctype == PATCH_TYPES[3] and not q.get("fieldManager"):
                raise errors.bad_request(
                    'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                    "is required for apply patch"
                )
            obj, created = store.patch(
                rt, ns, t.name, ctype, body, subresource=t.subresource, dry_run=dry_run
            )
            out = obj if t.subresource == "scale" else self._out(rt, obj)
            return _json(out, 201 if created else 200)
        if verb == "delete":
            if t.subresource is not None:
                raise errors.method_not_allowed()
            body, _ = await self._body(request)
            options = dict(body) if isinstance(body, dict) else {}
            for k in ("propagationPolicy", "orphanDependents"):
                if k in q:
                    options[k] = q[k] if k == "propagationPolicy" else q[k] == "true"
            obj = store.delete(rt, ns, t.name, options, dry_run=dry_run)
            return _json(self._out(rt, obj))
        raise errors.method_not_allowed()

    # ------------------------------------------------------------------ watch
    async def watch(self, request: web.Request, t: Target, started: float) -> web.StreamResponse:
        rt = self._resolve(t, "watch")
        if t.name is not None:  # legacy /watch/namespaces/{ns}/{resource}/{name}
            field = f"metadata.name={t.name}"
            fs = request.query.get("fieldSelector")
            selector = Selector(request.query.get("labelSelector"), f"{fs},{field}" if fs else field)
        else:
            selector = Selector(request.query.get("labelSelector"), request.query.get("fieldSelector"))
        q = request.query
        try:
            timeout = float(q["timeoutSeconds"]) if q.get("timeoutSeconds") else self.sb.options.watch_timeout
        except ValueError:
            raise errors.bad_request(f"invalid timeoutSeconds: {q.get('timeoutSeconds')!r}") from None
        bookmarks = q.get("allowWatchBookmarks") == "true"
        send_initial = {"true": True, "false": False}.get(q.get("sendInitialEvents", ""))
        render = None
        if tables.wants_table(request.headers.get("Accept", "")):
            first = [True]

            def render(obj: dict[str, Any]) -> dict[str, Any]:
                doc = tables.table(rt, [obj], self.store.rv, headers=first[0])
                first[0] = False
                return doc

        w = self.store.watch(
            rt,
            t.namespace,
            selector,
            q.get("resourceVersion"),
            send_initial=send_initial,
            bookmarks=bookmarks,
            render=render,
        )
        self.sb.watchers.add(w)
        self._record(request, t, "watch", 200, started)
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        cut = self.sb.faults.watch_cut_after
        if cut:
            deadline = min(deadline, loop.time() + cut)
        interval = self.sb.options.bookmark_interval
        next_bookmark = loop.time() + interval
        try:
            await response.prepare(request)
            while True:
                now = loop.time()
                if now >= deadline:
                    break
                if bookmarks and now >= next_bookmark:
                    w.bookmark(self.store.rv)
                    next_bookmark = now + interval
                wait = min(deadline - now, 1.0, max(next_bookmark - now, 0.0) if bookmarks else 1.0)
                batch = await w.next_batch(wait)
                if batch is None:
                    break
                transport = request.transport
                if transport is None or transport.is_closing():
                    break
                if batch:
                    await response.write(b"".join(batch))
            await response.write_eof()
        except (ConnectionResetError, RuntimeError):  # the client went away mid-stream
            pass
        finally:
            self.store.unwatch(w)
            self.sb.watchers.discard(w)
        return response
