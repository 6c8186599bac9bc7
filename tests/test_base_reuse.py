"""A later task on the same tree, image and test command reuses the saved base test run."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import git, run_cli
from tests.fake_models import FakeModels, reply, tool

REQUEST = "Fix add() so it returns the sum of its arguments"
SAVED = "saved from an earlier run on the same tree, image and command"


def _do(repo: Path, fake: FakeModels, env: dict[str, str] | None = None) -> str:
    """A run whose implementer gives up at once: the base suite still runs (or is reused) first."""
    fake.script("openai", reply(tool("finish", summary="nothing to do")))
    done = run_cli("do", REQUEST, cwd=repo, env=env)
    assert done.returncode == 1 and "no change was made" in done.stderr, done.stderr
    return done.stderr


def test_base_run_is_reused_only_for_the_same_tree_and_command(repo: Path, fake: FakeModels) -> None:
    first = _do(repo, fake)
    again = _do(repo, fake)
    switched_off = _do(repo, fake, {"HARNESS_SANDBOX__REUSE_BASE_TESTS": "false"})
    other_command = _do(repo, fake, {"HARNESS_SANDBOX__TEST_COMMAND": "python3 -m pytest -q -x"})
    (repo / "NOTES.md").write_text("a new file changes the tree\n")
    git(repo, "add", "NOTES.md")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "notes")
    new_tree = _do(repo, fake)

    assert SAVED not in first and "base: 2 passed, 0 failing" in first
    assert f"base: 2 passed, 0 failing ({SAVED})" in again
    assert SAVED not in switched_off and SAVED not in other_command and SAVED not in new_tree
