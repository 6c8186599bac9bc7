"""Unified diff parsing for the guards: files, changed lines, and the Python scope of each line.

A diff only shows fragments of a file, so the enclosing class/function of a line is
reconstructed from the hunk header (git's "function context") and the lines in the hunk.
When that is not enough to be sure, the scope is marked incomplete instead of guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from unidiff import PatchSet
from unidiff.patch import Hunk
from unidiff.errors import UnidiffParseError

_DEF = re.compile(r"^(?:async\s+)?(def|class)\s+([A-Za-z_]\w*)")


@dataclass(frozen=True)
class Scope:
    """The chain of enclosing class/def names; `complete` is False when the outer part is unknown."""

    names: tuple[str, ...] = ()
    complete: bool = True


@dataclass(frozen=True)
class Line:
    """One added, removed or context line. `old`/`new` are 1-based line numbers (0 if absent)."""

    kind: str  # "+", "-" or " "
    text: str
    old: int
    new: int
    hunk: int
    scope: Scope

    @property
    def number(self) -> int:
        """Line in the new file, or in the old file for a removed line."""
        return self.new or self.old


@dataclass
class FileDiff:
    """One file of a diff."""

    path: str
    old_path: str
    status: str  # added | deleted | modified | renamed
    binary: bool = False
    lines: list[Line] = field(default_factory=list)
    # git's function-context header of each hunk, by hunk index.
    headers: list[str] = field(default_factory=list)

    @property
    def added(self) -> list[Line]:
        """Lines present only in the new file."""
        return [ln for ln in self.lines if ln.kind == "+"]

    @property
    def removed(self) -> list[Line]:
        """Lines present only in the old file."""
        return [ln for ln in self.lines if ln.kind == "-"]

    @property
    def is_python(self) -> bool:
        """Whether the file is Python source (by extension)."""
        return self.path.endswith(".py") or self.old_path.endswith(".py")


def _strip_prefix(name: str | None) -> str:
    if not name or name == "/dev/null":
        return ""
    return name[2:] if name[:2] in ("a/", "b/") else name


def parse_diff(diff: str) -> list[FileDiff]:
    """Parse a unified diff (as produced by `git diff`) into files and attributed lines.

    Returns an empty list for an empty diff; raises ValueError for text that is not a diff.
    """
    if not diff.strip():
        return []
    try:
        patch = PatchSet(diff)
    except UnidiffParseError as exc:
        raise ValueError(f"not a unified diff: {exc}") from None
    files: list[FileDiff] = []
    for pf in patch:
        old_path = _strip_prefix(pf.source_file) or _strip_prefix(pf.target_file)
        new_path = _strip_prefix(pf.target_file) or old_path
        if pf.is_added_file:
            status = "added"
        elif pf.is_removed_file:
            status = "deleted"
        elif pf.is_rename or old_path != new_path:
            status = "renamed"
        else:
            status = "modified"
        fd = FileDiff(path=new_path, old_path=old_path, status=status, binary=bool(pf.is_binary_file))
        for index, hunk in enumerate(pf):
            fd.headers.append(hunk.section_header or "")
            fd.lines.extend(_hunk_lines(hunk, index, python=new_path.endswith(".py")))
        files.append(fd)
    return files


def _indent(text: str) -> int:
    return len(text.expandtabs(4)) - len(text.expandtabs(4).lstrip())


class _ScopeTracker:
    """Follows class/def nesting through the lines of one side of a hunk."""

    def __init__(self, header: str):
        # (indent, name, known_parent) entries; git's default function context is the last
        # unindented line before the hunk, so a def/class header is a top-level scope.
        self.stack: list[tuple[int, str, bool]] = []
        m = _DEF.match(header.strip())
        if m:
            # A header from a `diff=python` driver may be an indented method: `self` betrays it.
            method = "(self" in header or "(cls" in header
            self.stack.append((0, m.group(2), not (method and m.group(1) == "def")))

    def feed(self, text: str) -> Scope:
        """Account for one line and return the scope it is in."""
        body = text.rstrip("\n")
        stripped = body.strip()
        if stripped and not stripped.startswith(("#", ")", "]", "}")):
            indent = _indent(body)
            while self.stack and self.stack[-1][0] >= indent:
                self.stack.pop()
            m = _DEF.match(stripped)
            if m:
                known = indent == 0 or bool(self.stack)
                self.stack.append((indent, m.group(2), known))
        return self.scope()

    def scope(self) -> Scope:
        """The current scope."""
        complete = all(known for _i, _n, known in self.stack[:1]) if self.stack else True
        return Scope(tuple(name for _i, name, _k in self.stack), complete)


def _hunk_lines(hunk: Hunk, index: int, python: bool) -> list[Line]:
    header = hunk.section_header or ""
    old_side, new_side = _ScopeTracker(header), _ScopeTracker(header)
    out: list[Line] = []
    for ln in hunk:
        kind = ln.line_type
        if kind not in ("+", "-", " "):
            continue  # "\ No newline at end of file"
        text = ln.value.rstrip("\n")
        scope = Scope()
        if python:
            if kind in (" ", "-"):
                scope = old_side.feed(text)
            if kind in (" ", "+"):
                scope = new_side.feed(text)
        out.append(Line(kind, text, ln.source_line_no or 0, ln.target_line_no or 0, index, scope))
    return out


def decorated_scope(lines: list[Line], index: int) -> Scope:
    """The scope of the def or class a decorator line belongs to (the next def on the same side)."""
    first = lines[index]
    for ln in lines[index + 1:]:
        if ln.hunk != first.hunk:
            break
        if ln.kind not in (" ", first.kind):
            continue  # a line of the other side of the edit
        stripped = ln.text.lstrip()
        if stripped.startswith(("def ", "async def ", "class ")):
            return ln.scope
        if not stripped.startswith("@"):
            break
    return first.scope


def test_name(scope: Scope) -> tuple[str, ...] | None:
    """The pytest id parts (classes + test function) of a scope, or None if not in a known test."""
    if not scope.complete:
        return None
    for i, name in enumerate(scope.names):
        if name.startswith("test"):
            return scope.names[: i + 1]
    return None


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """gitignore-like globs: `**` spans directories, a slash-free pattern matches any basename."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def path_matches(path: str, patterns: list[str]) -> bool:
    """Whether a repo-relative path matches any of the globs."""
    path = path[2:] if path.startswith("./") else path
    base = path.rsplit("/", 1)[-1]
    for pattern in patterns:
        pat = pattern.lstrip("/")
        if "/" not in pat.rstrip("/"):
            if fnmatchcase(base, pat):
                return True
        elif _glob_regex(pat).match(path):
            return True
    return False
