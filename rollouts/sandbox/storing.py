"""The in-memory object store: resourceVersions, optimistic concurrency, subresources, finalizers, GC, watch.

Where it sits: the single source of truth of the sandbox. The HTTP layer (`serving`), the workload simulator
(`simulating`) and the Python test API call it from the server's event loop thread only, so every operation is
atomic: a list and the subscription of a watch that follows it cannot interleave with a write.

Rules kept as kube-apiserver keeps them:
- one global, monotonic resourceVersion; a write with a stale `metadata.resourceVersion` (PUT, or a patch
  whose result carries one) is a 409 Conflict; a PUT of a custom resource must carry one (422 otherwise);
- a write that changes nothing is not a write: no new resourceVersion, no event;
- `metadata.generation` starts at 1 and bumps only when something outside metadata and status changes
  (status counts too for types without a status subresource);
- with a status subresource, the main resource ignores `status` (and drops it on create), and `/status`
  changes only `status`; `/scale` maps autoscaling/v1 Scale to the type's replicas paths;
- fields a custom resource's structural schema does not declare are pruned on every write (`pruning`);
- delete of an object with finalizers sets `deletionTimestamp`; it goes when the last finalizer is removed;
  removal garbage-collects dependents, namespaces and CRD objects (`collecting`);
- a body whose fields do not fit the built-in kind's Go types is refused before anything else
  (`fieldtypes`); server-side checks and derived views (names, labels, selectors, CRD status, Scale) live in
  `validating`;
- an object over etcd's size limit is refused; every resource keeps a bounded event history, and a watch from
  a version older than that history gets 410 (`eventlog`; label and owner indexes in `indexing`).
"""

from __future__ import annotations

import random
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from rollouts.sandbox import collecting, errors, eventlog, fieldtypes, indexing, persisting, validating
from rollouts.sandbox.decoding import check_types
from rollouts.sandbox.objects import (
    apply_defaults,
    content,
    meta,
    name_problem,
    random_suffix,
    set_path,
    timestamp,
    with_meta,
)
from rollouts.sandbox.patching import APPLY, apply_patch
from rollouts.sandbox.pruning import prune
from rollouts.sandbox.refusals import Refusals
from rollouts.sandbox.resources import (
    CRD_KEY,
    NAMESPACE_KEY,
    Registry,
    ResourceType,
    crd_problem,
    types_from_crd,
)
from rollouts.sandbox.selectors import Selector
from rollouts.sandbox.storeview import Encodings, Key, Listener, Obj
from rollouts.sandbox.watching import MAX_BYTES, MAX_EVENTS, Event, Watcher

# Metadata the server owns: a client's value is ignored on update.
_SERVER_META = ("uid", "creationTimestamp", "generation", "deletionTimestamp", "deletionGracePeriodSeconds")


