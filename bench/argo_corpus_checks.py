"""How `argo_corpus.py` judges one document: Argo's own CRD schema, and this project's tools as subprocesses.

Two questions per document. Does Argo refuse it? `argo_refusal` applies the CRD schema of the same Argo commit
the way the API server does (types, required fields, unknown fields: kubectl validates strictly). What do this
project's tools make of it? `lint`, `plan` and `analyze` run the `rollouts` command of the Python under
measurement and turn its exit status and output into a verdict (`accepted`, `unsupported` with the feature,
`invalid` with the message, `crashed`); `judge` keeps the worst. See `argo_corpus.py` for the whole picture.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

ANALYSIS_KINDS = ("AnalysisTemplate", "ClusterAnalysisTemplate", "AnalysisRun")
VERDICTS = ("accepted", "unsupported", "invalid", "crashed", "n/a")
AT = "2000-01-01T00:00:00Z"
TIMEOUT = 120.0
# Providers the controller has and `rollouts analyze` (no cluster) does not.
CONTROLLER_ONLY_PROVIDERS = frozenset({"job"})
UNSUPPORTED = re.compile(r"not supported|cannot drive|unsupported", re.IGNORECASE)
FEATURES = (  # the first pattern found in a refusal names the feature
    (re.compile(r"\.experiment\b|experiment steps"), "experiment step"),
    (re.compile(r"steps\[\d+\]\.plugin\b|plugin steps"), "step plugin"),
    (re.compile(r"workloadRef"), "workloadRef"),
    (re.compile(r"pingPong|ping-pong", re.IGNORECASE), "ping-pong"),
    (re.compile(r'no provider is configured for "([^"]+)"'), "provider {0}"),
    (re.compile(r"trafficRouting ([\w./-]+(?:, [\w./-]+)*)"), "traffic router {0}"),
)


@dataclass
class Doc:
    """One Kubernetes document of Argo's material and what this project's tools made of it."""

    path: str  # the file in Argo's repository
    line: int  # first line of the document in that file
    kind: str = ""
    name: str = ""
    obj: Any = None
    text: str = ""
    group: str = ""  # documents of one group are linted together (a file, or a Markdown page)
    argo_rejects: str = ""  # why Argo itself refuses it, when it does
    verdict: str = "n/a"
    feature: str = ""
    message: str = ""
    tools: dict[str, dict[str, Any]] = field(default_factory=dict)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


# --- Argo's own schema ---------------------------------------------------------------------------------------

CRD_FILES = {
    "Rollout": "rollout-crd.yaml",
    "AnalysisTemplate": "analysis-template-crd.yaml",
    "ClusterAnalysisTemplate": "cluster-analysis-template-crd.yaml",
    "AnalysisRun": "analysis-run-crd.yaml",
    "Experiment": "experiment-crd.yaml",
}


def argo_schemas(repo: Path, rev: str) -> dict[str, Any]:
    """kind → the openAPIV3Schema of Argo's CRD at `rev` (kinds whose CRD cannot be read are left out)."""
    schemas: dict[str, Any] = {}
    for kind, name in CRD_FILES.items():
        try:
            crd = yaml.safe_load(git(repo, "show", f"{rev}:manifests/crds/{name}"))
            schemas[kind] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        except (subprocess.CalledProcessError, yaml.YAMLError, KeyError, IndexError, TypeError):
            continue
    return schemas


_TYPES: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "array": list,
}


