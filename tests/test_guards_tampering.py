"""Test-tampering guards on real git diffs."""

from __future__ import annotations

import pytest
from tests.guards_support import Repo, comparison

from harness.guards import GuardContext, GuardsConfig, blocking, run_guards

T = "tests/test_core.py"
BASE_PASSING = {f"{T}::{name}": "passed" for name in (
    "test_add", "test_add_negative", "test_divide", "test_divide_by_zero", "TestAdd::test_zero")}


@pytest.fixture
def repo(tmp_path):
    return Repo(tmp_path)


def guard(repo: Repo, request: str = "make add() round its result", **context) -> list:
    return run_guards(repo.diff(), GuardContext(request=request, **context), GuardsConfig())


def rules(findings, rule: str) -> list:
    return [f for f in findings if f.rule == rule]


def test_expected_value_edited_is_blocked(repo):
    repo.replace("calc/core.py", "return a + b", "return round(a + b) + 1")
    repo.replace(T, "assert add(1, 2) == 3", "assert add(1, 2) == 4")
    findings = guard(repo, tests=comparison(BASE_PASSING, BASE_PASSING))
    [hit] = rules(findings, "tests.expected_changed")
    assert hit.severity == "blocker"
    assert (hit.path, hit.line) == (T, repo.line_of(T, "== 4"))
    assert "test_add" in hit.message and hit.source == "guard"
    assert hit in blocking(findings)


def test_expected_value_of_a_test_failing_on_base_is_only_major(repo):
    repo.replace(T, "assert divide(6, 3) == 2", "assert divide(6, 3) == 2.0")
    base = dict(BASE_PASSING, **{f"{T}::test_divide": "failed"})
    [hit] = rules(guard(repo, tests=comparison(base, BASE_PASSING)), "tests.expected_changed")
    assert hit.severity == "major"


def test_expected_value_changed_in_a_class_method_names_the_node(repo):
    repo.replace(T, "assert add(0, 1) == 1", "assert add(0, 1) == 2")
    [hit] = rules(guard(repo), "tests.expected_changed")
    assert "tests/test_core.py::TestAdd::test_zero" in hit.message


def test_deleted_test_function_is_blocked(repo):
    def_line = repo.line_of(T, "def test_divide_by_zero")
    repo.replace(T, "def test_divide_by_zero():\n    with pytest.raises(ZeroDivisionError):\n        divide(1, 0)\n\n\n", "")
    findings = guard(repo)
    [hit] = rules(findings, "tests.deleted")
    assert hit.severity == "blocker" and "test_divide_by_zero" in hit.message
    assert hit.line == def_line  # the removed def line, in the old file
    assert not rules(findings, "tests.assert_removed")  # one finding for one deletion


def test_deleted_test_file_is_blocked(repo):
    repo.delete(T)
    [hit] = rules(guard(repo), "tests.deleted")
    assert hit.severity == "blocker" and hit.path == T


def test_deleted_fixture_data_is_only_major(repo):
    repo.write("tests/data/cases.json", "[1, 2]\n")
    repo.commit("data")
    repo.delete("tests/data/cases.json")
    [hit] = rules(guard(repo), "tests.deleted")
    assert hit.severity == "major"


def test_renamed_test_is_not_a_deletion(repo):
    repo.replace(T, "def test_divide():", "def test_divide_exact():")
    findings = guard(repo, request="rename test_divide to test_divide_exact")
    assert not rules(findings, "tests.deleted")
    assert not blocking(findings)


def test_skip_marker_added_is_blocked(repo):
    repo.replace(T, "def test_divide():", '@pytest.mark.skip(reason="flaky")\ndef test_divide():')
    [hit] = rules(guard(repo), "tests.skip_added")
    assert hit.severity == "blocker"
    assert hit.line == repo.line_of(T, "pytest.mark.skip")


