"""The store's indexes: label pairs to names, owner uids to dependents, uids to objects.

Where it sits: the store (`storing`) calls `update` on every write, removal and restore, so a selector
`app=x,tier=y` narrows a list to the names carrying both pairs (`candidates`) before the selector is
matched, garbage collection finds an owner's dependents without a scan (`collecting`), and an ownerReference
is live when its uid is stored.
"""

from __future__ import annotations

from typing import Any

from rollouts.sandbox.objects import meta, owner_uids
from rollouts.sandbox.storeview import Key, Obj, StoreView


def candidates(store: StoreView, key: Key, ns: str, equalities: list[tuple[str, str]]) -> set[str]:
    """Names in (key, ns) carrying every `label=value` pair (a superset check is still applied after)."""
    index = store.label_index.get((key, ns), {})
    sets = sorted((index.get(pair, set()) for pair in equalities), key=len)
    return set.intersection(*sets) if sets else set()


def _labels(obj: Obj | None) -> dict[str, Any]:
    labels = meta(obj).get("labels") if obj is not None else None
    return labels if isinstance(labels, dict) else {}


def update(store: StoreView, key: Key, ns: str, name: str, old: Obj | None, new: Obj | None) -> None:
    """Move (key, ns, name) from what `old` said to what `new` says (None: absent) in every index."""
    old_labels, new_labels = _labels(old), _labels(new)
    if old_labels != new_labels or old is None or new is None:
        index = store.label_index.setdefault((key, ns), {})
        for pair in old_labels.items():
            names = index.get(pair)
            if names is not None:
                names.discard(name)
                if not names:
                    del index[pair]
        for pair in new_labels.items():
            index.setdefault(pair, set()).add(name)
    ref = (key, ns, name)
    before = owner_uids(old) if old is not None else set()
    after = owner_uids(new) if new is not None else set()
    for uid in before - after:
        deps = store.dependents.get(uid)
        if deps is not None:
            deps.discard(ref)
    for uid in after - before:
        store.dependents.setdefault(uid, set()).add(ref)
    if old is not None and (new is None or meta(old).get("uid") != meta(new).get("uid")):
        store.uids.pop(meta(old).get("uid", ""), None)
    if new is not None and meta(new).get("uid"):
        store.uids[meta(new)["uid"]] = ref
