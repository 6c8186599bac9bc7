"""Which (file, line, side) a review comment may land on: only lines inside the PR's diff hunks.

GitHub rejects a review whose comment points outside a hunk, and its hunks (3 lines of
context) are narrower than the harness's own diffs, so the map is built from the patches the
PR files API returns (or from a local `git diff -U3` when there is no API to ask).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from harness.records import Finding, Record

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")

Side = Literal["LEFT", "RIGHT"]
# Guard rules whose line is the base-side number of code the change removed.
BASE_SIDE_RULES = frozenset({"tests.deleted", "tests.assert_removed"})


class FileLines(Record):
    """Lines of one file that are inside the diff: RIGHT = head (added or context), LEFT = removed."""

    path: str
    status: str = "modified"
    right: set[int] = set()
    left: set[int] = set()


class Placement(Record):
    """Where a finding goes: inline at (path, line, side), or the summary when `side` is None."""

    finding: Finding
    side: Side | None = None
    line: int = 0


def lines_of_patch(patch: str) -> tuple[set[int], set[int]]:
    """(right, left) line numbers covered by one file's unified-diff hunks."""
    right: set[int] = set()
    left: set[int] = set()
    old = new = 0
    for text in patch.splitlines():
        match = _HUNK.match(text)
        if match:
            old, new = int(match.group(1)), int(match.group(3))
            continue
        if not (old or new) or text.startswith("\\"):
            continue  # before the first hunk, or "\ No newline at end of file"
        if text.startswith("+"):
            right.add(new)
            new += 1
        elif text.startswith("-"):
            left.add(old)
            old += 1
        else:
            right.add(new)
            old += 1
            new += 1
    return right, left


def from_api_files(files: list[dict[str, Any]]) -> dict[str, FileLines]:
    """The map from `GET /pulls/{n}/files` items (a file without `patch`, e.g. binary or huge, has no lines)."""
    out: dict[str, FileLines] = {}
    for item in files:
        right, left = lines_of_patch(item.get("patch") or "")
        out[item["filename"]] = FileLines(path=item["filename"], status=item.get("status", "modified"),
                                          right=right, left=left)
    return out


def from_unified_diff(diff: str) -> dict[str, FileLines]:
    """The map from a local `git diff` (used by --dry-run without a token)."""
    out: dict[str, FileLines] = {}
    for chunk in re.split(r"(?m)^diff --git ", diff):
        header = re.search(r"(?m)^\+\+\+ (?:b/(.+)|/dev/null)$", chunk)
        old_header = re.search(r"(?m)^--- (?:a/(.+)|/dev/null)$", chunk)
        if not header or not old_header:
            continue
        removed = header.group(1) is None
        path = header.group(1) or old_header.group(1)
        status = "removed" if removed else ("added" if old_header.group(1) is None else "modified")
        body = chunk[chunk.find("\n@@"):] if "\n@@" in chunk else ""
        right, left = lines_of_patch(body.lstrip("\n"))
        out[path] = FileLines(path=path, status=status, right=right, left=left)
    return out


def place(finding: Finding, files: dict[str, FileLines]) -> Placement:
    """Inline where the finding's line is inside a hunk on the side it refers to, else the summary.

    Findings name head lines, except guard rules about removed code (base lines) and findings
    on a removed file; a line outside every hunk cannot take a comment, so it goes to the summary.
    """
    lines = files.get(finding.path)
    if lines is None or finding.line <= 0:
        return Placement(finding=finding)
    base_side = finding.rule in BASE_SIDE_RULES or lines.status == "removed"
    if base_side and finding.line in lines.left:
        return Placement(finding=finding, side="LEFT", line=finding.line)
    if not base_side and finding.line in lines.right:
        return Placement(finding=finding, side="RIGHT", line=finding.line)
    return Placement(finding=finding)
