"""`harness pr-do` end to end: a `/harness` comment, the permission check through the API, `harness do`,
the push to a remote and the pull request with the change receipt; refusals run nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import git
from tests.fake_github import FakeGitHub
from tests.fake_models import FakeModels, reply, review, tool
from tests.github_support import FIXTURES, assert_no_token, run_job
from tests.roles_support import ADD_FEES
from tests.test_do_e2e import ADD_TEST, FIX_ADD


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with FakeGitHub() as server:
        yield server


@pytest.fixture
def remote(tmp_path: Path, repo: Path) -> Path:
    """A bare repo standing in for github.com/octo/calc.git (GITHUB_SERVER_URL points at its parent)."""
    bare = tmp_path / "server" / "octo" / "calc.git"
    bare.parent.mkdir(parents=True)
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(repo, "push", "-q", str(bare), "main")
    return bare


def server_env(remote: Path) -> dict[str, str]:
    return {"GITHUB_SERVER_URL": f"file://{remote.parent.parent}"}


def test_maintainer_comment_opens_a_pull_request_with_the_receipt(repo: Path, fake: FakeModels, gh: FakeGitHub,
                                                                   remote: Path) -> None:
    gh.permissions["maint"] = "write"
    fake.script("openai", reply(FIX_ADD), reply(ADD_TEST), reply(tool("finish", summary="fixed, with a test")))
    fake.script("anthropic", review("approve", summary="correct and tested"))

    done = run_job("pr-do", repo, gh, FIXTURES / "issue_comment.json", "issue_comment", "--json", **server_env(remote))

    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert outcome["action"] == "ran" and outcome["result"]["status"] == "trusted"
    branch = outcome["result"]["branch"]
    # The branch reached the remote, and the PR was opened from it against the default branch.
    assert "return a + b" in git(remote, "show", f"{branch}:calc.py")
    [pr] = gh.created_pulls
    assert (pr["head"], pr["base"]) == (branch, "main")
    assert pr["title"] == "Fix add() so it returns the sum of its arguments"
    for part in ("@maint", "#12", "trusted", "`gpt`", "`claude`", "| base | 2 | 0 |", "| head | 3 | 0 |",
                 "Guards:", "cost $"):
        assert part in pr["body"], part
    # The requester hears where the PR is.
    assert gh.issue_comments[-1]["issue_number"] == 12 and f"#{pr['number']}" in gh.issue_comments[-1]["body"]
    # The permission was asked of the API, for the commenter.
    assert any(r["path"] == "/repos/octo/calc/collaborators/maint/permission" for r in gh.requests)
    # The model got the comment's request (not the issue's text).
    assert "Fix add() so it returns the sum of its arguments" in json.dumps(fake.requests["openai"][0])
    assert_no_token(done, gh, repo)


@pytest.mark.parametrize("permission", ["read", "triage", None])
def test_commenter_without_write_permission_is_refused_and_nothing_runs(
        repo: Path, fake: FakeModels, gh: FakeGitHub, remote: Path, permission: str | None) -> None:
    if permission:
        gh.permissions["maint"] = permission
    refs_before = git(remote, "for-each-ref")

    done = run_job("pr-do", repo, gh, FIXTURES / "issue_comment.json", "issue_comment", **server_env(remote))

    assert done.returncode == 0, done.stderr
    assert fake.requests == {"anthropic": [], "openai": []}  # no model was called
    assert gh.created_pulls == [] and git(remote, "for-each-ref") == refs_before
    assert not (repo / "memory").exists()  # not even a run was recorded
    [answer] = gh.issue_comments
    assert "only people with write or admin permission" in answer["body"] and "@maint" in answer["body"]
    assert [w["path"] for w in gh.writes()] == ["/repos/octo/calc/issues/12/comments"]
    assert_no_token(done, gh, repo)


def test_a_comment_not_for_the_harness_is_ignored(repo: Path, gh: FakeGitHub, tmp_path: Path) -> None:
    event = json.loads((FIXTURES / "issue_comment.json").read_text())
    event["comment"]["body"] = "Thanks, looks good"
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))

    done = run_job("pr-do", repo, gh, path, "issue_comment")

    assert done.returncode == 0 and gh.requests == []


def test_budget_reached_is_answered_and_no_pr_is_opened(repo: Path, fake: FakeModels, gh: FakeGitHub,
                                                        remote: Path) -> None:
    gh.permissions["maint"] = "admin"
    fake.script("openai", reply(FIX_ADD), reply(ADD_TEST), reply(tool("finish", summary="ok")))

    # 1000 max output tokens at $4/M is $0.004 worst case: a $0.003 per-request cap refuses the first call.
    done = run_job("pr-do", repo, gh, FIXTURES / "issue_comment.json", "issue_comment",
                   HARNESS_GITHUB__REQUEST_USD="0.003", **server_env(remote))

    assert done.returncode == 3, done.stderr
    assert fake.requests["openai"] == [] and gh.created_pulls == []
    answer = gh.issue_comments[-1]["body"]
    assert "budget reached" in answer and "no pull request opened" in answer
    assert_no_token(done, gh, repo)


def test_high_risk_change_opens_a_labelled_draft_and_asks_the_code_owners(
        repo: Path, fake: FakeModels, gh: FakeGitHub, remote: Path, tmp_path: Path) -> None:
    (repo / ".github").mkdir()
    (repo / ".github" / "CODEOWNERS").write_text("*           @maint\npayments/   @alice @octo/payments-team\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "owners")
    git(repo, "push", "-q", str(remote), "main")
    event = json.loads((FIXTURES / "issue_comment.json").read_text())
    event["comment"]["body"] = ("/harness Create payments/fees.py with fee(amount) returning 2% of amount, "
                                "tested in tests/test_fees.py")
    (tmp_path / "event.json").write_text(json.dumps(event))
    gh.permissions["maint"] = "write"
    fake.script("openai", *ADD_FEES)
    fake.script("anthropic", review("approve", summary="fine"))

    done = run_job("pr-do", repo, gh, tmp_path / "event.json", "issue_comment", "--json", **server_env(remote))

    assert done.returncode == 1, done.stderr
    outcome = json.loads(done.stdout)
    assert outcome["result"]["status"] == "needs_human"
    [pr] = gh.created_pulls
    assert pr["draft"] is True and "needs a person" in pr["body"]
    assert gh.labels == {pr["number"]: ["needs-human"]}
    # The payments/ rule wins over `*` for the payments files; `*` covers the test file.
    [asked] = gh.review_requests
    assert asked == {"pull_number": pr["number"], "reviewers": ["alice", "maint"], "team_reviewers": ["payments-team"]}
    assert "as a draft" in gh.issue_comments[-1]["body"]
    assert_no_token(done, gh, repo)
