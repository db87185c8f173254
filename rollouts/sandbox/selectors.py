"""Label and field selectors, parsed once per request and matched against stored objects.

Where it sits: list, watch and deletecollection in the store filter with a `Selector`. The label grammar is
the apiserver's: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x,y)`, `a` (exists) and `!a` (does not
exist), comma-separated and ANDed. Field selectors accept `=`, `==` and `!=` on `metadata.name`,
`metadata.namespace` and, as a documented superset of the real server, any other dotted path whose value is a
scalar (`status.phase`, `spec.nodeName`, `involvedObject.name`, …).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from rollouts.sandbox.errors import bad_request

Match = Callable[[dict[str, Any]], bool]

_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_SET_RE = re.compile(rf"^\s*({_KEY})\s+(in|notin)\s+\(([^)]*)\)\s*$")
_OP_RE = re.compile(rf"^\s*({_KEY})\s*(==|!=|=)\s*([-A-Za-z0-9_.]*)\s*$")
_EXISTS_RE = re.compile(rf"^\s*(!?)\s*({_KEY})\s*$")


def _split(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p for p in parts if p.strip()]


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    labels = obj.get("metadata", {}).get("labels")
    return labels if isinstance(labels, dict) else {}


def _label_requirement(term: str) -> Match:
    m = _SET_RE.match(term)
    if m:
        key, op, raw = m.group(1), m.group(3), m.group(4)
        values = {v.strip() for v in raw.split(",") if v.strip()}
        if op == "in":
            return lambda o: _labels(o).get(key) in values
        return lambda o: _labels(o).get(key) not in values
    m = _OP_RE.match(term)
    if m:
        key, op, value = m.group(1), m.group(3), m.group(4)
        if op == "!=":
            return lambda o: _labels(o).get(key) != value
        return lambda o: _labels(o).get(key) == value
    m = _EXISTS_RE.match(term)
    if m:
        neg, key = m.group(1), m.group(2)
        if neg:
            return lambda o: key not in _labels(o)
        return lambda o: key in _labels(o)
    raise bad_request(f"unable to parse requirement: found '{term.strip()}', expected: label selector term")


def _field_value(obj: dict[str, Any], path: str) -> str | None:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    if cur is None or isinstance(cur, (dict, list)):
        return None if cur is None else ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def _field_requirement(term: str) -> Match:
    m = re.match(r"^\s*([A-Za-z0-9_.]+)\s*(==|!=|=)\s*(.*?)\s*$", term)
    if not m:
        raise bad_request(f"invalid field selector: '{term.strip()}': expected key=value or key!=value")
    path, op, value = m.group(1), m.group(2), m.group(3)
    if op == "!=":
        return lambda o: (_field_value(o, path) or "") != value
    return lambda o: (_field_value(o, path) or "") == value


class Selector:
    """The conjunction of a label selector and a field selector; an empty selector matches everything."""

    __slots__ = ("_terms", "empty", "equalities", "name", "text")

    def __init__(self, label_selector: str | None = None, field_selector: str | None = None) -> None:
        terms: list[Match] = []
        self.name: str | None = None  # a metadata.name= field selector, used to skip the scan
        # `key=value` terms, used by the store's label index to narrow the scan before matching.
        self.equalities: list[tuple[str, str]] = []
        for term in _split(label_selector or ""):
            terms.append(_label_requirement(term))
            m = _OP_RE.match(term)
            if m and m.group(3) in ("=", "=="):
                self.equalities.append((m.group(1), m.group(4)))
        for term in _split(field_selector or ""):
            terms.append(_field_requirement(term))
            m = re.match(r"^\s*metadata\.name\s*==?\s*(\S+)\s*$", term)
            if m:
                self.name = m.group(1)
        self._terms = terms
        self.empty = not terms
        self.text = f"labels={label_selector or ''} fields={field_selector or ''}"

    def __call__(self, obj: dict[str, Any]) -> bool:
        return all(term(obj) for term in self._terms)


def match_labels(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """A metav1.LabelSelector (matchLabels + matchExpressions) against a label map."""
    if not selector:
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), set(expr.get("values") or [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def selector_string(selector: dict[str, Any] | None) -> str:
    """A metav1.LabelSelector as the string form the Scale subresource reports in status.selector."""
    if not selector:
        return ""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), sorted(expr.get("values") or [])
        if op in ("In", "NotIn"):
            parts.append(f"{key} {op.lower()} ({','.join(values)})")
        elif op == "Exists":
            parts.append(str(key))
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)
