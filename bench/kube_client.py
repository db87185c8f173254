"""Benchmark: the ways of talking to the API server from `kubernetes.aio`, against the sandbox in its own process.

Compares, per request, our adapter (`rollouts.kube.KubeClient`: `ApiClient.param_serialize` + `call_api` +
`json.loads`) with the generated typed API (`CoreV1Api`, OpenAPI model deserialization), the generated custom
objects API (dicts) and `kubernetes.aio.dynamic` (ResourceInstance wrappers). Prints figures; not a test.

    .venv/bin/python bench/kube_client.py [--objects 500] [--gets 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from kubernetes.aio import client as kclient
from kubernetes.aio import dynamic

from rollouts.kube.client import KubeClient
from rollouts.kube.config import settings_for_url
from rollouts.kube.resources import CONFIG_MAPS, ROLLOUTS
from rollouts.sandbox.spawning import spawn_sandbox


def start_sandbox(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    spawned = spawn_sandbox(tmp)
    return spawned.process, spawned.url


async def timed(label: str, n: int, fn: Callable[[int], Awaitable[Any]], concurrency: int = 10) -> None:
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with sem:
            await fn(i)

    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    print(f"{label:<48} {n:>6}  {wall / n * 1e3:7.3f} ms/req wall  {cpu / n * 1e3:7.3f} ms/req client CPU")


async def main(objects: int, gets: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_sandbox(Path(tmp))
        try:
            ours = KubeClient(settings_for_url(url), qps=0)
            for i in range(objects):
                await ours.create(
                    CONFIG_MAPS,
                    {"metadata": {"name": f"cm-{i}", "namespace": "default"}, "data": {"k": "v" * 200}},
                )
                if i < 50:
                    await ours.create(
                        ROLLOUTS,
                        {
                            "metadata": {"name": f"r-{i}", "namespace": "default"},
                            "spec": {
                                "replicas": 1,
                                "selector": {"matchLabels": {"a": "b"}},
                                "template": {
                                    "metadata": {"labels": {"a": "b"}},
                                    "spec": {"containers": [{"name": "c", "image": "i"}]},
                                },
                                "strategy": {"canary": {}},
                            },
                        },
                    )
            cfg = kclient.Configuration(host=url)
            api = kclient.ApiClient(cfg)
            core = kclient.CoreV1Api(api)
            custom = kclient.CustomObjectsApi(api)
            dyn = await dynamic.DynamicClient(api)
            dyn_cm = await dyn.resources.get(api_version="v1", kind="ConfigMap")
            print(f"sandbox {url}: {objects} ConfigMaps of ~200 B, 50 Rollouts; concurrency 10")
            await timed(
                "GET configmap: KubeClient (call_api + json)",
                gets,
                lambda i: ours.get(CONFIG_MAPS, f"cm-{i % objects}", "default"),
            )
            await timed(
                "GET configmap: CoreV1Api (typed models)",
                gets,
                lambda i: core.read_namespaced_config_map(f"cm-{i % objects}", "default"),
            )
            await timed(
                "GET configmap: dynamic client",
                gets,
                lambda i: dyn_cm.get(name=f"cm-{i % objects}", namespace="default"),
            )
            await timed(
                "GET rollout: KubeClient", gets, lambda i: ours.get(ROLLOUTS, f"r-{i % 50}", "default")
            )
            await timed(
                "GET rollout: CustomObjectsApi",
                gets,
                lambda i: custom.get_namespaced_custom_object(
                    "argoproj.io", "v1alpha1", "default", "rollouts", f"r-{i % 50}"
                ),
            )
            lists = 20
            await timed(
                f"LIST {objects} configmaps: KubeClient",
                lists,
                lambda i: ours.list(CONFIG_MAPS, "default"),
                1,
            )
            await timed(
                f"LIST {objects} configmaps: CoreV1Api",
                lists,
                lambda i: core.list_namespaced_config_map("default"),
                1,
            )
            await timed(
                f"LIST {objects} configmaps: dynamic", lists, lambda i: dyn_cm.get(namespace="default"), 1
            )
            await api.close()
            await ours.close()
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=500)
    parser.add_argument("--gets", type=int, default=1000)
    args = parser.parse_args()
    asyncio.run(main(args.objects, args.gets))
