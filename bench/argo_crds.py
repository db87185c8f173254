"""Benchmark: the seed's canary under Argo Rollouts' published CRDs versus ours, with the real controller process.

For each CRD set (`argo`: manifests/crds/ of argo-rollouts at the pinned commit, read from the local mirror;
`ours`: crds/) and each scenario (`healthy`: the update promotes; `degrading`: the background analysis fails
and the rollout aborts), it starts a sandbox with those CRDs, a real Prometheus over backfilled data and
`rollouts controller` as a subprocess, deploys v1, changes the image, and prints (not a test; nothing asserted):

* seconds from the image change to the outcome (Healthy on the new ReplicaSet / Degraded), or `-` when it was
  not reached within `--window` seconds;
* the background AnalysisRun's final phase;
* AnalysisRun PATCHes by (subresource, HTTP code) from the sandbox's request log;
* `controller_write_refused_total` summed over its labels, from the controller's /metrics, and the number of
  `API server refused` lines in its log.

    .venv/bin/python bench/argo_crds.py [--window 60] [--crds argo,ours] [--scenario healthy,degrading]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.harness import hash_of_image, running_stack, set_image, status_of, wait_for  # noqa: E402
from tests.e2e.test_canary import V1, V2, seed_canary  # noqa: E402
from tests.fixtures.argo_sources import ARGO_CRD_FILES, read_source  # noqa: E402
from tests.fixtures.prometheus import HEALTHY, degrading, start_prometheus  # noqa: E402


def argo_crds() -> list[dict[str, object]]:
    import yaml

    return [yaml.safe_load(read_source(source)) for source in ARGO_CRD_FILES.values()]


def one(crds_name: str, scenario: str, window: float) -> str:
    data = HEALTHY if scenario == "healthy" else degrading(-timedelta(minutes=30))
    prometheus = start_prometheus(data)
    first_pause = "600s" if scenario == "degrading" else None
    docs = seed_canary(prometheus.url, first_pause=first_pause)
    crds = argo_crds() if crds_name == "argo" else None
    try:
        with tempfile.TemporaryDirectory() as tmp, running_stack(Path(tmp), docs, crds=crds) as stack:
            sandbox = stack.sandbox
            wait_for(lambda: hash_of_image(sandbox, "api-server", V1), 30, "v1", stack.controller)
            wait_for(lambda: status_of(sandbox, "api-server").get("phase") == "Healthy", 30, "v1 Healthy")
            set_image(sandbox, "api-server", V2)
            started = time.monotonic()
            took: float | None = None
            while time.monotonic() - started < window:
                status = status_of(sandbox, "api-server")
                v2 = hash_of_image(sandbox, "api-server", V2)
                done = (
                    status.get("phase") == "Degraded"
                    if scenario == "degrading"
                    else status.get("phase") == "Healthy" and v2 is not None and status.get("stableRS") == v2
                )
                if done:
                    took = time.monotonic() - started
                    break
                time.sleep(0.05)
            time.sleep(1.0)  # let the background run's last status land
            runs = sandbox.list("argoproj.io/v1alpha1", "AnalysisRun", "production")
            phases = [(r.get("status") or {}).get("phase") or "(no status)" for r in runs]
            patches = Counter(
                (r.subresource or "object", r.status)
                for r in sandbox.requests.records(resource="analysisruns", verb="patch")
            )
            refused = stack.controller.counted("controller_write_refused_total")
            lines = stack.controller.output().count("API server refused")
    finally:
        prometheus.stop()
    outcome = f"{took:6.1f}" if took is not None else "     -"
    shown = ", ".join(f"{sub}:{code}×{n}" for (sub, code), n in sorted(patches.items()))
    return (
        f"{crds_name:5} {scenario:10} {outcome} s  runs {','.join(phases):22} "
        f"patches [{shown}]  refused {refused:.0f} (log lines {lines})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=float, default=60.0, help="seconds to wait for the outcome")
    parser.add_argument("--crds", default="argo,ours")
    parser.add_argument("--scenario", default="healthy,degrading")
    opts = parser.parse_args()
    print("crds  scenario   outcome   background runs         AnalysisRun PATCHes  refused writes")
    for crds_name in opts.crds.split(","):
        for scenario in opts.scenario.split(","):
            print(one(crds_name, scenario, opts.window), flush=True)


if __name__ == "__main__":
    main()
