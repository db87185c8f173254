"""PURE traffic-router edits: desired weights in, edited router objects out (Istio, SMI, NGINX, Gateway API)."""
