"""An embedded Kubernetes API server (aiohttp, in memory) and a workload simulator, on loopback."""
