"""The candidate change inside the sandbox: its diff, and running its tests against base code.

The sandbox's repo has one commit (`base`) made at copy-in; the implementer's edits are
the difference between that commit and the working tree.
"""

from __future__ import annotations

import shlex

from harness.errors import SandboxError
from harness.records import TestReport
from harness.sandbox import Sandbox
from harness.testrun import run_tests

BASE_REF = "refs/harness/base"
_GIT_TIMEOUT = 120


def mark_base(sandbox: Sandbox) -> None:
    """Remember the copy-in commit so later diffs are always against it."""
    _git(sandbox, f"git update-ref {BASE_REF} HEAD")


def candidate_diff(sandbox: Sandbox) -> str:
    """The unified diff (with binary patches) of everything the implementer changed."""
    return _git(sandbox, f"git add -A && git diff --cached --binary --no-color -U5 {BASE_REF}")


def tracked_files(sandbox: Sandbox) -> list[str]:
    """Files in the working tree that git would track (for mapping JUnit names to paths)."""
    return _git(sandbox, "git ls-files -co --exclude-standard").splitlines()


def run_tests_on_base_code(sandbox: Sandbox, command: str, test_ids: list[str], changed_tests: list[str],
                           added_files: list[str], timeout_s: int) -> TestReport:
    """Run the changed tests with base source code: evidence that they exercise the change.

    Head is committed to a scratch ref, base code is restored except the changed test files,
    the given tests run, and the working tree is put back exactly as head had it.
    """
    _git(sandbox, "git add -A && git commit -q --no-verify --allow-empty -m head && "
                  "git update-ref refs/harness/head HEAD")
    try:
        restore_tests = " ".join(shlex.quote(p) for p in changed_tests)
        remove_new = " ".join(shlex.quote(p) for p in added_files if p not in changed_tests)
        script = f"git checkout -q {BASE_REF} -- . "
        if remove_new:
            script += f"&& rm -f -- {remove_new} "
        if restore_tests:
            script += f"&& git checkout -q refs/harness/head -- {restore_tests}"
        _git(sandbox, script)
        ids = " ".join(shlex.quote(t) for t in test_ids)
        return run_tests(sandbox, f"{command} {ids}", timeout_s, tracked_files(sandbox))
    finally:
        _git(sandbox, f"git reset -q --hard refs/harness/head && git reset -q --soft {BASE_REF}")


def _git(sandbox: Sandbox, script: str) -> str:
    result = sandbox.exec(["sh", "-c", script], _GIT_TIMEOUT)
    if result.exit_code != 0:
        raise SandboxError(f"git in the sandbox failed: {result.output.strip()[:200]}")
    return result.output
