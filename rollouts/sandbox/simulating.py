"""The workload simulator: the part of a cluster that is not the API server (ReplicaSet and Job controllers,
kubelets turning pods Ready).

Where it sits: subscribed to the store's commits, in the server's event loop. It never blocks and never writes
from inside a commit: changes are queued and reconciled on the next loop turn, and timers (`call_later`) make
pods Ready after `pod_ready_delay` and finish Jobs after their duration. All writes go through the store, so
watchers see them as they would see a kubelet's or a controller's.

- ReplicaSet: owns `spec.replicas` pods (template labels and annotations, an ownerReference with
  `controller: true`), deleting not-ready and newest pods first when scaling down; keeps `status.replicas`,
  `fullyLabeledReplicas`, `readyReplicas`, `availableReplicas` (after `minReadySeconds`) and
  `observedGeneration` true. As on the real server, zero counts other than `replicas` are omitted.
- Pod: Pending, then Running and Ready after the delay — unless its template carries
  `sandbox.rollouts.io/never-ready: "true"` (Running, never Ready: a stuck canary), or
  `sandbox.rollouts.io/ready-delay: "3s"` overrides the delay.
- Job and Deployment: see `workloads` (scripted Job outcomes, one ReplicaSet per Deployment template).
- `time_scale` multiplies every simulated duration (0.01 makes `minReadySeconds: 5` last 50 ms), so tests
  exercise real timings quickly.
"""

from __future__ import annotations

import asyncio

from rollouts.sandbox import workloads
from rollouts.sandbox.objects import (
    DEPLOY,
    JOB,
    NEVER_READY,
    NODE,
    POD,
    READY_DELAY,
    RS,
    annotation,
    get_path,
    meta,
    parse_duration,
    timestamp,
)
from rollouts.sandbox.storeview import Key, Obj
from rollouts.sandbox.storing import Store
from rollouts.sandbox.watching import Event


