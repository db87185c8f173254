"""Size and shape limits of kube-apiserver and etcd, applied to every request body and every stored object.

Where it sits: `serving` refuses a request body over `MAX_REQUEST_BYTES` before parsing it; `decoding` refuses
a body nested deeper than `MAX_DEPTH` (or, for YAML, expanding past `MAX_YAML_NODES` through aliases); the
store refuses an object whose JSON is over `MAX_OBJECT_BYTES`; `patching` caps JSON patch operations and the
bytes their `copy` operations add. The numbers, where they come from and what a client gets:

| limit | value | source | answer |
| --- | --- | --- | --- |
| request body | 3 MiB (3,145,728 bytes) | k8s.io/apiserver/pkg/server/config.go `MaxRequestBodyBytes` | 413 `Request entity too large: limit is 3145728` |
| stored object | 1.5 MiB (1,572,864 bytes) | etcd's default `--max-request-bytes` (server/embed/config.go) | 500 `etcdserver: request is too large` |
| JSON patch operations | 10,000 | apiserver endpoints/handlers/patch.go `maxJSONPatchOperations` | 413 |
| bytes added by JSON patch copies | 3 MiB | config.go `JSONPatchMaxCopyBytes` | 422 |
| nesting depth | 200 levels | the sandbox's own (Python recursion; Go's decoder allows 10,000) | 400 |
| values after YAML aliases | 400,000 | go-yaml's `alias_ratio_range_low` ("excessive aliasing") | 400 |

The stored size is measured on the object's compact JSON, which is what etcd holds for custom resources
(built-in types are stored as protobuf, usually a little smaller). A dry run never reaches etcd, so it is not
refused for size, as on a real cluster.
"""

from __future__ import annotations

import base64
import datetime
import math
from typing import Any

from rollouts.sandbox.errors import ApiError, bad_request

MAX_REQUEST_BYTES = 3 * 1024 * 1024
MAX_OBJECT_BYTES = 3 * 1024 * 1024 // 2
MAX_JSON_PATCH_OPERATIONS = 10_000
JSON_PATCH_MAX_COPY_BYTES = 3 * 1024 * 1024
MAX_DEPTH = 200
MAX_YAML_NODES = 400_000


def too_deep() -> ApiError:
    return bad_request(
        f"the request body nests more than {MAX_DEPTH} levels deep; flatten the object (no Kubernetes "
        "object needs that many)"
    )


def check_depth(value: Any) -> None:
    """Raise a 400 when a decoded JSON value nests deeper than MAX_DEPTH (iterative: no recursion to exhaust)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > MAX_DEPTH:
            raise too_deep()
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))


class _Budget:
    __slots__ = ("left",)

    def __init__(self) -> None:
        self.left = MAX_YAML_NODES


def from_yaml(value: Any) -> Any:
    """A YAML document as the JSON value kube-apiserver's YAML decoder makes of it: keys become strings,
    timestamps ISO strings and `!!binary` base64, with depth, aliasing and non-JSON numbers refused (400)."""
    return _convert(value, 1, _Budget())


def _convert(value: Any, depth: int, budget: _Budget) -> Any:
    budget.left -= 1
    if budget.left < 0:
        raise bad_request(
            "the request body is not valid YAML: yaml: document contains excessive aliasing "
            f"(more than {MAX_YAML_NODES} values once aliases are expanded)"
        )
    if isinstance(value, dict):
        if depth > MAX_DEPTH:
            raise too_deep()
        return {_key(k): _convert(v, depth + 1, budget) for k, v in value.items()}
    if isinstance(value, list):
        if depth > MAX_DEPTH:
            raise too_deep()
        return [_convert(v, depth + 1, budget) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise bad_request(f"the request body is not valid YAML: {value} cannot be represented in JSON")
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise bad_request(
        f"the request body is not valid YAML for the Kubernetes API: a {type(value).__name__} "
        "value cannot be represented in JSON"
    )


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, (int, float)):
        return str(key)
    raise bad_request(
        f"the request body is not valid YAML for the Kubernetes API: a map key must be a string, not {key!r}"
    )
