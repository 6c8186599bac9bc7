"""Lessons: short, evidenced notes from finished tasks, given to later tasks in the same repo.

A lesson is written only with evidence, and links to the run (and finding) that taught it:
- `fixed_finding`: a guard or reviewer finding (blocker/major) raised in one round of an
  attempt and gone in that attempt's final round: the implementer fixed it in a revision.
- `convention`: a reviewer `patterns` finding citing a `path:line` that exists in the base.
- `test_quirk`: a test that already fails on base and is untouched by the change.
Each is scoped (repo, path glob, task kind) and deduplicated by near-identical text.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from fnmatch import fnmatchcase
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from harness.guards.diffutil import parse_diff
from harness.guards.options import GuardsConfig
from harness.memory import Memory, now_iso
from harness.records import Finding, Record
from harness.review import cited_locations, same_issue
from harness.review_context import BaseSnapshot, build_review_context

if TYPE_CHECKING:
    from harness.task import TaskResult

MAX_TEXT = 220
# Advice per guard rule family: the general lesson behind a specific finding.
ADVICE = {
    "tests.deleted": "Do not delete tests; fix the code under test instead.",
    "tests.skip_added": "Do not skip or xfail tests to get a green run.",
    "tests.assert_removed": "Do not remove assertions from existing tests.",
    "tests.assert_loosened": "Do not loosen assertions in existing tests.",
    "tests.expected_changed": "Do not change expected values in existing tests unless the request asks for it.",
    "tests.edited_unasked": "Leave existing tests as they are unless asked; add new tests instead.",
    "tests.collection_hidden": "Do not change test discovery or hide collection errors.",
    "scope.protected_path": "Do not edit protected paths (CI, lockfiles, migrations, harness.toml) unless asked.",
    "scope.outside_repo": "Only edit files inside the repository.",
    "scope.out_of_scope": "Keep the change to the files the request concerns.",
    "overbuild.new_flag": "Do not add CLI flags or commands nobody asked for.",
    "overbuild.new_config_key": "Do not add config keys or environment variables nobody asked for.",
    "overbuild.new_dependency": "Do not add dependencies nobody asked for.",
    "overbuild.score": "Keep changes small: no new files, functions or options beyond the request.",
    "secrets.key_format": "Never write keys or tokens into the code; read them from the environment.",
    "secrets.high_entropy": "Never write keys or tokens into the code; read them from the environment.",
    "evidence.no_failing_test": "A fix or feature needs a test that fails without the change.",
    "evidence.head_failed": "Run the whole test suite before finishing; it must pass.",
}


class Lesson(Record):
    """One stored lesson."""

    id: int
    repo: str
    scope: str
    task_kind: str | None
    text: str
    run_id: str
    finding_id: int | None
    created_at: str
    origin: str
    evidence: str


def scope_for(path: str) -> str:
    """The path glob a lesson about `path` applies to: its folder, or same-suffix files at the top."""
    pure = PurePosixPath(path)
    if str(pure.parent) not in ("", "."):
        return f"{pure.parent}/**"
    return f"*{pure.suffix}" if pure.suffix else "*"


def matches(scope: str, path: str) -> bool:
    """Whether a lesson's scope covers `path` (`*` spans folders)."""
    return scope == "*" or fnmatchcase(path, scope) or fnmatchcase(path, scope.replace("/**", "/*"))


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def add_lesson(memory: Memory, repo: str, scope: str, task_kind: str | None, text: str, run_id: str,
               finding_id: int | None, origin: str, evidence: str) -> Lesson | None:
    """Store a lesson unless a near-identical one exists for the same repo and scope."""
    text = text.strip()[:MAX_TEXT]
    for row in memory.db.execute("SELECT text FROM lessons WHERE repo = ? AND scope = ?", (repo, scope)):
        if SequenceMatcher(None, _norm(row["text"]), _norm(text)).ratio() >= 0.85:
            return None
    cur = memory.db.execute(
        "INSERT OR IGNORE INTO lessons (repo, scope, task_kind, text, run_id, finding_id, created_at, origin, "
        "evidence) VALUES (?,?,?,?,?,?,?,?,?)",
        (repo, scope, task_kind, text, run_id, finding_id, now_iso(), origin, evidence[:500]))
    if not cur.rowcount:
        return None
    return _lesson(memory.db.execute("SELECT * FROM lessons WHERE id = ?", (cur.lastrowid,)).fetchone())


