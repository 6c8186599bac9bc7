"""Grounding for the reviewer: the repository's own code near each changed hunk.

"Does not match the repo's patterns" is only worth something when judged against real code,
so the reviewer is shown, per changed hunk, the sibling definitions of the changed code
(harness.repomap.definitions_near) and an excerpt of a test file of the same package.
Everything is read from the BASE snapshot (the `git archive` tar the sandbox got), never from
the user's working tree, which may hold uncommitted edits that are not part of the change.
"""

from __future__ import annotations

import io
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

from harness.codeindex import Definition
from harness.errors import HarnessError
from harness.guards.diffutil import FileDiff, parse_diff
from harness.guards.options import GuardsConfig
from harness.guards.tampering import is_test_path
from harness.repomap import definitions, definitions_near

SIBLINGS_PER_HUNK = 3
MAX_EXAMPLES = 8
MAX_LINES_PER_EXAMPLE = 14
TEST_EXCERPT_LINES = 30
MAX_CHARS = 7000

HEADER = ("## The repository's own patterns near the change (base version)\n"
          "Judge `patterns` against this code. Every `patterns` finding must cite, in its message, the "
          "location it compares with as `path:line` (one shown here or another real one in the repository); "
          "a `patterns` finding without such a citation is downgraded to a nit.")


class BaseSnapshot:
    """Read-only access to the files of the base commit, from its tar."""

    def __init__(self, repo_tar: bytes):
        self._files: dict[str, bytes] = {}
        with tarfile.open(fileobj=io.BytesIO(repo_tar)) as tar:
            for member in tar.getmembers():
                if member.isfile():
                    data = tar.extractfile(member)
                    if data is not None:
                        self._files[member.name.removeprefix("./")] = data.read()

    @property
    def paths(self) -> list[str]:
        """Every regular file of the base, sorted."""
        return sorted(self._files)

    def text(self, path: str) -> str | None:
        """A file's text, or None when it is absent or not UTF-8."""
        raw = self._files.get(path)
        if raw is None or b"\0" in raw[:4096]:
            return None
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return None

    def has_line(self, path: str, line: int) -> bool:
        """Whether `path:line` is a real location of the base."""
        text = self.text(path)
        return text is not None and 1 <= line <= len(text.splitlines())


def _anchor_lines(fd: FileDiff) -> list[int]:
    """One base-file line per hunk: where the hunk's first change sits in the old file."""
    anchors: dict[int, int] = {}
    last_old: dict[int, int] = {}
    for ln in fd.lines:
        if ln.kind == " " or ln.kind == "-":
            if ln.kind == "-" and ln.hunk not in anchors:
                anchors[ln.hunk] = ln.old
            last_old[ln.hunk] = ln.old
        elif ln.hunk not in anchors:
            anchors[ln.hunk] = last_old.get(ln.hunk, 0) + 1
    return [anchors[h] for h in sorted(anchors)]


def _excerpt(snapshot: BaseSnapshot, path: str, start: int, end: int) -> str:
    lines = (snapshot.text(path) or "").splitlines()
    end = min(end, len(lines), start + MAX_LINES_PER_EXAMPLE - 1)
    body = "\n".join(f"{n:>4} | {lines[n - 1]}" for n in range(start, end + 1))
    more = "\n     | ..." if end < len(lines) and end - start + 1 >= MAX_LINES_PER_EXAMPLE else ""
    return f"```\n{body}{more}\n```"


def _sibling_file(snapshot: BaseSnapshot, path: str, config: GuardsConfig) -> str | None:
    """For a new file: a base file in the same folder with the same suffix (same test-ness)."""
    pure = PurePosixPath(path)
    wanted_test = is_test_path(path, config)
    for candidate in snapshot.paths:
        c = PurePosixPath(candidate)
        if c.parent == pure.parent and c.suffix == pure.suffix and is_test_path(candidate, config) == wanted_test:
            return candidate
    return None


