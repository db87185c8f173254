"""Router objects watched: which router kinds the cluster serves, one informer per served kind, and the index
from a router object to the Rollouts that name it.

Part of the watch stage (`rollouts.controller.manager` wires it): a VirtualService, DestinationRule,
TrafficSplit, Ingress or HTTPRoute edited by someone else (a person, a GitOps sync, another Rollout) enqueues
every Rollout that routes through it, so the weights are put back within a pass instead of at the next resync;
and the observe step reads router objects from these caches instead of asking the API server on every pass.

Discovery reads the API group's resource list (`GET /apis/networking.istio.io/v1beta1`, open to every
authenticated user): a kind not listed there is not served (no CRD), and it is looked for again every
`discovery_period` seconds, so an informer starts when a CRD is installed later; when the CRD goes away the
informer ends, its cache empties, and discovery resumes. A served kind the controller may not list (403 on a
list of one object) is said once at warning level, and the controller keeps reading those objects one GET per
pass, as without the watch.

Enqueues caused by router events are spaced per Rollout (`min_interval`): two writers fighting over one route
(two Rollouts naming the same route, or a GitOps tool reverting the weights) cost at most one pass per Rollout
per interval, not a hot loop that would eat every team's share of the API rate limit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from loguru import logger

from rollouts.controller.caching import CachedSource, Obj
from rollouts.controller.clocks import Clock, MonotonicClock
from rollouts.controller.observing import router_refs_of
from rollouts.controller.queueing import ObjectKey
from rollouts.controller.watching import Informer
from rollouts.kube.client import KubeClient
from rollouts.kube.discovering import subresources_of
from rollouts.kube.errors import Forbidden, KubeError, NotFound
from rollouts.kube.resources import (
    AMBASSADOR_MAPPINGS,
    APISIX_ROUTES,
    APP_MESH_VIRTUAL_NODES,
    APP_MESH_VIRTUAL_ROUTERS,
    APP_MESH_VIRTUAL_SERVICES,
    DEPLOYMENTS,
    DESTINATION_RULES,
    HTTP_ROUTES,
    INGRESSES,
    POD_TEMPLATES,
    TRAEFIK_SERVICES,
    TRAFFIC_SPLITS,
    VIRTUAL_SERVICES,
    Resource,
)
from rollouts.models import Rollout
from rollouts.strategy import workload

ROUTER_RESOURCES: tuple[Resource, ...] = (
    VIRTUAL_SERVICES,
    DESTINATION_RULES,
    TRAFFIC_SPLITS,
    INGRESSES,
    HTTP_ROUTES,
    TRAEFIK_SERVICES,
    APISIX_ROUTES,
    AMBASSADOR_MAPPINGS,
    APP_MESH_VIRTUAL_SERVICES,
    APP_MESH_VIRTUAL_ROUTERS,
    APP_MESH_VIRTUAL_NODES,
)
#: The kinds a Rollout's spec.workloadRef may name and that are watched here (a referenced ReplicaSet is read on
#: every pass; its edits are seen at the next resync: the ReplicaSet informer keeps only the Rollouts' own).
WORKLOAD_RESOURCES: tuple[Resource, ...] = (DEPLOYMENTS, POD_TEMPLATES)

RouterId = tuple[str, str, str]  # (kind, namespace, name): a router object whatever the version it is read at


def routing_view(rollout: Mapping[str, Any]) -> Any:
    """What decides which objects a Rollout names: its namespace, name, canary.trafficRouting and workloadRef."""
    meta = rollout.get("metadata") or {}
    spec = rollout.get("spec") or {}
    canary = (spec.get("strategy") or {}).get("canary")
    routing = canary.get("trafficRouting") if isinstance(canary, Mapping) else None
    return (meta.get("namespace"), meta.get("name"), routing, spec.get("workloadRef"))


def router_ids(rollout: Obj) -> frozenset[RouterId]:
    """The router objects a Rollout names (as `observing.observe` would fetch them), version-free, and the
    object of its workloadRef (as the reconciler reads it)."""
    _, _, routing, _ = routing_view(rollout)
    ids: set[RouterId] = set()
    ref = workload.reference(rollout)
    if ref is not None and ref.resolvable:
        ids.add((ref.kind, str((rollout.get("metadata") or {}).get("namespace") or ""), ref.name))
    if routing is None:
        return frozenset(ids)
    try:
        model: Rollout | None = Rollout.from_wire(rollout)
    except ValueError:  # an invalid spec (pydantic's ValidationError): no router is edited, none is watched
        model = None
    return frozenset(ids | {(kind, ns, name) for _, kind, ns, name in router_refs_of(model)})


class RouterIndex:
    """Router object → the Rollouts naming it, kept per Rollout from the Rollout informer's events."""

    def __init__(self) -> None:
        self._rollouts: dict[RouterId, set[ObjectKey]] = {}
        self._routers: dict[ObjectKey, frozenset[RouterId]] = {}

    def __len__(self) -> int:
        return len(self._routers)

    def set(self, rollout: ObjectKey, routers: Iterable[RouterId]) -> None:
        new = frozenset(routers)
        old = self._routers.get(rollout, frozenset())
        if new == old:
            return
        for rid in old - new:
            keys = self._rollouts.get(rid)
            if keys is not None:
                keys.discard(rollout)
                if not keys:
                    del self._rollouts[rid]
        for rid in new - old:
            self._rollouts.setdefault(rid, set()).add(rollout)
        if new:
            self._routers[rollout] = new
        else:
            self._routers.pop(rollout, None)

    def remove(self, rollout: ObjectKey) -> None:
        self.set(rollout, ())

    def rollouts(self, router: RouterId) -> list[ObjectKey]:
        return sorted(self._rollouts.get(router, ()))

    def routers(self, rollout: ObjectKey) -> frozenset[RouterId]:
        return self._routers.get(rollout, frozenset())

    def all_routers(self) -> list[frozenset[RouterId]]:
        return list(self._routers.values())


