"""Small helpers on stored objects: timestamps, names, dotted paths, copy-on-write edits and server defaults.

Where it sits: used by the store and the simulator. Stored objects are never mutated in place (readers
serialise them without copying), so every edit here returns new containers along the edited path and shares
the untouched sub-trees.
"""

from __future__ import annotations

import random
import re
import time
from typing import Any

_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # the apiserver's generateName alphabet (no vowels, no 0/1/3)
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def timestamp(t: float | None = None) -> str:
    """RFC 3339 with second precision, as metav1.Time serialises."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if t is None else t))


def random_suffix(rng: random.Random, n: int = 5) -> str:
    return "".join(rng.choice(_NAME_CHARS) for _ in range(n))


def name_problem(name: str, *, label: bool = False) -> str | None:
    """Why `name` is not a valid object name (RFC 1123 subdomain, or label for namespaces), or None."""
    limit = 63 if label else 253
    pattern = _LABEL if label else _SUBDOMAIN
    if len(name) > limit or not pattern.match(name):
        kind = "label" if label else "subdomain"
        return (
            f'Invalid value: "{name}": a lowercase RFC 1123 {kind} must consist of lower case alphanumeric '
            f"characters, '-' or '.', and must start and end with an alphanumeric character (at most {limit})"
        )
    return None


def get_path(obj: Any, path: str) -> Any:
    """The value at a `.spec.replicas`-style path, or None."""
    cur = obj
    for part in path.strip(".").split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def set_path(obj: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `obj` with `value` at `path` (containers along the path are copied, the rest shared)."""
    parts = path.strip(".").split(".")
    root = dict(obj)
    cur = root
    for part in parts[:-1]:
        nxt = cur.get(part)
        nxt = dict(nxt) if isinstance(nxt, dict) else {}
        cur[part] = nxt
        cur = nxt
    if value is None:
        cur.pop(parts[-1], None)
    else:
        cur[parts[-1]] = value
    return root


def with_meta(obj: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy of `obj` whose metadata has `changes` (a None value removes the key)."""
    meta = dict(obj.get("metadata") or {})
    for k, v in changes.items():
        if v is None:
            meta.pop(k, None)
        else:
            meta[k] = v
    out = dict(obj)
    out["metadata"] = meta
    return out


def meta(obj: dict[str, Any]) -> dict[str, Any]:
    m = obj.get("metadata")
    return m if isinstance(m, dict) else {}


def content(obj: dict[str, Any], *, with_status: bool = False) -> dict[str, Any]:
    """What a change of bumps metadata.generation: everything but metadata (and status, when the type has a
    status subresource — without one, a status change is a change like any other, as for CRDs)."""
    skip = ("metadata", "apiVersion", "kind") if with_status else ("metadata", "status", "apiVersion", "kind")
    return {k: v for k, v in obj.items() if k not in skip}


def owner_uids(obj: dict[str, Any]) -> set[str]:
    refs = meta(obj).get("ownerReferences") or []
    return {r["uid"] for r in refs if isinstance(r, dict) and isinstance(r.get("uid"), str)}


def apply_defaults(
    key: tuple[str, str], obj: dict[str, Any], old: dict[str, Any] | None, rng: random.Random
) -> dict[str, Any]:
    """The few defaults of the real API server that controllers read back (replicas, Service IPs, Job spec,
    the namespace name label)."""
    group, plural = key
    spec = obj.get("spec")
    if plural in ("replicasets", "deployments") and group == "apps":
        if isinstance(spec, dict) and "replicas" not in spec:
            obj = set_path(obj, ".spec.replicas", 1)
    elif plural == "services" and not group and isinstance(spec, dict):
        spec = dict(spec)
        old_spec = (old or {}).get("spec") or {}
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if spec["type"] != "ExternalName" and not spec.get("clusterIP"):
            ip = old_spec.get("clusterIP") or f"10.96.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
            spec["clusterIP"] = ip
            spec["clusterIPs"] = [ip]
        ports = []
        for p in spec.get("ports") or []:
            if isinstance(p, dict):
                p = dict(p)
                p.setdefault("protocol", "TCP")
                if "port" in p:
                    p.setdefault("targetPort", p["port"])
            ports.append(p)
        if ports:
            spec["ports"] = ports
        obj = dict(obj)
        obj["spec"] = spec
    elif plural == "jobs" and group == "batch" and isinstance(spec, dict):
        spec = dict(spec)
        spec.setdefault("completions", 1)
        spec.setdefault("parallelism", 1)
        spec.setdefault("backoffLimit", 6)
        obj = dict(obj)
        obj["spec"] = spec
    elif plural == "namespaces" and not group:
        obj = dict(obj)
        m = dict(obj.get("metadata") or {})
        m["labels"] = dict(m.get("labels") or {}, **{"kubernetes.io/metadata.name": m.get("name", "")})
        obj["metadata"] = m
        if old is None:
            obj["spec"] = obj.get("spec") or {"finalizers": ["kubernetes"]}
            obj["status"] = {"phase": "Active"}
    elif plural == "pods" and not group and old is None and not obj.get("status"):
        obj = dict(obj)
        obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
    return obj


# ---------------------------------------------------------------------- the simulated cluster's vocabulary
POD = ("", "pods")
RS = ("apps", "replicasets")
DEPLOY = ("apps", "deployments")
JOB = ("batch", "jobs")

NODE = "sandbox-node"  # the one simulated node every pod runs on

NEVER_READY = "sandbox.rollouts.io/never-ready"
READY_DELAY = "sandbox.rollouts.io/ready-delay"
JOB_OUTCOME = "sandbox.rollouts.io/job-outcome"
JOB_DURATION = "sandbox.rollouts.io/job-duration"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")


def parse_duration(text: str | float | int) -> float:
    """`1.5`, `500ms`, `2s`, `1m`, `1h` → seconds. Raises ValueError with the accepted forms."""
    if isinstance(text, (int, float)):
        return float(text)
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"invalid duration {text!r}: use a number of seconds or 500ms, 2s, 1m, 1h")
    return float(m.group(1)) * {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}[m.group(2)]


def annotation(obj: dict[str, Any], key: str) -> str | None:
    for source in (meta(obj), get_path(obj, ".spec.template.metadata") or {}):
        value = (source.get("annotations") or {}).get(key)
        if value is not None:
            return str(value)
    return None
