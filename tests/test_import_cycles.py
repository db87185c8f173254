"""No product module may join an import cycle beyond the ones listed here, and the list may only shrink.

The graph is grimp's (the library under import-linter): every import, including those inside functions and
under `TYPE_CHECKING`, because each ties one module's meaning to another's. Strongly connected components of
more than one module are cycles. `KNOWN` lists today's, each with why it is still there; a cycle not inside
one of them fails the first test, and an entry that no longer is a cycle fails the second (delete it).
"""

from __future__ import annotations

import grimp

KNOWN: dict[frozenset[str], str] = {}  # none today: every product module is outside any cycle


def cycles() -> list[frozenset[str]]:
    """The cycles among the modules of rollouts and analysis."""
    graph = grimp.build_graph("rollouts", "analysis")
    return components({m: sorted(graph.find_modules_directly_imported_by(m)) for m in sorted(graph.modules)})


def components(edges: dict[str, list[str]]) -> list[frozenset[str]]:
    """Strongly connected components (Tarjan) of more than one node."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, []):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for module in edges:
        if module not in index:
            visit(module)
    return found


def test_no_new_import_cycle() -> None:
    new = [sorted(c) for c in cycles() if not any(c <= known for known in KNOWN)]
    assert not new, f"modules importing each other in a cycle: {new}"


def test_the_known_cycles_are_still_cycles() -> None:
    present = cycles()
    gone = [sorted(known) for known in KNOWN if not any(known & c and len(known & c) > 1 for c in present)]
    assert not gone, f"no longer a cycle, delete from KNOWN: {gone}"


def test_the_detector_finds_cycles_and_only_cycles() -> None:
    edges = {"a": ["b"], "b": ["c"], "c": ["a", "d"], "d": ["e"], "e": ["d"], "f": ["a"], "g": []}
    assert sorted(sorted(c) for c in components(edges)) == [["a", "b", "c"], ["d", "e"]]
    assert components({"a": ["b"], "b": []}) == []
