"""Test tampering: tests deleted, skipped, weakened, their expected values rewritten, collection hidden."""

from __future__ import annotations

import re
from collections import defaultdict

from harness.guards.asserts import expected_changed, is_assertion, is_expectation, loosened, without_strings
from harness.guards.diffutil import FileDiff, Line, decorated_scope, path_matches, test_name
from harness.guards.options import GuardContext, GuardsConfig
from harness.guards.request import asks_for_test_edits
from harness.records import Finding, Severity

_SKIP = re.compile(
    r"@?pytest\.mark\.(?:skip|skipif|xfail)\b|\bpytest\.(?:skip|xfail|importorskip)\s*\("
    r"|@?unittest\.(?:skip|skipIf|skipUnless|expectedFailure)\b|\.skipTest\s*\("
    r"|\b(?:it|test|describe)\.(?:skip|todo)\s*\(|\bx(?:it|describe|test)\s*\("
    r"|add_marker\s*\(\s*pytest\.mark\.(?:skip|xfail)"
)
# Lines in pytest configuration or conftest.py that make failing or erroring tests invisible.
_HIDE_BLOCKER = re.compile(
    r"collect_ignore|--ignore\b|--ignore-glob|--deselect|-p\s*no:|\bpytest_ignore_collect\b"
    r"|--continue-on-collection-errors|\bnorecursedirs\b|\bitems\.(?:remove|clear|pop)\s*\(|\bdeselect"
    r"|(?:-k|-m)\s+[\"']?not\b|\|\|\s*true\b"
)
_HIDE_MAJOR = re.compile(r"\b(?:testpaths|python_files|python_functions|python_classes|addopts)\b")
_TEST_MODULES = ["test_*.py", "*_test.py", "*_test.go", "*.test.*", "*.spec.*", "*Test.java", "*_spec.rb"]
_DEFINES_TEST = re.compile(r"^\s*(?:async\s+)?def\s+test|^\s*(?:it|test|describe)\s*\(")
_PYTEST_CONFIG = ("pytest.ini", "pyproject.toml", "setup.cfg", "tox.ini", "conftest.py", ".pytest.ini")


def is_test_path(path: str, config: GuardsConfig) -> bool:
    """Whether a path is a test file (or conftest) by the configured globs."""
    return bool(path) and path_matches(path, config.test_paths)


def test_edits_allowed(context: GuardContext, config: GuardsConfig) -> bool:
    """Whether the request (or config) allows changing existing tests."""
    return config.allow_test_edits or asks_for_test_edits(context.request)


def _finding(fd: FileDiff, line: int, severity: Severity, rule: str, message: str) -> Finding:
    return Finding(path=fd.path or fd.old_path, line=line, severity=severity, category="tests",
                   message=message, source="guard", rule=rule)


def _node_id(path: str, parts: tuple[str, ...]) -> str:
    return "::".join((path, *parts))


def _base_outcome(context: GuardContext, node: str) -> str | None:
    if context.tests is None:
        return None
    return context.tests.base.outcomes.get(node)


def check_tampering(files: list[FileDiff], context: GuardContext, config: GuardsConfig) -> list[Finding]:
    """All test-tampering findings for a parsed diff."""
    allowed = test_edits_allowed(context, config)
    # Tampering that the request asked for is left to the reviewer as a major finding.
    severe: Severity = "major" if allowed else "blocker"
    findings: list[Finding] = []
    for fd in files:
        if fd.binary:
            continue
        if path_matches(fd.path or fd.old_path, list(_PYTEST_CONFIG)):
            findings += _collection_hidden(fd, severe)
        if not (is_test_path(fd.path, config) or is_test_path(fd.old_path, config)):
            continue
        if fd.status == "deleted":
            # Fixture data or a helper under tests/ is not itself a test; losing it matters less.
            holds_tests = path_matches(fd.old_path, _TEST_MODULES) or any(_DEFINES_TEST.match(ln.text) for ln in fd.removed)
            findings.append(_finding(fd, 1, severe if holds_tests else "major", "tests.deleted",
                                     f"{'test' if holds_tests else 'test support'} file {fd.old_path} deleted"))
            continue
        deleted = _deleted_tests(fd)
        for name, line in deleted.items():
            findings.append(_finding(fd, line.old, severe, "tests.deleted", f"test {name} deleted"))
        findings += _skips_added(fd, severe)
        findings += _assertions(fd, context, severe, allowed, set(deleted))
        if not allowed and fd.status != "added":
            first = next(iter(_changed_existing(fd)), None)
            if first is not None:
                findings.append(_finding(
                    fd, first.old, "major", "tests.edited_unasked",
                    "existing test code changed although the request did not ask for test changes"))
    return findings


