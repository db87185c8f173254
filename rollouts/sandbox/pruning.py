"""Pruning of unknown fields in custom resources, as kube-apiserver does for structural CRD schemas.

Where it sits: the store calls `prune(obj, schema)` on every write of a custom resource whose CRD version has
an `openAPIV3Schema`. A field the schema does not declare is dropped silently — unless the schema (or an
enclosing one) says `x-kubernetes-preserve-unknown-fields: true` — exactly the behaviour that makes a
controller's status field "disappear" on a real cluster when the CRD lacks it. `apiVersion`, `kind` and
`metadata` at the root are never pruned; `additionalProperties` schemas apply to every value of a map;
`items` to every element of a list. Values are not type-checked (no validation beyond pruning).

    >>> schema = {"type": "object", "properties": {"spec": {"type": "object", "properties": {"a": {}}}}}
    >>> prune({"kind": "X", "spec": {"a": 1, "b": 2}, "extra": 3}, schema)
    {'kind': 'X', 'spec': {'a': 1}}
"""

from __future__ import annotations

from typing import Any

PRESERVE = "x-kubernetes-preserve-unknown-fields"
_ROOT_KEPT = ("apiVersion", "kind", "metadata")


def _prune(value: Any, schema: Any) -> Any:
    if not isinstance(schema, dict):
        return value
    if isinstance(value, dict):
        props = schema.get("properties")
        addl = schema.get("additionalProperties")
        if schema.get(PRESERVE) or schema.get("x-kubernetes-embedded-resource"):
            if not isinstance(props, dict):
                return value
            return {k: _prune(v, props[k]) if k in props else v for k, v in value.items()}
        if isinstance(props, dict):
            return {k: _prune(v, props[k]) for k, v in value.items() if k in props}
        if isinstance(addl, dict):
            return {k: _prune(v, addl) for k, v in value.items()}
        if addl is True or schema.get("x-kubernetes-int-or-string") or "type" not in schema:
            return value
        return {}  # an object schema that declares nothing keeps nothing
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_prune(v, schema["items"]) for v in value]
    return value


def prune(obj: dict[str, Any], schema: Any) -> dict[str, Any]:
    """`obj` without the fields `schema` (an openAPIV3Schema) does not declare; `obj` itself when nothing goes."""
    if not isinstance(schema, dict) or schema.get(PRESERVE):
        return obj
    props = schema.get("properties")
    if not isinstance(props, dict):
        return obj
    out: dict[str, Any] = {}
    for k, v in obj.items():
        if k in _ROOT_KEPT:
            out[k] = v
        elif k in props:
            out[k] = _prune(v, props[k])
    return obj if out == obj else out
