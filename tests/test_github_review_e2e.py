"""`harness review-pr` end to end, run as the workflow runs it: env vars, an event file, a fake GitHub
REST server on loopback, the fake model server, real Docker, git and SQLite."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.github.render import SUMMARY_MARKER
from tests.conftest import CALC, TESTS, git
from tests.fake_github import BOT, FakeGitHub, hunk_lines
from tests.fake_models import FakeModels, review
from tests.github_support import TOKEN, assert_no_token, commit_on, event_file, pull_files, run_job

NEW_TESTS = TESTS.replace("from calc import mul\n", "from calc import add, mul\n\n\ndef test_add():\n"
                                                     "    assert add(2, 3) == 5\n")
NEW_TESTS = NEW_TESTS[: NEW_TESTS.index("\n\ndef test_runs_in_sandbox")] + "\n"
ON_DIFF = {"path": "calc.py", "line": 6, "severity": "minor", "category": "tests",
           "message": "add() deserves a test with negative numbers"}
OFF_DIFF = {"path": "calc.py", "line": 11, "severity": "nit", "category": "patterns",
            "message": "mul() could use the same docstring style"}
NO_FILE = {"path": "docs/usage.md", "line": 3, "severity": "minor", "category": "other",
           "message": "document the fix in the usage guide"}


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with FakeGitHub() as server:
        yield server


def open_pr(repo: Path, gh: FakeGitHub, tmp: Path) -> tuple[str, str, Path]:
    base = git(repo, "rev-parse", "main").strip()
    head = commit_on(repo, "fix-add", {"calc.py": CALC.replace("a - b", "a + b"), "tests/test_calc.py": NEW_TESTS},
                     "Fix add()")
    gh.pull_files[7] = pull_files(repo, base, head)
    # Like actions/checkout on pull_request: the PR's code is what is checked out.
    git(repo, "checkout", "-q", "--detach", head)
    return base, head, event_file(tmp, "pull_request_opened.json", base=base, head=head)


def assert_on_diff_lines(gh: FakeGitHub, number: int) -> None:
    """Every review comment sits on a line inside a hunk, on the side that line belongs to."""
    files = {f["filename"]: hunk_lines(f["patch"]) for f in gh.pull_files[number]}
    for c in gh.review_comments:
        right, left = files[c["path"]]
        assert c["line"] in (right if c["side"] == "RIGHT" else left), c


def bot_summaries(gh: FakeGitHub) -> list[dict]:
    return [c for c in gh.issue_comments if c["user"] == BOT and c["body"].startswith(SUMMARY_MARKER)]


def test_review_posts_inline_on_diff_lines_and_one_sticky_summary(repo: Path, fake: FakeModels, gh: FakeGitHub,
                                                                  tmp_path: Path) -> None:
    base, head, event = open_pr(repo, gh, tmp_path)
    # Someone pastes the marker into a comment of their own: it must never be taken for the bot's.
    human = gh.add_issue_comment(7, f"{SUMMARY_MARKER} fake summary")
    leak = {**ON_DIFF, "line": 7, "message": f"the diff must not print {TOKEN}"}
    fake.script("anthropic", review("request_changes", [ON_DIFF, OFF_DIFF, NO_FILE, leak], summary="close"))
    # The first status call hits a secondary rate limit: the job waits Retry-After and carries on.
    gh.fail("POST", r"/statuses/", 403, headers={"Retry-After": "1"},
            message="You have exceeded a secondary rate limit. Please wait a few minutes before you try again.")

    done = run_job("review-pr", repo, gh, event, "pull_request")

    assert done.returncode == 1, done.stderr  # not trusted: a test was deleted and the review asks for changes
    status_tries = [r for r in gh.requests if "/statuses/" in r["path"]]
    assert status_tries[1]["time"] - status_tries[0]["time"] >= 1.0
    # One review; inline comments only on diff lines, with the right side.
    assert len(gh.reviews) == 1 and gh.reviews[0]["commit_id"] == head
    assert_on_diff_lines(gh, 7)
    placed = {(c["path"], c["line"], c["side"]) for c in gh.review_comments}
    assert ("calc.py", 6, "RIGHT") in placed
    assert ("tests/test_calc.py", 10, "LEFT") in placed  # the deleted test, on the base side
    assert ("calc.py", 11, "RIGHT") not in placed and not any(c["path"] == "docs/usage.md" for c in gh.review_comments)
    # One sticky summary from the bot, listing what could not go inline; the human's comment is untouched.
    [summary] = bot_summaries(gh)
    assert "not trusted" in summary["body"] and "calc.py:11" in summary["body"] and "docs/usage.md:3" in summary["body"]
    assert human["body"] == f"{SUMMARY_MARKER} fake summary"
    assert [s["state"] for s in gh.statuses] == ["pending", "failure"]
    assert gh.statuses[-1]["sha"] == head and gh.statuses[-1]["context"] == "harness/review"
    assert gh.statuses[-1]["target_url"] == summary["html_url"]
    # The reviewer was the configured one (claude): the PR was written by a person.
    assert len(fake.requests["anthropic"]) == 1 and fake.requests["openai"] == []
    # Grounded like `harness do`: the reviewer sees the repo's own code near the change.
    assert "own patterns near the change" in json.dumps(fake.requests["anthropic"][0]["messages"])
    assert "[REDACTED]" in json.dumps([c["body"] for c in gh.review_comments])
    assert_no_token(done, gh, repo)

    # A new push: the same finding again plus a new one.
    head2 = commit_on(repo, "fix-add", {"calc.py": CALC.replace("a - b", "a + b").replace(
        "The product of a and b.", "Return the product of a and b.")}, "Docstring")
    gh.pull_files[7] = pull_files(repo, base, head2)
    git(repo, "checkout", "-q", "--detach", head2)
    new = {"path": "calc.py", "line": 10, "severity": "nit", "category": "patterns",
           "message": "say 'Return the sum' in add() too"}
    fake.script("anthropic", review("request_changes", [ON_DIFF, new], summary="closer"))
    comments_before = len(gh.review_comments)

    again = run_job("review-pr", repo, gh, event_file(tmp_path, "pull_request_synchronize.json", base=base,
                                                        head=head2), "pull_request")

    assert again.returncode == 1, again.stderr
    assert_on_diff_lines(gh, 7)
    added = gh.review_comments[comments_before:]
    assert [(c["path"], c["line"]) for c in added] == [("calc.py", 10)]  # the unchanged finding is not repeated
    assert len(bot_summaries(gh)) == 1  # edited in place, not a second copy
    patches = [r for r in gh.requests if r["method"] == "PATCH"]
    assert len(patches) == 1 and patches[0]["path"].endswith(f"/issues/comments/{bot_summaries(gh)[0]['id']}")
    assert "closer" in bot_summaries(gh)[0]["body"] and head2[:10] in bot_summaries(gh)[0]["body"]
    assert "already commented earlier" in bot_summaries(gh)[0]["body"]
    assert_no_token(again, gh, repo)

    # The per-PR cap holds across jobs through memory: once spent, the next push is not reviewed.
    requests_before = len(fake.requests["anthropic"])
    stopped = run_job("review-pr", repo, gh, event, "pull_request", HARNESS_GITHUB__PR_USD="0.001")
    assert stopped.returncode == 3, stopped.stderr
    assert len(fake.requests["anthropic"]) == requests_before
    assert gh.statuses[-1]["state"] == "error" and "budget" in gh.statuses[-1]["description"]
    assert "budget reached" in bot_summaries(gh)[0]["body"] and len(bot_summaries(gh)) == 1


def test_a_harness_authored_pr_gets_another_reviewer_and_dry_run_posts_nothing(
        repo: Path, fake: FakeModels, gh: FakeGitHub, tmp_path: Path) -> None:
    base = git(repo, "rev-parse", "main").strip()
    trailer = "Fix add()\n\nharness run: 0123abcd (trusted)\nimplementer: claude\nreviewer: gpt\n"
    head = commit_on(repo, "harness/fix-add", {"calc.py": CALC.replace("a - b", "a + b"),
                                               "tests/test_calc.py": TESTS.replace(
                                                   "from calc import mul\n",
                                                   "from calc import add, mul\n\n\ndef test_add():\n"
                                                   "    assert add(2, 3) == 5\n")}, trailer)
    gh.pull_files[7] = pull_files(repo, base, head)
    fake.script("openai", review("approve", [ON_DIFF], summary="fine"))

    done = run_job("review-pr", repo, gh, event_file(tmp_path, "pull_request_opened.json", base=base, head=head),
                   "pull_request", "--dry-run")

    assert done.returncode == 0, done.stderr
    # claude wrote it, so gpt (the other provider) reviewed it, although [roles] names claude.
    assert len(fake.requests["openai"]) == 1 and fake.requests["anthropic"] == []
    plan = json.loads(done.stdout)
    assert gh.writes() == []  # read-only: the plan is printed, nothing is posted
    assert plan["status"]["state"] == "success" and plan["summary"]["action"] == "create"
    assert [(c["path"], c["line"], c["side"]) for c in plan["review"]["comments"]] == [("calc.py", 6, "RIGHT")]
    assert "`gpt`" in plan["summary"]["body"] and "written by `claude`" in plan["summary"]["body"]
    assert_no_token(done, gh, repo)

    # Without a token, --dry-run works from the local diff and never calls GitHub.
    requests_before = len(gh.requests)
    fake.script("openai", review("approve", [ON_DIFF], summary="fine"))
    offline = run_job("review-pr", repo, gh, event_file(tmp_path, "pull_request_opened.json", base=base, head=head),
                      "pull_request", "--dry-run", GITHUB_TOKEN="")
    assert offline.returncode == 0, offline.stderr
    assert len(gh.requests) == requests_before
    assert json.loads(offline.stdout)["review"]["comments"][0]["line"] == 6


def test_bad_input_is_one_line_and_exit_2(repo: Path, gh: FakeGitHub, tmp_path: Path) -> None:
    base = git(repo, "rev-parse", "main").strip()
    good = event_file(tmp_path, "pull_request_opened.json", base=base, head=base)
    cases = [
        ({"GITHUB_EVENT_PATH": ""}, "GITHUB_EVENT_PATH"),
        ({"GITHUB_TOKEN": ""}, "no GitHub token"),
        ({"GITHUB_EVENT_PATH": str(tmp_path / "missing.json")}, "cannot read the event file"),
        ({"GITHUB_EVENT_PATH": str(event_file(tmp_path, "issue_comment.json"))}, "not a pull_request event"),
        ({"GITHUB_EVENT_PATH": str(event_file(tmp_path, "pull_request_opened.json", base=base, head="ab" * 20))},
         "fetch-depth: 0"),
    ]
    for env, message in cases:
        done = run_job("review-pr", repo, gh, good, "pull_request", **env)
        assert done.returncode == 2, (env, done.stderr)
        assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert gh.writes() == []
