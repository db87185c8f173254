"""Typed API objects of the real `kubernetes` client bound to the test's sandbox."""

from __future__ import annotations

import pytest
from kubernetes import client

from tests.sandbox.helpers import AppsApi, CoreApi, CustomObjects


@pytest.fixture
def co(sandbox_api_client: client.ApiClient) -> CustomObjects:
    return client.CustomObjectsApi(sandbox_api_client)


@pytest.fixture
def apps(sandbox_api_client: client.ApiClient) -> AppsApi:
    return client.AppsV1Api(sandbox_api_client)


@pytest.fixture
def core(sandbox_api_client: client.ApiClient) -> CoreApi:
    return client.CoreV1Api(sandbox_api_client)
