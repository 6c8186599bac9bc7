"""Lexical confinement of tool paths to the repo root (symlinks are checked in the sandbox)."""

from __future__ import annotations

import posixpath

from harness.errors import PathOutsideRepo


def confine(path: str, root: str) -> str:
    """Join a repo-relative path onto `root`, refusing absolute paths and `..` escapes."""
    if not isinstance(path, str) or "\x00" in path:
        raise PathOutsideRepo(f"invalid path {path!r}")
    cleaned = path.strip() or "."
    if cleaned.startswith("/") or cleaned.startswith("~"):
        raise PathOutsideRepo(f"path {path!r} is absolute; use a path relative to the repo root")
    joined = posixpath.normpath(posixpath.join(root, cleaned))
    if joined != root and not joined.startswith(root.rstrip("/") + "/"):
        raise PathOutsideRepo(f"path {path!r} is outside the repository")
    return joined


def within(resolved: str, root: str) -> bool:
    """Whether an already-resolved absolute path lies inside `root`."""
    return resolved == root or resolved.startswith(root.rstrip("/") + "/")