def schema_problem(value: Any, schema: dict[str, Any], path: str) -> str | None:
    """The first thing Argo's CRD schema (as the API server applies it) refuses in `value`, or None.

    Types, required fields and unknown fields (kubectl validates strictly); a null is pruned, as the API
    server prunes it, and a subtree with `x-kubernetes-preserve-unknown-fields` takes anything.
    """
    if value is None:
        return None
    if schema.get("x-kubernetes-int-or-string"):
        ok = isinstance(value, int | str) and not isinstance(value, bool)
        return None if ok else f"{path}: must be an integer or a string"
    kind = schema.get("type")
    if kind in _TYPES:
        ok = isinstance(value, _TYPES[kind]) and (kind == "boolean" or not isinstance(value, bool))
        ok = ok or (kind == "string" and isinstance(value, date))  # YAML timestamps are strings on the wire
        if not ok:
            return f"{path}: must be of type {kind}"
        if kind == "array":
            items = schema.get("items") or {}
            return next(
                (p for i, v in enumerate(value) if (p := schema_problem(v, items, f"{path}[{i}]"))), None
            )
        return None
    if not isinstance(value, dict):
        return f"{path}: must be of type object" if kind == "object" else None
    for name in schema.get("required") or []:
        if name not in value:
            return f"{path}.{name}: Required value"
    props = schema.get("properties") or {}
    extra = schema.get("additionalProperties")
    for key, item in value.items():
        sub = f"{path}.{key}" if path else str(key)
        if key in props:
            problem = schema_problem(item, props[key], sub)
        elif isinstance(extra, dict):
            problem = schema_problem(item, extra, sub)
        elif extra or schema.get("x-kubernetes-preserve-unknown-fields") or (not props and kind != "object"):
            problem = None
        else:
            problem = f"{sub}: unknown field"
        if problem:
            return problem
    return None


# The API server's check of a custom object's name (apimachinery IsDNS1123Subdomain).
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def argo_refusal(doc: Doc, schemas: dict[str, Any]) -> str:
    """Why the API server would refuse `doc` with Argo's CRDs installed (the name, the CRD schema), or ''."""
    if doc.name and (len(doc.name) > 253 or not DNS_SUBDOMAIN.match(doc.name)):
        return f"the API server: metadata.name {doc.name!r} is not a lowercase DNS subdomain"
    schema = schemas.get(doc.kind)
    spec_schema = ((schema or {}).get("properties") or {}).get("spec")
    if not spec_schema:
        return ""
    problem = schema_problem(doc.obj.get("spec"), spec_schema, "spec")
    return f"Argo's CRD: {problem}" if problem else ""


# --- running the tools ---------------------------------------------------------------------------------------


def command(python: Path) -> list[str]:
    script = python.parent / "rollouts"
    if script.exists():
        return [str(script)]
    return [str(python), "-c", "import sys; from rollouts.cli import main; sys.argv[0] = 'rollouts'; main()"]


def run(cmd: list[str]) -> tuple[int, str, str]:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return -999, "", f"timed out after {TIMEOUT:.0f} s"
    return done.returncode, done.stdout, done.stderr


def crash(code: int, out: str, err: str, expected: tuple[int, ...]) -> str | None:
    if "Traceback (most recent call last)" in err or "Traceback (most recent call last)" in out:
        lines = [line for line in err.splitlines() if line.strip()]
        return "traceback: " + (lines[-1].strip() if lines else "?")
    if code == -999:
        return err
    if code not in expected:
        return f"exit status {code}: {(err.strip().splitlines() or ['no output'])[-1]}"
    return None


def feature_of(message: str) -> str:
    for pattern, name in FEATURES:
        match = pattern.search(message)
        if match:
            return name.format(*match.groups())
    return message[:100]


def tool_result(verdict: str, message: str = "", code: int = 0) -> dict[str, Any]:
    result: dict[str, Any] = {"verdict": verdict, "exit": code}
    if message:
        result["message"] = message
    if verdict == "unsupported":
        result["feature"] = feature_of(message)
    return result


def lint(cmd: list[str], doc: Doc, file: Path) -> dict[str, Any]:
    code, out, err = run([*cmd, "lint", "-f", str(file)])
    broken = crash(code, out, err, (0, 1))
    if broken:
        return tool_result("crashed", broken, code)
    prefix = f'{doc.kind} "{doc.name}": '
    mine = [line[len(prefix) :] for line in out.splitlines() if line.startswith(prefix)]
    # Lines about no object in particular (the file is not YAML); those about a companion are its own business.
    other = [line for line in out.splitlines() if line.strip() and not re.match(r'^\w+ "[^"]*": ', line)]
    about_objects = any(re.match(r'^\w+ "[^"]*": ', line) for line in out.splitlines())
    problems = mine or other or ([err.strip()] if code and not about_objects else [])
    refused = [p for p in problems if UNSUPPORTED.search(p)]
    if refused:
        return tool_result("unsupported", refused[0], code)
    if problems:
        return tool_result("invalid", problems[0], code)
    warned = [w for w in err.splitlines() if w.startswith("warning:") and UNSUPPORTED.search(w)]
    if warned:
        return tool_result("unsupported", warned[0].removeprefix("warning: ").removeprefix(prefix), code)
    return tool_result("accepted", code=code)


