"""The README section docs/analysis.md: its Python example runs and prints what it says."""

import contextlib
import io
import re
from pathlib import Path

from analysis.conditions import check_syntax

DOC = Path(__file__).resolve().parents[2] / "docs" / "analysis.md"


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(), flags=re.S)


def test_python_example_prints_the_documented_output() -> None:
    [code] = blocks("python")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(DOC), "exec"), {"__name__": "docs_example"})
    documented = blocks("text")[-1]
    assert out.getvalue() == documented


def test_documented_conditions_compile() -> None:
    """Every condition shown in the syntax block compiles (comments start with two spaces, '#', a word)."""
    exprs = []
    for line in blocks("text")[0].splitlines():
        code = re.sub(r"\s{2,}#\s+[A-Za-z].*$", "", line)
        exprs.extend(e for e in re.split(r"\s{3,}", code.strip()) if e)
    assert len(exprs) >= 20
    for expr in exprs:
        assert check_syntax(expr) is None, expr
