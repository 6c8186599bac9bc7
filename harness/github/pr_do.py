"""`harness pr-do`: implement a maintainer's `/harness ...` comment (or a labeled issue) as a pull request.

Only commenters with write or admin permission (asked of the API, never inferred from the
payload) can start a run; anyone else gets a comment saying who may ask, and nothing runs.
"""

from __future__ import annotations

import base64
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from harness import gitops
from harness.config import HarnessConfig
from harness.errors import GitError, HarnessError
from harness.github.client import GitHub, GitHubError
from harness.github.codeowners import owners_of, read_codeowners, review_request
from harness.github.event import RequestEvent
from harness.github.render import ICONS, TITLES, receipt_body, safe
from harness.pipeline import DoOptions, do
from harness.progress import Progress
from harness.records import Record, RunResult
from harness.secrets import redact

# `maintain` shows as "write" in the permission field; triage and read cannot ask.
ALLOWED_PERMISSIONS = frozenset({"admin", "write"})
REPLY_MARKER = "<!-- harness:pr-do -->"


class PrDoOutcome(Record):
    """What pr-do did: ignored, refused, or ran (with the run's result and the PR it opened)."""

    action: str  # ignored | refused | ran | failed
    message: str = ""
    result: RunResult | None = None
    pull_request: str | None = None


def requested_text(event: RequestEvent, command: str, label: str) -> str | None:
    """The request a comment or label asks for, or None when the event is not for the harness."""
    if event.kind == "comment":
        if event.action not in ("created", ""):
            return None
        body = event.text.strip()
        rest = body[len(command):]
        if not body.startswith(command) or (rest and not rest[0].isspace()):
            return None  # not a command, or a longer word such as "/harnessed"
        rest = rest.strip()
    elif event.kind == "label":
        if not label or event.action != "labeled" or event.text != label:
            return None
        rest = ""
    else:
        return None
    return rest or f"{event.title}\n\n{event.body}".strip()


def permission_of(github: GitHub, user: str) -> str:
    """The user's permission on the repo as the API reports it ("none" when GitHub does not know them)."""
    try:
        answer = github.get(f"/collaborators/{quote(user, safe='')}/permission")
    except GitHubError as exc:
        if " 404 " in str(exc):
            return "none"
        raise
    return str((answer or {}).get("permission", "none"))


def push_branch(repo: Path, remote_url: str, branch: str, token: str, secrets: list[str]) -> None:
    """Push one branch with the token in an environment-only http header (never in argv or the URL)."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    if remote_url.startswith(("https://", "http://")):
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        env |= {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraheader",
                "GIT_CONFIG_VALUE_0": f"AUTHORIZATION: basic {basic}"}
    done = subprocess.run(["git", "-C", str(repo), "push", "--quiet", remote_url,
                           f"refs/heads/{branch}:refs/heads/{branch}"], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise GitError(redact(f"git push of {branch} failed: {last}", [token, *secrets]))


def reply(github: GitHub, number: int, text: str, secrets: list[str]) -> None:
    """Answer on the issue or PR the request came from."""
    github.post(f"/issues/{number}/comments", {"body": redact(f"{REPLY_MARKER}\n{text}", secrets)})


def hand_to_people(github: GitHub, repo: Path, branch: str, number: int | None, label: str) -> None:
    """Label a gated PR and ask the CODEOWNERS of the files it changes to review it.

    The run was based on the checked-out HEAD, so ownership is read there, as GitHub reads it from
    the PR's base branch."""
    if number is None:
        return
    github.post(f"/issues/{number}/labels", {"labels": [label]})
    changed = gitops.git(repo, "diff", "--name-only", f"HEAD...{branch}").decode().split()
    owners = owners_of(read_codeowners(repo, "HEAD"), changed)
    if owners:
        github.post(f"/pulls/{number}/requested_reviewers", review_request(owners))


def implement_request(event: RequestEvent, github: GitHub, repo: Path, config: HarnessConfig, config_path: Path,
                      remote_url: str, token: str, environ: Mapping[str, str], secrets: list[str],
                      progress: Progress) -> PrDoOutcome:
    """Check the trigger and the permission, run `harness do`, push, open the PR, and answer."""
    request = requested_text(event, config.github.command, config.github.label)
    if request is None:
        return PrDoOutcome(action="ignored", message="the event does not ask the harness for anything")
    permission = permission_of(github, event.sender)
    if permission not in ALLOWED_PERMISSIONS:
        text = (f"@{event.sender} only people with write or admin permission on this repository can ask the "
                f"harness (yours: {permission}). A maintainer can comment `{config.github.command} <request>`.")
        reply(github, event.number, text, secrets)
        return PrDoOutcome(action="refused", message=f"{event.sender} has {permission} permission; refused")
    options = DoOptions(request=request, repo=repo, config_path=config_path, kind="pr",
                        max_cost=config.github.request_usd)
    try:
        result = do(options, config, progress, environ)
    except HarnessError as exc:
        reply(github, event.number, f"⚠️ harness could not run: {safe(redact(str(exc), secrets), 600)}", secrets)
        raise
    gated = result.status == "needs_human" and bool(result.branch)
    if (result.status != "trusted" and not gated) or not result.branch:
        head = f"{ICONS.get(result.status, '')} **{TITLES.get(result.status, result.status)}**, no pull request opened."
        reply(github, event.number, head + "\n\n" + receipt_body(result, event.sender, event.number), secrets)
        return PrDoOutcome(action="ran", result=result, message=result.reason)
    try:
        push_branch(repo, remote_url, result.branch, token, secrets)
        title = safe(request.strip().splitlines()[0], 72)
        pr = github.post("/pulls", {"title": title, "head": result.branch, "base": event.default_branch,
                                    "body": redact(receipt_body(result, event.sender, event.number), secrets),
                                    "draft": gated})
        if gated:
            hand_to_people(github, repo, result.branch, (pr or {}).get("number"), config.github.needs_human_label)
    except HarnessError as exc:
        reply(github, event.number, f"⚠️ the change is trusted but could not be published: "
                                    f"{safe(redact(str(exc), secrets), 600)}", secrets)
        raise
    url = (pr or {}).get("html_url", "")
    opened = f"opened #{(pr or {}).get('number')} from `{result.branch}` (cost ${result.cost_usd:.4f})"
    reply(github, event.number, f"🧑‍⚖️ {opened} as a draft: its risk level needs a person to check it "
                                f"({safe(redact(result.reason, secrets), 300)})." if gated else f"✅ {opened}.",
          secrets)
    return PrDoOutcome(action="ran", result=result, pull_request=url, message="opened a pull request")