def _changed_existing(fd: FileDiff) -> list[Line]:
    """Removed lines that really changed existing test code.

    Not counted: blank lines, comments, imports (adding a test often extends them), lines
    moved verbatim, and lines merely extended (a parametrize list that gained a case).
    """
    added_text = {ln.text.strip() for ln in fd.added}
    out = []
    for removed, added in _blocks(fd.lines):
        for ln in removed:
            text = ln.text.strip()
            if not text or text.startswith(("#", "import ", "from ")) or text in added_text:
                continue
            stem = text.rstrip(" ,)]}")
            if stem and any(a.text.strip().startswith(stem) for a in added):
                continue
            out.append(ln)
    return out


def _deleted_tests(fd: FileDiff) -> dict[str, Line]:
    """Test functions whose `def` line was removed and not re-added.

    A def line edited in place (removed and added in the same edit block) is a rename or a
    signature change, not a deletion.
    """
    def own_test(ln: Line) -> str | None:
        if not ln.text.lstrip().startswith(("def ", "async def ")):
            return None
        parts = test_name(ln.scope)
        # Only the test's own def line: not a nested helper, not an unknown scope.
        return "::".join(parts) if parts and len(parts) == len(ln.scope.names) else None

    added_names = {name for ln in fd.added if (name := own_test(ln))}
    deleted: dict[str, Line] = {}
    for removed, added in _blocks(fd.lines):
        edited_in_place = any(own_test(ln) for ln in added)
        for ln in removed:
            name = own_test(ln)
            if name and name not in added_names and not edited_in_place:
                deleted[name] = ln
    return deleted


def _is_skip(ln: Line, python: bool) -> bool:
    # In Python, a marker quoted in a string (test data, messages) skips nothing.
    text = without_strings(ln.text) if python else ln.text
    return bool(_SKIP.search(text)) and not text.strip().startswith(("#", "//"))


