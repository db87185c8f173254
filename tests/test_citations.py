"""Citations of Argo's rules point into the repository's own account of them (docs/semantics/*.md).

Code, tests, benchmarks and docs cite a rule as `docs/semantics/<file>.md#<anchor>`; every anchor is an explicit
`<a id="…">` in that file. This test fails on a citation whose file or anchor does not exist, on a markdown link
into docs/semantics that misses, and on the section-sign numbering of an outside document (which a person who
clones the repository cannot look up).
"""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEMANTICS = ROOT / "docs" / "semantics"
SECTION_SIGN = "\u00a7"
CITATION = re.compile(r"docs/semantics/([\w-]+)\.md(?:#([\w-]+))?")
LINK = re.compile(r"\]\(((?:\.\./)*(?:docs/)?semantics/([\w-]+)\.md)(?:#([\w-]+))?\)")
ANCHOR = re.compile(r'<a id="([\w-]+)"></a>')
TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".toml", ".sh", ".txt", ".json", ".cfg", ".ini", ""}


def tracked_text_files() -> list[Path]:
    """Every file git tracks (or would: new files not yet ignored) whose content is text we write."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    files = [ROOT / name for name in listed]
    return [f for f in files if f.is_file() and f.suffix in TEXT_SUFFIXES and "golden" not in f.parts]


@cache
def anchors(name: str) -> frozenset[str]:
    path = SEMANTICS / f"{name}.md"
    return frozenset(ANCHOR.findall(path.read_text())) if path.exists() else frozenset()


def test_the_semantics_files_exist_and_have_anchors() -> None:
    names = sorted(p.stem for p in SEMANTICS.glob("*.md"))
    assert names == ["analysis", "controller", "experiments", "metrics", "objects", "plugin"]
    for name in names:
        assert len(anchors(name)) >= 3, name


def test_no_citation_of_an_outside_numbering() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()[:120]}"
        for path in tracked_text_files()
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if SECTION_SIGN in line
    ]
    assert not offenders, "\n".join(offenders)


def problems(label: str, text: str) -> tuple[list[str], int]:
    """(what does not resolve, how many citations) in one file's text."""
    missing: list[str] = []
    cited = 0
    for n, line in enumerate(text.splitlines(), 1):
        for name, anchor in CITATION.findall(line):
            cited += 1
            if not (SEMANTICS / f"{name}.md").exists():
                missing.append(f"{label}:{n}: no docs/semantics/{name}.md")
            elif anchor and anchor not in anchors(name):
                missing.append(f"{label}:{n}: no anchor #{anchor} in {name}.md")
        for _, name, anchor in LINK.findall(line):
            if anchor and anchor not in anchors(name):
                missing.append(f"{label}:{n}: link to missing #{anchor} in {name}.md")
    return missing, cited


def test_every_citation_and_link_resolves() -> None:
    missing: list[str] = []
    cited = 0
    for path in tracked_text_files():
        if path == Path(__file__).resolve():
            continue  # its own broken examples below
        found, count = problems(str(path.relative_to(ROOT)), path.read_text(errors="replace"))
        missing += found
        cited += count
    assert not missing, "\n".join(missing)
    assert cited > 300  # the code does cite its rules


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        pytest.param(
            "x  # docs/semantics/controller.md#no-such-rule", "no anchor #no-such-rule", id="bad-anchor"
        ),
        pytest.param("x  # docs/semantics/nowhere.md#abort", "no docs/semantics/nowhere.md", id="bad-file"),
        pytest.param("see [abort](semantics/controller.md#aborts)", "link to missing #aborts", id="bad-link"),
        pytest.param("x  # docs/semantics/controller.md#abort", "", id="good"),
    ],
)
def test_the_check_catches_a_broken_citation(line: str, problem: str) -> None:
    missing, _ = problems("f.py", line)
    assert missing == (
        [f"f.py:1: {problem}" + (" in controller.md" if "#" in problem else "")] if problem else []
    )