def test_skip_on_a_new_test_is_only_major(repo):
    repo.write(T, repo.read(T) + '\n\n@pytest.mark.skipif(True, reason="windows only")\ndef test_windows_paths():\n    assert add(1, 1) == 2\n')
    [hit] = rules(guard(repo), "tests.skip_added")
    assert hit.severity == "major"


@pytest.mark.parametrize("old,new,rule", [
    ("assert add(1, 2) == 3", "assert add(1, 2)", "tests.assert_loosened"),
    ("assert add(1, 2) == 3", "assert add(1, 2) == 3 or True", "tests.assert_loosened"),
    ("with pytest.raises(ZeroDivisionError):", "with pytest.raises(Exception):", "tests.assert_loosened"),
    ("        assert add(0, 1) == 1\n", "", "tests.assert_removed"),
    ("    with pytest.raises(ZeroDivisionError):\n        divide(1, 0)",
     "    try:\n        divide(1, 0)\n    except ZeroDivisionError:\n        pass", "tests.assert_removed"),
])
def test_weakened_assertions_are_blocked(repo, old, new, rule):
    repo.replace(T, old, new)
    hits = rules(guard(repo), rule)
    assert len(hits) == 1 and hits[0].severity == "blocker"


def test_pytest_skip_call_in_conftest_is_blocked(repo):
    repo.write("tests/conftest.py", """
        import pytest

        collect_ignore = ["test_core.py"]
        """)
    findings = guard(repo)
    assert rules(findings, "tests.collection_hidden")[0].severity == "blocker"


def test_ignore_option_in_pytest_config_is_blocked(repo):
    repo.replace("pyproject.toml", 'testpaths = ["tests"]', 'testpaths = ["tests"]\naddopts = "--ignore=tests/test_core.py"')
    hits = rules(guard(repo), "tests.collection_hidden")
    assert [h.severity for h in hits] == ["blocker"]
    assert hits[0].path == "pyproject.toml"


def test_editing_tests_unasked_is_major(repo):
    repo.replace(T, "    assert add(-1, -2) == -3", "    result = add(-1, -2)\n    assert result == -3")
    findings = guard(repo)
    [hit] = rules(findings, "tests.edited_unasked")
    assert hit.severity == "major" and hit.line == repo.line_of(T, "result = add(-1, -2)")
    assert not blocking(findings)


def test_new_test_in_existing_file_is_not_tampering(repo):
    repo.replace("calc/core.py", "return a / b", 'if b == 0:\n        raise ValueError("b is zero")\n    return a / b')
    repo.replace(T, "from calc.core import add, divide", "from calc.core import add, divide, safe_divide")
    repo.write(T, repo.read(T) + "\n\ndef test_divide_by_zero_message():\n"
               "    with pytest.raises(ValueError, match=\"zero\"):\n        safe_divide(1, 0)\n")
    findings = guard(repo, request="make divide raise ValueError on zero")
    assert not [f for f in findings if f.rule.startswith("tests.")]


def test_requested_test_update_is_not_blocked(repo):
    repo.replace("calc/core.py", "return a + b", "return round(a + b)")
    repo.replace(T, "assert add(1, 2) == 3", "assert add(1.4, 2) == 3")
    findings = guard(repo, request="Make add() round to an int, and update the test for add accordingly",
                     tests=comparison(BASE_PASSING, BASE_PASSING))
    assert not blocking(findings)
    assert not rules(findings, "tests.expected_changed")
    assert not rules(findings, "tests.edited_unasked")


def test_config_allows_test_edits(repo):
    repo.replace(T, "assert add(1, 2) == 3", "assert add(1, 2) == 4")
    findings = run_guards(repo.diff(), GuardContext(request="make add faster"), GuardsConfig(allow_test_edits=True))
    assert not blocking(findings)


def test_asking_to_make_tests_pass_does_not_permit_editing_them(repo):
    repo.replace(T, "assert add(1, 2) == 3", "assert add(1, 2) == 4")
    findings = guard(repo, request="fix add so that the tests pass")
    assert rules(findings, "tests.expected_changed")[0].severity == "blocker"
