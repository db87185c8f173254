"""Ephemeral metadata: `canaryMetadata` / `stableMetadata` (canary), `previewMetadata` / `activeMetadata`
(blue-green). docs/semantics/controller.md#ephemeral-metadata. PURE.

Labels and annotations that a pod carries for as long as it plays a role: the canary pods carry
`canaryMetadata`, the stable ones `stableMetadata`, and at promotion the new pods swap the first for the second
in place (no restart). Argo (rollout/ephemeralmetadata.go `reconcileEphemeralMetadata`, utils/replicaset/canary.go
`SyncEphemeralPodMetadata`, `SyncReplicaSetEphemeralPodMetadata`, rollout/sync.go `createDesiredReplicaSet`):

- a new ReplicaSet's template gets the canary (preview) metadata when a stable ReplicaSet exists, else the stable
  (active) metadata: a first revision becomes the stable one;
- on every pass, while the update is under way the new ReplicaSet gets the canary metadata and the stable one the
  stable metadata; once fully promoted the new ReplicaSet gets the stable metadata; every other ReplicaSet loses
  what was injected;
- what was injected is recorded on the ReplicaSet in `rollout.argoproj.io/ephemeral-metadata` (Go's JSON of
  `{labels, annotations}`), so that keys no longer wanted are removed and nothing else is touched (a label set
  by someone else, an Istio sidecar's annotation);
- the ReplicaSet's template is changed first (so pods created meanwhile have the new metadata), then its pods.

Here the pods are relabelled by the `SyncPodMetadata` action (rollouts.controller.applying), which writes the
record last: a pass that sees a ReplicaSet whose record is not what it should be (a controller stopped between
the two writes) syncs its pods again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rollouts.models.vocabulary import EPHEMERAL_METADATA_ANNOTATION
from rollouts.strategy.plan import PodMetadata, ReplicaSetState, SyncPodMetadata

if TYPE_CHECKING:
    from rollouts.models.common import PodTemplateMetadata
    from rollouts.strategy.context import Context

__all__ = ["Patch", "configured", "encode", "inject", "parse", "reconcile", "sync"]


@dataclass(frozen=True)
class Patch:
    """Keys to set (a value) or remove (None), for labels and annotations."""

    labels: dict[str, str | None] = field(default_factory=dict)
    annotations: dict[str, str | None] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.labels or self.annotations)


def _go_string(text: str) -> str:
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def encode(metadata: PodMetadata) -> str:
    """Go's `json.Marshal(PodTemplateMetadata)`: labels then annotations, empty ones omitted, keys sorted."""
    out: dict[str, Any] = {}
    if metadata.labels:
        out["labels"] = dict(sorted(metadata.labels.items()))
    if metadata.annotations:
        out["annotations"] = dict(sorted(metadata.annotations.items()))
    return _go_string(json.dumps(out, separators=(",", ":"), ensure_ascii=False))


def parse(text: str | None) -> PodMetadata | None:
    """`ParseExistingPodMetadata`: the record on a ReplicaSet; None when absent or not readable."""
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, Mapping):
        return None

    def strings(key: str) -> dict[str, str]:
        part = value.get(key)
        return {str(k): str(v) for k, v in part.items()} if isinstance(part, Mapping) else {}

    return PodMetadata(labels=strings("labels"), annotations=strings("annotations"))


def of_model(model: PodTemplateMetadata | None) -> PodMetadata | None:
    if model is None:
        return None
    return PodMetadata(labels=dict(model.labels or {}), annotations=dict(model.annotations or {}))


def sync(
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    existing: PodMetadata | None,
    desired: PodMetadata | None,
) -> Patch:
    """`SyncEphemeralPodMetadata`: set every desired key whose value differs; remove every key injected before
    (`existing`) that is no longer desired and is still there. Nothing else is touched."""
    patch = Patch()
    for have, want, out in (
        (labels, desired.labels if desired else {}, patch.labels),
        (annotations, desired.annotations if desired else {}, patch.annotations),
    ):
        for key, value in want.items():
            if have.get(key) != value:
                out[key] = value
    if existing is not None:
        for have, old, want, out in (
            (labels, existing.labels, desired.labels if desired else {}, patch.labels),
            (annotations, existing.annotations, desired.annotations if desired else {}, patch.annotations),
        ):
            for key in old:
                if key not in want and key in have:
                    out[key] = None
    return patch


def _record(desired: PodMetadata | None) -> str | None:
    """The record a ReplicaSet carries once it has `desired` (none for nothing to inject)."""
    if desired is None or not (desired.labels or desired.annotations):
        return None
    return encode(desired)


def _roles(ctx: Context) -> tuple[PodMetadata | None, PodMetadata | None]:
    """(metadata of the new pods during an update, metadata of the stable pods)."""
    if ctx.canary is not None:
        return of_model(ctx.canary.canary_metadata), of_model(ctx.canary.stable_metadata)
    if ctx.bluegreen is not None:
        return of_model(ctx.bluegreen.preview_metadata), of_model(ctx.bluegreen.active_metadata)
    return None, None


def configured(ctx: Context) -> bool:
    """`hasEphemeralMetadataConfigured`."""
    new, stable = _roles(ctx)
    return new is not None or stable is not None


def inject(ctx: Context, template: dict[str, Any]) -> dict[str, str]:
    """`createDesiredReplicaSet`: the metadata of a ReplicaSet about to be created, into `template` (in place);
    returns the ReplicaSet annotations to add (the record)."""
    new, stable = _roles(ctx)
    desired = new if ctx.stable_rs is not None else stable
    meta = template.setdefault("metadata", {})
    patch = sync(meta.get("labels") or {}, meta.get("annotations") or {}, None, desired)
    if not patch:
        return {}
    for key, patch_part in (("labels", patch.labels), ("annotations", patch.annotations)):
        if patch_part:
            meta[key] = {**(meta.get(key) or {}), **{k: v for k, v in patch_part.items() if v is not None}}
    record = _record(desired)
    return {EPHEMERAL_METADATA_ANNOTATION: record} if record else {}


def reconcile(ctx: Context) -> None:
    """`reconcileEphemeralMetadata`: one `SyncPodMetadata` per ReplicaSet whose metadata is not what its role
    wants."""
    if not configured(ctx) or ctx.new_rs is None:
        return
    new, stable = _roles(ctx)
    stable_hash = ctx.status.stable_rs
    if not stable_hash or stable_hash == ctx.new_rs.pod_template_hash:
        _sync_replica_set(ctx, ctx.new_rs, stable)
    else:
        _sync_replica_set(ctx, ctx.new_rs, new)
        _sync_replica_set(ctx, ctx.stable_rs, stable)
    for rs in ctx.other_rss:
        _sync_replica_set(ctx, rs, None)


def _sync_replica_set(ctx: Context, rs: ReplicaSetState | None, desired: PodMetadata | None) -> None:
    if rs is None:
        return
    stored = rs.annotations.get(EPHEMERAL_METADATA_ANNOTATION)
    existing = parse(stored)
    meta = rs.template.get("metadata") or {}
    patch = sync(meta.get("labels") or {}, meta.get("annotations") or {}, existing, desired)
    record = _record(desired)
    if not patch and stored == record:
        return
    ctx.actions.append(
        SyncPodMetadata(
            replica_set=rs.name,
            pod_template_hash=rs.pod_template_hash,
            labels=patch.labels,
            annotations=patch.annotations,
            record=record,
            existing=existing,
            desired=desired,
            pods=rs.spec_replicas > 0,
        )
    )
