"""Saving and loading the sandbox's objects (`rollouts sandbox --state FILE`), so nothing is lost across a restart.

Where it sits: `running.Sandbox` loads a state file before serving and saves it after the server stopped;
`GET /sandbox/state` serves `dump`. The file is JSON: `{"version": 1, "resourceVersion": N, "items": [...]}`,
objects kept exactly (uids, versions, timestamps), CRDs and namespaces first.
"""

from __future__ import annotations

import json
from pathlib import Path

from rollouts.sandbox.objects import meta
from rollouts.sandbox.resources import CRD_KEY, NAMESPACE_KEY, crd_problem, types_from_crd
from rollouts.sandbox.storeview import Obj, StoreView


def restore(store: StoreView, objects: list[Obj], resource_version: int) -> None:
    """Load saved objects as they were (uids, versions, timestamps kept); CRDs first so their types exist.

    Watches from a version older than the restored one get 410 Gone: the history did not survive.
    """
    ordered = sorted(
        objects, key=lambda o: (o.get("kind") != "CustomResourceDefinition", o.get("kind") != "Namespace")
    )
    for obj in ordered:
        api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
        if kind == "CustomResourceDefinition" and crd_problem(obj) is None:
            store.registry.set_crd(meta(obj)["name"], types_from_crd(obj))
        rt = store.registry.by_kind(api_version, kind)
        m = meta(obj)
        if rt is None or not m.get("name"):
            continue
        ns = m.get("namespace", "") if rt.namespaced else ""
        old = store.find(rt.key, ns, m["name"])
        store.objects.setdefault(rt.key, {}).setdefault(ns, {})[m["name"]] = obj
        store._index(rt.key, ns, m["name"], old, obj)
    store.rv = max(store.rv, resource_version)
    store.floor = store.rv


def dump(store: StoreView) -> list[Obj]:
    """Every stored object (shared, do not mutate), CRDs and namespaces first."""
    out: list[Obj] = []
    for key in sorted(store.objects, key=lambda k: (k != CRD_KEY, k != NAMESPACE_KEY, k)):
        for ns in sorted(store.objects[key]):
            out.extend(store.objects[key][ns][n] for n in sorted(store.objects[key][ns]))
    return out


def save_state(store: StoreView, path: Path) -> None:
    """Write every object and the resourceVersion to `path` atomically (JSON)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps({"version": 1, "resourceVersion": store.rv, "items": dump(store)}))
    tmp.replace(path)


def load_state(store: StoreView, path: Path) -> None:
    """Load a state file written by `save_state`; raises ValueError with a one-line reason when it is unusable."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"cannot read sandbox state {path}: {e}") from e
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise ValueError(f"cannot read sandbox state {path}: expected a JSON object with 'items'")
    try:
        version = int(data.get("resourceVersion", 0))
    except (TypeError, ValueError):
        raise ValueError(f"cannot read sandbox state {path}: resourceVersion must be an integer") from None
    restore(store, [o for o in data["items"] if isinstance(o, dict)], version)
