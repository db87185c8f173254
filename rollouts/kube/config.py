"""Finding the cluster: kubeconfig (`--kubeconfig`, `KUBECONFIG`, `~/.kube/config`) with `--context`, or the
in-cluster service account.

First stop of every face that talks to Kubernetes: the controller (`rollouts controller`) and the kubectl plugin
resolve a `KubeSettings` here and hand it to `rollouts.kube.client.KubeClient`. Failures become one-line
`KubeConfigError`s naming the path and the context, never a traceback from the client library.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import urllib.parse
import urllib.request
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from kubernetes.aio import config as kconfig
from kubernetes.aio.client import Configuration

from rollouts.kube.errors import KubeConfigError

IN_CLUSTER = "in-cluster"
_SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
T = TypeVar("T")


@dataclass(frozen=True)
class KubeSettings:
    """Where the API server is and how to authenticate; `source` is the kubeconfig path or "in-cluster"."""

    host: str
    namespace: str
    source: str
    context: str | None = None
    configuration: Any = field(default=None, repr=False, compare=False)

    def describe(self) -> str:
        """'https://1.2.3.4:6443 (context prod from /home/me/.kube/config)' — for error messages."""
        where = self.source if self.context is None else f"context {self.context} from {self.source}"
        return f"{self.host} ({where})"


def kubeconfig_paths(kubeconfig: str | None = None) -> list[str]:
    """The kubeconfig files to read, in kubectl's order: the flag, else `KUBECONFIG` (':'-separated), else
    `~/.kube/config`."""
    if kubeconfig:
        return [os.path.expanduser(kubeconfig)]
    env = os.environ.get("KUBECONFIG", "")
    if env:
        return [os.path.expanduser(p) for p in env.split(os.pathsep) if p]
    return [os.path.expanduser("~/.kube/config")]


def _existing(paths: list[str]) -> list[str]:
    return [p for p in paths if os.path.isfile(p)]


def _first_current_context(paths: list[str]) -> str | None:
    """kubectl's merge rule: the first file that sets current-context wins (the client library takes the last)."""
    for path in paths:
        try:
            with open(path) as f:
                data = yaml.safe_load(f)
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(data, dict) and data.get("current-context"):
            return str(data["current-context"])
    return None


def _in_cluster_available() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and (_SA_DIR / "token").exists()


async def load_settings(
    kubeconfig: str | None = None,
    context: str | None = None,
    *,
    in_cluster: bool | None = None,
) -> KubeSettings:
    """Resolve the cluster. `in_cluster=None` means: a kubeconfig if one exists, else the pod's service account.

    Raises KubeConfigError with a sentence naming what was tried.
    """
    paths = kubeconfig_paths(kubeconfig)
    existing = _existing(paths)
    if in_cluster or (in_cluster is None and not existing and not kubeconfig and _in_cluster_available()):
        return _load_in_cluster()
    if not existing:
        tried = ", ".join(paths)
        raise KubeConfigError(
            f"no kubeconfig found at {tried}: pass --kubeconfig PATH, set KUBECONFIG, or run inside a pod"
        )
    configuration = Configuration()
    source = os.pathsep.join(existing)
    if context is None and len(existing) > 1:
        context = _first_current_context(existing)
    try:
        loader = await kconfig.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=source, context=context, client_configuration=configuration, persist_config=False
        )
    except (kconfig.ConfigException, KeyError, ValueError, TypeError, yaml.YAMLError, OSError) as e:
        what = f"context {context!r} in " if context else ""
        raise KubeConfigError(f"cannot use {what}kubeconfig {source}: {e}") from e
    current = loader.current_context or {}
    context_name = current.get("name") if isinstance(current, dict) else None
    ctx = current.get("context") if isinstance(current, dict) else None
    namespace = (ctx or {}).get("namespace") or "default"
    return KubeSettings(
        host=str(configuration.host),
        namespace=str(namespace),
        source=source,
        context=context_name or context,
        configuration=configuration,
    )


def _load_in_cluster() -> KubeSettings:
    configuration = Configuration()
    try:
        kconfig.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except kconfig.ConfigException as e:
        raise KubeConfigError(f"in-cluster configuration unusable: {e}") from e
    ns_file = _SA_DIR / "namespace"
    namespace = ns_file.read_text().strip() if ns_file.exists() else "default"
    return KubeSettings(
        host=str(configuration.host), namespace=namespace, source=IN_CLUSTER, configuration=configuration
    )


def settings_for_url(url: str, namespace: str = "default", token: str | None = None) -> KubeSettings:
    """Settings for a bare server URL (the sandbox, or a `kubectl proxy`)."""
    configuration = Configuration(host=url.rstrip("/"))
    if token:
        configuration.api_key["BearerToken"] = f"Bearer {token}"
    configuration.verify_ssl = False
    return KubeSettings(
        host=url.rstrip("/"), namespace=namespace, source="--server", configuration=configuration
    )


def env_proxy(host: str) -> str | None:
    """The proxy the environment names for the API server at `host`, None for none: Python's own reading
    (`urllib.request.getproxies_environment` and `proxy_bypass`, what aiohttp's `trust_env` called),
    and in addition IP ranges (CIDR) in ``NO_PROXY``, as Go and curl read them."""
    proxies = urllib.request.getproxies_environment()
    parsed = urllib.parse.urlsplit(host)
    proxy = proxies.get(parsed.scheme or "https")
    if not proxy or parsed.hostname is None:
        return None
    if urllib.request.proxy_bypass(parsed.netloc):
        return None
    return None if _in_ip_range(parsed.hostname, proxies.get("no", "")) else proxy


def _in_ip_range(hostname: str, no_proxy: str) -> bool:
    """Whether the API server's address lies in a CIDR entry of ``NO_PROXY``."""
    try:
        address = ipaddress.ip_address(hostname.strip("[]"))
    except ValueError:
        return False
    for entry in (e.strip() for e in no_proxy.split(",")):
        with contextlib.suppress(ValueError):
            if entry and address in ipaddress.ip_network(entry, strict=False):
                return True
    return False


def pin_environment(configuration: Any) -> None:
    """Read the proxy environment once per client instead of at every request.

    The `kubernetes` client builds its aiohttp session with ``trust_env=True``, which re-reads the proxy
    variables and stats and parses ``~/.netrc`` before *every* request: a sixth of the controller's CPU under
    load (py-spy over `bench/controller_scale.py`). Here the proxy for the API server is resolved once
    (`env_proxy`) and set on the configuration, and the session is built without ``trust_env``. A proxy set in
    the kubeconfig wins; ``~/.netrc`` credentials are not used (the API server authenticates by the kubeconfig's
    certificates or tokens)."""
    if not getattr(configuration, "proxy", None):
        proxy = env_proxy(str(configuration.host))
        if proxy:
            configuration.proxy = proxy
    session_kwargs = dict(getattr(configuration, "client_session_kwargs", None) or {})
    session_kwargs["trust_env"] = False
    configuration.client_session_kwargs = session_kwargs


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run one coroutine from synchronous code (the CLI): `run_sync(main())` = `asyncio.run(main())`."""
    return asyncio.run(coro)
