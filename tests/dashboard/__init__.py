"""The dashboard: server-side charts."""
