"""Pod-template and step hashes (docs/semantics/objects.md#rollout-status currentPodHash / currentStepHash): FNV-32a, Go JSON order, safe encoding."""

from __future__ import annotations

from typing import Any

import pytest

from rollouts.strategy.hashing import (
    POD_TEMPLATE_SHAPE,
    STEPS_SHAPE,
    fnv32a,
    go_json,
    pod_template_hash,
    safe_encode,
    step_hash,
)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(b"", 0x811C9DC5, id="empty"),
        pytest.param(b"a", 0xE40C292C, id="a"),
        pytest.param(b"foobar", 0xBF9CF968, id="foobar"),
    ],
)
def test_fnv32a_reference_vectors(data: bytes, expected: int) -> None:
    assert fnv32a(data) == expected


def test_safe_encode_maps_bytes_into_the_k8s_alphabet() -> None:
    """k8s rand.SafeEncodeString: byte % 27 into "bcdfghjklmnpqrstvwxz2456789" (no vowels, no 0/1/3)."""
    assert safe_encode("0123456789") == "456789bcdf"  # "0" is byte 48, 48 % 27 = 21 → "4"
    assert set(safe_encode("4294967295")) <= set("bcdfghjklmnpqrstvwxz2456789")


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        # golden values from Argo's utils/conditions TestComputeStepHash
        pytest.param([{"pause": {}}], "6b9b86fbd5", id="one-pause"),
        pytest.param([{"pause": {}}, {"pause": {}}], "79c9b9f6bf", id="two-pauses"),
        pytest.param(None, "5ffbfbbd64", id="no-steps"),
    ],
)
def test_step_hash_matches_argo(steps: list[dict[str, Any]] | None, expected: str) -> None:
    assert step_hash(steps) == expected


def test_step_hash_uses_go_field_order() -> None:
    """Key order in the manifest does not matter: Go marshals struct fields in declaration order."""
    a = [{"analysis": {"args": [{"value": "x", "name": "n"}], "templates": [{"templateName": "t"}]}}]
    b = [{"analysis": {"templates": [{"templateName": "t"}], "args": [{"name": "n", "value": "x"}]}}]
    assert step_hash(a) == step_hash(b)
    assert (
        go_json(a, STEPS_SHAPE)
        == b'[{"analysis":{"templates":[{"templateName":"t"}],"args":[{"name":"n","value":"x"}]}}]'
    )


def test_pod_template_json_is_go_ordered() -> None:
    """ObjectMeta always carries creationTimestamp null; Container always carries resources {} (no omitempty)."""
    template = {
        "spec": {"containers": [{"image": "x", "name": "c"}]},
        "metadata": {"labels": {"b": "1", "a": "2"}},
    }
    assert go_json(template, POD_TEMPLATE_SHAPE) == (
        b'{"metadata":{"creationTimestamp":null,"labels":{"a":"2","b":"1"}},'
        b'"spec":{"containers":[{"name":"c","image":"x","resources":{}}]}}'
    )


def test_go_json_escapes_html() -> None:
    assert go_json({"a": "<&>"}) == b'{"a":"\\u003c\\u0026\\u003e"}'


def test_pod_template_hash_properties() -> None:
    """Same template → same hash; a changed image or a collisionCount → a different one (hash.ComputePodTemplateHash)."""
    t1 = {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c", "image": "v1"}]}}
    t2 = {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c", "image": "v2"}]}}
    h1 = pod_template_hash(t1)
    assert h1 == pod_template_hash({"spec": t1["spec"], "metadata": t1["metadata"]})
    assert h1 != pod_template_hash(t2)
    assert h1 != pod_template_hash(t1, 1)
    assert pod_template_hash(t1, 0) != h1  # a present (even zero) collisionCount is hashed too
    assert set(h1) <= set("bcdfghjklmnpqrstvwxz2456789")
