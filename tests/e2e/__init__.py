"""End-to-end scenarios: the real controller process on the sandbox with a real Prometheus (marked `e2e`)."""