def _test_file_for(snapshot: BaseSnapshot, path: str, config: GuardsConfig) -> str | None:
    """The base test file that most likely tests `path`: same stem first, then the nearest tests."""
    pure = PurePosixPath(path)
    tests = [p for p in snapshot.paths if is_test_path(p, config) and PurePosixPath(p).suffix == pure.suffix]
    if not tests:
        return None
    names = {f"test_{pure.stem}{pure.suffix}", f"{pure.stem}_test{pure.suffix}"}
    named = [p for p in tests if PurePosixPath(p).name in names]
    if named:
        return named[0]

    def distance(candidate: str) -> int:
        a, b = pure.parent.parts, PurePosixPath(candidate).parent.parts
        common = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        return len(a) + len(b) - 2 * common

    return min(tests, key=lambda p: (distance(p), p))


def _defs(root: Path, path: str, line: int | None) -> list[Definition]:
    try:
        if line is None:
            return definitions(root, path)
        return definitions_near(root, path, line, SIBLINGS_PER_HUNK)
    except HarnessError:  # unreadable or unparsable file: no examples from it
        return []


def build_review_context(base: BaseSnapshot | bytes, diff: str, config: GuardsConfig | None = None) -> str:
    """The reviewer's grounding section for `diff` (base snapshot or its tar): sibling definitions
    and a test excerpt, each headed by its `path:line`."""
    config = config or GuardsConfig()
    try:
        files = parse_diff(diff)
    except ValueError:
        return ""
    snapshot = base if isinstance(base, BaseSnapshot) else BaseSnapshot(base)
    blocks: list[str] = []
    seen: set[tuple[str, int]] = set()
    test_sources: list[str] = []
    with tempfile.TemporaryDirectory(prefix="harness-review-") as tmp:
        root = Path(tmp)

        def materialize(path: str) -> bool:
            text = snapshot.text(path)
            if text is None:
                return False
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            return True

        for fd in files:
            if fd.binary:
                continue
            base_path = fd.old_path if fd.status != "added" else _sibling_file(snapshot, fd.path, config)
            if not base_path or not materialize(base_path):
                continue
            anchors = _anchor_lines(fd) if fd.status != "added" else [1]
            label = "siblings of the changed code" if fd.status != "added" else f"a neighbour of new file {fd.path}"
            for anchor in anchors:
                # A new file has no base lines: its neighbour's top-level definitions stand in.
                near = (_defs(root, base_path, anchor) if fd.status != "added" else
                        [d for d in _defs(root, base_path, None) if d.parent is None][:SIBLINGS_PER_HUNK])
                for d in near:
                    if (d.path, d.line) in seen or len(seen) >= MAX_EXAMPLES:
                        continue
                    seen.add((d.path, d.line))
                    blocks.append(f"### {d.path}:{d.line} `{d.name}` ({label})\n"
                                  f"{_excerpt(snapshot, d.path, d.line, d.end_line)}")
            if not is_test_path(fd.path, config) and fd.path not in test_sources:
                test_sources.append(fd.path)
        shown_tests: set[str] = set()
        for source in test_sources:
            test_file = _test_file_for(snapshot, source, config)
            if test_file is None or test_file in shown_tests or not materialize(test_file):
                continue
            shown_tests.add(test_file)
            first_test = next((d for d in _defs(root, test_file, None) if d.name.startswith("test")), None)
            end = first_test.end_line if first_test else TEST_EXCERPT_LINES
            text = snapshot.text(test_file) or ""
            lines = text.splitlines()[:min(end, TEST_EXCERPT_LINES)]
            body = "\n".join(f"{n:>4} | {t}" for n, t in enumerate(lines, start=1))
            blocks.append(f"### {test_file}:1 (how tests look next to {source})\n```\n{body}\n```")
    if not blocks:
        return ""
    out = HEADER
    for block in blocks:
        if len(out) + len(block) + 2 > MAX_CHARS:
            out += "\n\n(more examples left out to keep the prompt short)"
            break
        out += "\n\n" + block
    return out
