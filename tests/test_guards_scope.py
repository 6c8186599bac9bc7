"""Scope guards: protected paths, paths outside the repo, files the request does not touch."""

from __future__ import annotations

import pytest
from tests.guards_support import Repo

from harness.guards import GuardContext, GuardsConfig, run_guards
from harness.guards.diffutil import path_matches
from harness.guards.options import DEFAULT_PROTECTED_PATHS


@pytest.fixture
def repo(tmp_path):
    return Repo(tmp_path)


def rules(findings, rule: str) -> list:
    return [f for f in findings if f.rule == rule]


@pytest.mark.parametrize("path,protected", [
    (".github/workflows/ci.yml", True),
    ("poetry.lock", True),
    ("sub/dir/Cargo.lock", True),
    ("web/package-lock.json", True),
    ("app/migrations/0002_auto.py", True),
    ("migrations/0001_initial.py", True),
    ("harness.toml", True),
    ("calc/core.py", False),
    ("docs/github/notes.md", False),
    ("calc/migrations.py", False),
])
def test_default_protected_globs(path, protected):
    assert path_matches(path, DEFAULT_PROTECTED_PATHS) is protected


def test_edit_under_protected_path_is_blocked(repo):
    repo.replace(".github/workflows/ci.yml", "- run: pytest", "- run: pytest || true")
    findings = run_guards(repo.diff(), GuardContext(request="make divide raise ValueError"), GuardsConfig())
    [hit] = rules(findings, "scope.protected_path")
    assert hit.severity == "blocker" and hit.path == ".github/workflows/ci.yml"
    assert hit.line == repo.line_of(".github/workflows/ci.yml", "|| true")


def test_new_migration_and_lockfile_are_blocked(repo):
    repo.write("calc/migrations/0001_initial.py", "OPS = []\n")
    repo.write("poetry.lock", "# lock\n")
    findings = run_guards(repo.diff(), GuardContext(request="add a model"), GuardsConfig())
    assert sorted(f.path for f in rules(findings, "scope.protected_path")) == ["calc/migrations/0001_initial.py", "poetry.lock"]


def test_protected_path_named_in_request_is_allowed(repo):
    repo.replace(".github/workflows/ci.yml", "runs-on: ubuntu-latest", "runs-on: ubuntu-24.04")
    findings = run_guards(repo.diff(), GuardContext(request="pin the runner in .github/workflows/ci.yml"), GuardsConfig())
    assert not rules(findings, "scope.protected_path")


def test_protected_path_permitted_by_config(repo):
    repo.replace("harness.toml", 'reviewer = "b"', 'reviewer = "c"')
    context = GuardContext(request="switch reviewer")
    assert rules(run_guards(repo.diff(), context, GuardsConfig()), "scope.protected_path")
    assert not rules(run_guards(repo.diff(), context, GuardsConfig(permitted_paths=["harness.toml"])), "scope.protected_path")


def test_file_neither_read_nor_named_is_out_of_scope(repo):
    repo.replace("calc/core.py", "return a / b", "return a / b if b else 0.0")
    repo.replace("calc/cli.py", "print(add(args.a, args.b))", "print(round(add(args.a, args.b), 2))")
    context = GuardContext(request="make divide return 0.0 when b is zero", files_read=["calc/core.py"])
    findings = run_guards(repo.diff(), context, GuardsConfig())
    [hit] = rules(findings, "scope.out_of_scope")
    assert hit.path == "calc/cli.py" and hit.severity == "major"


def test_file_named_in_request_and_its_new_test_are_in_scope(repo):
    repo.replace("calc/cli.py", "print(add(args.a, args.b))", "print(round(add(args.a, args.b), 2))")
    repo.write("tests/test_cli.py", "from calc.cli import main\n\n\ndef test_main(capsys):\n    main(['1', '2'])\n")
    context = GuardContext(request="round the output of calc/cli.py to 2 places", files_read=["README.md"])
    assert not rules(run_guards(repo.diff(), context, GuardsConfig()), "scope.out_of_scope")


def test_file_touching_a_symbol_named_in_request_is_in_scope(repo):
    repo.replace("calc/cli.py", "print(add(args.a, args.b))", "print(add(args.a, args.b, 2))")
    repo.replace("calc/core.py", "def add(a, b):", "def add(a, b, ndigits=None):")
    context = GuardContext(request="give `add` an optional rounding argument", files_read=["README.md"])
    assert not rules(run_guards(repo.diff(), context, GuardsConfig()), "scope.out_of_scope")
    unrelated = GuardContext(request="give the adder an optional rounding argument", files_read=["README.md"])
    assert len(rules(run_guards(repo.diff(), unrelated, GuardsConfig()), "scope.out_of_scope")) == 2


def test_scope_check_needs_files_read(repo):
    repo.replace("calc/cli.py", "print(add(args.a, args.b))", "print(round(add(args.a, args.b), 2))")
    assert not rules(run_guards(repo.diff(), GuardContext(request="something else"), GuardsConfig()), "scope.out_of_scope")


def test_path_escaping_the_repo_is_blocked():
    diff = ("diff --git a/../outside.txt b/../outside.txt\n--- a/../outside.txt\n+++ b/../outside.txt\n"
            "@@ -1 +1 @@\n-a\n+b\n")
    [hit] = rules(run_guards(diff, GuardContext(request="x"), GuardsConfig()), "scope.outside_repo")
    assert hit.severity == "blocker"
