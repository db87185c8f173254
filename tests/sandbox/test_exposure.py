"""Bound beyond loopback, the sandbox warns, points clients at an address they can reach (never 0.0.0.0) and
keeps Secret data out of `/sandbox/state`; on loopback nothing changes."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import pytest
import yaml

from rollouts.sandbox import Sandbox
from rollouts.sandbox.exposing import advertised_host, is_loopback, url_host
from tests.fixtures.sandbox import start_sandbox_process
from tests.sandbox.helpers import http

SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "db"},
    "data": {"password": base64.b64encode(b"hunter2").decode()},
}


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.0.0.53", True), ("localhost", True), ("::1", True), ("0.0.0.0", False),
     ("::", False), ("", False), ("10.1.2.3", False), ("no-such-host.invalid", False)],
)  # fmt: skip
def test_what_counts_as_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("host", "advertise", "url"),
    [("0.0.0.0", None, "127.0.0.1"), ("::", None, "[::1]"), ("", None, "127.0.0.1"), ("10.1.2.3", None, "10.1.2.3"),
     ("0.0.0.0", "sandbox.lan", "sandbox.lan"), ("0.0.0.0", "fd00::5", "[fd00::5]")],
)  # fmt: skip
def test_the_advertised_address_is_one_a_client_can_reach(host: str, advertise: str | None, url: str) -> None:
    assert url_host(advertised_host(host, advertise)) == url


def test_on_all_interfaces_it_warns_and_advertises_loopback(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING), Sandbox(host="0.0.0.0") as sb:
        assert sb.exposed
        assert sb.url.startswith("http://127.0.0.1:")
        config = yaml.safe_load(sb.kubeconfig_path.read_text())
        assert config["clusters"][0]["cluster"]["server"] == sb.url
        assert http(sb.url, "GET", "/version")[0] == 200
    warning = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert "beyond loopback" in warning and "no authentication" in warning and "Secrets" in warning


def test_advertise_host_names_the_url() -> None:
    with Sandbox(host="0.0.0.0", advertise_host="sandbox.example") as sb:
        assert sb.url == f"http://sandbox.example:{sb.port}"


def test_exposed_state_leaves_out_secret_data() -> None:
    with Sandbox(host="0.0.0.0") as sb:
        sb.create(SECRET)
        sb.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"a": "1"}})
        doc = json.loads(http(sb.url, "GET", "/sandbox/state")[2])
    assert doc["redacted"] == "the data of Secrets is left out: the sandbox listens beyond loopback"
    by_name = {o["metadata"]["name"]: o for o in doc["items"]}
    assert "data" not in by_name["db"] and by_name["db"]["kind"] == "Secret"
    assert by_name["cfg"]["data"] == {"a": "1"}
    assert b"hunter2" not in json.dumps(doc).encode() and SECRET["data"]["password"] not in json.dumps(doc)


def test_on_loopback_the_state_is_complete(sandbox: Sandbox) -> None:
    assert not sandbox.exposed
    sandbox.create(SECRET)
    doc = json.loads(http(sandbox.url, "GET", "/sandbox/state")[2])
    assert "redacted" not in doc
    assert next(o for o in doc["items"] if o["metadata"]["name"] == "db")["data"] == SECRET["data"]


def test_the_cli_warns_on_stderr_and_writes_a_reachable_kubeconfig(tmp_path: Path) -> None:
    sp = start_sandbox_process(tmp_path, "--host", "0.0.0.0")
    try:
        assert sp.url.startswith("http://127.0.0.1:")
        server = yaml.safe_load(sp.kubeconfig_path.read_text())["clusters"][0]["cluster"]["server"]
        assert server == sp.url
        assert http(sp.url, "GET", "/version")[0] == 200
    finally:
        assert sp.stop() == 0
    log = (tmp_path / "sandbox.log").read_text()
    assert "WARNING: the sandbox listens on 0.0.0.0:" in log and "no authentication" in log


def test_the_cli_advertises_the_host_it_is_told(tmp_path: Path) -> None:
    sp = start_sandbox_process(tmp_path, "--host", "0.0.0.0", "--advertise-host", "localhost")
    try:
        assert sp.url.startswith("http://localhost:")
        assert http(sp.url, "GET", "/version")[0] == 200
    finally:
        assert sp.stop() == 0
