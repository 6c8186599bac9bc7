"""Which files of a repository are worth mapping: .gitignore-aware, no binaries, no huge files."""

from __future__ import annotations

import os
from pathlib import Path

import pathspec

# Never descended into, ignored or not: version-control internals and the usual
# tool caches, which are large, generated and never what a request is about.
ALWAYS_SKIPPED_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".mypy_cache", ".pytest_cache", ".tox"})
MAX_FILE_BYTES = 1_000_000
_BINARY_PROBE_BYTES = 8192


class _Ignores:
    """The .gitignore files met on the way down, deepest last (git's precedence order)."""

    def __init__(self, root: Path):
        self.root = root
        self.specs: list[tuple[str, pathspec.GitIgnoreSpec]] = []
        info_exclude = root / ".git" / "info" / "exclude"
        if info_exclude.is_file():
            self._add("", info_exclude)

    def _add(self, prefix: str, file: Path) -> None:
        try:
            lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return
        self.specs.append((prefix, pathspec.GitIgnoreSpec.from_lines(lines)))

    def enter(self, prefix: str) -> int:
        """Load the .gitignore of directory `prefix` (if any); returns the depth to restore later."""
        depth = len(self.specs)
        gitignore = self.root / prefix / ".gitignore"
        if gitignore.is_file():
            self._add(prefix, gitignore)
        return depth

    def ignored(self, relative: str, is_dir: bool) -> bool:
        """Whether git would ignore this repo-relative path: the deepest matching rule decides."""
        for prefix, spec in reversed(self.specs):
            if prefix and not relative.startswith(prefix + "/"):
                continue
            inner = relative[len(prefix) + 1:] if prefix else relative
            result = spec.check_file(inner + "/" if is_dir else inner)
            if result.include is not None:
                return result.include
        return False


def looks_binary(head: bytes) -> bool:
    """A NUL byte in the first few KB is how git itself tells binary from text."""
    return b"\0" in head[:_BINARY_PROBE_BYTES]


def list_repo_files(root: Path) -> list[str]:
    """Repo-relative POSIX paths of regular files git would not ignore, sorted.

    Symlinks are skipped so nothing outside the root is ever read; binary and
    huge files are skipped by `read_text_file`, not here, to avoid reading twice.
    """
    root = root.resolve()
    ignores = _Ignores(root)
    found: list[str] = []

    def walk(prefix: str) -> None:
        depth = ignores.enter(prefix)
        try:
            entries = sorted(os.scandir(root / prefix), key=lambda e: e.name)
        except OSError:
            entries = []
        for entry in entries:
            relative = f"{prefix}/{entry.name}" if prefix else entry.name
            if entry.is_symlink():
                continue
            if entry.is_dir():
                if entry.name not in ALWAYS_SKIPPED_DIRS and not ignores.ignored(relative, is_dir=True):
                    walk(relative)
            elif entry.is_file() and entry.name != ".gitignore" and not ignores.ignored(relative, is_dir=False):
                found.append(relative)
        del ignores.specs[depth:]

    walk("")
    return sorted(found)


def read_text_file(root: Path, relative: str) -> bytes | None:
    """The file's bytes, or None when it is huge, binary or unreadable."""
    path = root / relative
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    return None if looks_binary(data) else data
