"""Argo Rollouts' own manifests through this project's offline tools: what is accepted, refused, rejected.

A measurement of drop-in compatibility (not part of the test run). It reads a checkout of Argo Rollouts (a
bare mirror is fine: files are read with `git show REV:path`) and extracts every Kubernetes document of

* `examples/**/*.yaml` (and `.yml`),
* `test/e2e/**/*.yaml` (the end-to-end fixtures),
* the YAML code blocks of `docs/**/*.md`,
* the lint testdata, `pkg/kubectl-argo-rollouts/cmd/lint/testdata/*` (YAML and JSON),

into a temporary directory, one file per document (never into this repository). Each Rollout,
AnalysisTemplate, ClusterAnalysisTemplate, AnalysisRun and Experiment then goes through this project's
command-line tools, each run as a subprocess of the Python given by `--python` (default: this checkout's
`.venv`), so an older checkout can be measured with its own venv:

* `rollouts lint -f FILE` for every kind. A Rollout's file also holds the other documents of the same source
  file (Services, Ingresses, VirtualServices, templates), and, for a YAML file, the documents of the same
  folder whose name the Rollout mentions (the templates of `examples/analysis-templates.yaml`, say), since
  lint checks the objects of one file against each other;
* `rollouts plan -f FILE` for a Rollout (the same file);
* `rollouts analyze -f FILE --at 2000-01-01T00:00:00Z --prometheus http://127.0.0.1:PORT` for templates and
  AnalysisRuns: the closest no-network check there is. PORT is bound by this script and never listens, so
  every Prometheus query fails at once; what matters is whether the manifest loads, validates and builds a
  run (exit 2 is bad input). Arguments without a value get `-a NAME=1`. A document with a `web` metric is
  not analyzed (it would call the URL). `no provider is configured for "job"` is expected there (the Job
  provider lives in the controller); any other provider named so is an unsupported provider.

Each document gets one verdict, the worst of its tools' in this order: `crashed` (a traceback, a signal, an
unexpected exit status or a timeout), `invalid` (the tool rejects the document; with its message), `unsupported`
(a feature this project refuses: a warning or error saying "not supported" / "cannot drive", an unsupported
provider; grouped by feature: ALB, experiment step, workloadRef, …), `accepted`. Documents the tools are not
for are `n/a`: fragments without apiVersion/kind, kinds that are not Argo's, Helm/Go-templated text and YAML
that does not parse (a `...` line standing for omitted fields included). A document that Argo itself rejects
is marked so, with the reason: the `invalid*` lint testdata, a Rollout with neither `selector` nor
`workloadRef` (as the docs' shortened examples are), and whatever Argo's CRD schema of the same commit refuses
(a wrong type, a missing required field, an unknown field), and a name the API server refuses. Only the other `invalid` verdicts are false
rejections; the report lists them, and the documents Argo rejects that pass here. The judging lives in
`argo_corpus_checks.py`.

    .venv/bin/python bench/argo_corpus.py --argo-repo /work/.mirror/argoproj+argo-rollouts/repo [--rev COMMIT]
        [--python OTHER/.venv/bin/python] [--jobs 2] [--json] [--keep DIR]

Prints tables by source folder, by kind and by category (feature or message, with an example). With `--json`
the per-document verdicts (path, line, kind, name, verdict, feature, message, argo_rejects, per tool) go to
stdout and the tables to stderr.
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml
from argo_corpus_checks import VERDICTS, Doc, argo_refusal, argo_schemas, command, git, judge

ROOT = Path(__file__).resolve().parents[1]
LINT_TESTDATA = "pkg/kubectl-argo-rollouts/cmd/lint/testdata/"
ARGO_KINDS = ("Rollout", "AnalysisTemplate", "ClusterAnalysisTemplate", "AnalysisRun", "Experiment")
# A Go/Helm template action, as opposed to Argo's own `{{args.x}}`-style placeholders inside strings.
GO_TEMPLATE = re.compile(
    r"\{\{-?\s*(?:\.|-|if\b|else\b|end\b|range\b|with\b|include\b|template\b|toYaml\b|\$)"
)


# --- extraction ----------------------------------------------------------------------------------------------


def wanted(path: str) -> bool:
    if path.startswith(LINT_TESTDATA):
        return path.endswith((".yaml", ".yml", ".json"))
    if path.startswith(("examples/", "test/e2e/")):
        return path.endswith((".yaml", ".yml"))
    return path.startswith("docs/") and path.endswith(".md")


def markdown_blocks(text: str) -> Iterator[tuple[int, str]]:
    """(first line, text) of each YAML code block; unlabelled blocks too when they hold a `kind:`."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        opening = re.match(r"^(\s*)(```|~~~)\s*([\w+-]*)", lines[i])
        if not opening:
            i += 1
            continue
        indent, fence, lang = len(opening.group(1)), opening.group(2), opening.group(3).lower()
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not re.match(rf"^\s*{fence}\s*$", lines[j]):
            line = lines[j]
            strip = min(indent, len(line) - len(line.lstrip(" ")))
            body.append(line[strip:])
            j += 1
        block = "\n".join(body)
        if lang in ("yaml", "yml") or (not lang and re.search(r"^kind:\s*\w", block, re.M)):
            yield i + 2, block
        i = j + 1


def split_documents(text: str, first_line: int) -> Iterator[tuple[int, str]]:
    """(first line, text) of each `---`-separated document, so one bad document does not hide the others."""
    start, chunk = first_line, list[str]()
    for offset, line in enumerate(text.splitlines()):
        if re.match(r"^---\s*(#.*)?$", line):
            yield start, "\n".join(chunk)
            start, chunk = first_line + offset + 1, []
        else:
            chunk.append(line)
    yield start, "\n".join(chunk)


def classify_text(doc: Doc, text: str) -> bool:
    """Parse a document; False (with the n/a reason) when it is not one the tools are for.

    The tools get the document's own text. A tab before a comment is valid YAML to Kubernetes' Go parser but
    not to PyYAML: such a document is read here with its tabs expanded, and the tools still see the tabs.
    """
    doc.text = text
    if GO_TEMPLATE.search(text):
        doc.message = "Helm/Go template"
        return False
    if re.search(r"^\s*\.\.\.\s*$", text, re.M):
        doc.message = "elided (a `...` line stands for the omitted fields)"
        return False
    try:
        obj = yaml.safe_load(text)
    except yaml.YAMLError as e:
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        try:
            obj = yaml.safe_load(text.expandtabs(1)) if "\t" in text else None
        except yaml.YAMLError:
            obj = None
        if obj is None:
            doc.message = f"not valid YAML{' (templated)' if '{{' in text else ''}: {problem}"
            return False
    doc.obj = obj
    if not isinstance(obj, dict) or not obj.get("kind") or not obj.get("apiVersion"):
        doc.message = "fragment (no apiVersion and kind)"
        return False
    meta = obj.get("metadata")
    doc.kind = str(obj["kind"])
    doc.name = str(meta.get("name") or "") if isinstance(meta, dict) else ""
    if not str(obj["apiVersion"]).startswith("argoproj.io/") or doc.kind not in ARGO_KINDS:
        doc.message = f"not an Argo Rollouts kind ({obj['apiVersion']} {doc.kind})"
        return False
    if not isinstance(obj.get("spec"), dict):
        doc.message = f"fragment ({doc.kind} without a spec)"
        return False
    return True


def extract(repo: Path, rev: str) -> list[Doc]:
    docs: list[Doc] = []
    for path in sorted(p for p in git(repo, "ls-tree", "-r", "--name-only", rev).splitlines() if wanted(p)):
        text = git(repo, "show", f"{rev}:{path}")
        base = path.rsplit("/", 1)[-1]
        rejects = (
            "Argo's lint rejects this file"
            if path.startswith(LINT_TESTDATA) and base.startswith("invalid")
            else ""
        )
        if path.endswith(".md"):
            pieces = [
                piece for line, block in markdown_blocks(text) for piece in split_documents(block, line)
            ]
        elif path.endswith(".json"):
            pieces = [(1, text)]
        else:
            pieces = list(split_documents(text, 1))
        for line, piece in pieces:
            if not re.sub(r"(?m)^\s*#.*$", "", piece).strip():
                continue  # comments only: no document
            doc = Doc(path=path, line=line, group=path, argo_rejects=rejects)
            if classify_text(doc, piece):
                doc.verdict = ""
                spec = doc.obj["spec"]
                if (
                    doc.kind == "Rollout"
                    and not rejects
                    and not spec.get("selector")
                    and not spec.get("workloadRef")
                ):
                    doc.argo_rejects = "Argo's validation requires spec.selector without a workloadRef"
            docs.append(doc)
    return docs


# --- what a Rollout's file holds -----------------------------------------------------------------------------


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def companions(doc: Doc, docs: list[Doc]) -> list[Any]:
    """The other objects of the Rollout's file, then those of its folder (YAML only) that it names."""
    seen: set[tuple[str, str]] = set()
    out: list[Any] = []

    def add(other: Doc) -> None:
        key = (str(other.obj.get("kind")), str((other.obj.get("metadata") or {}).get("name")))
        if key not in seen:
            seen.add(key)
            out.append(other.obj)

    objects = [d for d in docs if d is not doc and isinstance(d.obj, dict) and d.obj.get("kind") != "Rollout"]
    objects = [d for d in objects if d.obj.get("apiVersion") and isinstance(d.obj.get("metadata"), dict)]
    for other in objects:
        if other.group == doc.group:
            add(other)
    if not doc.path.endswith(".md"):
        folder = doc.path.rsplit("/", 1)[0]
        names = set(strings(doc.obj.get("spec")))
        for other in objects:
            if other.path.rsplit("/", 1)[0] == folder and other.obj["metadata"].get("name") in names:
                add(other)
    return out


def measure(doc: Doc, docs: list[Doc], cmd: list[str], workdir: Path, number: int, port: int) -> None:
    file = workdir / f"{number:04d}-{doc.kind}-{re.sub(r'[^A-Za-z0-9_.-]', '_', doc.name)[:60]}.yaml"
    others = companions(doc, docs) if doc.kind == "Rollout" else []
    file.write_text(doc.text + ("\n---\n" + yaml.safe_dump_all(others, sort_keys=False) if others else "\n"))
    judge(doc, file, cmd, port)


# --- reporting -----------------------------------------------------------------------------------------------


def folder(path: str) -> str:
    if path.startswith(LINT_TESTDATA):
        return "lint testdata"
    parts = path.split("/")[:-1]
    return "/".join(parts[:3] if parts[0] == "test" else parts[:2]) or parts[0]


def category(doc: Doc) -> str:
    if doc.verdict == "unsupported":
        return doc.feature
    if doc.verdict == "n/a":
        return re.sub(r"\(.*\)|: .*", "", doc.message).strip() or doc.message
    text = re.sub(r"\[\d+\]", "[]", doc.message)
    return re.sub(r'"[^"]*"', '"…"', text)[:110]


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def counts_table(docs: list[Doc], key: str) -> str:
    by: dict[str, Counter[str]] = defaultdict(Counter)
    for doc in docs:
        by[folder(doc.path) if key == "folder" else doc.kind or "-"][doc.verdict] += 1
    total: Counter[str] = sum(by.values(), Counter())
    rows = [[key, *VERDICTS, "total"]]
    for name in [*sorted(by), "all"]:
        c = total if name == "all" else by[name]
        rows.append([name, *(str(c[v]) for v in VERDICTS), str(sum(c.values()))])
    return table(rows)


def report(docs: list[Doc], header: str) -> str:
    out = [
        header,
        "",
        "By source folder:",
        counts_table(docs, "folder"),
        "",
        "By kind:",
        counts_table(docs, "kind"),
    ]
    for verdict in ("unsupported", "invalid", "crashed", "n/a"):
        chosen = [d for d in docs if d.verdict == verdict]
        if not chosen:
            continue
        groups: dict[str, list[Doc]] = defaultdict(list)
        for doc in chosen:
            groups[category(doc)].append(doc)
        out += ["", f"{verdict} ({len(chosen)}), by {'feature' if verdict == 'unsupported' else 'cause'}:"]
        for name, members in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            first = members[0]
            out.append(f"  {len(members):4d}  {name}")
            if verdict != "n/a":
                out.append(
                    f"        e.g. {first.path}:{first.line} {first.kind} {first.name!r}: {first.message}"
                )
    false = [d for d in docs if d.verdict == "invalid" and not d.argo_rejects]
    missed = [d for d in docs if d.argo_rejects and d.verdict in ("accepted", "unsupported")]
    out += ["", f"invalid here, accepted by Argo (false rejections): {len(false)}"]
    out += [f"  {d.path}:{d.line} {d.kind} {d.name!r}: {d.message}" for d in false]
    out += ["", f"rejected by Argo, not invalid here: {len(missed)}"]
    out += [f"  {d.path}:{d.line} {d.kind} {d.name!r} ({d.verdict}): {d.argo_rejects}" for d in missed]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--argo-repo", type=Path, required=True, help="Argo Rollouts git checkout or mirror")
    parser.add_argument("--rev", default="HEAD", help="commit of the Argo repository to read (default HEAD)")
    parser.add_argument("--python", type=Path, default=ROOT / ".venv/bin/python", help="Python with rollouts")
    parser.add_argument("--jobs", type=int, default=2, help="tools run at once (default 2)")
    parser.add_argument(
        "--json", action="store_true", help="per-document verdicts as JSON on stdout (tables on stderr)"
    )
    parser.add_argument("--keep", type=Path, help="write the extracted documents here and keep them")
    opts = parser.parse_args(argv)
    try:
        commit = git(opts.argo_repo, "rev-parse", f"{opts.rev}^{{commit}}").strip()
    except subprocess.CalledProcessError as e:
        why = (e.stderr or "").strip().splitlines()
        print(
            f"error: {opts.argo_repo}: cannot read revision {opts.rev}: {why[0] if why else e}",
            file=sys.stderr,
        )
        return 2
    except FileNotFoundError:
        print("error: git is not installed", file=sys.stderr)
        return 2
    if not opts.python.exists():
        print(
            f"error: --python {opts.python}: no such file (run scripts/bootstrap.sh --test)", file=sys.stderr
        )
        return 2
    docs = extract(opts.argo_repo, commit)
    schemas = argo_schemas(opts.argo_repo, commit)
    cmd = command(opts.python)
    closed = socket.socket()  # bound, never listening: connections are refused at once
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="argo-corpus-") as tmp:
        workdir = opts.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        todo = [(i, d) for i, d in enumerate(docs) if d.verdict == ""]
        with ThreadPoolExecutor(max(1, opts.jobs)) as pool:
            list(pool.map(lambda item: measure(item[1], docs, cmd, workdir, item[0], port), todo))
    closed.close()
    for doc in docs:
        if doc.verdict != "n/a":
            doc.argo_rejects = doc.argo_rejects or argo_refusal(doc, schemas)
    header = (
        f"Argo Rollouts {commit[:12]} ({opts.argo_repo}) through {' '.join(cmd[:1])}: {len(docs)} documents"
    )
    if opts.json:
        rows = [{k: v for k, v in asdict(d).items() if k not in ("obj", "group", "text")} for d in docs]
        json.dump(
            {"argoRepo": str(opts.argo_repo), "rev": commit, "tool": cmd[0], "documents": rows},
            sys.stdout,
            indent=1,
        )
        print()
    print(report(docs, header), file=sys.stderr if opts.json else sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
