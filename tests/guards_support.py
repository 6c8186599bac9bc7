"""A small real git repository for the guard tests: commit a base, edit, take `git diff`."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

from harness.records import TestComparison, TestReport

BASE_FILES = {
    "calc/__init__.py": "",
    "calc/core.py": '''
        def add(a, b):
            return a + b


        def divide(a, b):
            return a / b
        ''',
    "calc/cli.py": '''
        import argparse

        from calc.core import add


        def main(argv=None):
            parser = argparse.ArgumentParser()
            parser.add_argument("a", type=float)
            parser.add_argument("b", type=float)
            args = parser.parse_args(argv)
            print(add(args.a, args.b))
        ''',
    "calc/settings.toml": '''
        [calc]
        precision = 2
        ''',
    "tests/test_core.py": '''
        import pytest

        from calc.core import add, divide


        def test_add():
            assert add(1, 2) == 3


        def test_add_negative():
            assert add(-1, -2) == -3


        def test_divide():
            assert divide(6, 3) == 2


        def test_divide_by_zero():
            with pytest.raises(ZeroDivisionError):
                divide(1, 0)


        class TestAdd:
            def test_zero(self):
                assert add(0, 0) == 0
                assert add(0, 1) == 1
        ''',
    "pyproject.toml": '''
        [project]
        name = "calc"
        version = "0.1.0"
        dependencies = [
            "click>=8",
        ]

        [tool.pytest.ini_options]
        testpaths = ["tests"]
        ''',
    ".github/workflows/ci.yml": '''
        name: ci
        on: [push]
        jobs:
          test:
            runs-on: ubuntu-latest
            steps:
              - run: pytest
        ''',
    "harness.toml": '''
        [roles]
        implementer = "a"
        reviewer = "b"
        ''',
}


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=root, check=True, capture_output=True, text=True,
    ).stdout


class Repo:
    """A git repo with BASE_FILES committed; edit files, then take the diff against base."""

    def __init__(self, root: Path):
        self.root = root
        _git(root, "init", "-q", "-b", "main")
        for path, text in BASE_FILES.items():
            self.write(path, text)
        _git(root, "add", "-A")
        _git(root, "commit", "-q", "-m", "base")

    def write(self, path: str, text: str) -> None:
        """Create or overwrite a file; the text is dedented and stripped of a leading newline."""
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")

    def read(self, path: str) -> str:
        """The current text of a file."""
        return (self.root / path).read_text(encoding="utf-8")

    def replace(self, path: str, old: str, new: str) -> None:
        """Replace one exact occurrence of `old` (fails loudly if absent, so tests stay honest)."""
        text = self.read(path)
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {path}"
        (self.root / path).write_text(text.replace(old, new), encoding="utf-8")

    def delete(self, path: str) -> None:
        """Remove a file from the working tree."""
        (self.root / path).unlink()

    def commit(self, message: str) -> None:
        """Make the current tree the new base."""
        _git(self.root, "add", "-A")
        _git(self.root, "commit", "-q", "-m", message)

    def diff(self) -> str:
        """`git diff` of the working tree (new files included) against the base commit."""
        _git(self.root, "add", "-A")
        return _git(self.root, "diff", "--cached", "HEAD")

    def line_of(self, path: str, needle: str) -> int:
        """1-based line number of the first line containing `needle` in the current file."""
        for number, line in enumerate(self.read(path).splitlines(), 1):
            if needle in line:
                return number
        raise AssertionError(f"{needle!r} not in {path}")


def report(outcomes: dict[str, str], exit_code: int | None = None) -> TestReport:
    """A TestReport from per-test outcomes."""
    failed = sum(o == "failed" for o in outcomes.values())
    errors = sum(o == "error" for o in outcomes.values())
    code = exit_code if exit_code is not None else (1 if failed or errors else 0)
    return TestReport(exit_code=code, passed=sum(o == "passed" for o in outcomes.values()),
                      failed=failed, errors=errors, outcomes=outcomes)


def comparison(base: dict[str, str], head: dict[str, str]) -> TestComparison:
    """Base versus head, with the derived lists filled the way a test runner would."""
    return TestComparison(
        base=report(base), head=report(head),
        new_failures=[t for t, o in head.items() if o in ("failed", "error") and base.get(t) == "passed"],
        fixed=[t for t, o in head.items() if o == "passed" and base.get(t) in ("failed", "error")],
        still_failing=[t for t, o in head.items() if o in ("failed", "error") and base.get(t) in ("failed", "error")],
        new_tests=[t for t in head if t not in base],
    )
