"""The SQLite memory: runs, tasks, model calls, test results, reviews, findings, lessons.

One file, WAL mode, schema versioned with forward-only migrations (PRAGMA user_version).
Money is stored as decimal strings so sums reconcile exactly.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from harness.records import CallLog, Finding, Review, TestComparison, TestReport
from harness.memory_schema import MIGRATIONS
from harness.secrets import redact, secret_env_values
from harness.sqlitedb import migrate, write_transaction

def now_iso() -> str:
    """UTC timestamp used for every stored time."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def new_id() -> str:
    """A short random id for runs and tasks."""
    return uuid.uuid4().hex[:12]


class RedactingConnection(sqlite3.Connection):
    """A connection that redacts every string parameter it is given, so no caller can write a
    secret into memory by forgetting to clean it (diffs, reviews, reasons, lessons, requests)."""

    secret_values: tuple[str, ...] = ()

    def _clean(self, params: Any) -> Any:
        if isinstance(params, dict):
            return {k: redact(v, self.secret_values) if isinstance(v, str) else v for k, v in params.items()}
        return tuple(redact(v, self.secret_values) if isinstance(v, str) else v for v in params)

    def execute(self, sql: str, params: Any = (), /) -> sqlite3.Cursor:  # type: ignore[override]
        """Execute with secrets removed from string parameters."""
        return super().execute(sql, self._clean(params))

    def executemany(self, sql: str, seq: Any, /) -> sqlite3.Cursor:  # type: ignore[override]
        """Executemany with secrets removed from string parameters."""
        return super().executemany(sql, (self._clean(p) for p in seq))