def _counted(lines: list[Line], pattern: re.Pattern[str]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for ln in lines:
        if pattern.search(ln.text) and not ln.text.strip().startswith("#"):
            counts[re.sub(r"\s+", "", ln.text)] += 1
    return counts


def _skips_added(fd: FileDiff, severity: Severity) -> list[Finding]:
    # A skip merely moved (removed here, added there) is not new.
    budget: dict[str, int] = defaultdict(int)
    for ln in fd.removed:
        if _is_skip(ln, fd.is_python):
            budget[re.sub(r"\s+", "", ln.text)] += 1
    defs = ("def ", "async def ")
    new_tests = ({test_name(ln.scope) for ln in fd.added if ln.text.lstrip().startswith(defs)}
                 - {test_name(ln.scope) for ln in fd.removed if ln.text.lstrip().startswith(defs)} - {None})
    out = []
    for index, ln in enumerate(fd.lines):
        if ln.kind != "+" or not _is_skip(ln, fd.is_python):
            continue
        key = re.sub(r"\s+", "", ln.text)
        if budget[key] > 0:
            budget[key] -= 1
            continue
        scope = decorated_scope(fd.lines, index) if ln.text.lstrip().startswith("@") else ln.scope
        # Skipping a test that did not exist before hides no coverage; it is a weak test, not tampering.
        fresh = fd.status == "added" or test_name(scope) in new_tests
        out.append(_finding(fd, ln.new, "major" if fresh else severity, "tests.skip_added",
                            f"{'new ' if fresh else ''}test skipped or marked xfail: {ln.text.strip()}"))
    return out


def _collection_hidden(fd: FileDiff, severe: Severity) -> list[Finding]:
    # Lines that were only moved or re-indented are not new settings.
    budget = _counted(fd.removed, re.compile(r"\S"))
    out = []
    for ln in fd.added:
        text = ln.text.strip()
        key = re.sub(r"\s+", "", ln.text)
        if budget.get(key, 0) > 0:
            budget[key] -= 1
            continue
        if not text or text.startswith("#"):
            continue
        if _HIDE_BLOCKER.search(text):
            out.append(_finding(fd, ln.new, severe, "tests.collection_hidden",
                                f"test collection narrowed or errors hidden: {text}"))
        elif _HIDE_MAJOR.search(text) and fd.path.rsplit("/", 1)[-1] != "conftest.py":
            out.append(_finding(fd, ln.new, "major", "tests.collection_hidden",
                                f"test discovery settings changed: {text}"))
    return out


def _blocks(lines: list[Line]) -> list[tuple[list[Line], list[Line]]]:
    """Consecutive removed-then-added runs within a hunk: the unit of a line edit."""
    blocks: list[tuple[list[Line], list[Line]]] = []
    removed: list[Line] = []
    added: list[Line] = []
    prev_hunk = -1
    for ln in lines:
        if ln.kind == " " or ln.hunk != prev_hunk or (ln.kind == "-" and added):
            if removed or added:
                blocks.append((removed, added))
            removed, added = [], []
        if ln.kind == "-":
            removed.append(ln)
        elif ln.kind == "+":
            added.append(ln)
        prev_hunk = ln.hunk
    if removed or added:
        blocks.append((removed, added))
    return blocks


def _key(fd: FileDiff, ln: Line) -> str:
    parts = test_name(ln.scope)
    return _node_id(fd.path, parts) if parts else fd.path


def _assertions(fd: FileDiff, context: GuardContext, severe: Severity, allowed: bool,
                deleted: set[str]) -> list[Finding]:
    out: list[Finding] = []
    paired_removed: set[int] = set()
    for removed, added in _blocks(fd.lines):
        old_asserts = [ln for ln in removed if is_expectation(ln.text)]
        new_asserts = [ln for ln in added if is_expectation(ln.text)]
        for old, new in zip(old_asserts, new_asserts):
            paired_removed.add(old.old)
            why = loosened(old.text, new.text)
            if why and is_assertion(old.text):
                out.append(_finding(fd, new.new, severe, "tests.assert_loosened", f"assertion loosened ({why}): "
                                    f"`{old.text.strip()}` -> `{new.text.strip()}`"))
            elif expected_changed(old.text, new.text) and not allowed:
                out.append(_expected_finding(fd, context, old, new))
    # Count per test: fewer assertions on the new side than were removed means checks were dropped.
    removed_by: dict[str, list[Line]] = defaultdict(list)
    added_by: dict[str, int] = defaultdict(int)
    for ln in fd.lines:
        if ln.kind == "-" and is_assertion(ln.text):
            removed_by[_key(fd, ln)].append(ln)
        elif ln.kind == "+" and is_assertion(ln.text):
            added_by[_key(fd, ln)] += 1
    for key, lines in removed_by.items():
        if key.split("::", 1)[-1] in deleted:
            continue  # already reported as a deleted test
        missing = len(lines) - added_by.get(key, 0)
        if missing > 0:
            unpaired = [ln for ln in lines if ln.old not in paired_removed] or lines
            where = key if "::" in key else fd.path
            out.append(_finding(fd, unpaired[0].old, severe, "tests.assert_removed",
                                f"{missing} assertion(s) removed from {where}: `{unpaired[0].text.strip()}`"))
    return out


def _expected_finding(fd: FileDiff, context: GuardContext, old: Line, new: Line) -> Finding:
    node = _key(fd, new)
    outcome = _base_outcome(context, node)
    # A test that already failed on base may legitimately have had a wrong expectation.
    severity: Severity = "major" if outcome in ("failed", "error") else "blocker"
    state = f" (base: {outcome})" if outcome else ""
    return _finding(fd, new.new, severity, "tests.expected_changed",
                    f"expected value changed in {node}{state}: `{old.text.strip()}` -> `{new.text.strip()}`")
