"""Shared test configuration: every module in tests/fixtures/ is loaded as a pytest plugin.

Fixture modules are owned by the part of the system they stand up (the sandbox API server, a real Prometheus
with backfilled data, …), so each can grow without touching this file.
"""

import pkgutil
from pathlib import Path

pytest_plugins = [
    f"tests.fixtures.{module.name}"
    for module in pkgutil.iter_modules([str(Path(__file__).parent / "fixtures")])
    if not module.name.startswith("_")
]