class Simulator:
    def __init__(
        self,
        store: Store,
        *,
        pod_ready_delay: float = 0.0,
        job_duration: float = 0.5,
        time_scale: float = 1.0,
    ) -> None:
        self.store = store
        self.time_scale = time_scale
        self.pod_ready_delay = pod_ready_delay
        self.job_duration = job_duration
        self.loop: asyncio.AbstractEventLoop | None = None
        self._pending: set[tuple[Key, str, str]] = set()
        self._scheduled = False
        self._timers: set[asyncio.TimerHandle] = set()
        self._ready_at: dict[str, float] = {}
        self.job_due: dict[str, float] = {}
        self.errors: list[str] = []
        store.listeners.append(self.on_event)

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        node_rt = self.store.registry.preferred("", "nodes")
        if node_rt is not None and self.store.find(node_rt.key, "", NODE) is None:
            now = timestamp()
            self.store.create(
                node_rt,
                "",
                {
                    "metadata": {
                        "name": NODE,
                        "labels": {"kubernetes.io/hostname": NODE, "kubernetes.io/os": "linux"},
                    },
                    "spec": {},
                    "status": {
                        "conditions": [
                            {
                                "type": "Ready",
                                "status": "True",
                                "reason": "KubeletReady",
                                "message": "sandbox node is ready",
                                "lastHeartbeatTime": now,
                                "lastTransitionTime": now,
                            }
                        ],
                        "addresses": [
                            {"type": "InternalIP", "address": "10.0.0.1"},
                            {"type": "Hostname", "address": NODE},
                        ],
                        "capacity": {"cpu": "64", "memory": "256Gi", "pods": "10000"},
                        "allocatable": {"cpu": "64", "memory": "256Gi", "pods": "10000"},
                        "nodeInfo": {
                            "architecture": "amd64",
                            "bootID": "sandbox",
                            "containerRuntimeVersion": "sandbox://1",
                            "kernelVersion": "sandbox",
                            "kubeProxyVersion": "v1.32.0-sandbox",
                            "kubeletVersion": "v1.32.0-sandbox",
                            "machineID": "sandbox",
                            "operatingSystem": "linux",
                            "osImage": "sandbox",
                            "systemUUID": "00000000-0000-0000-0000-000000000000",
                        },
                    },
                },
                internal=True,
            )
        for key in (RS, DEPLOY, JOB, POD):
            for objs in self.store.objects.get(key, {}).values():
                for obj in objs.values():
                    self.on_event(key, Event("ADDED", obj, None, self.store.rv))

    def stop(self) -> None:
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        self.loop = None

    # ------------------------------------------------------------------ scheduling
    def later(self, delay: float, item: tuple[Key, str, str]) -> None:
        if self.loop is None:
            return

        def fire() -> None:
            self._timers.discard(handle)
            self._enqueue(item)

        handle = self.loop.call_later(max(delay * self.time_scale, 0.0), fire)
        self._timers.add(handle)

    def _enqueue(self, item: tuple[Key, str, str]) -> None:
        self._pending.add(item)
        if not self._scheduled and self.loop is not None:
            self._scheduled = True
            self.loop.call_soon(self._run)

    def _run(self) -> None:
        self._scheduled = False
        for _ in range(1_000):
            if not self._pending:
                return
            key, ns, name = self._pending.pop()
            try:
                if key == RS:
                    self._replicaset(ns, name)
                elif key == POD:
                    self._pod(ns, name)
                elif key == JOB:
                    workloads.reconcile_job(self, ns, name)
                elif key == DEPLOY:
                    workloads.reconcile_deployment(self, ns, name)
            except Exception as e:  # a conflict or a bad object must not stop the simulator
                self.errors.append(f"{key[1]} {ns}/{name}: {e!r}")
                del self.errors[:-100]  # the last hundred: whatever clients do, this stays small
        if self._pending and self.loop is not None:  # yield to the server, then carry on
            self._scheduled = True
            self.loop.call_soon(self._run)

    def on_event(self, key: Key, event: Event) -> None:
        m = meta(event.obj)
        ns, name = m.get("namespace", ""), m.get("name", "")
        if key in (RS, DEPLOY, JOB):
            if event.type != "DELETED":
                self._enqueue((key, ns, name))
        elif key == POD:
            if event.type == "ADDED" and (event.obj.get("status") or {}).get("phase") in (None, "Pending"):
                self._pod_scheduled(event.obj)
            if event.type == "DELETED":
                self._ready_at.pop(m.get("uid", ""), None)
            for ref in m.get("ownerReferences") or []:
                if ref.get("controller") and ref.get("kind") == "ReplicaSet":
                    self._enqueue((RS, ns, ref.get("name", "")))
        if key == RS:
            for ref in m.get("ownerReferences") or []:
                if ref.get("controller") and ref.get("kind") == "Deployment":
                    self._enqueue((DEPLOY, ns, ref.get("name", "")))

    def _pod_scheduled(self, pod: Obj) -> None:
        if annotation(pod, NEVER_READY) == "true":
            delay = self.pod_ready_delay
        else:
            override = annotation(pod, READY_DELAY)
            delay = parse_duration(override) if override else self.pod_ready_delay
        m = meta(pod)
        self.later(delay, (POD, m.get("namespace", ""), m["name"]))

    # ------------------------------------------------------------------ pods
    def _pod(self, ns: str, name: str) -> None:
        pod = self.store.find(POD, ns, name)
        if pod is None or meta(pod).get("deletionTimestamp"):
            return
        status = pod.get("status") or {}
        ready = annotation(pod, NEVER_READY) != "true"
        if status.get("phase") == "Running":
            return
        now = timestamp()
        uid = meta(pod).get("uid", "")
        cond = "True" if ready else "False"
        containers = get_path(pod, ".spec.containers") or []
        new_status = {
            "phase": "Running",
            "conditions": [
                {"type": "PodReadyToStartContainers", "status": "True", "lastTransitionTime": now},
                {"type": "Initialized", "status": "True", "lastTransitionTime": now},
                {
                    "type": "Ready",
                    "status": cond,
                    "lastTransitionTime": now,
                    **(
                        {}
                        if ready
                        else {
                            "reason": "ContainersNotReady",
                            "message": "containers with unready status (sandbox never-ready)",
                        }
                    ),
                },
                {"type": "ContainersReady", "status": cond, "lastTransitionTime": now},
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
            ],
            "hostIP": "10.0.0.1",
            "podIP": f"10.244.{int(uid[:2] or '0', 16)}.{int(uid[2:4] or '1', 16) or 1}",
            "startTime": now,
            "qosClass": "BestEffort",
            "containerStatuses": [
                {
                    "name": c.get("name", ""),
                    "image": c.get("image", ""),
                    "imageID": "",
                    "containerID": f"sandbox://{uid[:12]}-{c.get('name', '')}",
                    "ready": ready,
                    "started": True,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": now}},
                }
                for c in containers
                if isinstance(c, dict)
            ],
        }
        new_status["podIPs"] = [{"ip": new_status["podIP"]}]
        self.store.put_status(POD, ns, name, new_status)
        if ready and self.loop is not None:
            self._ready_at[uid] = self.loop.time()

    # ------------------------------------------------------------------ replicasets
    def owned(self, owner: Obj, key: Key) -> list[Obj]:
        uid = meta(owner).get("uid", "")
        out = []
        for dkey, dns, dname in self.store.dependents.get(uid, set()):
            if dkey == key:
                obj = self.store.find(dkey, dns, dname)
                if obj is not None and not meta(obj).get("deletionTimestamp"):
                    out.append(obj)
        return out

    def _replicaset(self, ns: str, name: str) -> None:
        rs = self.store.find(RS, ns, name)
        if rs is None or meta(rs).get("deletionTimestamp") or self.loop is None:
            return
        want = get_path(rs, ".spec.replicas")
        want = want if isinstance(want, int) else 1
        pods = self.owned(rs, POD)
        pod_rt = self.store.registry.preferred(*POD)
        assert pod_rt is not None
        if len(pods) < want:
            template = get_path(rs, ".spec.template") or {}
            tmeta = template.get("metadata") or {}
            for _ in range(want - len(pods)):
                body: Obj = {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "generateName": f"{name}-",
                        "namespace": ns,
                        "labels": tmeta.get("labels") or {},
                        "ownerReferences": [
                            {
                                "apiVersion": "apps/v1",
                                "kind": "ReplicaSet",
                                "name": name,
                                "uid": meta(rs)["uid"],
                                "controller": True,
                                "blockOwnerDeletion": True,
                            }
                        ],
                    },
                    "spec": dict(template.get("spec") or {}, nodeName=NODE),
                    "status": {
                        "phase": "Pending",
                        "conditions": [
                            {"type": "PodScheduled", "status": "True", "lastTransitionTime": timestamp()}
                        ],
                    },
                }
                if tmeta.get("annotations"):
                    body["metadata"]["annotations"] = tmeta["annotations"]
                pods.append(self.store.create(pod_rt, ns, body, internal=True))
        elif len(pods) > want:

            def rank(p: Obj) -> tuple[int, int]:
                return (1 if self._is_ready(p) else 0, -int(meta(p).get("resourceVersion", "0")))

            pods.sort(key=rank)
            for p in pods[: len(pods) - want]:
                self.store.delete(pod_rt, ns, meta(p)["name"])
            pods = pods[len(pods) - want :]
        self._rs_status(rs, pods)

    def _is_ready(self, pod: Obj) -> bool:
        for c in get_path(pod, ".status.conditions") or []:
            if c.get("type") == "Ready":
                return bool(c.get("status") == "True")
        return False

    def _rs_status(self, rs: Obj, pods: list[Obj]) -> None:
        assert self.loop is not None
        m = meta(rs)
        labels = get_path(rs, ".spec.template.metadata.labels") or {}
        min_ready = get_path(rs, ".spec.minReadySeconds") or 0
        now = self.loop.time()
        ready = available = labelled = 0
        wake: float | None = None
        for p in pods:
            plabels = meta(p).get("labels") or {}
            if all(plabels.get(k) == v for k, v in labels.items()):
                labelled += 1
            if self._is_ready(p):
                ready += 1
                since = self._ready_at.get(meta(p).get("uid", ""))
                elapsed = (now - since) / self.time_scale if since is not None and self.time_scale else None
                if elapsed is None or elapsed >= min_ready:
                    available += 1
                else:
                    left = min_ready - elapsed
                    wake = left if wake is None else min(wake, left)
        status: Obj = {"replicas": len(pods)}
        for field, value in (
            ("fullyLabeledReplicas", labelled),
            ("readyReplicas", ready),
            ("availableReplicas", available),
        ):
            if value:
                status[field] = value
        status["observedGeneration"] = m.get("generation", 1)
        old = rs.get("status") or {}
        if "conditions" in old:
            status["conditions"] = old["conditions"]
        if status != old:
            self.store.put_status(RS, m.get("namespace", ""), m["name"], status)
        if wake is not None:
            self.later(wake + 0.001, (RS, m.get("namespace", ""), m["name"]))
