"""Where metric providers find their credentials, as Argo keeps them (docs/analysis.md#providers).

Argo's Datadog, New Relic, InfluxDB and Wavefront providers read a Secret of a fixed name (`datadog`,
`newrelic`, `influxdb`, `wavefront-api-tokens`, …) in the controller's own namespace (`POD_NAMESPACE`, default
`argo-rollouts`), some also a Secret named by the metric; CloudWatch and SigV4 use the AWS SDK's credential
chain (environment variables, shared files). Providers ask this object, never Kubernetes directly (`analysis`
does not import Kubernetes): the controller gives it a `lookup` that reads Secrets through its client;
`rollouts analyze` gives it none, and the providers fall back to the environment (each provider's docstring
names its variables).

A Secret is read when a measurement needs it and cached for `ttl` seconds (a rotated key is picked up within
that time; a missing one is asked again at the next measurement; at most `MAX_CACHED` are kept); a Secret that is missing or unreadable is said in the Error measurement, never in a log with its
values.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

SecretLookup = Callable[[str, str], Awaitable[Mapping[str, str] | None]]
"""(secret name, namespace) → the Secret's data, decoded to text; None when it does not exist. Raises
`CredentialsError` (or anything else) when it cannot be read (RBAC, the API server unreachable)."""

DEFAULT_NAMESPACE = "argo-rollouts"
MAX_CACHED = 256


class CredentialsError(Exception):
    """A Secret that cannot be read: the sentence says which and why (never its values)."""


@dataclass
class Credentials:
    """Secrets and environment for providers. `namespace`: the controller's own (`POD_NAMESPACE`)."""

    lookup: SecretLookup | None = None
    namespace: str = field(default_factory=lambda: os.environ.get("POD_NAMESPACE") or DEFAULT_NAMESPACE)
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    ttl: float = 60.0
    _cache: dict[tuple[str, str], tuple[float, Mapping[str, str] | None]] = field(default_factory=dict)

    async def secret(self, name: str, namespace: str | None = None) -> Mapping[str, str] | None:
        """The Secret's data, or None when it does not exist or there is no cluster (`rollouts analyze`).
        Raises CredentialsError when it exists but cannot be read."""
        if self.lookup is None:
            return None
        key = (namespace or self.namespace, name)
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and now - cached[0] < self.ttl:
            return cached[1]
        try:
            data = await self.lookup(name, key[0])
        except CredentialsError:
            raise
        except Exception as e:
            raise CredentialsError(f"the Secret {key[0]}/{name} could not be read: {e}") from None
        if data is not None:  # a missing Secret is asked again next time: creating it takes effect at once
            self._cache[key] = (now, data)
            while len(self._cache) > MAX_CACHED:  # names come from manifests: keep the set bounded
                self._cache.pop(next(iter(self._cache)))
        return data

    def env(self, *names: str) -> str | None:
        """The first of these environment variables that is set and not empty."""
        for name in names:
            value = self.environ.get(name)
            if value:
                return value
        return None
