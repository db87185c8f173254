"""Deletion and garbage collection: finalizers, ownerReference cascades, namespaces and CRDs.

Where it sits: called by the store (`storing.Store.delete`, `delete_collection`, and `_write` when the last
finalizer goes). Removing an object garbage-collects its dependents — every object whose ownerReferences
name it and that has no other live owner — cascading (Rollout → ReplicaSets → Pods); with
`propagationPolicy: Orphan` the dependents only lose that ownerReference. Removing a namespace removes its
contents; removing a CRD removes its objects and stops serving it. Synchronous, so a client sees the
dependents gone as soon as the owner's DELETE returns (the real GC is asynchronous; nothing may rely on it
being slower).
"""

from __future__ import annotations

from rollouts.sandbox.objects import meta, timestamp, with_meta
from rollouts.sandbox.resources import CRD_KEY, NAMESPACE_KEY
from rollouts.sandbox.storeview import Key, Obj, StoreView
from rollouts.sandbox.watching import Event


def delete_object(store: StoreView, key: Key, obj: Obj, orphan: bool = False) -> Obj:
    """Delete as the API does: mark it terminating while finalizers remain, else remove it now."""
    m = meta(obj)
    if m.get("finalizers"):
        if m.get("deletionTimestamp"):
            return obj
        rt = store.registry.preferred(*key)
        assert rt is not None
        new = with_meta(obj, deletionTimestamp=timestamp(), deletionGracePeriodSeconds=0)
        return store._write(rt, obj, new, internal=True)
    return remove(store, key, obj, None, orphan)


def remove(store: StoreView, key: Key, old: Obj, last: Obj | None, orphan: bool = False) -> Obj:
    """Remove an object for good (DELETED event), then what it contained or owned."""
    m = meta(old)
    ns, name, uid = m.get("namespace", ""), m["name"], m.get("uid", "")
    store.rv += 1
    final = with_meta(last or old, resourceVersion=str(store.rv))
    del store.objects[key][ns][name]
    store.encodings.drop(old)
    store._index(key, ns, name, old, None)
    store._commit(key, Event("DELETED", final, None, store.rv))
    if key == CRD_KEY:
        for rt in store.registry.drop_crd(name):
            for objs in list(store.objects.get(rt.key, {}).values()):
                for obj in list(objs.values()):
                    remove(store, rt.key, obj, None)
            for w in store.watchers.pop(rt.key, set()):
                w.close()
    elif key == NAMESPACE_KEY:
        for k in list(store.objects):
            for obj in list(store.objects[k].get(name, {}).values()):
                if store.find(k, name, meta(obj)["name"]) is not None:
                    remove(store, k, obj, None)
    collect(store, uid, orphan)
    return final


def collect(store: StoreView, owner_uid: str, orphan: bool) -> None:
    """Garbage collection of the dependents of a removed owner (cascading through `_delete`)."""
    for dkey, dns, dname in sorted(store.dependents.pop(owner_uid, set())):
        dep = store.find(dkey, dns, dname)
        if dep is None:
            continue
        refs = meta(dep).get("ownerReferences") or []
        live = [
            r
            for r in refs
            if isinstance(r, dict) and r.get("uid") != owner_uid and r.get("uid") in store.uids
        ]
        if orphan or live:
            rt = store.registry.preferred(*dkey)
            assert rt is not None
            kept = [r for r in refs if not (isinstance(r, dict) and r.get("uid") == owner_uid)]
            store._write(rt, dep, with_meta(dep, ownerReferences=kept or None), internal=True)
        else:
            delete_object(store, dkey, dep)