class Memory:
    """A handle on the memory database. Use as a context manager; it closes the connection.

    `secrets` are values to redact besides key-shaped strings; by default the host environment's
    secret-looking variables.
    """

    def __init__(self, path: Path, secrets: list[str] | None = None):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # Autocommit mode: each write is its own transaction unless `transaction()` groups them.
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False,
                                  factory=RedactingConnection)
        self.db.secret_values = tuple(secret_env_values(os.environ) if secrets is None else secrets)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.execute("PRAGMA busy_timeout=30000")
        self._migrate()

    def __enter__(self) -> Memory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """Group writes in one BEGIN IMMEDIATE transaction."""
        return write_transaction(self.db)

    def _migrate(self) -> None:
        migrate(self.db, MIGRATIONS)

    @property
    def schema_version(self) -> int:
        """The migration number the database is at."""
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    # -- writes -----------------------------------------------------------------

    def start_run(self, kind: str, repo: str, request: str, base_commit: str | None) -> str:
        """Record a new run and return its id."""
        run_id = new_id()
        self.db.execute(
            "INSERT INTO runs (id, kind, repo, request, base_commit, status, started_at) VALUES (?,?,?,?,?,?,?)",
            (run_id, kind, repo, request, base_commit, "running", now_iso()),
        )
        return run_id

    def finish_run(self, run_id: str, status: str, reason: str, result: dict[str, Any], **fields: Any) -> None:
        """Write a run's final status, reason and JSON result (idempotent: last write wins)."""
        allowed = {"branch", "implementer", "reviewer"}
        extra = {k: v for k, v in fields.items() if k in allowed}
        sets = "".join(f", {k} = ?" for k in extra)
        self.db.execute(
            f"UPDATE runs SET status = ?, reason = ?, result_json = ?, finished_at = ?{sets} WHERE id = ?",
            (status, reason, json.dumps(result, default=str), now_iso(), *extra.values(), run_id),
        )

    def end_unfinished(self, run_id: str, status: str, reason: str) -> None:
        """End a run and its still-running tasks with one status (interrupted, error)."""
        with self.transaction() as db:
            db.execute("UPDATE tasks SET status = ?, reason = ?, finished_at = ? WHERE run_id = ? AND status = 'running'",
                       (status, reason, now_iso(), run_id))
            db.execute("UPDATE runs SET status = ?, reason = ?, finished_at = ? WHERE id = ?",
                       (status, reason, now_iso(), run_id))

    def start_task(self, run_id: str, request: str, implementer: str, reviewer: str, attempt: int = 1,
                   task_kind: str | None = None, difficulty: str | None = None) -> str:
        """Record one implementation attempt inside a run."""
        task_id = new_id()
        self.db.execute(
            "INSERT INTO tasks (id, run_id, request, task_kind, difficulty, implementer, reviewer, attempt, "
            "status, started_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (task_id, run_id, request, task_kind, difficulty, implementer, reviewer, attempt, "running", now_iso()),
        )
        return task_id

    def relabel_run(self, run_id: str, kind: str | None, difficulty: str | None) -> int:
        """A person's kind and/or difficulty for every task of a run; returns how many tasks changed."""
        with self.transaction() as db:
            cur = db.execute("UPDATE tasks SET task_kind = COALESCE(?, task_kind), "
                             "difficulty = COALESCE(?, difficulty), label_source = 'human' WHERE run_id = ?",
                             (kind, difficulty, run_id))
            return cur.rowcount

    def finish_task(self, task_id: str, status: str, trusted: bool, reason: str, diff: str | None) -> None:
        """Write a task's outcome and candidate diff."""
        self.db.execute(
            "UPDATE tasks SET status = ?, trusted = ?, reason = ?, diff = ?, finished_at = ? WHERE id = ?",
            (status, int(trusted), reason, diff, now_iso(), task_id),
        )

    def record_call(self, run_id: str, task_id: str | None, call: CallLog) -> None:
        """Record one priced model call."""
        u = call.usage
        self.db.execute(
            "INSERT INTO calls (run_id, task_id, role, model, provider, input_tokens, output_tokens, "
            "cache_read_tokens, cache_write_tokens, cost_usd, latency_ms, outcome, created_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (run_id, task_id, call.role, call.model, call.provider, u.input_tokens, u.output_tokens,
             u.cache_read_tokens, u.cache_write_tokens, str(call.cost_usd), call.latency_ms, call.outcome, now_iso()),
        )

    def record_tests(self, task_id: str, comparison: TestComparison) -> None:
        """Store the base and head test reports of a task."""
        with self.transaction() as db:
            for phase, report in (("base", comparison.base), ("head", comparison.head)):
                db.execute(
                    "INSERT INTO test_runs (task_id, phase, exit_code, passed, failed, errors, skipped, "
                    "outcomes_json, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
                    (task_id, phase, report.exit_code, report.passed, report.failed, report.errors,
                     report.skipped, json.dumps(report.outcomes), now_iso()),
                )

    def record_review(self, task_id: str, review: Review) -> int:
        """Store a review and its findings; return the review id."""
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO reviews (task_id, round, reviewer, verdict, summary, created_at) VALUES (?,?,?,?,?,?)",
                (task_id, review.round, review.reviewer, review.verdict, review.summary, now_iso()),
            )
            review_id = int(cur.lastrowid or 0)
            for f in review.findings:
                self._insert_finding(db, task_id, review_id, f)
        return review_id

    def record_findings(self, task_id: str, findings: list[Finding]) -> None:
        """Store findings not attached to a review (the deterministic guards')."""
        with self.transaction() as db:
            for f in findings:
                self._insert_finding(db, task_id, None, f)

    @staticmethod
    def _insert_finding(db: sqlite3.Connection, task_id: str, review_id: int | None, f: Finding) -> None:
        db.execute(
            "INSERT INTO findings (task_id, review_id, source, rule, path, line, severity, category, message) "
            "VALUES (?,?,?,?,?,?,?,?,?)",
            (task_id, review_id, f.source, f.rule, f.path, f.line, f.severity, f.category, f.message),
        )

    # -- reads ------------------------------------------------------------------

    def spend_since(self, since_iso: str) -> Decimal:
        """Dollars spent on calls recorded at or after a timestamp (the daily budget)."""
        rows = self.db.execute("SELECT cost_usd FROM calls WHERE created_at >= ?", (since_iso,))
        return sum((Decimal(r[0]) for r in rows), Decimal(0))

    def run_spend(self, run_id: str) -> Decimal:
        """Dollars spent by one run."""
        rows = self.db.execute("SELECT cost_usd FROM calls WHERE run_id = ?", (run_id,))
        return sum((Decimal(r[0]) for r in rows), Decimal(0))

    def runs(self, limit: int = 20) -> list[sqlite3.Row]:
        """The most recent runs, newest first."""
        return list(self.db.execute("SELECT * FROM runs ORDER BY started_at DESC LIMIT ?", (limit,)))

    def run(self, run_id: str) -> sqlite3.Row | None:
        """One run by id (a unique prefix is accepted)."""
        rows = list(self.db.execute("SELECT * FROM runs WHERE id LIKE ? || '%'", (run_id,)))
        return rows[0] if len(rows) == 1 else None

    def calls(self, run_id: str) -> list[sqlite3.Row]:
        """All calls of one run in order."""
        return list(self.db.execute("SELECT * FROM calls WHERE run_id = ? ORDER BY id", (run_id,)))

    def tasks(self, run_id: str) -> list[sqlite3.Row]:
        """All tasks of one run in order."""
        return list(self.db.execute("SELECT * FROM tasks WHERE run_id = ? ORDER BY started_at", (run_id,)))

    def reviews(self, task_id: str) -> list[sqlite3.Row]:
        """All review rounds of a task."""
        return list(self.db.execute("SELECT * FROM reviews WHERE task_id = ? ORDER BY round", (task_id,)))

    def findings(self, task_id: str) -> list[sqlite3.Row]:
        """All findings of a task, guards' and reviewers'."""
        return list(self.db.execute("SELECT * FROM findings WHERE task_id = ? ORDER BY id", (task_id,)))

    def base_report(self, key: str) -> TestReport | None:
        """A base test report saved under `key` (see testrun.base_report_key), if any."""
        row = self.db.execute("SELECT report_json FROM base_test_reports WHERE key = ?", (key,)).fetchone()
        return TestReport.model_validate_json(row[0]) if row else None

    def save_base_report(self, key: str, report: TestReport) -> None:
        """Keep a base test report for later tasks on the same tree, image and command."""
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO base_test_reports (key, report_json, created_at) VALUES (?,?,?)",
                       (key, report.model_dump_json(), now_iso()))

    def test_runs(self, task_id: str) -> list[sqlite3.Row]:
        """Base and head test runs of a task."""
        return list(self.db.execute("SELECT * FROM test_runs WHERE task_id = ? ORDER BY id", (task_id,)))
