"""An embedded Kubernetes API server (aiohttp, in memory) and a workload simulator, on loopback.

The curated surface: `Sandbox` (start/stop, url, kubeconfig, request log, faults, object helpers),
`SandboxOptions`, `Faults`. Modules, outside in: `running` (lifecycle, Python API; `exposing` when bound
beyond loopback) → `guarding` (connections: count, header timeout) → `serving` (HTTP, with `tables` for
kubectl, `streaming` for watches, `administering` for `/sandbox/…`, `decoding` and `limits` for bodies) →
`storing` (objects, versions) with `fieldtypes`, `validating`, `collecting` (deletion and garbage
collection), `eventlog` (size check, history, watch subscription), `indexing`, `patching`, `selectors`,
`watching`, `resources`, `objects`, `errors`, `refusals`; `persisting` saves and loads state; `simulating`
and `workloads` play the cluster's controllers and kubelets; `crds` lists what is installed on start; `cli`
is `rollouts sandbox`.
"""

from rollouts.sandbox.faults import Faults, RequestLog, RequestRecord
from rollouts.sandbox.running import Sandbox
from rollouts.sandbox.view import SandboxOptions

__all__ = ["Faults", "RequestLog", "RequestRecord", "Sandbox", "SandboxOptions"]
