"""Notifications in the controller: the config watched and reloaded, the notifier wired to the reconcilers.

The ConfigMap `argo-rollouts-notification-configmap` and the Secret `argo-rollouts-notification-secret` are
watched (informers with a `metadata.name` field selector) in the controller's own namespace, read as Argo
reads it: the `POD_NAMESPACE` environment variable, default `argo-rollouts`. With
`--self-service-notification-enabled` the same pair is watched in every namespace, and a Rollout's own
namespace's pair applies to it first (a destination is sent once, by the most specific config that has its
service and trigger; Argo sends through both when both have them). A change to either object takes effect
on the next notification, without a restart; each config problem is said once at warning level
(`rollouts.notifications.config`: the rest of the config keeps working).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from loguru import logger

from rollouts.controller.caching import Obj
from rollouts.controller.recording import EventRecorder
from rollouts.controller.watching import Informer
from rollouts.kube.client import KubeClient, expecting
from rollouts.kube.errors import NotFound
from rollouts.kube.resources import CONFIG_MAPS, ROLLOUTS, SECRETS
from rollouts.models.vocabulary import POD_TEMPLATE_HASH_LABEL
from rollouts.notifications.config import (
    CONFIG_MAP_NAME,
    DEFAULT_NAMESPACE,
    SECRET_NAME,
    NotificationConfig,
    load_config,
)


def controller_namespace(watched: str | None = None) -> str:
    """The controller's own namespace as Argo reads it (`defaults.Namespace()`: POD_NAMESPACE, else
    `argo-rollouts`); a controller confined to one namespace (`--namespace`) without POD_NAMESPACE reads it
    there (it may read nothing else)."""
    return os.environ.get("POD_NAMESPACE") or watched or DEFAULT_NAMESPACE


class ConfigWatch:
    """`Configs` for the notifier, from two informers (ConfigMaps and Secrets of the two names)."""

    def __init__(
        self,
        client: KubeClient,
        *,
        namespace: str | None = None,
        watched: str | None = None,
        self_service: bool = False,
        watch_timeout: int = 300,
    ) -> None:
        self.namespace = namespace or controller_namespace(watched)
        self.self_service = self_service
        where = (watched if watched else None) if self_service else self.namespace
        self.config_maps = Informer(
            client,
            CONFIG_MAPS,
            namespace=where,
            field_selector=f"metadata.name={CONFIG_MAP_NAME}",
            watch_timeout=watch_timeout,
        )
        self.secrets = Informer(
            client,
            SECRETS,
            namespace=where,
            field_selector=f"metadata.name={SECRET_NAME}",
            watch_timeout=watch_timeout,
        )
        self._built: dict[str, tuple[tuple[str, str], NotificationConfig]] = {}

    def start(self) -> None:
        self.config_maps.start()
        self.secrets.start()

    async def stop(self) -> None:
        await self.config_maps.stop()
        await self.secrets.stop()

    async def wait_synced(self, within: float) -> None:
        """Until both watches have listed, at most `within` seconds (a refusal by RBAC must not hold the
        controller back: the notifications wait in their outboxes, said once)."""
        try:
            # asyncio.timeout, not wait_for: Python 3.11's wait_for can lose a cancellation that arrives as
            # the wait ends (the process stopping during start-up would then go on starting its workers)
            async with asyncio.timeout(within):
                await self.config_maps.wait_synced()
                await self.secrets.wait_synced()
        except TimeoutError:
            logger.warning(
                "notifications: {}/{} not listed after {} s (RBAC?); notifications wait in the Rollouts' outboxes",
                self.namespace,
                CONFIG_MAP_NAME,
                within,
            )

    def config(self, namespace: str) -> NotificationConfig | None:
        """The config of one namespace, rebuilt when its ConfigMap or Secret changed (None: no ConfigMap)."""
        cm = self.config_maps.store.get(namespace, CONFIG_MAP_NAME)
        if cm is None:
            self._built.pop(namespace, None)
            return None
        secret = self.secrets.store.get(namespace, SECRET_NAME)
        version = (
            str((cm.get("metadata") or {}).get("resourceVersion")),
            str(((secret or {}).get("metadata") or {}).get("resourceVersion")),
        )
        built = self._built.get(namespace)
        if built is not None and built[0] == version:
            return built[1]
        cfg = load_config(namespace, cm.get("data") or {}, (secret or {}).get("data") or {})
        for error in cfg.errors:
            logger.warning("notifications: {}", error)
        logger.info(
            "notifications: loaded {}/{}: {} services, {} triggers, {} templates",
            namespace,
            CONFIG_MAP_NAME,
            len(cfg.services),
            len(cfg.triggers),
            len(cfg.templates),
        )
        self._built[namespace] = (version, cfg)
        return cfg

    def configs_for(self, namespace: str) -> Sequence[NotificationConfig]:
        out = []
        if self.self_service and namespace != self.namespace:
            own = self.config(namespace)
            if own is not None:
                out.append(own)
        main = self.config(self.namespace)
        if main is not None:
            out.append(main)
        return out

    def any_subscriptions(self) -> bool:
        return any(
            "subscriptions" in (cm.get("data") or {}) or "defaultTriggers" in (cm.get("data") or {})
            for cm in self.config_maps.store
        )


def annotation_patcher(client: KubeClient) -> Any:
    """The notifier's writes: a merge patch of the Rollout's annotations (a deleted Rollout: nothing to do)."""

    async def patch(namespace: str, name: str, annotations: dict[str, str | None]) -> None:
        try:
            with expecting(404):
                await client.patch(ROLLOUTS, name, {"metadata": {"annotations": annotations}}, namespace)
        except NotFound:
            return

    return patch


def event_warner(events: EventRecorder) -> Any:
    def warn(obj: Mapping[str, Any], reason: str, message: str) -> None:
        events.emit(obj, "Warning", reason, message)

    return warn


def runs_of(runs: Informer) -> Any:
    """`analysisRuns` of the templates: the Rollout's runs of its current pod hash, newest first (Argo's
    `getAnalysisRunsFilterWithLabels`)."""

    def of(obj: Mapping[str, Any]) -> list[Obj]:
        meta = obj.get("metadata") or {}
        pod_hash = (obj.get("status") or {}).get("currentPodHash")
        uid = meta.get("uid")
        if not pod_hash:
            return []
        found = [
            run
            for run in runs.store
            if (run.get("metadata") or {}).get("namespace") == meta.get("namespace")
            and ((run.get("metadata") or {}).get("labels") or {}).get(POD_TEMPLATE_HASH_LABEL) == pod_hash
            and any(ref.get("uid") == uid for ref in (run.get("metadata") or {}).get("ownerReferences") or [])
        ]
        epoch = datetime.min.replace(tzinfo=UTC).isoformat()
        return sorted(
            found,
            key=lambda r: str((r.get("metadata") or {}).get("creationTimestamp") or epoch),
            reverse=True,
        )

    return of
