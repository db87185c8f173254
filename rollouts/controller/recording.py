"""Kubernetes Events written by the controller runtime about an object (not the reconcilers' own: the Applier
emits those after its status write).

Part of the runtime's `Runtime` (`rollouts.controller.manager`), for reconcilers that have something to say
outside a plan. Counts `rollout_events_total` for Rollouts; a write the API server refuses is never raised.
"""

from __future__ import annotations

from datetime import UTC, datetime

from loguru import logger

from rollouts.controller.caching import Obj
from rollouts.controller.metrics import ControllerMetrics
from rollouts.kube.client import KubeClient
from rollouts.kube.errors import KubeError
from rollouts.kube.resources import EVENTS
from rollouts.models.vocabulary import format_time


class EventRecorder:
    """Writes core/v1 Events about an object and counts `rollout_events_total`; never raises."""

    def __init__(self, client: KubeClient, metrics: ControllerMetrics, component: str) -> None:
        self.client = client
        self.metrics = metrics
        self.component = component

    async def record(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        meta = obj.get("metadata") or {}
        namespace = str(meta.get("namespace") or "default")
        name = str(meta.get("name") or "")
        now = format_time(datetime.now(UTC))
        body = {
            "metadata": {"generateName": f"{name}.", "namespace": namespace},
            "involvedObject": {
                "apiVersion": obj.get("apiVersion"),
                "kind": obj.get("kind"),
                "name": name,
                "namespace": namespace,
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "type": type_,
            "reason": reason,
            "message": message,
            "source": {"component": self.component},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        if obj.get("kind") == "Rollout":
            self.metrics.count_event(namespace, name, type_, reason)
        try:
            await self.client.create(EVENTS, body, namespace)
        except KubeError as e:
            logger.debug("event {} on {}/{} not written: {}", reason, namespace, name, e)
