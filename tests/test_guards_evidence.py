"""Evidence guards and the changed-test ids the pipeline runs against base."""

from __future__ import annotations

import subprocess
import sys

import pytest
from tests.guards_support import Repo, comparison, report

from harness.guards import GuardContext, GuardsConfig, changed_test_ids, run_guards
from harness.records import TestComparison

T = "tests/test_core.py"
BASE = {f"{T}::test_add": "passed", f"{T}::test_divide": "passed"}


def evidence(findings) -> list[tuple[str, str]]:
    return [(f.rule, f.severity) for f in findings if f.rule.startswith("evidence.")]


def check(tests: TestComparison, request: str = "fix divide by zero", task_kind: str | None = None) -> list:
    return run_guards("", GuardContext(request=request, tests=tests, task_kind=task_kind), GuardsConfig())


def test_head_failure_is_blocked():
    head = dict(BASE, **{f"{T}::test_divide": "failed", f"{T}::test_new": "passed"})
    findings = check(comparison(BASE, head))
    assert evidence(findings) == [("evidence.head_failed", "blocker")]
    assert findings[0].path == T and "test_divide" in findings[0].message


def test_collection_error_on_head_is_blocked():
    tests = TestComparison(base=report(BASE), head=report({}, exit_code=2))
    assert ("evidence.head_failed", "blocker") in evidence(check(tests, request="tidy the docs"))


def test_failure_already_failing_on_base_is_not_blamed_on_head():
    base = dict(BASE, **{f"{T}::test_old": "failed"})
    head = dict(base, **{f"{T}::test_new": "passed"})
    assert evidence(check(comparison(base, head))) == []


def test_fix_without_a_test_that_failed_on_base_is_major():
    assert evidence(check(comparison(BASE, BASE))) == [("evidence.no_failing_test", "major")]


@pytest.mark.parametrize("base,head", [
    (dict(BASE, **{f"{T}::test_zero": "failed"}), dict(BASE, **{f"{T}::test_zero": "passed"})),  # fixed
    (BASE, dict(BASE, **{f"{T}::test_zero": "passed"})),  # new test, absent on base
])
def test_fix_with_a_proving_test_has_no_evidence_finding(base, head):
    assert evidence(check(comparison(base, head))) == []


def test_task_kind_decides_when_evidence_is_needed():
    assert evidence(check(comparison(BASE, BASE), request="make it better", task_kind="feature"))
    assert evidence(check(comparison(BASE, BASE), request="make it better", task_kind="bug_fix"))
    assert not evidence(check(comparison(BASE, BASE), request="fix the bug", task_kind="docs"))
    assert not evidence(check(comparison(BASE, BASE), request="fix a typo in the README"))


@pytest.fixture
def repo(tmp_path):
    return Repo(tmp_path)


def test_changed_test_ids_are_real_pytest_node_ids(repo):
    repo.replace(T, "assert divide(6, 3) == 2", "assert divide(6, 3) == 2.0")
    repo.replace(T, "        assert add(0, 1) == 1", "        assert add(0, 1) == 1\n\n    def test_one(self):\n        assert add(1, 0) == 1")
    repo.replace(T, "def test_add_negative():\n    assert add(-1, -2) == -3\n\n\n", "")
    repo.write("tests/test_new.py", "def test_fresh():\n    assert True\n\n\nclass TestGroup:\n    def test_member(self):\n        assert 1\n")
    ids = changed_test_ids(repo.diff())
    assert sorted(ids) == [  # the deleted test_add_negative is not among them
        f"{T}::TestAdd::test_one",
        f"{T}::test_divide",
        "tests/test_new.py::TestGroup::test_member",
        "tests/test_new.py::test_fresh",
    ]
    collected = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", *ids],
                               cwd=repo.root, capture_output=True, text=True)
    assert collected.returncode == 0, collected.stdout + collected.stderr


def test_changed_parametrize_decorator_maps_to_its_test(repo):
    repo.replace(T, "def test_add():\n    assert add(1, 2) == 3",
                 '@pytest.mark.parametrize("a,b,c", [(1, 2, 3)])\ndef test_add(a, b, c):\n    assert add(a, b) == c')
    repo.commit("parametrized")
    repo.replace(T, "[(1, 2, 3)]", "[(1, 2, 3), (2, 2, 4)]")
    assert changed_test_ids(repo.diff()) == [f"{T}::test_add"]


def test_changed_helper_falls_back_to_the_file(repo):
    repo.replace(T, "import pytest\n", "import pytest\n\n\ndef helper():\n    return 1\n")
    assert changed_test_ids(repo.diff()) == [T]


def test_source_changes_have_no_test_ids(repo):
    repo.replace("calc/core.py", "return a + b", "return b + a")
    assert changed_test_ids(repo.diff()) == []