def _lesson(row: object) -> Lesson:
    return Lesson(**{k: row[k] for k in Lesson.model_fields})  # type: ignore[index]


def list_lessons(memory: Memory, repo: str | None = None) -> list[Lesson]:
    """Every lesson (of one repo, if given), newest first."""
    sql, args = "SELECT * FROM lessons", ()
    if repo is not None:
        sql, args = sql + " WHERE repo = ?", (repo,)
    return [_lesson(r) for r in memory.db.execute(sql + " ORDER BY id DESC", args)]


def remove_lesson(memory: Memory, lesson_id: int) -> bool:
    """Delete one lesson; False when there is no such id."""
    return memory.db.execute("DELETE FROM lessons WHERE id = ?", (lesson_id,)).rowcount > 0


def relevant_lessons(memory: Memory, repo: str, task_kind: str | None, paths: list[str],
                     limit: int, require_match: bool = False) -> list[Lesson]:
    """Lessons of `repo` for a task kind (or kind-free ones), those covering `paths` first.

    With `require_match`, only lessons whose scope covers one of `paths` (the reviewer knows the
    changed files exactly; the implementer does not yet).
    """
    ranked = []
    for lesson in list_lessons(memory, repo):
        if lesson.task_kind not in (None, task_kind):
            continue
        hit = any(matches(lesson.scope, p) for p in paths)
        if require_match and not hit:
            continue
        ranked.append((0 if hit else 1, -lesson.id, lesson))
    return [lesson for *_, lesson in sorted(ranked, key=lambda t: t[:2])][:limit]


def render_lessons(lessons: list[Lesson]) -> list[str]:
    """One line per lesson for a prompt: the text, where it applies, and the run that taught it."""
    return [f"{x.text} (applies to {x.scope}; learned in run {x.run_id})" for x in lessons]


def review_section(lessons: list[Lesson], diff: str, limit: int) -> str:
    """The reviewer's lessons section: only lessons whose scope covers a changed file."""
    try:
        paths = [fd.path or fd.old_path for fd in parse_diff(diff)]
    except ValueError:
        return ""
    chosen = [x for x in lessons if any(matches(x.scope, p) for p in paths)][:limit]
    if not chosen:
        return ""
    return ("## Lessons from earlier tasks in this repository (check the change against them)\n"
            + "\n".join(f"- {line}" for line in render_lessons(chosen)))


def files_named(paths: list[str], request: str) -> list[str]:
    """Repo files the request names by path, file name, or module stem."""
    words = set(re.findall(r"[A-Za-z_][\w.-]*", request))
    out = []
    for p in paths:
        pure = PurePosixPath(p)
        if p in request or pure.name in words or (len(pure.stem) >= 3 and pure.stem in words):
            out.append(p)
    return out


def _finding_id(memory: Memory, task_id: str, f: Finding, round_number: int) -> int | None:
    row = memory.db.execute(
        "SELECT id FROM findings WHERE task_id = ? AND source = ? AND rule = ? AND path = ? AND line = ? "
        "AND round = ? ORDER BY id LIMIT 1", (task_id, f.source, f.rule, f.path, f.line, round_number)).fetchone()
    return int(row["id"]) if row else None


def _fixed(result: TaskResult) -> list[tuple[int, Finding]]:
    """(round, finding) raised before the attempt's final round and absent from it."""
    out: list[tuple[int, Finding]] = []
    rounds = result.guard_rounds
    if len(rounds) >= 2:
        final = rounds[-1]
        for number, found in enumerate(rounds[:-1], start=1):
            for f in found:
                if f.severity in ("blocker", "major") and not any(
                        g.rule == f.rule and g.path == f.path for g in final):
                    out.append((number, f))
    reviews = result.reviews
    # Reviewer findings count as fixed only when the final round was itself reviewed.
    if len(reviews) >= 2 and reviews[-1].round == len(rounds):
        for review in reviews[:-1]:
            for f in review.findings:
                if f.severity in ("blocker", "major") and not any(same_issue(f, g) for g in reviews[-1].findings):
                    out.append((review.round, f))
    return out


def _clean(message: str) -> str:
    return re.sub(r" \((still open from an earlier round)\)| \[ungrounded:[^\]]*\]", "", message).strip()


