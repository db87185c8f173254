"""The three patch formats of the Kubernetes API, applied without mutating the stored object.

Where it sits: the store calls `apply_patch(current, content_type, body)` for PATCH requests, then treats the
result like a PUT (preconditions, subresource isolation, generation, no-op detection).

- `application/merge-patch+json` — RFC 7386: maps merge, `null` deletes, lists replace.
- `application/json-patch+json` — RFC 6902 through the `jsonpatch` library; a failing `test` op (or any op
  that cannot apply) is a 422, as on kube-apiserver, and so are `copy` operations adding more than 3 MiB;
  more than 10,000 operations is a 413 (`limits`).
- `application/strategic-merge-patch+json` — merge patch, except the lists below, which merge item by item
  on their merge key, as the built-in types declare (`patchMergeKey`):

  | list | merge key |
  | --- | --- |
  | containers, initContainers, ephemeralContainers, volumes, env, imagePullSecrets, conditions… | name (conditions: type) |
  | ports (container) / ports (service) | containerPort / port |
  | volumeMounts, volumeDevices | mountPath / devicePath |

  Directives: `$patch: delete` on a list item removes it by key, `$patch: replace` on a map replaces it,
  `$retainKeys` keeps only the listed keys, `$deleteFromPrimitiveList/<key>` removes scalar values, and
  `$setElementOrder/<key>` is accepted and ignored. Every other list is replaced, as merge patch does.
- `application/apply-patch+yaml` (server-side apply) is approximated as create-or-merge-patch, see `storing`.

Never mutates its inputs: unchanged sub-trees are shared with the current object, changed paths are copied.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonpatch

from rollouts.sandbox.errors import bad_request, too_large, unprocessable, unsupported_media_type
from rollouts.sandbox.limits import JSON_PATCH_MAX_COPY_BYTES, MAX_JSON_PATCH_OPERATIONS, check_depth

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"
PATCH_TYPES = (MERGE, JSON_PATCH, STRATEGIC, APPLY)

MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "envFrom": "",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "conditions": "type",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "ownerReferences": "uid",
}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _ports_key(items: list[Any]) -> str:
    return "containerPort" if any(isinstance(i, dict) and "containerPort" in i for i in items) else "port"


def _merge_list(key: str, current: Any, patch: list[Any]) -> list[Any]:
    mkey = (
        _ports_key(patch + (current if isinstance(current, list) else []))
        if key == "ports"
        else MERGE_KEYS.get(key, "")
    )
    if not mkey or not isinstance(current, list) or not all(isinstance(i, dict) for i in patch):
        return [strategic_merge(None, i) if isinstance(i, dict) else i for i in patch]
    result: list[Any] = list(current)

    def index(k: Any) -> int:
        for n, item in enumerate(result):
            if isinstance(item, dict) and item.get(mkey) == k:
                return n
        return -1

    for item in patch:
        directive = item.get("$patch")
        n = index(item.get(mkey))
        if directive == "delete":
            if n >= 0:
                result.pop(n)
            continue
        if directive == "replace":
            return [strategic_merge(None, i) for i in patch if i.get("$patch") != "replace"]
        if n >= 0:
            result[n] = strategic_merge(result[n], item)
        else:
            result.append(strategic_merge(None, item))
    return result


def strategic_merge(target: Any, patch: Any) -> Any:
    """Strategic merge patch for the list fields listed in the module docstring; merge patch elsewhere."""
    if not isinstance(patch, dict):
        return patch
    if patch.get("$patch") == "replace":
        return {k: v for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    result = dict(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys") or key.startswith("$setElementOrder/"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            current = result.get(field)
            if isinstance(current, list) and isinstance(value, list):
                result[field] = [v for v in current if v not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list):
            result[key] = _merge_list(key, result.get(key), value)
        else:
            merged = strategic_merge(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def apply_patch(current: dict[str, Any], content_type: str, patch: Any) -> dict[str, Any]:
    """The patched object; raises ApiError 400/415/422 for a malformed or inapplicable patch."""
    if content_type == JSON_PATCH:
        if not isinstance(patch, list):
            raise bad_request("a JSON patch must be a list of operations")
        return _json_patch(current, patch)
    if not isinstance(patch, dict):
        raise bad_request(f"a {content_type} body must be a JSON object")
    if content_type in (MERGE, APPLY):
        result = merge_patch(current, patch)
    elif content_type == STRATEGIC:
        result = strategic_merge(current, patch)
    else:
        raise unsupported_media_type(content_type)
    if not isinstance(result, dict):  # `$patch: delete` at the top of a strategic merge patch
        raise unprocessable("the patch must leave an object")
    return result


def _rejected(reason: object) -> Exception:
    return unprocessable(f"the server rejected our request due to an error in our request: {reason}")


def _json_patch(current: dict[str, Any], ops: list[Any]) -> dict[str, Any]:
    """RFC 6902 with kube-apiserver's limits: at most 10,000 operations (413), and `copy` operations that add
    at most 3 MiB in all (422, worded as the evanphx/json-patch library the apiserver uses words it), so a
    small patch cannot multiply an object in memory."""
    if len(ops) > MAX_JSON_PATCH_OPERATIONS:
        raise too_large(
            f"The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, got {len(ops)}"
        )
    doc: Any = copy.deepcopy(current)
    copied = 0
    try:
        for op in ops:
            if isinstance(op, dict) and op.get("op") == "copy" and isinstance(op.get("from"), str):
                source = jsonpatch.JsonPointer(op["from"]).resolve(doc)
                copied += len(json.dumps(source, separators=(",", ":")))
                if copied > JSON_PATCH_MAX_COPY_BYTES:
                    raise _rejected(
                        "Unable to complete the copy, the accumulated size increase of copy is "
                        f"{copied}, exceeding the limit {JSON_PATCH_MAX_COPY_BYTES}"
                    )
            doc = jsonpatch.JsonPatch([op]).apply(doc, in_place=True)
    except (
        jsonpatch.JsonPatchException,
        jsonpatch.JsonPointerException,
        KeyError,
        IndexError,
        TypeError,
        AttributeError,
        ValueError,
    ) as e:
        raise _rejected(e) from e
    if not isinstance(doc, dict):
        raise unprocessable("the JSON patch must leave an object")
    check_depth(doc)
    return doc
