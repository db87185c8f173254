"""Every command that reads a file a user gives it, fed arbitrary bytes, text and mangled manifests.

`lint -f`, `plan -f`, `analyze -f`, `create -f` and `create analysisrun --from-file` must each end with an exit
code they document, never a traceback, and say what is wrong in one sentence on stderr (warnings aside). The
mangled manifests start from the project's examples and replace, delete or wrap one value anywhere in them
with any JSON value (wrong types, huge numbers, deep lists), which is how real manifests go wrong.

Nothing here reaches the network: `analyze` measures against a loopback port nothing listens on and only
from templates without web metrics, and `create` is pointed at a kubeconfig that does not exist, so a valid
file ends in the one-line kubeconfig error.

A longer search: ``ROLLOUTS_FUZZ_EXAMPLES=2000 .venv/bin/python -m pytest --timeout 0 tests/test_cli_fuzz.py``.
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollouts.cli import cli
from tests.fixtures.prometheus import unused_url

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PYTHON_ERROR = re.compile(
    r"\b(Attribute|Type|Key|Index|Value|Recursion|Unicode\w*|Assertion|ZeroDivision|Overflow|Runtime|Name|"
    r"Lookup|NotImplemented)Error\b|Traceback|object has no attribute"
)
# command → (argument list after the file, exit codes it documents, the exit code of bad input)
COMMANDS: dict[str, tuple[list[str], set[int], int]] = {
    "lint": (["lint", "-f"], {0, 1}, 1),
    "plan": (["plan", "-f"], {0, 2}, 2),
    "analyze": (["analyze", "--at", "now", "--prometheus", "PROMETHEUS", "-f"], {0, 1, 2, 3, 4}, 2),
    "create": (["create", "--kubeconfig", "KUBECONFIG", "-f"], {1}, 1),
    "create-analysisrun": (["create", "analysisrun", "--kubeconfig", "KUBECONFIG", "--from-file"], {1}, 1),
}


@cache
def seeds() -> tuple[dict[str, Any], ...]:
    """Every document of the examples, without web metrics (analyze would try to reach their URLs)."""
    docs = []
    for path in sorted(EXAMPLES.glob("*/*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and '"web"' not in str(doc).replace("'", '"'):
                docs.append(doc)
    return tuple(docs)


def check(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "input.yaml"
    path.write_bytes(content)
    for name, (argv, allowed, bad_input) in COMMANDS.items():
        args = [
            {"PROMETHEUS": unused_url(), "KUBECONFIG": str(tmp_path / "no-kubeconfig")}.get(a, a)
            for a in argv
        ]
        result = CliRunner().invoke(cli, [*args, str(path)])
        _assert_clean(name, result, allowed, bad_input)


def _assert_clean(name: str, result: Result, allowed: set[int], bad_input: int) -> None:
    where = (
        f"{name}: exit {result.exit_code}\nstdout: {result.stdout[-2000:]}\nstderr: {result.stderr[-2000:]}"
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{where}\n{type(result.exception).__name__}: {result.exception}"
    )
    assert result.exit_code in allowed, where
    said = [line for line in result.stderr.splitlines() if line and not line.startswith("warning: ")]
    assert len(said) <= 1, where
    if result.exit_code == bad_input and name != "analyze":  # analyze's 1 is a verdict, its 2 bad input
        assert len(said) == 1 and said[0].lower().startswith("error: "), where
    if name == "analyze" and result.exit_code == 2:
        assert len(said) == 1 and said[0].startswith("error: "), where
    assert not PYTHON_ERROR.search(result.stdout + result.stderr), where


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*prefix, i))
    return out


@st.composite
def mangled(draw: st.DrawFn) -> bytes:
    doc = yaml.safe_load(yaml.safe_dump(draw(st.sampled_from(seeds()))))  # a private copy
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(_paths(doc)))
        if not path:
            continue
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        operation = draw(st.sampled_from(["replace", "delete", "wrap"]))
        if operation == "delete":
            del parent[path[-1]]
        elif operation == "wrap":
            parent[path[-1]] = [parent[path[-1]]]
        else:
            parent[path[-1]] = draw(json_values)
    return yaml.safe_dump(doc, allow_unicode=True).encode()


EXAMPLES_PER_TEST = int(os.environ.get("ROLLOUTS_FUZZ_EXAMPLES", "40"))
FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    max_examples=EXAMPLES_PER_TEST,
)


@FUZZ
@given(content=st.binary(max_size=600))
def test_bytes(tmp_path: Path, content: bytes) -> None:
    check(tmp_path, content)


@FUZZ
@given(content=st.text(max_size=400))
def test_text(tmp_path: Path, content: str) -> None:
    check(tmp_path, content.encode("utf-8", "surrogatepass"))


@settings(FUZZ, max_examples=3 * EXAMPLES_PER_TEST)
@given(content=mangled())
def test_mangled_manifests(tmp_path: Path, content: bytes) -> None:
    check(tmp_path, content)


@FUZZ
@given(depth=st.integers(min_value=90, max_value=3000), opener=st.sampled_from(["[", "{a: ", "- "]))
def test_deep_nesting(tmp_path: Path, depth: int, opener: str) -> None:
    if opener == "- ":
        text = "".join("  " * i + "- \n" for i in range(depth)) + "  " * depth + "x\n"
    else:
        text = "spec: " + opener * depth
    check(tmp_path, text.encode())