class RouterWatch:
    """Discovers the served router kinds, runs their informers into `source`, and enqueues Rollouts on edits.

    `enqueue(key, delay)` puts a Rollout key on the current rollout queue after `delay` seconds."""

    def __init__(
        self,
        client: KubeClient,
        source: CachedSource,
        enqueue: Callable[[ObjectKey, float], None],
        *,
        namespace: str | None = None,
        watch_timeout: int = 300,
        discovery_period: float = 60.0,
        min_interval: float = 1.0,
        clock: Clock | None = None,
        resources: Iterable[Resource] = ROUTER_RESOURCES + WORKLOAD_RESOURCES,
    ) -> None:
        self.client = client
        self.source = source
        self.enqueue = enqueue
        self.namespace = namespace
        self.watch_timeout = watch_timeout
        self.discovery_period = discovery_period
        self.min_interval = min_interval
        self.clock: Clock = clock or MonotonicClock()
        self.resources = tuple(resources)
        self.index = RouterIndex()
        self.informers: dict[str, Informer] = {}
        self.router_events = 0  # router events that enqueued at least one Rollout (for tests and benchmarks)
        self._next: dict[
            ObjectKey, float
        ] = {}  # per Rollout: earliest instant of its next router-caused pass
        self._forbidden: set[str] = set()  # kinds whose list was refused (said once)
        self._tasks: list[asyncio.Task[None]] = []
        # Workload kinds (a cluster's Deployments may be many) are watched from the first Rollout naming one, as
        # Argo starts its informer on the first workloadRef it resolves.
        self._lazy = {r.kind: r for r in self.resources if r in WORKLOAD_RESOURCES}
        self._started = False

    # ------------------------------------------------------------------ the index, fed by Rollout events

    def on_rollout(self, etype: str, obj: Obj, old: Obj | None) -> None:
        key = ObjectKey.of(obj)
        if etype == "DELETED":
            self.index.remove(key)
            self._next.pop(key, None)
        elif etype != "RESYNC" and (old is None or routing_view(old) != routing_view(obj)):
            ids = router_ids(obj)
            self.index.set(key, ids)
            if self._started:
                self._start_lazy(kind for kind, _, _ in ids)

    def _start_lazy(self, kinds: Iterable[str]) -> None:
        for kind in kinds:
            resource = self._lazy.pop(kind, None)
            if resource is not None:
                self._follow_task(resource)

    # ------------------------------------------------------------------ router events

    def _on_router(self, etype: str, obj: Obj, old: Obj | None) -> None:
        if etype == "RESYNC":
            return
        meta = obj.get("metadata") or {}
        kind = str(obj.get("kind") or "") or self._kind_of(obj)
        rid = (kind, str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        keys = self.index.rollouts(rid)
        if not keys:
            return
        self.router_events += 1
        now = self.clock.now()
        for key in keys:
            at = max(now, self._next.get(key, now))
            self._next[key] = at + self.min_interval
            self.enqueue(key, at - now)

    def _kind_of(self, obj: Obj) -> str:
        version = str(obj.get("apiVersion") or "")
        for resource in self.resources:
            if version.startswith(resource.group + "/"):
                return resource.kind
        return ""

    # ------------------------------------------------------------------ discovery

    def start(self) -> None:
        self._started = True
        for resource in self.resources:
            if resource.kind not in self._lazy:
                self._follow_task(resource)
        self._start_lazy([kind for ids in self.index.all_routers() for kind, _, _ in ids])

    def _follow_task(self, resource: Resource) -> None:
        self._tasks.append(asyncio.create_task(self._follow(resource), name=f"routers {resource.plural}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self._started = False
        self._lazy = {r.kind: r for r in self.resources if r in WORKLOAD_RESOURCES}

    async def served(self, resource: Resource) -> bool:
        """Whether the cluster serves `resource` (its group's resource list) and lets us list it (a list of at
        most one object)."""
        try:
            listing = await self.client.resource_list(resource.group, resource.version)
        except NotFound:
            return False  # the group-version itself is not served
        if resource.plural not in subresources_of(listing):
            return False
        try:
            await self.client.list(resource, self.namespace, limit=1, continue_token="")
        except NotFound:
            return False
        except Forbidden as e:
            if resource.kind not in self._forbidden:
                self._forbidden.add(resource.kind)
                logger.warning(
                    "{} objects are not watched (listing them is forbidden: {}); they are read on every "
                    "pass instead. Grant list and watch on {}.{} to the controller's ServiceAccount.",
                    resource.kind,
                    e.message,
                    resource.plural,
                    resource.group or "core",
                )
            return False
        return True

    async def _follow(self, resource: Resource) -> None:
        while True:
            try:
                served = await self.served(resource)
            except KubeError as e:
                logger.debug("router discovery of {}: {}", resource.plural, e)
                served = False
            if served:
                informer = Informer(
                    self.client,
                    resource,
                    namespace=self.namespace,
                    watch_timeout=self.watch_timeout,
                    clock=self.clock,
                    end_when_not_served=True,
                )
                informer.add_handler(self._on_router)
                self.informers[resource.kind] = informer
                self.source.add(informer.store, ready=informer.synced.is_set)
                logger.info("watching {} ({})", resource.kind, informer.name)
                await informer.run()  # returns when the kind is no longer served
                self.informers.pop(resource.kind, None)
            await self.clock.sleep(self.discovery_period)
