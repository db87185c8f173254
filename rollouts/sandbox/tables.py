"""Server-side printing: the `meta.k8s.io/v1` Table that `kubectl get` asks for.

Where it sits: the HTTP layer answers a get, list or watch with a Table when the client's Accept header asks
for `as=Table` (kubectl does; API clients do not). Columns follow kube-apiserver's printers for the built-in
types that matter here (pods, replicasets, deployments, services, namespaces, jobs) and a CRD's
`additionalPrinterColumns` for custom resources, so `kubectl get rollouts` shows Desired/Current/Up-to-date/
Available/Age as on a real cluster. Anything else gets Name and Age. Date columns are rendered as ages, as the
real server does.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable
from typing import Any

from rollouts.sandbox.objects import get_path, meta
from rollouts.sandbox.resources import ResourceType

Obj = dict[str, Any]
Column = tuple[str, str, Callable[[Obj], Any], int]  # name, type, cell, priority


def wants_table(accept: str) -> bool:
    return "as=Table" in accept


def age(stamp: Any, now: float | None = None) -> str:
    """kubectl's human duration since an RFC 3339 timestamp: 45s, 3m12s, 42m, 5h3m, 3d."""
    if not isinstance(stamp, str):
        return "<unknown>"
    try:
        then = calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return "<invalid>"
    s = max(int((time.time() if now is None else now) - then), 0)
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = m // 60
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    return f"{h // 24}d"


def _name(o: Obj) -> Any:
    return meta(o).get("name", "")


def _age(o: Obj) -> Any:
    return age(meta(o).get("creationTimestamp"))


def _pod_status(o: Obj) -> str:
    if meta(o).get("deletionTimestamp"):
        return "Terminating"
    return str(get_path(o, ".status.phase") or "Pending")


def _pod_ready(o: Obj) -> str:
    statuses = get_path(o, ".status.containerStatuses") or []
    total = len(get_path(o, ".spec.containers") or []) or len(statuses)
    return f"{sum(1 for c in statuses if c.get('ready'))}/{total}"


def _restarts(o: Obj) -> int:
    return sum(int(c.get("restartCount", 0)) for c in get_path(o, ".status.containerStatuses") or [])


def _ports(o: Obj) -> str:
    ports = get_path(o, ".spec.ports") or []
    return ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in ports) or "<none>"


def _job_status(o: Obj) -> str:
    for c in get_path(o, ".status.conditions") or []:
        if c.get("status") == "True" and c.get("type") in ("Complete", "Failed"):
            return str(c["type"])
    return "Running"


def _num(path: str) -> Callable[[Obj], Any]:
    return lambda o: get_path(o, path) or 0


BUILTIN_COLUMNS: dict[tuple[str, str], list[Column]] = {
    ("", "pods"): [
        ("Ready", "string", _pod_ready, 0),
        ("Status", "string", _pod_status, 0),
        ("Restarts", "integer", _restarts, 0),
        ("Age", "string", _age, 0),
        ("IP", "string", lambda o: get_path(o, ".status.podIP") or "<none>", 1),
    ],
    ("apps", "replicasets"): [
        ("Desired", "integer", _num(".spec.replicas"), 0),
        ("Current", "integer", _num(".status.replicas"), 0),
        ("Ready", "integer", _num(".status.readyReplicas"), 0),
        ("Age", "string", _age, 0),
    ],
    ("apps", "deployments"): [
        (
            "Ready",
            "string",
            lambda o: f"{get_path(o, '.status.readyReplicas') or 0}/{get_path(o, '.spec.replicas') or 0}",
            0,
        ),
        ("Up-to-date", "integer", _num(".status.updatedReplicas"), 0),
        ("Available", "integer", _num(".status.availableReplicas"), 0),
        ("Age", "string", _age, 0),
    ],
    ("", "services"): [
        ("Type", "string", lambda o: get_path(o, ".spec.type") or "ClusterIP", 0),
        ("Cluster-IP", "string", lambda o: get_path(o, ".spec.clusterIP") or "<none>", 0),
        ("External-IP", "string", lambda o: "<none>", 0),
        ("Port(s)", "string", _ports, 0),
        ("Age", "string", _age, 0),
        (
            "Selector",
            "string",
            lambda o: (
                ",".join(f"{k}={v}" for k, v in (get_path(o, ".spec.selector") or {}).items()) or "<none>"
            ),
            1,
        ),
    ],
    ("", "namespaces"): [
        ("Status", "string", lambda o: get_path(o, ".status.phase") or "Active", 0),
        ("Age", "string", _age, 0),
    ],
    ("batch", "jobs"): [
        ("Status", "string", _job_status, 0),
        (
            "Completions",
            "string",
            lambda o: f"{get_path(o, '.status.succeeded') or 0}/{get_path(o, '.spec.completions') or 1}",
            0,
        ),
        ("Age", "string", _age, 0),
    ],
}


def _crd_column(spec: dict[str, Any]) -> Column:
    path, kind = str(spec.get("jsonPath", "")), str(spec.get("type", "string"))

    def cell(o: Obj) -> Any:
        value = get_path(o, path)
        if kind == "date":
            return age(value) if value is not None else "<unknown>"
        return value

    return (
        str(spec.get("name", "")),
        "string" if kind == "date" else kind,
        cell,
        int(spec.get("priority", 0)),
    )


def columns(rt: ResourceType) -> list[Column]:
    if rt.custom:
        specs = [dict(c) for c in rt.printer_columns]
        return [_crd_column(c) for c in specs] if specs else [("Age", "string", _age, 0)]
    return BUILTIN_COLUMNS.get(rt.key, [("Age", "string", _age, 0)])


def table(rt: ResourceType, items: list[Obj], resource_version: int, *, headers: bool = True) -> Obj:
    cols = [("Name", "string", _name, 0), *columns(rt)]
    rows = []
    for o in items:
        m = meta(o)
        partial = {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": {
                k: m[k]
                for k in (
                    "name",
                    "namespace",
                    "uid",
                    "resourceVersion",
                    "creationTimestamp",
                    "labels",
                    "annotations",
                )
                if k in m
            },
        }
        rows.append({"cells": [c[2](o) for c in cols], "object": partial})
    out: Obj = {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": str(resource_version)},
        "rows": rows,
    }
    out["columnDefinitions"] = (
        [
            {
                "name": name,
                "type": kind,
                "format": "name" if name == "Name" else "",
                "description": name,
                "priority": priority,
            }
            for name, kind, _, priority in cols
        ]
        if headers
        else []
    )
    return out
