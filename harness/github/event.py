"""The Actions run environment and event payloads, read into small records.

Payloads carry far more than the jobs use; only the needed fields are picked, and a missing
one is a one-line UsageError naming it (a wrong trigger or a hand-made event file).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.records import Record

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_SERVER_URL = "https://github.com"


class ActionsEnv(Record):
    """What the job reads from the environment Actions sets up."""

    event_path: Path
    repository: str
    api_url: str = DEFAULT_API_URL
    server_url: str = DEFAULT_SERVER_URL
    event_name: str = ""


class PullRequestEvent(Record):
    """A `pull_request` event: which PR, its base and head commits, who opened it."""

    action: str
    number: int
    title: str
    body: str
    author: str
    base_sha: str
    base_ref: str
    head_sha: str
    head_ref: str
    head_repo: str
    html_url: str = ""


class RequestEvent(Record):
    """An `issue_comment` or `issues: labeled` event that may ask for an implementation."""

    kind: str  # comment | label
    action: str
    number: int
    is_pull_request: bool
    title: str
    body: str  # the issue's body
    text: str  # the comment's body, or the label name
    sender: str
    comment_id: int | None = None
    default_branch: str = "main"


def actions_env(environ: Mapping[str, str]) -> ActionsEnv:
    """GITHUB_EVENT_PATH / GITHUB_REPOSITORY / GITHUB_API_URL / GITHUB_SERVER_URL, checked."""
    missing = [n for n in ("GITHUB_EVENT_PATH", "GITHUB_REPOSITORY") if not environ.get(n)]
    if missing:
        raise UsageError(f"{', '.join(missing)} not set: run this inside GitHub Actions (or set them by hand)")
    return ActionsEnv(event_path=Path(environ["GITHUB_EVENT_PATH"]), repository=environ["GITHUB_REPOSITORY"],
                      api_url=environ.get("GITHUB_API_URL") or DEFAULT_API_URL,
                      server_url=environ.get("GITHUB_SERVER_URL") or DEFAULT_SERVER_URL,
                      event_name=environ.get("GITHUB_EVENT_NAME", ""))


def load_event(path: Path) -> dict[str, Any]:
    """The event payload as a dict, or a one-line UsageError."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read the event file {path}: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"the event file {path} is not JSON: {str(exc)[:100]}") from None
    if not isinstance(data, dict):
        raise UsageError(f"the event file {path} is not a JSON object")
    return data


def _get(data: Any, dotted: str, kind: type | tuple[type, ...] = str, default: Any = ...) -> Any:
    node = data
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            break
    if node is None and default is not ...:
        return default
    if not isinstance(node, kind) or isinstance(node, bool) and kind is int:
        raise UsageError(f"event payload: `{dotted}` is missing or not a {getattr(kind, '__name__', kind)}")
    return node


def pull_request_event(data: dict[str, Any]) -> PullRequestEvent:
    """Pick the fields review-pr needs from a `pull_request` payload."""
    if not isinstance(data.get("pull_request"), dict):
        raise UsageError("this is not a pull_request event (no `pull_request` in the payload)")
    pr = data["pull_request"]
    return PullRequestEvent(
        action=_get(data, "action", default=""), number=_get(pr, "number", int), title=_get(pr, "title"),
        body=_get(pr, "body", default="") or "", author=_get(pr, "user.login", default=""),
        base_sha=_sha(_get(pr, "base.sha"), "pull_request.base.sha"), base_ref=_get(pr, "base.ref"),
        head_sha=_sha(_get(pr, "head.sha"), "pull_request.head.sha"), head_ref=_get(pr, "head.ref"),
        head_repo=_get(pr, "head.repo.full_name", default=""), html_url=_get(pr, "html_url", default=""))


def request_event(data: dict[str, Any]) -> RequestEvent:
    """Pick the fields pr-do needs from an `issue_comment` or `issues`/`pull_request` labeled payload."""
    issue = data.get("issue") if isinstance(data.get("issue"), dict) else data.get("pull_request")
    if not isinstance(issue, dict):
        raise UsageError("this is not an issue_comment or labeled event (no `issue` in the payload)")
    common = {"action": _get(data, "action", default=""), "number": _get(issue, "number", int),
              "is_pull_request": "pull_request" in issue or "pull_request" in data,
              "title": _get(issue, "title"), "body": _get(issue, "body", default="") or "",
              "sender": _get(data, "sender.login"),
              "default_branch": _get(data, "repository.default_branch", default="main")}
    if isinstance(data.get("comment"), dict):
        return RequestEvent(kind="comment", text=_get(data, "comment.body", default="") or "",
                            comment_id=_get(data, "comment.id", int), **common)
    if isinstance(data.get("label"), dict):
        return RequestEvent(kind="label", text=_get(data, "label.name"), **common)
    raise UsageError("the event has neither a `comment` nor a `label`")


def _sha(value: str, name: str) -> str:
    if len(value) < 7 or any(c not in "0123456789abcdef" for c in value.lower()):
        raise UsageError(f"event payload: `{name}` is not a commit sha")
    return value
