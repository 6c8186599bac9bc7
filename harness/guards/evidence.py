"""Test evidence: head must pass, and a fix or feature must come with a test that failed on base."""

from __future__ import annotations

import re
from collections.abc import Callable

from harness.guards.diffutil import FileDiff, Line, decorated_scope, test_name
from harness.guards.options import GuardContext, GuardsConfig
from harness.records import Finding, Severity, TestComparison

_BUG_WORDS = re.compile(r"\b(?:fix(?:es|ed)?|bug|broken|crash(?:es)?|regression|incorrect|wrong|fails?|error|raises?)\b", re.I)
_FEATURE_WORDS = re.compile(r"\b(?:add|implement|support|feature|introduce|new|allow|enable)\b", re.I)
_NO_EVIDENCE_WORDS = re.compile(r"\b(?:docs?|documentation|readme|typo|comment|rename|refactor|format|lint|style|changelog|bump)\b", re.I)


def needs_evidence(context: GuardContext, config: GuardsConfig) -> bool:
    """Whether this task is a bug fix or feature, which must come with a test that fails on base.

    The router's task kind decides when given; otherwise the request's wording does.
    """
    if context.task_kind is not None:
        return _kind(context.task_kind) in {_kind(k) for k in config.evidence_task_kinds}
    if _NO_EVIDENCE_WORDS.search(context.request):
        return False
    return bool(_BUG_WORDS.search(context.request) or _FEATURE_WORDS.search(context.request))


def _kind(kind: str) -> str:
    return re.sub(r"[-_\s]", "", kind.lower())


def _path_of(node: str) -> str:
    return node.split("::", 1)[0]


def _finding(path: str, severity: Severity, rule: str, message: str) -> Finding:
    return Finding(path=path, line=0, severity=severity, category="tests", message=message,
                   source="guard", rule=rule)


def head_failures(tests: TestComparison) -> list[str]:
    """Tests failing on head that did not already fail on base."""
    still = set(tests.still_failing)
    failing = [t for t, o in tests.head.outcomes.items() if o in ("failed", "error") and t not in still]
    return sorted(set(failing) | (set(tests.new_failures) - still))


def proving_tests(tests: TestComparison) -> list[str]:
    """Tests that pass on head and failed, errored or did not exist on base: evidence for the change."""
    base = tests.base.outcomes
    out = set(tests.fixed)
    out |= {t for t in tests.new_tests if tests.head.outcomes.get(t) == "passed"}
    # Absent from a base run that did report per-test outcomes (or that broke) means new.
    absent_counts = bool(base) or not tests.base.ok
    out |= {t for t, o in tests.head.outcomes.items()
            if o == "passed" and (base.get(t) in ("failed", "error") or (absent_counts and t not in base))}
    return sorted(out)


def check_evidence(context: GuardContext, config: GuardsConfig) -> list[Finding]:
    """evidence.head_failed (blocker) and evidence.no_failing_test (major) from the test comparison."""
    tests = context.tests
    if tests is None:
        return []
    findings = [
        _finding(_path_of(t), "blocker", "evidence.head_failed", f"test fails on head but passed or was absent on base: {t}")
        for t in head_failures(tests)
    ]
    if tests.head.timed_out:
        findings.append(_finding("", "blocker", "evidence.head_failed", "the test run on head timed out"))
    elif not findings and not tests.ok:
        # Collection errors or a crashed runner leave no per-test outcome to point at.
        findings.append(_finding("", "blocker", "evidence.head_failed",
                                 f"the test run on head failed (exit code {tests.head.exit_code})"))
    if needs_evidence(context, config) and not proving_tests(tests):
        findings.append(_finding("", "major", "evidence.no_failing_test",
                                 "no test exercises the change: no test fails (or is missing) on base and passes on head"))
    return findings


def _test_files(files: list[FileDiff]) -> list[FileDiff]:
    return [fd for fd in files if fd.status != "deleted" and fd.path.endswith(".py")
            and fd.path.rsplit("/", 1)[-1] != "conftest.py"]


def test_ids(files: list[FileDiff], is_test: Callable[[str], bool]) -> list[str]:
    """Pytest node ids of tests added or changed in the diff.

    A class id stands for its tests when class-level code changed; the file's path stands
    for all its tests when changed code (a fixture, a helper) cannot be tied to one test.
    """
    ids: list[str] = []
    for fd in _test_files(files):
        if is_test(fd.path):
            ids += _file_ids(fd)
    return ids


def _file_ids(fd: FileDiff) -> list[str]:
    defs = ("def ", "async def ")
    added_defs = {test_name(ln.scope) for ln in fd.added if ln.text.lstrip().startswith(defs)}
    gone = {test_name(ln.scope) for ln in fd.removed if ln.text.lstrip().startswith(defs)} - added_defs
    found: dict[tuple[str, ...], None] = {}
    for index, ln in enumerate(fd.lines):
        text = ln.text.strip()
        if ln.kind == " " or not text or text.startswith("#") or text.startswith("class "):
            continue
        scope = decorated_scope(fd.lines, index) if text.startswith("@") else ln.scope
        parts = test_name(scope)
        if parts is None and scope.complete and scope.names[:1] and scope.names[0].startswith("Test"):
            parts = scope.names[:1]  # class-level code: run the whole class
        if parts is None:
            if _is_code(ln):
                return [fd.path]
        elif not (ln.kind == "-" and parts in gone):
            found[parts] = None
    classes = {p for p in found if len(p) == 1 and not p[0].startswith("test")}
    return ["::".join((fd.path, *p)) for p in found if p in classes or p[:1] not in classes]


def _is_code(ln: Line) -> bool:
    text = ln.text.strip()
    # Imports and module docstrings do not change what a test checks.
    return not text.startswith(("import ", "from ", '"""', "'''"))