def learn(memory: Memory, repo: str, run_id: str, task_kind: str | None,
          attempts: list[tuple[str, TaskResult]], snapshot: BaseSnapshot) -> list[Lesson]:
    """Write the lessons a finished run has evidence for; returns the new ones (duplicates skipped)."""
    new: list[Lesson | None] = []
    conventions: set[tuple[str, int, str]] = set()
    for task_id, result in attempts:
        for review in result.reviews:
            for f in review.findings:
                if f.category != "patterns" or "[ungrounded" in f.message:
                    continue
                real = [c for c in cited_locations(f.message) if c != (f.path, f.line) and snapshot.has_line(*c)]
                if not real:
                    continue
                conventions.add((f.path, f.line, f.message))
                where = f"{real[0][0]}:{real[0][1]}"
                new.append(add_lesson(
                    memory, repo, scope_for(f.path), None, f"Follow the repository's pattern at {where}: "
                    f"{_clean(f.message)}", run_id, _finding_id(memory, task_id, f, review.round), "convention",
                    f"task {task_id} round {review.round}: reviewer cited {where}, which exists in the base"))
        for number, f in _fixed(result):
            if (f.path, f.line, f.message) in conventions:
                continue
            text = ADVICE.get(f.rule) or f"{f.category}: {_clean(f.message)}"
            who = f"guard {f.rule}" if f.source == "guard" else f"reviewer ({f.severity} {f.category})"
            new.append(add_lesson(
                memory, repo, scope_for(f.path), None if f.source == "guard" else task_kind, text, run_id,
                _finding_id(memory, task_id, f, number), "fixed_finding",
                f"task {task_id}: {who} at {f.path}:{f.line} in round {number} was gone after the revision: "
                f"{_clean(f.message)}"))
    new += _quirks(memory, repo, run_id, attempts)
    return [x for x in new if x is not None]


def _quirks(memory: Memory, repo: str, run_id: str, attempts: list[tuple[str, TaskResult]]) -> list[Lesson | None]:
    """Tests failing on base and untouched by the change: not regressions, and worth knowing."""
    first = next(((task_id, r) for task_id, r in attempts if r.tests is not None), None)
    if first is None:
        return []
    task_id, result = first
    try:
        changed = {fd.path for fd in parse_diff(result.diff)} if result.diff.strip() else set()
    except ValueError:
        changed = set()
    out: list[Lesson | None] = []
    for test in result.tests.still_failing[:3]:  # type: ignore[union-attr]
        path = test.split("::")[0]
        if path in changed:
            continue
        out.append(add_lesson(memory, repo, path, None, f"{test} already fails on base; it is not a regression "
                              "of your change", run_id, None, "test_quirk",
                              f"task {task_id}: failing on the base test run and on head, file untouched"))
    return out


class Grounding:
    """What one run gives its models from the repo and memory: lessons for the implementer, and
    for the reviewer the repo's patterns near the change plus lessons covering the changed files."""

    def __init__(self, memory: Memory, repo: str, repo_tar: bytes, request: str, task_kind: str | None,
                 guards: GuardsConfig, max_lessons: int):
        self.memory, self.repo, self.task_kind = memory, repo, task_kind
        self.snapshot = BaseSnapshot(repo_tar)
        self.guards, self.max_lessons = guards, max_lessons
        named = files_named(self.snapshot.paths, request)
        self.implementer_lessons = render_lessons(
            relevant_lessons(memory, repo, task_kind, named, max_lessons)) if max_lessons else []
        # Read once, before this run writes any: a run never grounds itself on its own lessons.
        self._review_lessons = relevant_lessons(memory, repo, task_kind, [], 10_000) if max_lessons else []

    def review_context(self, diff: str) -> str:
        """The reviewer's grounding section for a candidate diff."""
        parts = [build_review_context(self.snapshot, diff, self.guards),
                 review_section(self._review_lessons, diff, self.max_lessons)]
        return "\n\n".join(p for p in parts if p)

    def learn(self, run_id: str, attempts: list[tuple[str, TaskResult]]) -> list[Lesson]:
        """Write the evidenced lessons of the finished run."""
        return learn(self.memory, self.repo, run_id, self.task_kind, attempts, self.snapshot)
