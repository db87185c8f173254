"""Metric providers: the only part of `analysis` that talks to metric backends (Prometheus, HTTP)."""