def plan(cmd: list[str], file: Path) -> dict[str, Any]:
    code, out, err = run([*cmd, "plan", "-f", str(file)])
    broken = crash(code, out, err, (0, 2))
    if broken:
        return tool_result("crashed", broken, code)
    if code == 2:
        message = err.strip().removeprefix("error: ").split(": ", 1)[-1]
        message = re.sub(r"^Rollout [^:]*: ", "", message)
        return tool_result("unsupported" if UNSUPPORTED.search(message) else "invalid", message, code)
    warned = [w.strip() for w in (out + err).splitlines() if w.strip().startswith("warning:")]
    refused = [w for w in warned if UNSUPPORTED.search(w)]
    if refused:
        return tool_result("unsupported", refused[0].removeprefix("warning: "), code)
    return tool_result("accepted", code=code)


def analyze(cmd: list[str], doc: Doc, file: Path, port: int) -> dict[str, Any]:
    spec: dict[str, Any] = doc.obj["spec"]
    metrics: list[Any] = spec["metrics"] if isinstance(spec.get("metrics"), list) else []
    if any(
        isinstance(m, dict) and isinstance(m.get("provider"), dict) and "web" in m["provider"]
        for m in metrics
    ):
        return {"verdict": "skipped", "message": "a web metric would call its URL"}
    args = [a for a in spec.get("args") or [] if isinstance(a, dict) and a.get("name") and "value" not in a]
    values = [x for a in args for x in ("-a", f"{a['name']}=1")]
    base = [*cmd, "analyze", "-f", str(file), "--at", AT, "--prometheus", f"http://127.0.0.1:{port}"]
    code, out, err = run([*base, *values, "-o", "json"])
    broken = crash(code, out, err, (0, 1, 2, 3, 4))
    if broken:
        return tool_result("crashed", broken, code)
    if code == 2:
        message = err.strip().removeprefix("error: ")
        message = message.split(": ", 2)[-1] if message.startswith(str(file)) else message
        return tool_result("unsupported" if UNSUPPORTED.search(message) else "invalid", message, code)
    try:
        status = json.loads(out)
    except ValueError:
        return tool_result("crashed", f"exit status {code} without a JSON status", code)
    for result in status.get("metricResults") or []:
        message = str(result.get("message") or "")
        match = re.search(r'no provider is configured for "([^"]+)"', message)
        if match and match.group(1) not in CONTROLLER_ONLY_PROVIDERS:
            return tool_result("unsupported", message, code)
    return tool_result("accepted", code=code)


def judge(doc: Doc, file: Path, cmd: list[str], port: int) -> None:
    """Run the tools meant for `doc.kind` on `file` (the document, with its companions) and set the verdict."""
    doc.tools["lint"] = lint(cmd, doc, file)
    if doc.kind == "Rollout":
        doc.tools["plan"] = plan(cmd, file)
    if doc.kind in ANALYSIS_KINDS:
        doc.tools["analyze"] = analyze(cmd, doc, file, port)
    results = [r for r in doc.tools.values() if r["verdict"] in VERDICTS]
    for verdict in ("crashed", "invalid", "unsupported"):
        hit = next((r for r in results if r["verdict"] == verdict), None)
        if hit:
            doc.verdict, doc.message, doc.feature = verdict, hit.get("message", ""), hit.get("feature", "")
            return
    doc.verdict = (
        "accepted"  # an Experiment too: lint checks it as the controller would (VerifyExperimentSpec)
    )
