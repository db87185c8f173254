"""Fixtures of the controller runtime tests: a real `KubeClient` against the sandbox API server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from rollouts.kube.client import KubeClient, RetryPolicy
from rollouts.kube.config import settings_for_url
from rollouts.sandbox import Sandbox


@pytest.fixture
async def kube(async_sandbox: Sandbox) -> AsyncIterator[KubeClient]:
    """A client with fast retries and no rate limit, talking to a fresh in-loop sandbox."""
    client = KubeClient(
        settings_for_url(async_sandbox.url), qps=0, retry=RetryPolicy(attempts=5, base=0.001, cap=0.01)
    )
    try:
        yield client
    finally:
        await client.close()
