"""Reading manifest files (`analysis.reading`): bounded, UTF-8, values as Kubernetes reads them, one-line errors."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from analysis import reading
from analysis.reading import MAX_BYTES, MAX_DEPTH, ReadError, load_documents, read_documents, read_text


def _laughs(levels: int) -> str:
    """A "billion laughs" file: each level repeats the previous one ten times through aliases."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "a: [" * (MAX_DEPTH + 1), f"f.yaml: nested more than {MAX_DEPTH} levels deep", id="flow-depth"
        ),
        pytest.param(
            "".join("  " * i + "a:\n" for i in range(MAX_DEPTH + 1)) + "  " * (MAX_DEPTH + 1) + "b: 1\n",
            f"f.yaml: nested more than {MAX_DEPTH} levels deep",
            id="block-depth",
        ),
        pytest.param(
            _laughs(7), "f.yaml: more than 1,000,000 values once aliases are expanded", id="aliases"
        ),
        pytest.param("kind: [unclosed\n", "f.yaml: not valid YAML at line 2, column 1:", id="yaml"),
        pytest.param(
            "a: !!binary aGVsbG8=\n", "f.yaml: a: binary data (!!binary) cannot be stored", id="binary"
        ),
        pytest.param("a: !!set {x}\n", "f.yaml: a: a set (!!set) cannot be stored", id="set"),
        pytest.param("a: \x00\n", "f.yaml: not valid YAML", id="control-character"),
    ],
)
def test_refused_with_one_sentence(text: str, expected: str) -> None:
    with pytest.raises(ReadError) as raised:
        load_documents(text, "f.yaml")
    message = str(raised.value)
    assert message.startswith(expected) and "\n" not in message, message


def test_a_deep_file_just_within_the_bound_reads() -> None:
    text = "a: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n"
    (doc,) = load_documents(text, "f.yaml")
    depth, node = 0, doc["a"]
    while node:
        depth, node = depth + 1, node[0]
    assert depth == MAX_DEPTH - 2  # the mapping and the outer list are the other two levels


def test_values_as_kubernetes_reads_them() -> None:
    """sigs.k8s.io/yaml goes through JSON: unquoted dates stay strings, `=` is a string, keys are strings."""
    (doc,) = load_documents("at: 2024-01-01\nop: =\nkeys: {1: one, true: yes, null: none}\n", "f.yaml")
    assert doc == {"at": "2024-01-01", "op": "=", "keys": {"1": "one", "true": True, "null": "none"}}


def test_a_list_is_its_items_and_empty_documents_are_dropped() -> None:
    text = "apiVersion: v1\nkind: List\nitems:\n- {kind: A}\n- null\n- {kind: B}\n---\n---\nkind: C\n"
    assert load_documents(text, "f.yaml") == [{"kind": "A"}, {"kind": "B"}, {"kind": "C"}]


def test_files_not_utf8_too_large_or_missing(tmp_path: Path) -> None:
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(
        ReadError, match=r"latin.yaml: not UTF-8 text \(byte 0xe9 at offset 9\); save it as UTF-8$"
    ):
        read_text(latin)
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (MAX_BYTES + 1))
    with pytest.raises(ReadError, match=r"big.yaml: the file is larger than 8 MiB; split it$"):
        read_text(big)
    with pytest.raises(ReadError, match=r"nothing.yaml: cannot read the file: No such file or directory$"):
        read_text(tmp_path / "nothing.yaml")
    with pytest.raises(ReadError, match="cannot read the file: Is a directory"):
        read_text(tmp_path)
    bom = tmp_path / "bom.yaml"
    bom.write_bytes(b"\xef\xbb\xbfkind: Rollout\n")
    assert read_documents(bom) == [{"kind": "Rollout"}]


def test_standard_input() -> None:
    assert read_documents("-", io.BytesIO(b"kind: A\n---\nkind: B\n")) == [{"kind": "A"}, {"kind": "B"}]
    with pytest.raises(ReadError, match=r"^-: not UTF-8 text"):
        read_documents("-", io.BytesIO(b"\xff"))


def test_the_bounds_are_the_documented_ones() -> None:
    assert (reading.MAX_BYTES, reading.MAX_DEPTH, reading.MAX_NODES) == (8 * 1024 * 1024, 100, 1_000_000)
