"""Memory benchmark of the sandbox under watchers that read nothing (not part of the test run): prints figures.

Starts `rollouts sandbox` in its own process, stores K big ConfigMaps (default one of 1.4 MB, under etcd's
1.5 MiB limit), opens W watches of them (default 200) whose clients never read (a 4 KiB receive buffer), then
patches every object P times (default 60: enough to go past a watcher's default 64 MiB backlog, so the server
cuts the watchers) and finally closes the clients. It prints the server's resident memory (VmRSS) after each
stage, how many watchers the server cut (`/sandbox/healthz`), and how long one GET took meanwhile (the server
stays responsive while its watchers stall).

    .venv/bin/python bench/sandbox_slow_watchers.py [--objects 1] [--size-mb 1.4] [--watchers 200] [--patches 60]
"""

from __future__ import annotations

import argparse
import json
import socket
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from rollouts.sandbox.spawning import spawn_sandbox


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def call(url: str, method: str = "GET", body: Any = None, ctype: str = "application/json") -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return {"code": e.code, "body": e.read()[:200].decode(errors="replace")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--objects", type=int, default=1)
    ap.add_argument("--size-mb", type=float, default=1.4)
    ap.add_argument("--watchers", type=int, default=200)
    ap.add_argument("--patches", type=int, default=60)
    args = ap.parse_args()
    rows: list[tuple[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        sp = spawn_sandbox(Path(tmp))
        pid, url = sp.process.pid, sp.url
        host, port = url.split("//")[1].rsplit(":", 1)
        cms = f"{url}/api/v1/namespaces/default/configmaps"
        try:
            rows.append(("rss_empty_mb", rss_mb(pid)))
            blob = "x" * int(args.size_mb * 1024 * 1024)
            for i in range(args.objects):
                created = call(cms, "POST", {"metadata": {"name": f"big{i}"}, "data": {"blob": blob}})
                if "code" in created:
                    raise SystemExit(f"could not store a {args.size_mb} MB ConfigMap: {created}")
            rows.append(("rss_with_objects_mb", rss_mb(pid)))
            socks = []
            for _ in range(args.watchers):
                s = socket.create_connection((host, int(port)))
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.sendall(b"GET /api/v1/namespaces/default/configmaps?watch=true HTTP/1.1\r\nHost: x\r\n\r\n")
                socks.append(s)
            time.sleep(3)
            rows.append(("rss_unread_watches_mb", rss_mb(pid)))
            worst = 0.0
            for j in range(args.patches):
                for i in range(args.objects):
                    call(f"{cms}/big{i}", "PATCH", {"data": {"n": str(j)}}, "application/merge-patch+json")
                started = time.perf_counter()
                call(f"{cms}/big0")
                worst = max(worst, time.perf_counter() - started)
            time.sleep(3)
            rows.append((f"rss_after_{args.patches}_patches_mb", rss_mb(pid)))
            health = call(f"{url}/sandbox/healthz")
            counts = health.get("refused")  # absent from servers that do not count refusals
            rows.append(("watchers_cut", "n/a" if counts is None else counts.get("watches_cut", 0)))
            rows.append(("slowest_get_during_patches_ms", worst * 1000))
            for s in socks:
                s.close()
            time.sleep(5)
            rows.append(("rss_clients_gone_mb", rss_mb(pid)))
        finally:
            sp.stop()
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v:.1f}" if isinstance(v, float) else f"{k:<{width}}  {v}")


if __name__ == "__main__":
    main()
