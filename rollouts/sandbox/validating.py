"""Server-side validation and derived views: what the API server checks or computes on every write.

Where it sits: pure functions called by the store (`storing`) before it commits. They raise the real
server's errors (400 for a kind mismatch, 422 Invalid with the field for names, labels, selectors and CRDs)
and build the CRD status (Established) and the autoscaling/v1 Scale view of an object.
"""

from __future__ import annotations

import re
from typing import Any

from rollouts.sandbox import errors
from rollouts.sandbox.objects import get_path, meta
from rollouts.sandbox.resources import CRD_KEY, ResourceType, crd_problem
from rollouts.sandbox.selectors import match_labels, selector_string

Obj = dict[str, Any]


def check_kind(rt: ResourceType, body: Obj) -> None:
    kind = body.get("kind")
    if kind and kind != rt.kind:
        raise errors.bad_request(f"the kind of the object ({kind}) does not match the resource ({rt.kind})")


_LABEL_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_RULE = "must be 63 characters or less, beginning and ending with an alphanumeric character, with dashes, underscores, dots and alphanumerics between"


def _label_key_problem(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _PREFIX.match(prefix)):
        return f'Invalid value: "{key}": prefix part must be a lowercase RFC 1123 subdomain'
    if not name or len(name) > 63 or not _LABEL_NAME.match(name):
        return f'Invalid value: "{key}": name part {_LABEL_RULE}'
    return None


def check_labels(rt: ResourceType, name: str, m: dict[str, Any]) -> None:
    """Labels and annotations are maps of strings; label keys and values follow the apiserver's syntax."""
    for field in ("labels", "annotations"):
        values = m.get(field)
        if values is None:
            continue
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            raise errors.invalid(
                rt.kind, rt.group, name, f"metadata.{field}", "Invalid value: values must be strings"
            )
        if field != "labels":
            continue
        for key, value in values.items():
            problem = _label_key_problem(key)
            if problem:
                raise errors.invalid(rt.kind, rt.group, name, "metadata.labels", problem)
            if len(value) > 63 or not _LABEL_NAME.match(value):
                raise errors.invalid(
                    rt.kind,
                    rt.group,
                    name,
                    "metadata.labels",
                    f'Invalid value: "{value}": a label value {_LABEL_RULE}',
                )


def validate(rt: ResourceType, obj: Obj) -> Obj:
    """The few server-side validations controllers trip over: apps replicas must be >= 0 and selectors must
    match the template labels; CRDs must be servable."""
    if rt.group == "apps" and rt.plural in ("replicasets", "deployments"):
        name = meta(obj).get("name", "")
        selector = get_path(obj, ".spec.selector")
        labels = get_path(obj, ".spec.template.metadata.labels") or {}
        if not isinstance(selector, dict) or not (
            selector.get("matchLabels") or selector.get("matchExpressions")
        ):
            raise errors.invalid(rt.kind, rt.group, name, "spec.selector", "Required value")
        replicas = get_path(obj, ".spec.replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise errors.invalid(
                rt.kind,
                rt.group,
                name,
                "spec.replicas",
                f"Invalid value: {replicas!r}: must be greater than or equal to 0",
            )
        if not match_labels(selector, labels):
            raise errors.invalid(
                rt.kind,
                rt.group,
                name,
                "spec.template.metadata.labels",
                f"Invalid value: {labels}: `selector` does not match template `labels`",
            )
    if rt.key == CRD_KEY:
        problem = crd_problem(obj)
        if problem:
            raise errors.invalid(rt.kind, rt.group, meta(obj).get("name", ""), *problem)
    return obj


def crd_status(crd: Obj) -> Obj:
    spec = crd["spec"]
    storage = next((v["name"] for v in spec["versions"] if v.get("storage")), spec["versions"][0]["name"])
    old_status = crd.get("status") or {}
    stored = list(old_status.get("storedVersions") or [])
    if storage not in stored:
        stored.append(storage)
    status = {
        "conditions": [
            {
                "type": "NamesAccepted",
                "status": "True",
                "reason": "NoConflicts",
                "message": "no conflicts found",
                "lastTransitionTime": meta(crd).get("creationTimestamp"),
            },
            {
                "type": "Established",
                "status": "True",
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
                "lastTransitionTime": meta(crd).get("creationTimestamp"),
            },
        ],
        "acceptedNames": spec["names"],
        "storedVersions": stored,
    }
    if crd.get("status") == status:
        return crd
    out = dict(crd)
    out["status"] = status
    return out


def scale_view(rt: ResourceType, obj: Obj) -> Obj:
    """The autoscaling/v1 Scale of an object, from the type's (or the CRD's) replica and selector paths."""
    if "scale" not in rt.subresources:
        raise errors.path_not_found(f"{rt.plural}/scale")
    spec_path, status_path, sel_path = rt.scale_paths
    m = meta(obj)
    if rt.custom:
        selector = get_path(obj, sel_path) if sel_path else None
    else:
        selector = selector_string(get_path(obj, ".spec.selector"))
    status: dict[str, Any] = {"replicas": get_path(obj, status_path) or 0}
    if selector:
        status["selector"] = selector
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: m[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in m
        },
        "spec": {"replicas": get_path(obj, spec_path) or 0},
        "status": status,
    }
