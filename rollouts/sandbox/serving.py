"""The HTTP face of the sandbox: URL parsing, verbs, request options, bodies, discovery and resources.

Where it sits: between aiohttp and the store. One catch-all handler parses the Kubernetes URL grammar
(`/api/v1/namespaces/{ns}/{resource}/{name}/{subresource}`, `/apis/{group}/{version}/…`, the legacy
`/watch/` prefix, and `/api/v1/namespaces/{name}` for namespaces themselves), maps the method to a verb
(get, list, watch, create, update, patch, delete, deletecollection), applies injected faults, calls the store
and records the request; watches continue in `streaming`, admin endpoints under `/sandbox/` in
`administering`. Every failure leaves as a `kind: Status` body with the API server's code and reason: a body
over 3 MiB is a 413 before it is read (`limits`), a body read slower than `request_timeout` a 504, malformed
options and bodies a 400 or 422 — never a 500 for what a client sent.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from rollouts.sandbox import administering, errors, fieldtypes, streaming, tables
from rollouts.sandbox.decoding import check_types, read_body
from rollouts.sandbox.faults import RequestRecord
from rollouts.sandbox.limits import MAX_REQUEST_BYTES, too_deep
from rollouts.sandbox.patching import PATCH_TYPES
from rollouts.sandbox.paths import Target, parse_path
from rollouts.sandbox.selectors import Selector
from rollouts.sandbox.streaming import bool_param, int_param
from rollouts.sandbox.view import SandboxView
from rollouts.sandbox.watching import encode

if TYPE_CHECKING:
    from rollouts.sandbox.resources import ResourceType

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


def verb_of(method: str, target: Target | None, query: Any) -> str:
    if target is None:
        return "get"
    if method == "GET":
        if target.watch_path or bool_param(query, "watch"):
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
    except (ValueError, TypeError, RecursionError) as e:
        raise errors.bad_request(f"invalid continue token: {token!r}") from e


_OPTIONS_KIND = {"create": "CreateOptions", "update": "UpdateOptions", "patch": "PatchOptions"}
_POLICIES = ("Foreground", "Background", "Orphan")


def dry_run_of(query: Any, verb: str) -> bool:
    """`dryRun=All` (the only value kube-apiserver accepts; anything else is 422 on the verb's options)."""
    values = query.getall("dryRun", [])
    bad = [v for v in values if v != "All"]
    if bad:
        listed = ", ".join(json.dumps(v) for v in bad)
        raise errors.invalid_options(
            _OPTIONS_KIND.get(verb, "DeleteOptions"),
            "dryRun",
            f'Unsupported value: []string{{{listed}}}: supported values: "All"',
        )
    return bool(values)


def delete_options(body: Any, query: Any) -> dict[str, Any]:
    """DeleteOptions from the body and the query, checked as kube-apiserver checks them."""
    if body is not None and not isinstance(body, dict):
        raise errors.bad_request("the request body of a delete must be a DeleteOptions object")
    options = dict(body or {})
    check_types(None, options, t=fieldtypes.DELETE_OPTIONS)
    if "propagationPolicy" in query:
        options["propagationPolicy"] = query["propagationPolicy"]
    if "orphanDependents" in query:
        options["orphanDependents"] = bool_param(query, "orphanDependents")
    int_param(query, "gracePeriodSeconds")
    policy = options.get("propagationPolicy")
    if policy is not None and policy not in _POLICIES:
        raise errors.invalid_options(
            "DeleteOptions",
            "propagationPolicy",
            f'Unsupported value: "{policy}": supported values: "Foreground", "Background", "Orphan", "nil"',
        )
    if policy is not None and options.get("orphanDependents") is not None:
        raise errors.invalid_options(
            "DeleteOptions", "propagationPolicy", "Invalid value: orphanDependents and deletionPropagation "
            "cannot be both set"
        )  # fmt: skip
    return options


class Api:
    """The request handler bound to one sandbox."""

    def __init__(self, sandbox: SandboxView) -> None:
        self.sb = sandbox
        self.store = sandbox.store

    # ------------------------------------------------------------------ entry point
    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.sb.connections.request_started(request.transport)
        try:
            if request.path.startswith("/sandbox/"):
                return await administering.handle(self.sb, request)
            return await self._api(request)
        finally:
            self.sb.connections.request_finished(request.transport)

    async def _api(self, request: web.Request) -> web.StreamResponse:
        started = time.time()
        target = parse_path(request.path)
        verb = "get"
        status = 500
        try:
            verb = verb_of(request.method, target, request.query)
            self._rbac(verb, target)
            await self._faults(verb)
            if target is None:
                response = self.discovery(request)
            elif verb == "watch":
                rt = self._resolve(target, verb)

                def started_streaming() -> None:  # recorded when the stream starts, not minutes later
                    self._record(request, target, "watch", 200, started)

                stream = await streaming.serve(self.sb, request, target, rt, started_streaming)
                status = 200
                return stream
            else:
                response = await self.resource(request, target, verb)
            status = response.status
            return response
        except errors.ApiError as e:
            status = e.code
            return _json(e.status(), e.code, e.headers)
        except RecursionError:  # a client's object nested deeper than Python recursion goes
            status = 400
            return _json(too_deep().status(), 400)
        except Exception as e:  # a bug in the sandbox must look like a server error, not a dropped connection
            log.exception("sandbox: %s %s failed", request.method, request.path_qs)
            status = 500
            return _json(
                errors.ApiError(500, "InternalError", f"Internal error occurred: {e!r}").status(), 500
            )
        finally:
            if verb != "watch" or status != 200:
                self._record(request, target, verb, status, started)

    def _rbac(self, verb: str, target: Target | None) -> None:
        """The `forbid` fault: 403 with the sentence kube-apiserver's RBAC authorizer writes."""
        if target is None or not self.sb.faults.forbid:
            return
        resource = target.plural + (f"/{target.subresource}" if target.subresource else "")
        if not self.sb.faults.forbids(verb, resource):
            return
        what = f"{target.plural}.{target.group}" if target.group else target.plural
        name = f' "{target.name}"' if target.name else ""
        where = f' in the namespace "{target.namespace}"' if target.namespace else " at the cluster scope"
        raise errors.ApiError(
            403,
            "Forbidden",
            f'{what}{name} is forbidden: User "sandbox-user" cannot {verb} resource "{resource}" in API group '
            f'"{target.group}"{where}',
        )

    async def _faults(self, verb: str) -> None:
        faults = self.sb.faults
        if not faults.applies(verb):
            return
        if faults.latency:
            await asyncio.sleep(faults.latency)
        code = faults.decide(verb)
        if code == 500:
            raise errors.ApiError(500, "InternalError", "Internal error occurred: injected fault (sandbox)")
        if code == 429:
            raise errors.too_many_requests(
                "Too many requests, please try again later (injected fault, sandbox).", faults.retry_after
            )

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

    def _object(self, rt: ResourceType, obj: dict[str, Any], status: int = 200) -> web.Response:
        """An object as the response body, reusing the store's encoding of it when it has one."""
        out = self._out(rt, obj)
        body = self.store.encodings.get(out) if out is obj else encode(out)
        return web.Response(body=body, status=status, content_type="application/json")

    async def _read(self, request: web.Request) -> bytes:
        """The body, refused (413) past 3 MiB and timed out (504) past `request_timeout` seconds."""
        length = request.content_length
        if length is not None and length > MAX_REQUEST_BYTES:
            raise errors.too_large(f"limit is {MAX_REQUEST_BYTES}")
        try:
            if request.content.is_eof():  # it came with the headers: nothing to wait for
                raw = await request.read()
            else:
                async with asyncio.timeout(self.sb.options.request_timeout):
                    raw = await request.read()
        except web.HTTPRequestEntityTooLarge:  # aiohttp's own cap (client_max_size), one byte above ours
            raise errors.too_large(f"limit is {MAX_REQUEST_BYTES}") from None
        except TimeoutError:
            self.store.counters.note(
                "bodies_too_slow",
                f"gave up on {request.method} {request.path}: its body took over "
                f"{self.sb.options.request_timeout:g}s to arrive",
            )
            raise errors.timeout(
                "request did not complete within requested timeout - context deadline exceeded"
            ) from None
        if len(raw) > MAX_REQUEST_BYTES:
            raise errors.too_large(f"limit is {MAX_REQUEST_BYTES}")
        return raw

    async def _body(self, request: web.Request) -> tuple[Any, str]:
        ctype = request.content_type or "application/json"
        return await read_body(await self._read(request), ctype), ctype

    async def resource(self, request: web.Request, t: Target, verb: str) -> web.Response:
        rt = self._resolve(t, verb)
        q = request.query
        ns = t.namespace or ""
        dry_run = dry_run_of(q, verb)
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
            return self._object(rt, obj)
        if verb in ("list", "deletecollection"):
            if t.name is not None:
                raise errors.method_not_allowed()
            selector = Selector(q.get("labelSelector"), q.get("fieldSelector"))
            if verb == "deletecollection":
                body, _ = await self._body(request)
                items = store.delete_collection(rt, t.namespace, selector, delete_options(body, q))
                rv = store.rv
                nxt = None
            else:
                limit = int_param(q, "limit") or 0
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
        if verb == "create" and t.subresource == "eviction" and t.name is not None:
            # policy/v1 Eviction: the pod is deleted (the sandbox has no PodDisruptionBudgets to refuse it)
            body, _ = await self._body(request)
            if not isinstance(body, dict) or body.get("kind") not in (None, "Eviction"):
                raise errors.bad_request("the request body of an eviction must be an Eviction object")
            store.delete(rt, ns, t.name, delete_options(body.get("deleteOptions"), {}), dry_run=dry_run)
            return _json(
                {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}, 201
            )
        if verb == "create":
            if t.subresource is not None or t.name is not None:
                raise errors.method_not_allowed()
            body, _ = await self._body(request)
            obj = store.create(rt, ns, body, dry_run=dry_run)
            return self._object(rt, obj, 201)
        if t.name is None or t.subresource == "log":
            raise errors.method_not_allowed()
        if verb == "update":
            body, _ = await self._body(request)
            obj = store.replace(rt, ns, t.name, body, subresource=t.subresource, dry_run=dry_run)
            return _json(obj) if t.subresource == "scale" else self._object(rt, obj)
        if verb == "patch":
            ctype = request.content_type or "application/json"
            if ctype not in PATCH_TYPES:
                raise errors.unsupported_media_type(ctype)
            body, _ = await self._body(request)
            if ctype == PATCH_TYPES[3] and not q.get("fieldManager"):
                raise errors.bad_request(
                    'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                    "is required for apply patch"
                )
            obj, created = store.patch(
                rt, ns, t.name, ctype, body, subresource=t.subresource, dry_run=dry_run
            )
            code = 201 if created else 200
            return _json(obj, code) if t.subresource == "scale" else self._object(rt, obj, code)
        if verb == "delete":
            if t.subresource is not None:
                raise errors.method_not_allowed()
            body, _ = await self._body(request)
            obj = store.delete(rt, ns, t.name, delete_options(body, q), dry_run=dry_run)
            return self._object(rt, obj)
        raise errors.method_not_allowed()
