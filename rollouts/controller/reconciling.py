"""The Rollout reconciler: one pass of observe → decide → apply for one Rollout key.

Called by the work queue (`rollouts.controller.queueing`) with a key; returns when to look again. A pass:

1. **observe** (`observing.observe`): the Rollout and what it owns, from the watch caches — or, on a retry after
   a 409, straight from the API server;
2. **decide** (`rollouts.strategy.decide`, pure): a `Plan` (new status, actions, requeue_after);
3. **apply** (`applying.Applier`): the actions, ONE guarded status patch (none when nothing changed), events.

A 409 on the status patch means the Rollout moved on under us (a user's abort/promote, or our cache lagging our
own last write): the pass re-reads from the API server and decides again, up to `conflict_retries` times.
The caches lag our own writes by a watch round-trip, so the reconciler keeps the objects its writes returned
(`Freshest`) and prefers them to an older cached copy: a pass never acts on a state it has already moved past.

Bad user input never crashes the controller: a spec that does not load gets an `InvalidSpec` condition naming
the field (Argo's wording, `rollouts.validation.invalid_spec_message`), phase Degraded and an exponential
backoff; every other invalid spec is found by `decide` itself. When `decide` raises, that is the controller's
own fault, not the user's: the Rollout's status is left alone, the error is logged with its traceback at error
level, counted (`controller_internal_error_total`) and retried with backoff; every other Rollout keeps being
served.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from loguru import logger

from rollouts.controller.applying import AdoptionError, Applier, desired_status, status_patch
from rollouts.controller.caching import trim
from rollouts.controller.metering import NoMetrics, RolloutMetrics
from rollouts.controller.observing import ClientSource, ObjectSource, observe
from rollouts.controller.recording import EventRecorder
from rollouts.kube.client import KubeClient
from rollouts.kube.errors import Conflict, Forbidden, Invalid, KubeError, NotFound
from rollouts.kube.resources import BY_GROUP_KIND, INGRESSES, ROLLOUTS, Resource
from rollouts.models.vocabulary import INVALID_SPEC, format_time
from rollouts.strategy import decide as decide_rollout
from rollouts.strategy import workload
from rollouts.strategy.memo import Memo
from rollouts.strategy.plan import JSON, Action, CompletedAttempt, EmitEvent, Observed, Plan, WorkloadState
from rollouts.strategy.status import invalid_spec_status
from rollouts.traffic import alb
from rollouts.validation.errors import invalid_spec_message

Decide = Callable[[Observed, datetime], Plan]
BACKOFF_START = 1.0
BACKOFF_CAP = 300.0


def _rv_int(obj: Mapping[str, Any] | None) -> int | None:
    try:
        return int(str(((obj or {}).get("metadata") or {}).get("resourceVersion")))
    except ValueError:
        return None


def _key_of(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


class Freshest:
    """An `ObjectSource` over the caches that prefers objects our own writes returned, while the cache lags.

    resourceVersions are compared as integers (as etcd and the sandbox issue them); when either does not parse,
    the cache wins. Entries are dropped once the cache has caught up, or after `ttl` seconds.
    """

    def __init__(self, source: ObjectSource, ttl: float = 60.0) -> None:
        self.source = source
        self.ttl = ttl
        self._written: dict[tuple[str, str, str], tuple[float, JSON]] = {}
        self._next_sweep = 1000

    def remember(self, resource: Resource, obj: JSON | None) -> None:
        if resource.plural == "events" or not obj or not (obj.get("metadata") or {}).get("name"):
            return  # Events are never read back
        now = time.monotonic()
        self._written[(resource.plural, *_key_of(obj))] = (now, trim(obj))  # kept like the informers' copies
        if len(self._written) > self._next_sweep:  # objects never read again must not pile up
            self._written = {k: v for k, v in self._written.items() if now - v[0] <= self.ttl}
            self._next_sweep = 2 * len(self._written) + 1000

    def forget(self, resource: Resource, namespace: str, name: str) -> None:
        self._written.pop((resource.plural, namespace, name), None)

    def pick(self, resource: Resource, cached: JSON) -> JSON:
        key = (resource.plural, *_key_of(cached))
        entry = self._written.get(key)
        if entry is None:
            return cached
        stamp, written = entry
        mine, theirs = _rv_int(written), _rv_int(cached)
        if time.monotonic() - stamp > self.ttl or mine is None or theirs is None or theirs >= mine:
            del self._written[key]
            return cached
        return written

    async def get(self, resource: Resource, name: str, namespace: str | None = None) -> JSON:
        return self.pick(resource, await self.source.get(resource, name, namespace))

    async def list(
        self, resource: Resource, namespace: str | None = None, *, label_selector: str | None = None
    ) -> list[JSON]:
        return [
            self.pick(resource, obj)
            for obj in await self.source.list(resource, namespace, label_selector=label_selector)
        ]


def parse_model(raw: JSON) -> tuple[Any, str | None]:
    """The typed Rollout, or (None, Argo's InvalidSpec message naming the field) when the spec does not load."""
    from pydantic import ValidationError

    from rollouts.models import Rollout
    from rollouts.validation import errors_from_pydantic, invalid_spec_message

    name = str((raw.get("metadata") or {}).get("name") or "")
    try:
        return Rollout.from_wire(raw), None
    except ValidationError as e:
        errors = errors_from_pydantic(e)
        return None, invalid_spec_message(name, errors[0] if errors else str(e).splitlines()[0])
    except (ValueError, TypeError) as e:
        return None, invalid_spec_message(name, str(e))


SETTLE_LIMIT = 4
PARSED_MODELS = 2048  # typed Rollouts kept between passes (`RolloutReconciler._model`)


def settle(decide: Decide, observed: Observed, plan: Plan, now: datetime) -> tuple[Plan, bool]:
    """Fold the passes that would follow a status-only plan into it: one status write instead of several.

    A plan that only changes the status (and emits events) would be written, come back as a watch event, and
    cause a pass that sees the same children with the new status, which often changes the status once more
    (step completed → pause started → conditions). `decide` being pure, that next pass can be decided here,
    on the status about to be written, with the same `now`: the result is the status (and the actions) the
    next pass would have produced, minus the intermediate writes. Folding stops at a plan with any other
    action (its effect on the children is not observed yet), at a fixed point, before a plan that moves to
    another step (each step index is stored, so no step is ever invisible) or after `SETTLE_LIMIT` passes.
    The spec, its metadata and the children being the same objects, a spec that passed validation is not
    validated again (`Observed.spec_valid`).
    Events of every folded plan are kept, in order; the earliest requeue wins, as the work queue would do.

    Returns the plan and whether it is settled: a fixed point was reached, so the pass that the watch event
    of its status write would cause is known to do nothing (`RolloutReconciler.settled` lets the manager
    skip it).
    """
    events: list[Action] = []
    completed: list[CompletedAttempt] = []
    requeues: list[float] = []
    folded = 0
    settled = False
    for _ in range(SETTLE_LIMIT):
        if any(not isinstance(a, EmitEvent) for a in plan.actions):
            break
        raw = observed.rollout_raw
        if not status_patch(raw, plan.new_status):
            settled = folded > 0 and not plan.actions
            break  # nothing to write: a fixed point
        status = desired_status(raw, plan.new_status)
        try:
            model = observed.rollout.model_copy(
                update={"status": type(observed.rollout.status).from_wire(status)}
            )
            observed = replace(
                observed, rollout=model, rollout_raw={**raw, "status": status}, spec_valid=plan.spec_valid
            )
            following = decide(observed, now)
        except Exception as e:  # let the next pass meet it the ordinary way
            logger.debug("settling stopped: {}: {}", type(e).__name__, e)
            break
        if following.new_status.get("currentStepIndex") != status.get("currentStepIndex"):
            break  # every step index is written, as Argo does: watchers see each step (docs/semantics/controller.md#traffic-weights)
        folded += 1
        events.extend(plan.actions)
        completed.extend(plan.completed)
        if plan.requeue_after is not None:
            requeues.append(plan.requeue_after)
        plan = following
    if not folded:
        return plan, False
    if plan.requeue_after is not None:
        requeues.append(plan.requeue_after)
    folded_plan = Plan(
        new_status=plan.new_status,
        actions=(*events, *plan.actions),
        requeue_after=min(requeues) if requeues else None,
        completed=(*completed, *plan.completed),
        spec_valid=plan.spec_valid,
        rollout_annotations=plan.rollout_annotations,
    )
    return folded_plan, settled


class RolloutReconciler:
    """Reconciles Rollouts: `await reconcile(key)` → seconds until the next look (None: on the next event)."""

    def __init__(
        self,
        client: KubeClient,
        source: ObjectSource | None = None,
        *,
        decide: Decide | None = None,
        metrics: RolloutMetrics | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        component: str = "rollouts-controller",
        conflict_retries: int = 3,
        allow_cross_namespace_routing: bool = False,
        events: EventRecorder | None = None,
    ) -> None:
        self.client = client
        self.cross_namespace_routing = allow_cross_namespace_routing
        self.direct = ClientSource(client)
        self.fresh = Freshest(source or self.direct)
        self._decide: Decide = decide if decide is not None else decide_rollout
        self.metrics: RolloutMetrics = metrics if metrics is not None else NoMetrics()
        self.clock = clock
        self.conflict_retries = conflict_retries
        self.applier = Applier(
            client,
            component=component,
            clock=clock,
            on_event=lambda ns, name, type_, reason: self.metrics.count_event(ns, name, type_, reason),
            on_written=self._written,
            on_event_dropped=lambda kind, type_, reason, cause: self.metrics.count_event_dropped(
                kind, type_, reason, cause
            ),
            events=events,
        )
        self._failures: dict[tuple[str, str], int] = {}
        # Per key, the last parsed version (resourceVersion → model) and the version last shown to the metrics:
        # most passes are caused by owned objects changing, not the Rollout, so both are usually unchanged. The
        # models are bounded (a typed Rollout weighs about twice its cached JSON): the rollouts being stepped stay
        # parsed, a rollout looked at once per resync is parsed again.
        self._parsed: Memo[tuple[str, Any, str | None]] = Memo(PARSED_MODELS)
        self._reported: dict[tuple[str, str], str] = {}
        # Per key, the resourceVersion of our last status write when it was settled (see `settled`).
        self._settled: dict[tuple[str, str], str] = {}
        self._settling: set[tuple[str, str]] = set()  # keys whose settled plans are being applied
        self._writes = 0  # API writes of the current pass (for the timings file)
        # Exact per-pass durations for the scale benchmark (the histogram's buckets are coarse), one per line.
        trace = os.environ.get("ROLLOUTS_RECONCILE_TIMINGS")
        self.timings = open(trace, "a", buffering=1) if trace else None  # noqa: SIM115 - lives with the process

    def _written(self, resource: Resource, obj: JSON) -> None:
        """An object our write returned: remembered; a settled status write's version noted at once (the
        watch event of that write may be handled before the pass ends)."""
        self.fresh.remember(resource, obj)
        if resource is ROLLOUTS and _key_of(obj) in self._settling:
            version = str((obj.get("metadata") or {}).get("resourceVersion") or "")
            if version:
                self._settled[_key_of(obj)] = version

    def settled(self, namespace: str, name: str, resource_version: str) -> bool:
        """Whether this version of the Rollout is our own settled status write (its pass would do nothing).

        The watch event of our own write would cause a pass on exactly the state that write already settled
        (`settle`); a version written by anyone else, or a write that was not settled, gets its pass.
        """
        return bool(resource_version) and self._settled.get((namespace, name)) == resource_version

    @property
    def decide(self) -> Decide:
        return self._decide

    async def reconcile(self, key: Any) -> float | None:
        """One pass for `key` (an `ObjectKey`, a `(namespace, name)` pair or `"namespace/name"`)."""
        namespace, name = split_key(key)
        started = time.perf_counter()
        self._writes = 0
        error = True
        try:
            result = await self._reconcile(namespace, name)
            error = (namespace, name) in self._failures
            return result
        finally:  # a KubeError propagates: the queue retries with backoff
            seconds = time.perf_counter() - started
            self.metrics.observe_reconcile("Rollout", namespace, name, seconds, error=error)
            if self.timings is not None:
                self.timings.write(f"{seconds:.6f} {self._writes}\n")

    async def _reconcile(self, namespace: str, name: str) -> float | None:
        source: ObjectSource = self.fresh
        for attempt in range(self.conflict_retries + 1):
            try:
                raw = await source.get(ROLLOUTS, name, namespace)
            except NotFound:
                self.fresh.forget(ROLLOUTS, namespace, name)
                for memo in (self._failures, self._reported, self._settled):
                    memo.pop((namespace, name), None)
                self._parsed.pop((namespace, name))
                self.metrics.forget_rollout(namespace, name)
                await self._reset_alb_actions(namespace, name)
                return None  # deleted: its ReplicaSets and runs go with it (ownerReferences)
            if (raw.get("metadata") or {}).get("deletionTimestamp"):
                return None
            try:
                return await self._pass(raw, source)
            except Conflict as e:
                logger.bind(rollout=f"{namespace}/{name}").debug("conflict (attempt {}): {}", attempt + 1, e)
                source = self.direct  # re-read everything from the API server
            except (Invalid, Forbidden, AdoptionError) as e:
                # Not transient: the API server refuses what the rollout asks for (a pod template it rejects,
                # missing RBAC, a name owned by someone else). One line, and look again later.
                logger.bind(rollout=f"{namespace}/{name}").warning(
                    "rollout {}/{}: {}", namespace, name, e.message
                )
                return self._backoff(namespace, name)
        message = f"rollout {namespace}/{name}: still conflicting after {self.conflict_retries} re-reads"
        logger.bind(rollout=f"{namespace}/{name}").warning("{}; retrying with backoff", message)
        raise Conflict(message)

    async def _pass(self, raw: JSON, source: ObjectSource) -> float | None:
        namespace, name = _key_of(raw)
        now = self.clock()
        if self.applier.notifier is not None:
            self.applier.notifier.recover(raw)  # what a crash or another leader left owed
        resolved, state, version, error = await self._resolve(raw, source)
        if error:
            return await self._invalid(raw, invalid_spec_message(name, error))
        model, model_error = self._model(resolved, version)
        if model is None:
            return await self._invalid(raw, model_error or "the spec does not parse")
        observed = await observe(
            source, resolved, model, cross_namespace_routing=self.cross_namespace_routing
        )
        if state is not None:
            observed = replace(observed, workload=state)
        try:
            plan = self.decide(observed, now)
        except (
            Exception
        ) as e:  # a bug must not take down the other rollouts, nor be blamed on the user's spec
            return self._internal_error(namespace, name, e)
        plan, settled = settle(self.decide, observed, plan, now)
        self._settled.pop((namespace, name), None)
        if settled:
            self._settling.add((namespace, name))
        try:
            result = await self.applier.apply(raw, plan)
        finally:
            self._settling.discard((namespace, name))
        self._writes += result.writes
        if result.rollout is not None:
            self.fresh.remember(ROLLOUTS, result.rollout)
        self._report(result.rollout or raw)
        self._report_completed(namespace, name, plan)
        self._failures.pop((namespace, name), None)
        return plan.requeue_after

    async def _reset_alb_actions(self, namespace: str, name: str) -> None:
        """docs/semantics/controller.md#alb: a deleted Rollout's ALB actions go back to 100 % to their Service, as
        Argo's Ingress controller does (ingress/alb.go). Every Ingress of the namespace whose managed record names
        the Rollout is reset for each recorded Rollout that is gone (asked of the API server, so a Rollout of
        another shard or instance is never taken for a deleted one)."""
        try:
            ingresses = await self.fresh.list(INGRESSES, namespace)
        except KubeError as e:
            logger.warning("rollout {}/{} deleted: its ALB actions were not checked: {}", namespace, name, e)
            return
        for ingress in ingresses:
            recorded = alb.managed_rollouts(ingress)
            if name not in recorded:
                continue
            living = [other for other in recorded if other != name and await self._exists(namespace, other)]
            ingress_name = str((ingress.get("metadata") or {}).get("name") or "")
            for _ in range(self.conflict_retries + 1):
                try:
                    new = alb.reset_orphaned_actions(ingress, living)
                except ValueError as e:
                    logger.warning(
                        "rollout {}/{} deleted: the ALB actions of Ingress {} were left as they are: {}",
                        namespace,
                        name,
                        ingress_name,
                        e,
                    )
                    break
                if new is None:
                    break
                try:
                    await self.applier.api.replace(INGRESSES, new, namespace)
                except Conflict:
                    ingress = await self.direct.get(INGRESSES, ingress_name, namespace)
                    continue
                except KubeError as e:
                    logger.warning(
                        "rollout {}/{} deleted: resetting the ALB actions of Ingress {} failed: {}",
                        namespace,
                        name,
                        ingress_name,
                        e,
                    )
                    break
                logger.info(
                    "rollout {}/{} deleted: the ALB actions it managed in Ingress {} forward 100 % to their "
                    "Service again",
                    namespace,
                    name,
                    ingress_name,
                )
                break

    async def _exists(self, namespace: str, name: str) -> bool:
        try:
            await self.direct.get(ROLLOUTS, name, namespace)
        except NotFound:
            return False
        return True

    def _report_completed(self, namespace: str, name: str, plan: Plan) -> None:
        """Attempts that ended in this pass, now that their status is written (Argo's emitPendingRolloutDuration:
        never before the write, so a refused write is not counted twice)."""
        for done in plan.completed:
            logger.bind(rollout=f"{namespace}/{name}").info(
                "rollout {}/{} completed: {} in {:.0f}s (progression {:.0f}s, manual pause {:.0f}s)",
                namespace,
                name,
                done.status,
                done.total_seconds,
                done.progression_seconds,
                done.manual_pause_seconds,
            )
            self.metrics.observe_rollout_duration(
                done.status,
                done.total_seconds,
                done.manual_pause_seconds,
            )

    async def _resolve(self, raw: JSON, source: ObjectSource) -> tuple[JSON, WorkloadState | None, str, str]:
        """`spec.workloadRef` resolved (docs/semantics/controller.md#workload-ref): (the Rollout with the
        object's pod template, the object's state, its resourceVersion, '') or, when the object cannot be read,
        (raw, None, '', the InvalidSpec error). A Rollout without a workloadRef, or with one validation refuses (a
        template written beside it, an unsupported kind, no name), is returned as it is."""
        ref = workload.reference(raw)
        if ref is None or not ref.resolvable or not workload.template_is_empty(raw):
            return raw, None, "", ""
        namespace = str((raw.get("metadata") or {}).get("namespace") or "default")
        resource = BY_GROUP_KIND[(ref.group, ref.kind)]
        obj: JSON | None
        try:
            obj = await source.get(resource, ref.name, namespace)
        except NotFound:
            obj = None
        if obj is None and ref.kind == "ReplicaSet":
            # the ReplicaSet cache holds only the ReplicaSets of Rollouts: ask the API server
            try:
                obj = await self.direct.get(resource, ref.name, namespace)
            except NotFound:
                obj = None
        if obj is None:
            return raw, None, "", ref.not_found()
        version = str((obj.get("metadata") or {}).get("resourceVersion") or "")
        return workload.resolve(raw, obj), workload.workload_state(ref, obj), version, ""

    def _model(self, raw: JSON, workload_version: str = "") -> tuple[Any, str | None]:
        """The typed Rollout, kept between passes while the Rollout's resourceVersion (and, for a workloadRef,
        the referenced object's) stays the same."""
        key = _key_of(raw)
        rv = str((raw.get("metadata") or {}).get("resourceVersion") or "")
        if rv and workload_version:
            rv = f"{rv}/{workload_version}"
        cached = self._parsed.get(key)
        if cached is not None and rv and cached[0] == rv:
            return cached[1], cached[2]
        model, error = parse_model(raw)
        if model is not None and workload_version:
            model.spec.mark_template_resolved()
        self._parsed.put(key, (rv, model, error))
        return model, error

    def _report(self, rollout: JSON) -> None:
        key = _key_of(rollout)
        rv = str((rollout.get("metadata") or {}).get("resourceVersion") or "")
        if rv and self._reported.get(key) == rv:
            return
        self._reported[key] = rv
        self.metrics.observe_rollout(rollout)

    def _backoff(self, namespace: str, name: str) -> float:
        """One more failure of this key: the exponential backoff before its next pass."""
        failures = self._failures.get((namespace, name), 0) + 1
        self._failures[(namespace, name)] = failures
        return float(min(BACKOFF_CAP, BACKOFF_START * 2.0 ** (failures - 1)))

    def _internal_error(self, namespace: str, name: str, error: Exception) -> float:
        """`decide` raised: a fault of the controller, not of the Rollout. Its status is left as it is (the user
        is not told their spec is invalid); the error is logged with its traceback, counted
        (`controller_internal_error_total`) and the pass retried with backoff."""
        logger.bind(rollout=f"{namespace}/{name}").opt(exception=error).error(
            "rollout {}/{}: internal error while deciding, retrying with backoff: {}: {}",
            namespace,
            name,
            type(error).__name__,
            error,
        )
        self.metrics.count_internal_error("Rollout")
        return self._backoff(namespace, name)

    async def _invalid(self, raw: JSON, message: str) -> float:
        """InvalidSpec condition, phase Degraded, a Warning event when the message is new; backoff."""
        namespace, name = _key_of(raw)
        backoff = self._backoff(namespace, name)
        logger.bind(rollout=f"{namespace}/{name}").warning("rollout {}/{}: {}", namespace, name, message)
        spec, stored = raw.get("spec"), raw.get("status")
        status, new = invalid_spec_status(
            stored if isinstance(stored, dict) else {},
            spec if isinstance(spec, dict) else {},
            (raw.get("metadata") or {}).get("generation"),
            message,
            format_time(self.clock()),
        )
        events = (EmitEvent("Warning", INVALID_SPEC, message),) if new else ()
        result = await self.applier.apply(raw, Plan(new_status=status, actions=events))
        if result.rollout is not None:
            self.fresh.remember(ROLLOUTS, result.rollout)
        self._report(result.rollout or raw)
        return backoff


def split_key(key: Any) -> tuple[str, str]:
    if isinstance(key, tuple):
        return str(key[0]), str(key[1])
    if hasattr(key, "namespace") and hasattr(key, "name"):
        return str(key.namespace), str(key.name)
    namespace, _, name = str(key).rpartition("/")
    return namespace, name
