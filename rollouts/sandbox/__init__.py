"""An embedded Kubernetes API server (aiohttp, in memory) and a workload simulator, on loopback.

The curated surface: `Sandbox` (start/stop, url, kubeconfig, request log, faults, object helpers),
`SandboxOptions`, `Faults`. Modules, outside in: `running` (lifecycle) → `serving` (HTTP) → `storing`
(objects, versions, watch) with `patching`, `selectors`, `watching`, `resources`, `objects`, `errors`;
`simulating` plays the cluster's controllers and kubelets; `crds` lists what is installed on start.
"""

from rollouts.sandbox.faults import Faults, RequestLog, RequestRecord
from rollouts.sandbox.running import Sandbox, SandboxOptions

__all__ = ["Faults", "RequestLog", "RequestRecord", "Sandbox", "SandboxOptions"]
