"""Scope: edits outside the repo, in protected paths, or in files the request does not touch."""

from __future__ import annotations

import posixpath
import re

from harness.guards.diffutil import FileDiff, path_matches
from harness.guards.options import GuardContext, GuardsConfig
from harness.guards.request import names_path
from harness.guards.tampering import is_test_path
from harness.records import Category, Finding, Severity

_CODE_TOKEN = re.compile(r"`([^`]+)`|\b([A-Za-z_][\w.]*)\s*\(|\b([a-z]+_[\w]+|[a-z]+[A-Z]\w*|[A-Z][a-z]+[A-Z]\w*)\b")


def _finding(path: str, line: int, severity: Severity, rule: str, message: str,
             category: Category = "other") -> Finding:
    return Finding(path=path, line=line, severity=severity, category=category, message=message,
                   source="guard", rule=rule)


def _normal(path: str) -> str:
    path = path.replace("\\", "/")
    return path[2:] if path.startswith("./") else path


def _escapes_repo(path: str) -> bool:
    if not path:
        return False
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        return True
    norm = posixpath.normpath(path)
    return norm == ".." or norm.startswith("../") or norm == ".git" or norm.startswith(".git/")


def code_names(request: str) -> set[str]:
    """Identifiers the request names as code: in backticks, called, snake_case or camelCase."""
    names: set[str] = set()
    for m in _CODE_TOKEN.finditer(request):
        token = next(g for g in m.groups() if g)
        for part in re.split(r"[^\w]+", token):
            if len(part) >= 3:
                names.add(part)
    return names


def _stem(path: str) -> str:
    base = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    for prefix in ("test_",):
        if base.startswith(prefix):
            base = base[len(prefix):]
    for suffix in ("_test", ".test", ".spec", "_spec"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    return base


def check_scope(files: list[FileDiff], context: GuardContext, config: GuardsConfig) -> list[Finding]:
    """Outside-repo, protected-path and out-of-scope findings."""
    findings: list[Finding] = []
    for fd in files:
        for path in {fd.path, fd.old_path} - {""}:
            if _escapes_repo(path):
                findings.append(_finding(path, 0, "blocker", "scope.outside_repo",
                                         f"change to a path outside the repository: {path}", "security"))
    for fd in files:
        paths = sorted({_normal(fd.path), _normal(fd.old_path)} - {""})
        for path in paths:
            if not path_matches(path, config.protected_paths):
                continue
            if path_matches(path, config.permitted_paths) or names_path(context.request, path):
                continue  # explicitly allowed by config or asked for by name
            line = next((ln.number for ln in fd.lines if ln.kind != " "), 0)
            findings.append(_finding(path, line, "blocker", "scope.protected_path",
                                     f"protected path changed without permission: {path}", "security"))
            break
    if config.scope_check and context.files_read:
        # A protected path already carries a blocker; saying it is also out of scope adds nothing.
        flagged = {f.path for f in findings}
        rest = [fd for fd in files if _normal(fd.path or fd.old_path) not in flagged]
        findings += _out_of_scope(rest, context, config)
    return findings


def _out_of_scope(files: list[FileDiff], context: GuardContext, config: GuardsConfig) -> list[Finding]:
    read = {_normal(p) for p in context.files_read}
    symbols = code_names(context.request)
    in_scope: set[str] = set()
    undecided: list[FileDiff] = []
    for fd in files:
        path = _normal(fd.path or fd.old_path)
        touched = " ".join(ln.text for ln in fd.lines)
        if (path in read or _normal(fd.old_path) in read or names_path(context.request, path)
                or any(re.search(rf"\b{re.escape(s)}\b", touched) for s in symbols)):
            in_scope.add(path)
        else:
            undecided.append(fd)
    stems = {_stem(p) for p in in_scope} | {_stem(p) for p in read}
    dirs = {posixpath.dirname(p) for p in in_scope}
    findings = []
    for fd in undecided:
        path = _normal(fd.path or fd.old_path)
        if is_test_path(path, config) and (_stem(path) in stems or fd.status == "added"):
            continue  # the test of a file in scope, or a new test: both expected
        if fd.status == "added" and posixpath.dirname(path) in dirs:
            continue  # a new module next to the code being changed
        # A new file cannot have been read first; an existing one edited blind is more suspicious.
        severity: Severity = "minor" if fd.status == "added" else "major"
        line = next((ln.number for ln in fd.lines if ln.kind != " "), 0)
        findings.append(_finding(path, line, severity, "scope.out_of_scope",
                                 f"{path} changed but was not read by the implementer nor named in the request",
                                 "overbuilding"))
    return findings
