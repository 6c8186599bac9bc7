"""The GitHub REST client against the fake server: pagination, rate limits, errors, no token leaks."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from harness.github.client import GitHub, GitHubError
from tests.fake_github import FakeGitHub

TOKEN = "tok-client-secret-0123456789"


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with FakeGitHub() as server:
        yield server


def client(fake: FakeGitHub, sleeps: list[float] | None = None, **kw: object) -> GitHub:
    record = sleeps.append if sleeps is not None else (lambda _s: None)
    return GitHub(fake.url, fake.repository, TOKEN, sleep=record, **kw)  # type: ignore[arg-type]


def test_paginates_through_link_headers(gh: FakeGitHub) -> None:
    for n in range(5):
        gh.add_issue_comment(3, f"comment {n}")
    with client(gh) as api:
        items = api.paginate("/issues/3/comments")
    assert [c["body"] for c in items] == [f"comment {n}" for n in range(5)]
    assert len([r for r in gh.requests if r["path"].endswith("/issues/3/comments")]) == 3  # pages of 2


def test_secondary_rate_limit_waits_retry_after_for_real(gh: FakeGitHub) -> None:
    gh.fail("POST", r"/statuses/", 403, headers={"Retry-After": "1"},
            message="You have exceeded a secondary rate limit. Please wait a few minutes before you try again.")
    with GitHub(gh.url, gh.repository, TOKEN) as api:
        api.post("/statuses/" + "a" * 40, {"state": "pending", "context": "x"})
    tries = [r for r in gh.requests if r["path"].startswith("/repos/octo/calc/statuses/")]
    assert len(tries) == 2 and tries[1]["time"] - tries[0]["time"] >= 1.0
    assert len(gh.statuses) == 1


def test_secondary_rate_limit_without_retry_after_waits_a_minute(gh: FakeGitHub) -> None:
    gh.fail("GET", r"/pulls/1/files", 403, message="You have exceeded a secondary rate limit")
    sleeps: list[float] = []
    with client(gh, sleeps) as api:
        assert api.paginate("/pulls/1/files") == []
    assert sleeps == [60.0]


def test_429_with_retry_after_is_retried(gh: FakeGitHub) -> None:
    gh.fail("GET", r"/pulls/1/files", 429, times=2, headers={"Retry-After": "3"}, message="slow down")
    sleeps: list[float] = []
    with client(gh, sleeps) as api:
        api.paginate("/pulls/1/files")
    assert sleeps == [3.0, 3.0]


def test_primary_limit_longer_than_the_job_waits_is_an_error(gh: FakeGitHub) -> None:
    reset = str(int(time.time()) + 3600)
    gh.fail("GET", r"/pulls/1/files", 403, headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset},
            message="API rate limit exceeded")
    sleeps: list[float] = []
    with client(gh, sleeps) as api, pytest.raises(GitHubError, match="rate limited for longer"):
        api.paginate("/pulls/1/files")
    assert sleeps == []


@pytest.mark.parametrize(("status", "hint"), [(401, "token was rejected"), (403, "permissions"),
                                              (404, "not found"), (422, "refused")])
def test_errors_are_one_clear_line_without_the_token(gh: FakeGitHub, status: int, hint: str) -> None:
    gh.fail("POST", r"/issues/1/comments", status, message=f"nope {TOKEN}")
    sleeps: list[float] = []
    with client(gh, sleeps) as api, pytest.raises(GitHubError) as info:
        api.post("/issues/1/comments", {"body": "x"})
    message = str(info.value)
    assert hint in message and f"{status}" in message and "\n" not in message
    assert TOKEN not in message and "[REDACTED]" in message
    assert sleeps == []  # none of these is retried
    assert len(gh.requests) == 1


def test_server_errors_are_retried_with_backoff(gh: FakeGitHub) -> None:
    gh.fail("GET", r"/pulls/1/comments", 502, times=2)
    sleeps: list[float] = []
    with client(gh, sleeps) as api:
        assert api.paginate("/pulls/1/comments") == []
    assert sleeps == [1.0, 2.0]


def test_unreachable_api_is_a_github_error() -> None:
    api = GitHub("http://127.0.0.1:9", "octo/calc", TOKEN, max_retries=1, sleep=lambda _s: None)
    with pytest.raises(GitHubError, match="unreachable"):
        api.get("/pulls/1")


def test_bad_repository_name_is_refused() -> None:
    with pytest.raises(GitHubError, match="owner/name"):
        GitHub("http://127.0.0.1:9", "not a repo", TOKEN)


def test_the_token_is_sent_only_as_a_header(gh: FakeGitHub) -> None:
    with client(gh) as api:
        api.post("/issues/1/comments", {"body": "hello"})
    request = gh.requests[0]
    assert request["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in request["path"] and TOKEN not in request["raw"]
