"""Helpers for the GitHub job tests: PR branches in the sample repo, the PR files API, event files."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import git, run_cli
from tests.fake_github import FakeGitHub

FIXTURES = Path(__file__).parent / "fixtures" / "github"
# Not key-shaped on purpose: it must be caught by value (its variable's name), not by a pattern.
TOKEN = "tok-actions-very-secret-0123456789"


def commit_on(repo: Path, branch: str, files: dict[str, str | None], message: str) -> str:
    """Commit file writes (None deletes) on `branch` (created from main if new); returns the sha."""
    exists = subprocess.run(["git", "-C", str(repo), "rev-parse", "-q", "--verify", f"refs/heads/{branch}"],
                            capture_output=True).returncode == 0
    git(repo, "checkout", "-q", branch) if exists else git(repo, "checkout", "-q", "-b", branch, "main")
    for path, content in files.items():
        if content is None:
            git(repo, "rm", "-q", path)
        else:
            (repo / path).parent.mkdir(parents=True, exist_ok=True)
            (repo / path).write_text(content)
            git(repo, "add", path)
    git(repo, "-c", "user.name=alice", "-c", "user.email=a@a", "commit", "-q", "-m", message)
    sha = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-q", "main")
    return sha


def pull_files(repo: Path, base: str, head: str) -> list[dict[str, Any]]:
    """What GET /pulls/{n}/files returns: per file its status and 3-line-context patch."""
    merge_base = git(repo, "merge-base", base, head).strip()
    names = {"M": "modified", "A": "added", "D": "removed"}
    out = []
    for line in git(repo, "diff", "--name-status", merge_base, head).splitlines():
        status, path = line.split("\t", 1)
        patch = git(repo, "diff", "-U3", merge_base, head, "--", path)
        out.append({"filename": path, "status": names.get(status[0], "modified"),
                    "patch": patch[patch.index("@@"):].rstrip("\n") if "@@" in patch else ""})
    return out


def event_file(tmp: Path, fixture: str, **shas: str) -> Path:
    """A fixture with real commit shas (keys: base, head) written where GITHUB_EVENT_PATH will point."""
    data = json.loads((FIXTURES / fixture).read_text())
    if "pull_request" in data:
        data["pull_request"]["base"]["sha"] = shas.get("base", data["pull_request"]["base"]["sha"])
        data["pull_request"]["head"]["sha"] = shas.get("head", data["pull_request"]["head"]["sha"])
    path = tmp / f"event-{fixture}"
    path.write_text(json.dumps(data))
    return path


def actions_env(gh: FakeGitHub, event: Path, name: str, **extra: str) -> dict[str, str]:
    """The environment a workflow step gives the harness."""
    return {"GITHUB_EVENT_PATH": str(event), "GITHUB_REPOSITORY": gh.repository, "GITHUB_API_URL": gh.url,
            "GITHUB_EVENT_NAME": name, "GITHUB_TOKEN": TOKEN, "GITHUB_ACTIONS": "true", **extra}


def run_job(command: str, repo: Path, gh: FakeGitHub, event: Path, name: str, *args: str,
            **extra: str) -> subprocess.CompletedProcess[str]:
    """Run `harness <command>` the way the workflow does: env vars, event file, cwd = the checkout."""
    return run_cli(command, *args, cwd=repo, env=actions_env(gh, event, name, **extra))


def assert_no_token(done: subprocess.CompletedProcess[str], gh: FakeGitHub, repo: Path) -> None:
    """The token is nowhere but the Authorization header: not in output, bodies, URLs or memory."""
    assert TOKEN not in done.stdout and TOKEN not in done.stderr
    for request in gh.requests:
        assert TOKEN not in request["raw"] and TOKEN not in request["path"]
        assert request["headers"]["Authorization"] == f"Bearer {TOKEN}"
    for path in (repo / "memory").glob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes()
