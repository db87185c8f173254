"""Error bodies of the API server: every failure leaves the sandbox as a `kind: Status` object.

Where it sits: raised by the store (`storing`), the patch engine (`patching`) and the HTTP layer (`serving`);
turned into a response once, in `serving`. The shapes, reasons and messages follow kube-apiserver, because the
`kubernetes` client and `kubectl` read `code` and `reason` (`ApiException.status`, "Error from server
(NotFound): …").
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An API failure with the HTTP code, the Status `reason` and the human message of the real server."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if not self.reason:  # metav1.Status omits an empty (Unknown) reason
            del body["reason"]
        if self.details is not None:
            body["details"] = self.details
        return body


def _details(group: str, plural: str, name: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": plural}
    if group:
        details["group"] = group
    return details


def qualified(group: str, plural: str) -> str:
    """`rollouts.argoproj.io`, or `pods` for the core group: how the real server names a resource."""
    return f"{plural}.{group}" if group else plural


def not_found(group: str, plural: str, name: str) -> ApiError:
    return ApiError(
        404, "NotFound", f'{qualified(group, plural)} "{name}" not found', _details(group, plural, name)
    )


def already_exists(group: str, plural: str, name: str) -> ApiError:
    return ApiError(
        409,
        "AlreadyExists",
        f'{qualified(group, plural)} "{name}" already exists',
        _details(group, plural, name),
    )


def conflict(group: str, plural: str, name: str, why: str | None = None) -> ApiError:
    why = why or "the object has been modified; please apply your changes to the latest version and try again"
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {qualified(group, plural)} "{name}": {why}',
        _details(group, plural, name),
    )


def invalid(kind: str, group: str, name: str, field: str, problem: str) -> ApiError:
    """422 Invalid, worded like `Rollout.argoproj.io "x" is invalid: metadata.name: Required value: …`."""
    gk = f"{kind}.{group}" if group else kind
    return ApiError(
        422,
        "Invalid",
        f'{gk} "{name}" is invalid: {field}: {problem}',
        {
            "name": name,
            "group": group,
            "kind": kind,
            "causes": [{"reason": "FieldValueInvalid", "message": problem, "field": field}],
        },
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def unprocessable(message: str) -> ApiError:
    """422 without a field: what the real server answers for a patch that cannot be applied."""
    return ApiError(422, "Invalid", message)


def gone(message: str) -> ApiError:
    # kube-apiserver's watch cache answers a compacted resourceVersion with reason Expired and code 410.
    return ApiError(410, "Expired", message)


def method_not_allowed() -> ApiError:
    return ApiError(
        405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
    )


def unsupported_media_type(content_type: str) -> ApiError:
    return ApiError(
        415, "UnsupportedMediaType", f"the body of the request was in an unknown format: {content_type}"
    )


def path_not_found(path: str) -> ApiError:
    return ApiError(
        404,
        "NotFound",
        "the server could not find the requested resource",
        {"causes": [{"reason": "UnexpectedServerResponse", "message": f"404 page not found: {path}"}]},
    )


def too_large(message: str) -> ApiError:
    """413, as apimachinery's NewRequestEntityTooLargeError words it (`Request entity too large: limit is …`)."""
    return ApiError(413, "RequestEntityTooLarge", f"Request entity too large: {message}")


def storage_too_large() -> ApiError:
    """What a write over etcd's request limit gets: kube-apiserver passes etcd's error through as a 500 with no
    reason (k8s.io/apiserver/pkg/storage/errors/storage.go has no case for it; kubernetes/kubernetes#112152)."""
    return ApiError(500, "", "etcdserver: request is too large")


def timeout(message: str) -> ApiError:
    """504 Timeout, as apimachinery's NewTimeoutError words it (a request that outlived --request-timeout)."""
    return ApiError(504, "Timeout", f"Timeout: {message}", {})


def too_many_requests(message: str, retry_after: int) -> ApiError:
    """429 with `Retry-After`, as kube-apiserver's in-flight limit (and priority and fairness) answers."""
    return ApiError(
        429,
        "TooManyRequests",
        message,
        {"retryAfterSeconds": retry_after},
        {"Retry-After": str(retry_after)},
    )


def invalid_options(kind: str, field: str, problem: str) -> ApiError:
    """422 for bad request options, e.g. `DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: …`."""
    return ApiError(
        422,
        "Invalid",
        f'{kind}.meta.k8s.io "" is invalid: {field}: {problem}',
        {
            "group": "meta.k8s.io",
            "kind": kind,
            "causes": [{"reason": "FieldValueInvalid", "message": problem, "field": field}],
        },
    )
