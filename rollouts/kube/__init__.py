"""The only code that imports `kubernetes`: the async client adapter, error mapping, resource table, config.

Public surface::

    from rollouts.kube import KubeClient, load_settings, settings_for_url, Resource, RESOURCES, errors
"""

from rollouts.kube import errors
from rollouts.kube.client import KubeClient, ObjectList, RequestRecord, RetryPolicy
from rollouts.kube.config import KubeSettings, load_settings, run_sync, settings_for_url
from rollouts.kube.errors import (
    AlreadyExists,
    Conflict,
    Forbidden,
    Gone,
    Invalid,
    KubeConfigError,
    KubeError,
    KubeUnreachable,
    NotFound,
    ServerError,
    TooManyRequests,
    Unreachable,
)
from rollouts.kube.resources import RESOURCES, Resource, lookup

__all__ = [
    "RESOURCES",
    "AlreadyExists",
    "Conflict",
    "Forbidden",
    "Gone",
    "Invalid",
    "KubeClient",
    "KubeConfigError",
    "KubeError",
    "KubeSettings",
    "KubeUnreachable",
    "NotFound",
    "ObjectList",
    "RequestRecord",
    "Resource",
    "RetryPolicy",
    "ServerError",
    "TooManyRequests",
    "Unreachable",
    "errors",
    "load_settings",
    "lookup",
    "run_sync",
    "settings_for_url",
]