class Store:
    """Objects by (group, plural) → namespace ("" for cluster-scoped) → name."""

    def __init__(
        self,
        *,
        history: int = 1000,
        history_bytes: int = eventlog.HISTORY_BYTES,
        seed: int | None = None,
        auto_namespaces: bool = True,
        watch_buffer_events: int = MAX_EVENTS,
        watch_buffer_bytes: int = MAX_BYTES,
    ) -> None:
        self.registry = Registry.with_builtins()
        self.history = history
        self.history_bytes = history_bytes
        self.watch_buffer = (watch_buffer_events, watch_buffer_bytes)
        self.auto_namespaces = auto_namespaces
        self.rng = random.Random(seed)
        self.rv = 0
        self.objects: dict[Key, dict[str, dict[str, Obj]]] = {}
        self.logs: dict[Key, deque[Event]] = {}
        self.log_bytes: dict[Key, int] = {}
        # What was refused or cut (`/sandbox/healthz` shows it): nothing the server refuses is silent.
        self.counters = Refusals()
        self.encodings = Encodings()
        self.compacted: dict[Key, int] = {}
        self.watchers: dict[Key, set[Watcher]] = {}
        self.uids: dict[str, tuple[Key, str, str]] = {}
        self.dependents: dict[str, set[tuple[Key, str, str]]] = {}
        self.label_index: dict[tuple[Key, str], dict[tuple[str, str], set[str]]] = {}
        self.listeners: list[Listener] = []
        self.floor = 0  # versions at or below this were restored from a state file: no history for them
        ns_type = self.registry.preferred(*NAMESPACE_KEY)
        assert ns_type is not None
        for ns in ("default", "kube-system", "kube-public"):
            self.create(ns_type, "", {"metadata": {"name": ns}})

    # ------------------------------------------------------------------ lookup
    def resource(self, group: str, version: str, plural: str) -> ResourceType:
        rt = self.registry.lookup(group, version, plural)
        if rt is None:
            raise errors.path_not_found(f"{group}/{version}/{plural}")
        return rt

    def find(self, key: Key, namespace: str, name: str) -> Obj | None:
        return self.objects.get(key, {}).get(namespace, {}).get(name)

    def get(self, rt: ResourceType, namespace: str, name: str) -> Obj:
        obj = self.find(rt.key, namespace if rt.namespaced else "", name)
        if obj is None:
            raise errors.not_found(rt.group, rt.plural, name)
        return obj

    def select(
        self,
        rt: ResourceType,
        namespace: str | None,
        selector: Selector | None = None,
        limit: int = 0,
        after: tuple[str, str] | None = None,
    ) -> tuple[list[Obj], int, tuple[str, str] | None]:
        """Matching objects sorted by (namespace, name), the list resourceVersion, and a continue key.
        A `limit` of 0 or less means no limit, as kube-apiserver reads it."""
        limit = max(limit, 0)
        by_ns = self.objects.get(rt.key, {})
        spaces = [namespace] if namespace is not None else sorted(by_ns)
        items: list[Obj] = []
        sel = selector if selector is not None and not selector.empty else None
        for ns in spaces:
            objs = by_ns.get(ns)
            if not objs:
                continue
            if sel is not None and sel.name is not None:
                names = [sel.name]
            elif sel is not None and sel.equalities:
                names = sorted(self._candidates(rt.key, ns, sel.equalities))
            else:
                names = sorted(objs)
            for name in names:
                if after is not None and (ns, name) <= after:
                    continue
                obj = objs.get(name)
                if obj is not None and (sel is None or sel(obj)):
                    items.append(obj)
                    if limit and len(items) > limit:
                        break
            if limit and len(items) > limit:
                break
        nxt = None
        if limit and len(items) > limit:
            items = items[:limit]
            last = meta(items[-1])
            nxt = (last.get("namespace", ""), last["name"])
        return items, self.rv, nxt

    # ------------------------------------------------------------------ create
    def create(
        self, rt: ResourceType, namespace: str, body: Any, *, internal: bool = False, dry_run: bool = False
    ) -> Obj:
        if not isinstance(body, dict):
            raise errors.bad_request("the request body must be a JSON object")
        if not internal:  # the sandbox's own objects are built well-typed
            check_types(rt, body)
        body_meta = body.get("metadata") or {}
        validating.check_kind(rt, body)
        ns = namespace if rt.namespaced else ""
        if rt.namespaced:
            body_ns = body_meta.get("namespace")
            if body_ns and ns and body_ns != ns:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            ns = ns or body_ns or ""
            if not ns:
                raise errors.bad_request("the namespace of the object is required for a namespaced resource")
        name = body_meta.get("name")
        if not name:
            prefix = body_meta.get("generateName")
            if not prefix:
                raise errors.invalid(
                    rt.kind, rt.group, "", "metadata.name", "Required value: name or generateName is required"
                )
            for _ in range(20):
                name = prefix + random_suffix(self.rng)
                if self.find(rt.key, ns, name) is None:
                    break
        assert isinstance(name, str)
        problem = name_problem(name, label=rt.key == NAMESPACE_KEY)
        if problem:
            raise errors.invalid(rt.kind, rt.group, name, "metadata.name", problem)
        validating.check_labels(rt, name, body_meta)
        if self.find(rt.key, ns, name) is not None:
            raise errors.already_exists(rt.group, rt.plural, name)
        missing_namespace = rt.namespaced and self.find(NAMESPACE_KEY, "", ns) is None
        if missing_namespace and not self.auto_namespaces:
            raise errors.not_found("", "namespaces", ns)
        obj = dict(body)
        obj["apiVersion"] = rt.api_version
        obj["kind"] = rt.kind
        if rt.has_status and not internal:
            obj.pop("status", None)
        m = {
            k: v
            for k, v in body_meta.items()
            if k not in ("resourceVersion", "deletionTimestamp", "selfLink")
        }
        m["name"] = name
        if rt.namespaced:
            m["namespace"] = ns
        else:
            m.pop("namespace", None)
        m["uid"] = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        m["creationTimestamp"] = timestamp()
        m["generation"] = 1
        obj["metadata"] = m
        obj = apply_defaults(rt.key, obj, None, self.rng)
        obj = validating.validate(rt, obj)
        if rt.schema is not None:
            obj = prune(obj, rt.schema)
        if rt.key == CRD_KEY:
            obj = validating.crd_status(obj)
        if dry_run:
            return with_meta(obj, resourceVersion=str(self.rv))
        obj["metadata"]["resourceVersion"] = str(self.rv + 1)
        # The sandbox's own writes (its CRDs, the simulated kubelet's pods) are not measured: only clients'.
        encoded = None if internal else self._storable(obj)
        if missing_namespace:  # created on first use, once the object is known to be valid
            ns_rt = self.registry.preferred(*NAMESPACE_KEY)
            assert ns_rt is not None
            self.create(ns_rt, "", {"metadata": {"name": ns}}, internal=True)
            encoded = None  # its resourceVersion moved on
        if rt.key == CRD_KEY:
            self.registry.set_crd(name, types_from_crd(obj))
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self.objects.setdefault(rt.key, {}).setdefault(ns, {})[name] = obj
        self._index(rt.key, ns, name, None, obj)
        self._commit(rt.key, Event("ADDED", obj, None, self.rv), encoded)
        return obj

    # ------------------------------------------------------------------ update / patch
    def replace(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        body: Any,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> Obj:
        if not isinstance(body, dict):
            raise errors.bad_request("the request body must be a JSON object")
        old = self.get(rt, namespace, name)
        if subresource == "scale":
            check_types(rt, body, t=fieldtypes.SCALE)
        else:
            check_types(rt, body)
            validating.check_kind(rt, body)
        body_meta = body.get("metadata") or {}
        if body_meta.get("name") not in (None, name):
            raise errors.bad_request(
                f"the name of the object ({body_meta.get('name')}) does not match the name on the URL ({name})"
            )
        if rt.namespaced and body_meta.get("namespace") not in (None, "", meta(old).get("namespace")):
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        self._precondition(rt, old, body_meta.get("resourceVersion"))
        if rt.custom and subresource != "scale" and not body_meta.get("resourceVersion"):
            # Custom resources do not allow unconditional updates (built-in types do).
            raise errors.invalid(
                rt.kind,
                rt.group,
                name,
                "metadata.resourceVersion",
                "Invalid value: 0x0: must be specified for an update",
            )
        if subresource == "scale":
            return self._scale_update(rt, old, body, dry_run)
        new = self._merge_update(rt, old, body, subresource)
        return self._write(rt, old, new, dry_run=dry_run)

    def patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        content_type: str,
        patch: Any,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> tuple[Obj, bool]:
        """Apply a patch; returns (object, created) — created only for an apply patch on a missing object."""
        ns = namespace if rt.namespaced else ""
        old = self.find(rt.key, ns, name)
        if old is None:
            if content_type == APPLY and subresource is None and isinstance(patch, dict):
                check_types(rt, patch)
                body = dict(patch)
                body["metadata"] = dict(body.get("metadata") or {}, name=name)
                return self.create(rt, namespace, body, dry_run=dry_run), True
            raise errors.not_found(rt.group, rt.plural, name)
        if subresource == "scale":
            scale = validating.scale_view(rt, old)
            patched = apply_patch(scale, content_type, patch)
            check_types(rt, patched, patched=True, t=fieldtypes.SCALE)
            self._precondition(rt, old, meta(patched).get("resourceVersion"))
            return self._scale_update(rt, old, patched, dry_run), False
        patched = apply_patch(old, content_type, patch)
        check_types(rt, patched, patched=True)
        patched_meta = patched.get("metadata")
        if not isinstance(patched_meta, dict):
            raise errors.unprocessable("metadata must be an object")
        if patched_meta.get("name") != name:
            raise errors.bad_request("the name of the object cannot be changed by a patch")
        validating.check_labels(rt, name, patched_meta)
        self._precondition(rt, old, patched_meta.get("resourceVersion"))
        new = self._merge_update(rt, old, patched, subresource)
        return self._write(rt, old, new, dry_run=dry_run), False

    def _precondition(self, rt: ResourceType, old: Obj, rv: Any) -> None:
        if rv not in (None, "") and str(rv) != meta(old).get("resourceVersion"):
            raise errors.conflict(rt.group, rt.plural, meta(old)["name"])

    def _merge_update(self, rt: ResourceType, old: Obj, body: Obj, subresource: str | None) -> Obj:
        """The object a PUT (or a patch result) asks for, with server-owned fields restored."""
        old_meta = meta(old)
        if subresource == "status":
            new = dict(old)
            if "status" in body:
                new["status"] = body["status"]
            else:
                new.pop("status", None)
            return new
        new = dict(body)
        new["apiVersion"] = old["apiVersion"]
        new["kind"] = old["kind"]
        m = dict(body.get("metadata") or {})
        for k in (*_SERVER_META, "name", "namespace", "resourceVersion"):
            if k in old_meta:
                m[k] = old_meta[k]
            else:
                m.pop(k, None)
        new["metadata"] = m
        if rt.has_status:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        new = apply_defaults(rt.key, new, old, self.rng)
        return validating.validate(rt, new)

    def _write(
        self, rt: ResourceType, old: Obj, new: Obj, *, dry_run: bool = False, internal: bool = False
    ) -> Obj:
        """Store `new` in place of `old` unless nothing changed; bump generation on a content change.
        `internal`: a write of the sandbox's own (status from the simulator, garbage collection), not sized."""
        if rt.key == CRD_KEY:
            problem = crd_problem(new)
            if problem:
                raise errors.invalid(rt.kind, rt.group, meta(old)["name"], *problem)
            new = validating.crd_status(new)
        if rt.schema is not None:
            new = prune(new, rt.schema)
        if new == old:
            return old
        old_meta = meta(old)
        m = dict(meta(new))
        if content(new, with_status=not rt.has_status) != content(old, with_status=not rt.has_status):
            m["generation"] = int(old_meta.get("generation", 1)) + 1
        new["metadata"] = m
        if dry_run:
            return new
        ns, name = old_meta.get("namespace", ""), old_meta["name"]
        if m.get("deletionTimestamp") and not m.get("finalizers"):
            return collecting.remove(self, rt.key, old, new)
        m["resourceVersion"] = str(self.rv + 1)
        encoded = None if internal else self._storable(new)
        if rt.key == CRD_KEY:
            self.registry.set_crd(name, types_from_crd(new))
        self.rv += 1
        self.objects[rt.key][ns][name] = new
        self._index(rt.key, ns, name, old, new)
        self._commit(rt.key, Event("MODIFIED", new, old, self.rv), encoded)
        return new

    # ------------------------------------------------------------------ scale subresource
    def scale(self, rt: ResourceType, obj: Obj) -> Obj:
        return validating.scale_view(rt, obj)

    def _scale_update(self, rt: ResourceType, old: Obj, scale: Obj, dry_run: bool) -> Obj:
        replicas = (scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise errors.invalid(
                "Scale",
                "autoscaling",
                meta(old)["name"],
                "spec.replicas",
                f"Invalid value: {replicas!r}: must be greater than or equal to 0",
            )
        new = set_path(old, rt.scale_paths[0], replicas)
        return validating.scale_view(rt, self._write(rt, old, new, dry_run=dry_run))

    # ------------------------------------------------------------------ delete
    def delete(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        dry_run: bool = False,
    ) -> Obj:
        old = self.get(rt, namespace, name)
        options = options or {}
        pre = options.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != meta(old).get("uid"):
            raise errors.conflict(
                rt.group, rt.plural, name, "Precondition failed: UID in precondition does not match"
            )
        if pre.get("resourceVersion") and pre["resourceVersion"] != meta(old).get("resourceVersion"):
            raise errors.conflict(
                rt.group,
                rt.plural,
                name,
                "Precondition failed: ResourceVersion in precondition does not match",
            )
        if dry_run:
            return old
        orphan = options.get("propagationPolicy") == "Orphan" or options.get("orphanDependents") is True
        return collecting.delete_object(self, rt.key, old, orphan)

    def delete_collection(
        self,
        rt: ResourceType,
        namespace: str | None,
        selector: Selector,
        options: dict[str, Any] | None = None,
    ) -> list[Obj]:
        items, _, _ = self.select(rt, namespace, selector)
        orphan = (options or {}).get("propagationPolicy") == "Orphan"
        return [collecting.delete_object(self, rt.key, obj, orphan) for obj in items]

    # ------------------------------------------------------------------ watch
    def watch(
        self,
        rt: ResourceType,
        namespace: str | None,
        selector: Selector,
        resource_version: str | None,
        *,
        send_initial: bool | None = None,
        bookmarks: bool = False,
        render: Callable[[Obj], Obj] | None = None,
    ) -> Watcher:
        """A subscribed watcher, pre-filled with the initial or replayed events (atomically with the write path)."""
        return eventlog.subscribe(
            self, rt, namespace, selector, resource_version, send_initial=send_initial, bookmarks=bookmarks,
            render=render,
        )  # fmt: skip

    def unwatch(self, w: Watcher) -> None:
        w.close()
        self.watchers.get(w.rt.key, set()).discard(w)

    # ------------------------------------------------------------------ in-process helpers
    def put_status(self, key: Key, namespace: str, name: str, status: dict[str, Any]) -> Obj | None:
        """Replace an object's status as a controller would through /status (None if the object is gone)."""
        old = self.find(key, namespace, name)
        rt = self.registry.preferred(*key)
        if old is None or rt is None:
            return None
        new = dict(old)
        new["status"] = status
        return self._write(rt, old, new, internal=True)

    def restore(self, objects: list[Obj], resource_version: int) -> None:
        """Load objects as they are (uids, versions kept), without events: see `persisting.restore`."""
        persisting.restore(self, objects, resource_version)

    def dump(self) -> list[Obj]:
        """Every stored object (shared: do not mutate), CRDs and namespaces first."""
        return persisting.dump(self)

    # ------------------------------------------------------------------ internals
    def _storable(self, obj: Obj) -> bytes:
        return eventlog.storable(self, obj)

    def _commit(self, key: Key, event: Event, encoded: bytes | None = None) -> None:
        """Record and fan out `event`; `encoded` is its object's JSON when the write was measured."""
        eventlog.commit(self, key, event, encoded)

    def _candidates(self, key: Key, ns: str, equalities: list[tuple[str, str]]) -> set[str]:
        return indexing.candidates(self, key, ns, equalities)

    def _index(self, key: Key, ns: str, name: str, old: Obj | None, new: Obj | None) -> None:
        indexing.update(self, key, ns, name, old, new)
