"""Errors of the Kubernetes adapter: what callers catch instead of the client library's exceptions.

The client adapter (`rollouts.kube.client`) translates every failure at the boundary, with `raise … from e`, so
that reconcilers and the plugin never see `kubernetes` or `aiohttp` types::

    KubeError                      any failure talking to the API server (.status, .reason, .message, .body)
    ├── KubeConfigError            no usable kubeconfig / in-cluster config (names the path and the context)
    ├── Unreachable                connection refused, DNS, TLS or timeout (names the server)  [KubeUnreachable]
    ├── NotFound                   404
    ├── Conflict                   409 reason Conflict: stale resourceVersion — re-read and retry
    ├── AlreadyExists              409 reason AlreadyExists: create of an existing name
    ├── Invalid                    422 (and 400 BadRequest): the server rejected the object; .message says why
    ├── Forbidden                  401/403: RBAC or credentials
    ├── Gone                       410: the resourceVersion is too old — relist
    ├── TooManyRequests            429: .retry_after seconds (from Retry-After), retried by the client
    └── ServerError                5xx: retried by the client on idempotent verbs
"""

from __future__ import annotations

from typing import Any


class KubeError(Exception):
    """A failure talking to the API server; `status` is the HTTP code (0 when there was no answer)."""

    status: int = 0

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        reason: str = "",
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.reason = reason
        self.body = body or {}


class KubeConfigError(KubeError):
    """No usable configuration: the kubeconfig is missing or broken, or the context does not exist."""


class Unreachable(KubeError):
    """The API server did not answer (connection refused, name resolution, TLS, timeout)."""


KubeUnreachable = Unreachable


class NotFound(KubeError):
    status = 404


class Conflict(KubeError):
    status = 409


class AlreadyExists(KubeError):
    status = 409


class Invalid(KubeError):
    status = 422


class Forbidden(KubeError):
    status = 403


class Gone(KubeError):
    status = 410


class TooManyRequests(KubeError):
    status = 429

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(KubeError):
    status = 500


def error_for(
    status: int, body: dict[str, Any] | None, *, what: str, retry_after: float | None = None
) -> KubeError:
    """The exception for an HTTP error answer; `what` names the request ("get rollouts prod/api-server")."""
    body = body or {}
    reason = str(body.get("reason") or "")
    message = str(body.get("message") or "") or f"HTTP {status}"
    text = f"{what}: {message}"
    cls: type[KubeError]
    if status == 404:
        cls = NotFound
    elif status == 409:
        cls = AlreadyExists if reason == "AlreadyExists" else Conflict
    elif status in (400, 422):
        cls = Invalid
    elif status in (401, 403):
        cls = Forbidden
    elif status == 410:
        cls = Gone
    elif status == 429:
        return TooManyRequests(text, status=status, reason=reason, body=body, retry_after=retry_after)
    elif status >= 500:
        cls = ServerError
    else:
        cls = KubeError
    return cls(text, status=status, reason=reason, body=body)
