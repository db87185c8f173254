"""In-memory caches of watched objects, indexed by namespace/name, by owner uid and by label.

Filled by the informers (`rollouts.controller.watching`), read by the observe step of every reconcile
(`rollouts.controller.observing.ObjectSource`): a reconcile reads the Rollout and what it owns from here, not
from the API server, so a no-op resync costs zero requests. `CachedSource` answers from a cache when the
resource is watched and falls back to the API client otherwise (templates, Services, router objects).

Objects are the wire dicts as the API server sent them, less two fields no decision reads (`trim`:
`metadata.managedFields` and the `kubectl.kubernetes.io/last-applied-configuration` annotation, which together
often outweigh the rest of an object, as client-go users strip them with an informer transform); callers must
not mutate them (copy first).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from rollouts.kube.client import KubeClient
from rollouts.kube.errors import NotFound
from rollouts.kube.resources import Resource

Obj = dict[str, Any]
Key = tuple[str, str]  # (namespace, name)


LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def trim(obj: Obj) -> Obj:
    """`obj` without what the controller never reads: `metadata.managedFields` (server-side apply's field
    owners) and the last-applied-configuration annotation (a second copy of the object as `kubectl apply` sent
    it; Argo too does not copy it onto ReplicaSets). Changes `obj` in place (a freshly decoded answer) and
    returns it."""
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
        annotations = meta.get("annotations")
        if isinstance(annotations, dict) and LAST_APPLIED in annotations:
            meta["annotations"] = {k: v for k, v in annotations.items() if k != LAST_APPLIED}
    return obj


# ------------------------------------------------------------------ label selectors


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!"
    values: frozenset[str] = frozenset()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("=", "in"):
            return present and labels[self.key] in self.values
        return not present or labels[self.key] not in self.values  # "!=", "notin"


_SET = re.compile(r"^\s*([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def parse_selector(selector: str | None) -> tuple[Requirement, ...]:
    """Kubernetes label selector syntax: `a=b,c!=d,e,!f,g in (x,y),h notin (z)`.

    Raises ValueError with the offending term for malformed input.
    """
    if not selector or not selector.strip():
        return ()
    terms: list[str] = []
    depth, start = 0, 0
    for i, ch in enumerate(selector):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            terms.append(selector[start:i])
            start = i + 1
    terms.append(selector[start:])
    out: list[Requirement] = []
    for raw in terms:
        term = raw.strip()
        m = _SET.match(term)
        if m:
            values = frozenset(v.strip() for v in m.group(3).split(",") if v.strip())
            out.append(Requirement(m.group(1), m.group(2), values))
        elif "!=" in term:
            k, v = term.split("!=", 1)
            out.append(Requirement(k.strip(), "!=", frozenset([v.strip()])))
        elif "=" in term:
            k, v = term.replace("==", "=").split("=", 1)
            out.append(Requirement(k.strip(), "=", frozenset([v.strip()])))
        elif term.startswith("!") and re.fullmatch(r"![\w./-]+", term):
            out.append(Requirement(term[1:], "!"))
        elif re.fullmatch(r"[\w./-]+", term):
            out.append(Requirement(term, "exists"))
        else:
            raise ValueError(f"invalid label selector term {term!r} in {selector!r}")
    return tuple(out)


# ------------------------------------------------------------------ the store


def _key(obj: Obj) -> Key:
    meta = obj.get("metadata") or {}
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))


def _owners(obj: Obj) -> list[str]:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return [str(r.get("uid")) for r in refs if isinstance(r, dict) and r.get("uid")]


def _labels(obj: Obj) -> dict[str, str]:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return labels if isinstance(labels, dict) else {}


class Store:
    """Objects of one resource, with indexes by namespace, owner uid and label (key, value)."""

    def __init__(self, resource: Resource) -> None:
        self.resource = resource
        self._objects: dict[Key, Obj] = {}
        self._by_ns: dict[str, set[Key]] = {}
        self._by_owner: dict[str, set[Key]] = {}
        self._by_label: dict[tuple[str, str], set[Key]] = {}

    def __len__(self) -> int:
        return len(self._objects)

    def __iter__(self) -> Iterator[Obj]:
        return iter(list(self._objects.values()))

    def keys(self) -> list[Key]:
        return list(self._objects)

    def get(self, namespace: str, name: str) -> Obj | None:
        return self._objects.get((namespace, name))

    def upsert(self, obj: Obj) -> Obj | None:
        """Store `obj` (`trim`med); returns the previous version (None when new)."""
        trim(obj)
        key = _key(obj)
        old = self._objects.get(key)
        if old is not None:
            self._unindex(key, old)
        self._objects[key] = obj
        self._by_ns.setdefault(key[0], set()).add(key)
        for uid in _owners(obj):
            self._by_owner.setdefault(uid, set()).add(key)
        for item in _labels(obj).items():
            self._by_label.setdefault(item, set()).add(key)
        return old

    def remove(self, obj: Obj) -> Obj | None:
        key = _key(obj)
        old = self._objects.pop(key, None)
        if old is not None:
            self._unindex(key, old)
            ns = self._by_ns.get(key[0])
            if ns is not None:
                ns.discard(key)
                if not ns:
                    del self._by_ns[key[0]]
        return old

    def _unindex(self, key: Key, obj: Obj) -> None:
        for uid in _owners(obj):
            keys = self._by_owner.get(uid)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_owner[uid]
        for item in _labels(obj).items():
            keys = self._by_label.get(item)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_label[item]

    def replace(self, objects: Iterable[Obj]) -> tuple[list[Obj], list[tuple[Obj, Obj]], list[Obj]]:
        """Swap the contents for a fresh list; returns (added, [(old, new) changed], deleted)."""
        fresh = {_key(o): o for o in objects}
        added: list[Obj] = []
        changed: list[tuple[Obj, Obj]] = []
        deleted = [o for k, o in self._objects.items() if k not in fresh]
        for obj in deleted:
            self.remove(obj)
        for key, obj in fresh.items():
            old = self._objects.get(key)
            self.upsert(obj)
            if old is None:
                added.append(obj)
            elif _rv(old) != _rv(obj):
                changed.append((old, obj))
        return added, changed, deleted

    def owned_by(self, uid: str) -> list[Obj]:
        return [self._objects[k] for k in sorted(self._by_owner.get(uid, ()))]

    def list(self, namespace: str | None = None, label_selector: str | None = None) -> list[Obj]:
        """Objects in `namespace` (all when None) matching `label_selector`, sorted by namespace/name."""
        requirements = parse_selector(label_selector)
        candidates: set[Key] | None = None
        for req in requirements:
            if req.op == "=":
                (value,) = req.values
                hit = self._by_label.get((req.key, value), set())
                candidates = set(hit) if candidates is None else candidates & hit
        if namespace:
            in_ns = self._by_ns.get(namespace, set())
            candidates = set(in_ns) if candidates is None else candidates & in_ns
        keys = self._objects.keys() if candidates is None else candidates
        out = []
        for key in sorted(keys):
            obj = self._objects[key]
            if requirements:
                labels = _labels(obj)
                if not all(r.matches(labels) for r in requirements):
                    continue
            out.append(obj)
        return out


def _rv(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


class CachedSource:
    """`ObjectSource` for the observe step: cached resources answer from their store, others from the API.

    `stores` maps a resource's (group, plural) to the store an informer fills. A store added with `ready`
    (a read-through cache: templates, Services) answers only once `ready()` says its informer has listed, and
    a name it does not hold is asked of the API server: an object created a moment ago, or a resource the
    controller may not list, is still found, while the common case (the object is there) costs no request.
    """

    def __init__(self, client: KubeClient, stores: dict[tuple[str, str], Store] | None = None) -> None:
        self.client = client
        self.stores: dict[tuple[str, str], Store] = dict(stores or {})
        self.ready: dict[tuple[str, str], Callable[[], bool]] = {}

    def add(self, store: Store, *, ready: Callable[[], bool] | None = None) -> None:
        key = (store.resource.group, store.resource.plural)
        self.stores[key] = store
        if ready is not None:
            self.ready[key] = ready

    def store(self, resource: Resource) -> Store | None:
        key = (resource.group, resource.plural)
        ready = self.ready.get(key)
        if ready is not None and not ready():
            return None
        return self.stores.get(key)

    async def get(self, resource: Resource, name: str, namespace: str | None = None) -> Obj:
        store = self.store(resource)
        if store is None:
            return await self.client.get(resource, name, namespace)
        ns = (namespace or self.client.namespace) if resource.namespaced else ""
        obj = store.get(ns, name)
        if obj is None:
            if (resource.group, resource.plural) in self.ready:  # read-through: maybe not watched yet
                return await self.client.get(resource, name, namespace)
            raise NotFound(f"get {resource.plural} {ns}/{name}: not found in the cache", status=404)
        return obj

    async def list(
        self, resource: Resource, namespace: str | None = None, *, label_selector: str | None = None
    ) -> list[Obj]:
        store = self.store(resource)
        if store is None:
            return await self.client.list(resource, namespace, label_selector=label_selector)
        return store.list(namespace, label_selector)
