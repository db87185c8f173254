"""Reading manifest files for every command that takes one: `lint`, `plan`, `analyze`, `create -f`.

The first stage of each of those commands, before any model sees the data. A file is untrusted input, so
reading it is bounded and every failure is one sentence naming the file (`ReadError`), never a traceback:

* size: at most `MAX_BYTES`, read without loading more than that;
* text: UTF-8 (a byte-order mark is allowed); other bytes are named with their offset;
* YAML (JSON is YAML): nesting at most `MAX_DEPTH` levels and at most `MAX_NODES` nodes once aliases are
  expanded (a "billion laughs" file is refused before it is built), checked on the event stream, which
  needs no recursion, before the documents are composed;
* values as Kubernetes reads them (its YAML goes through JSON): unquoted dates stay strings, ``=`` is a
  string, scalar keys become strings (``1: x`` → ``"1": x``), and a tag that JSON cannot hold (``!!binary``,
  ``!!set``) is an error naming where it is.

``read_documents(path)`` returns the documents in order (empty ones dropped); a ``kind: List`` (what
``kubectl get -o yaml`` writes for several objects) is replaced by its items.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import IO, Any

import yaml

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "ReadError",
    "load_documents",
    "read_documents",
    "read_text",
]

MAX_BYTES = 8 * 1024 * 1024
"""Larger than any sensible manifest file (the API server refuses objects above 3 MiB)."""
MAX_DEPTH = 100
"""Nesting levels; a Rollout's deepest field (a pod template's affinity terms) is about 12 levels down."""
MAX_NODES = 1_000_000
"""Scalars and collections in a file, counting each alias as the whole node it stands for."""


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(message: str) -> str:
    """`message` with every control character (newlines included) written as an escape, so that a value
    quoted from a file cannot break a one-line error or a line of `lint`'s output."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), message)


class ReadError(ValueError):
    """A file that cannot be read as manifests; `str()` is one sentence that names the file."""


class _Loader(yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader):  # type: ignore[misc,name-defined]
    """The safe loader without the two YAML 1.1 resolutions JSON has no counterpart for (timestamps and ``=``),
    whose mapping keys are strings as soon as they are read (``{1: a, true: b}`` keeps both entries)."""

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[str, Any]:
        if isinstance(node, yaml.MappingNode):
            self.flatten_mapping(node)
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, list | dict | set):
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    "found unhashable key",
                    key_node.start_mark,
                )
            mapping[_key(key)] = self.construct_object(value_node, deep=deep)
        return mapping


_DROPPED = frozenset({"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:value"})
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _DROPPED]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_text(path: str | Path, stdin: IO[bytes] | None = None) -> str:
    """The text of `path` (``-``: standard input), at most `MAX_BYTES`, decoded as UTF-8."""
    source = str(path)
    try:
        if source == "-":
            stream = stdin if stdin is not None else sys.stdin.buffer
            data = stream.read(MAX_BYTES + 1)
        else:
            with open(path, "rb") as f:
                data = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise ReadError(f"{source}: cannot read the file: {e.strerror or e}") from None
    if len(data) > MAX_BYTES:
        raise ReadError(f"{source}: the file is larger than {MAX_BYTES // (1024 * 1024)} MiB; split it")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ReadError(
            f"{source}: not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start}); save it as UTF-8"
        ) from None


def _yaml_problem(source: str, e: yaml.YAMLError) -> ReadError:
    mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
    if "maximum nesting depth" in str(e):  # libyaml's own bound (1,000 levels), met while scanning ahead
        return _too_deep(source, mark.line + 1 if mark is not None else 0)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    problem = getattr(e, "problem", None) or " ".join(str(e).split())
    return ReadError(f"{source}: not valid YAML{where}: {problem}")


def _too_deep(source: str, line: int) -> ReadError:
    return ReadError(
        f"{source}: nested more than {MAX_DEPTH} levels deep" + (f" at line {line}" if line else "")
    )


def _check_shape(text: str, source: str) -> None:
    """Depth and expanded size from the event stream, before anything is built."""
    depth = 0
    total = 0
    open_nodes: list[tuple[str | None, int]] = []  # (anchor, total when it opened)
    sizes: dict[str, int] = {}
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise _too_deep(source, event.start_mark.line + 1 if event.start_mark else 0)
            open_nodes.append((event.anchor, total))
            total += 1
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
            anchor, start = open_nodes.pop()
            if anchor is not None:
                sizes[anchor] = total - start
        elif isinstance(event, yaml.ScalarEvent):
            total += 1
            if event.anchor is not None:
                sizes[event.anchor] = 1
        elif isinstance(event, yaml.AliasEvent):
            total += sizes.get(event.anchor or "", 1)
        if total > MAX_NODES:
            raise ReadError(
                f"{source}: more than {MAX_NODES:,} values once aliases are expanded; "
                "write the repeated parts out or split the file"
            )


def _jsonable(value: Any, source: str, where: str) -> Any:
    """The value as Kubernetes' YAML-to-JSON conversion gives it (scalar keys as strings), or ReadError."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for name, item in value.items():
            out[name] = _jsonable(item, source, f"{where}.{name}" if where else name)
        return out
    if isinstance(value, list):
        return [_jsonable(item, source, f"{where}[{i}]") for i, item in enumerate(value)]
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, date):  # an explicit !!timestamp tag
        return value.isoformat()
    names: dict[type, str] = {bytes: "binary data (!!binary)", set: "a set (!!set)", tuple: "a pair list"}
    kind = names.get(type(value), f"a value of type {type(value).__name__}")
    raise ReadError(f"{source}: {where or 'a document'}: {kind} cannot be stored in a Kubernetes object")


def _key(key: Any) -> str:
    """A mapping key as Kubernetes' YAML-to-JSON conversion writes it."""
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return str(key)


def _items(documents: list[Any]) -> Iterator[Any]:
    for doc in documents:
        if (
            isinstance(doc, dict)
            and doc.get("kind") == "List"
            and str(doc.get("apiVersion", "")) == "v1"
            and isinstance(doc.get("items"), list)
        ):
            yield from (item for item in doc["items"] if item is not None)
        elif doc is not None:
            yield doc


def load_documents(text: str, source: str) -> list[Any]:
    """Every non-empty document of a YAML (or JSON) text, bounded as the module says; `kind: List` expanded."""
    try:
        _check_shape(text, source)
        documents = list(yaml.load_all(text, Loader=_Loader))
    except yaml.YAMLError as e:
        raise _yaml_problem(source, e) from None
    except (RecursionError, MemoryError):
        raise ReadError(f"{source}: too large or too deeply nested to read") from None
    return list(_items([_jsonable(d, source, "") for d in documents]))


def read_documents(path: str | Path, stdin: IO[bytes] | None = None) -> list[Any]:
    """`read_text` then `load_documents`: the documents of one file, or a `ReadError`."""
    return load_documents(read_text(path, stdin), str(path))
