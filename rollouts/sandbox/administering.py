"""The admin endpoints under `/sandbox/`: health and counters, faults, the request log, the stored state.

Where it sits: `serving` routes every `/sandbox/…` request here. These endpoints are the sandbox's own (no
Kubernetes counterpart), so their errors are `{"error": sentence}` bodies, with a 400 for bad input and a 413
for a body over the API's 3 MiB limit. When the server listens beyond loopback (`exposing`), `/sandbox/state`
leaves out the data of Secrets: whoever can reach the port sees their names, not their values.

- `GET /sandbox/healthz`: `ok`, the current resourceVersion, the simulator's last errors, and `refused`: the
  counters of what the server refused or cut (oversized writes, cut watches, slow headers or bodies,
  connections over the limit);
- `GET|POST|DELETE /sandbox/faults`: read, change (JSON object of settings) or reset the injected faults;
- `GET /sandbox/requests` (filters `verb`, `resource`, `namespace`, `name`, `subresource`, `since`,
  `writes=true`), `DELETE /sandbox/requests` or `POST /sandbox/requests/reset`: the request log;
- `GET /sandbox/state`: every stored object.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from rollouts.sandbox.exposing import redact_secrets
from rollouts.sandbox.limits import MAX_REQUEST_BYTES
from rollouts.sandbox.persisting import dump
from rollouts.sandbox.view import SandboxView


def _error(message: str, status: int) -> web.Response:
    return web.json_response({"error": message}, status=status)


class _TooLarge(Exception):
    pass


async def _json_body(request: web.Request) -> Any:
    length = request.content_length
    if length is not None and length > MAX_REQUEST_BYTES:
        raise _TooLarge()
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise _TooLarge() from None
    if len(raw) > MAX_REQUEST_BYTES:
        raise _TooLarge()
    return json.loads(raw) if raw else None


async def handle(sb: SandboxView, request: web.Request) -> web.Response:
    path, method, q = request.path.rstrip("/"), request.method, request.query
    try:
        if path == "/sandbox/healthz":
            problems = sb.simulator.errors[-20:] if sb.simulator is not None else []
            return web.json_response(
                {
                    "ok": True,
                    "resourceVersion": sb.store.rv,
                    "simulatorErrors": problems,
                    "refused": dict(sorted(sb.store.counters.items())),
                }
            )
        if path == "/sandbox/faults":
            if method == "POST":
                body = await _json_body(request)
                if not isinstance(body, dict):
                    raise ValueError("POST /sandbox/faults takes a JSON object of settings")
                sb.faults.update(**body)
            elif method == "DELETE":
                sb.faults.reset()
            return web.json_response(sb.faults.as_dict())
        if path in ("/sandbox/requests", "/sandbox/requests/reset"):
            if method == "DELETE" or path.endswith("/reset"):
                sb.requests.reset()
                return web.json_response({"items": []})
            filters: dict[str, Any] = {
                k: q[k] for k in ("verb", "resource", "namespace", "name", "subresource") if k in q
            }
            if "since" in q:
                filters["since"] = float(q["since"])
            if q.get("writes") == "true":
                filters["writes"] = True
            return web.json_response({"items": [r.as_dict() for r in sb.requests.records(**filters)]})
        if path == "/sandbox/state":
            items = dump(sb.store)
            doc: dict[str, Any] = {"resourceVersion": sb.store.rv}
            if sb.exposed:
                items = redact_secrets(items)
                doc["redacted"] = "the data of Secrets is left out: the sandbox listens beyond loopback"
            doc["items"] = items
            return web.json_response(doc)
    except _TooLarge:
        return _error(f"the request body is over the {MAX_REQUEST_BYTES}-byte limit", 413)
    except (ValueError, TypeError, RecursionError) as e:
        return _error(str(e) or type(e).__name__, 400)
    return _error(f"no admin endpoint {path}", 404)
