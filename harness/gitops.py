"""Git on the host: checks, the base snapshot, and turning a patch into a branch.

The user's working tree, index and checked-out branch are never touched: the branch is
built with a throwaway index file and plumbing commands, and only `--apply` writes files.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness.errors import GitError, UsageError


def git(repo: Path, *args: str, input_bytes: bytes | None = None, env: dict[str, str] | None = None) -> bytes:
    """Run git in `repo` and return stdout; raise GitError with git's message on failure."""
    done = subprocess.run(["git", "-C", str(repo), *args], input=input_bytes, capture_output=True,
                          env={**os.environ, **(env or {})})
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise GitError(f"git {args[0]} failed: {message[-1] if message else 'no message'}")
    return done.stdout


def repo_root(path: Path) -> Path:
    """The top of the git work tree containing `path`, or a UsageError."""
    if not path.exists():
        raise UsageError(f"{path} does not exist")
    done = subprocess.run(["git", "-C", str(path), "rev-parse", "--show-toplevel"], capture_output=True, text=True)
    if done.returncode != 0:
        raise UsageError(f"{path} is not inside a git repository")
    return Path(done.stdout.strip())


def head_commit(repo: Path) -> str:
    """The commit HEAD points at; a repo without commits is a UsageError."""
    done = subprocess.run(["git", "-C", str(repo), "rev-parse", "--verify", "-q", "HEAD^{commit}"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise UsageError(f"{repo} has no commits yet; commit something first")
    return done.stdout.strip()


def is_dirty(repo: Path) -> bool:
    """Whether tracked files have uncommitted changes (they are not part of the base)."""
    return bool(git(repo, "status", "--porcelain", "--untracked-files=no").strip())


def archive(repo: Path, commit: str) -> bytes:
    """A tar of the tracked files at `commit`: what the sandbox gets."""
    return git(repo, "archive", "--format=tar", commit)


@contextmanager
def extracted(tar_bytes: bytes) -> Iterator[Path]:
    """The files of an `archive()` tar in a temporary directory, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="harness-base-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
            tar.extractall(tmp, filter="data")  # "data" refuses links and paths out of tmp
        yield Path(tmp)


def slugify(text: str, max_len: int = 40) -> str:
    """A branch-safe slug from the request's first words."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    slug = ""
    for word in words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > max_len:
            break
        slug = candidate
    return slug or "change"


def free_branch_name(repo: Path, base: str) -> str:
    """`base`, or `base-2`, `base-3`... whichever does not exist yet."""
    name, n = base, 1
    while subprocess.run(["git", "-C", str(repo), "rev-parse", "--verify", "-q", f"refs/heads/{name}"],
                         capture_output=True).returncode == 0:
        n += 1
        name = f"{base}-{n}"
    return name


def commit_patch_to_branch(repo: Path, base_commit: str, patch: bytes, branch: str, message: str) -> str:
    """Commit `patch` on top of `base_commit` as a new branch, via a private index. Returns the commit."""
    with tempfile.TemporaryDirectory(prefix="harness-index-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        git(repo, "read-tree", base_commit, env=env)
        if patch.strip():
            git(repo, "apply", "--cached", "--binary", "--whitespace=nowarn", "-", input_bytes=patch, env=env)
        tree = git(repo, "write-tree", env=env).decode().strip()
    identity = {"GIT_AUTHOR_NAME": "harness", "GIT_AUTHOR_EMAIL": "harness@localhost",
                "GIT_COMMITTER_NAME": "harness", "GIT_COMMITTER_EMAIL": "harness@localhost"}
    commit = git(repo, "commit-tree", tree, "-p", base_commit, "-m", message,
                 env={k: v for k, v in identity.items() if k not in os.environ}).decode().strip()
    git(repo, "update-ref", f"refs/heads/{branch}", commit, "0" * 40)
    return commit


def commit_to_new_branch(repo: Path, base_commit: str, patch: bytes, wanted: str, message: str) -> str:
    """Commit `patch` as a new branch named `wanted` (or `wanted-N` if taken); returns the branch name.

    Two runs finishing at once may pick the same free name; creating the ref with an expected old
    value of zero makes the loser fail, and it simply tries the next name.
    """
    for _attempt in range(20):
        branch = free_branch_name(repo, wanted)
        try:
            commit_patch_to_branch(repo, base_commit, patch, branch, message)
            return branch
        except GitError as exc:
            if "update-ref" not in str(exc):
                raise
    raise GitError(f"could not create a branch named like {wanted}")


def apply_to_worktree(repo: Path, patch: bytes) -> None:
    """Apply a patch to the user's working tree (only on --apply)."""
    git(repo, "apply", "--binary", "--whitespace=nowarn", "-", input_bytes=patch)
