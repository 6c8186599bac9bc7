"""The embedded queue: a SQLite file next to the memory database (WAL, BEGIN IMMEDIATE).

Leases are rows, not locks: a claim writes a random token and an expiry, heartbeats push the
expiry on, and a claim that finds an expired lease puts that job back (or fails it after
max_attempts). Every check-then-write happens inside one BEGIN IMMEDIATE transaction, which
takes SQLite's single write lock up front, so two workers can never take the same job.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from harness.errors import UsageError
from harness.queue.backend import CallRefused
from harness.queue.records import Checkpoint, Job, JobSpec, Lease, Outcome, utcnow
from harness.sqlitedb import migrate, write_transaction

# The queue file has its own schema version (PRAGMA user_version), separate from memory's.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        spec_json TEXT NOT NULL,
        priority INTEGER NOT NULL,
        not_before TEXT,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        note TEXT NOT NULL DEFAULT '',
        lease_token TEXT,
        lease_worker TEXT,
        lease_expires TEXT,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        checkpoint_json TEXT,
        outcome_json TEXT,
        created_at TEXT NOT NULL,
        finished_at TEXT
    );
    CREATE INDEX jobs_next ON jobs(state, priority DESC, id);
    CREATE TABLE holds (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        night TEXT NOT NULL,
        job_id INTEGER NOT NULL REFERENCES jobs(id),
        amount TEXT NOT NULL,
        settled INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL
    );
    CREATE INDEX holds_night ON holds(night);
    """,
]


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="microseconds")


class SqliteQueue:
    """The SQLite backend. One instance per thread; use as a context manager."""

    def __init__(self, path: Path, lease_s: float, max_attempts: int):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.lease = timedelta(seconds=lease_s)
        self.max_attempts = max_attempts
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA busy_timeout=30000")
        migrate(self.db, MIGRATIONS)

    def __enter__(self) -> SqliteQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        return write_transaction(self.db)

    @staticmethod
    def _job(row: sqlite3.Row) -> Job:
        return Job(
            **JobSpec.model_validate_json(row["spec_json"]).model_dump(), id=str(row["id"]), state=row["state"],
            attempts=row["attempts"], note=row["note"], created_at=datetime.fromisoformat(row["created_at"]),
            finished_at=datetime.fromisoformat(row["finished_at"]) if row["finished_at"] else None,
            cancel_requested=bool(row["cancel_requested"]),
            outcome=Outcome.model_validate_json(row["outcome_json"]) if row["outcome_json"] else None)

    def add(self, spec: JobSpec) -> Job:
        """Store a queued job."""
        with self._write() as db:
            cur = db.execute("INSERT INTO jobs (spec_json, priority, not_before, state, created_at) "
                             "VALUES (?,?,?,?,?)", (spec.model_dump_json(), spec.priority,
                                                    _iso(spec.not_before), "queued", _iso(utcnow())))
            job_id = str(cur.lastrowid)
        return self._get(job_id)

    def _get(self, job_id: str) -> Job:
        job = self.get(job_id)
        assert job is not None
        return job

    def get(self, job_id: str) -> Job | None:
        """One job by id."""
        if not job_id.isdigit():
            return None
        row = self.db.execute("SELECT * FROM jobs WHERE id = ?", (int(job_id),)).fetchone()
        return self._job(row) if row else None

    def jobs(self, states: Sequence[str] | None = None) -> list[Job]:
        """Jobs in the given states, in the order workers take them."""
        rows = self.db.execute("SELECT * FROM jobs ORDER BY priority DESC, id")
        return [self._job(r) for r in rows if states is None or r["state"] in states]

    def cancel(self, job_id: str) -> Job:
        """Cancel a queued job now; a running one stops before its next model call."""
        with self._write() as db:
            key = int(job_id) if job_id.isdigit() else -1
            row = db.execute("SELECT state FROM jobs WHERE id = ?", (key,)).fetchone()
            if row is None:
                raise UsageError(f"no job {job_id!r} in the queue")
            if row["state"] == "queued":
                outcome = Outcome(state="cancelled", status="cancelled", reason="cancelled before it ran")
                db.execute("UPDATE jobs SET state = 'cancelled', outcome_json = ?, finished_at = ? WHERE id = ?",
                           (outcome.model_dump_json(), _iso(utcnow()), int(job_id)))
            elif row["state"] == "running":
                db.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", (int(job_id),))
            else:
                raise UsageError(f"job {job_id} is already {row['state']}")
        return self._get(job_id)

    def claim(self, worker: str) -> Lease | None:
        """Reclaim expired leases, then take the highest-priority runnable job."""
        now = utcnow()
        with self._write() as db:
            for row in db.execute("SELECT id, attempts FROM jobs WHERE state = 'running' AND lease_expires < ?",
                                  (_iso(now),)).fetchall():
                # A lost worker's open holds stay at their worst case: its call may have reached the
                # provider and been billed. If the worker was only slow, its late settle fixes the amount.
                if row["attempts"] >= self.max_attempts:
                    outcome = Outcome(state="failed", status="error",
                                      reason=f"its worker was lost {row['attempts']} times")
                    db.execute("UPDATE jobs SET state = 'failed', outcome_json = ?, finished_at = ?, "
                               "lease_token = NULL WHERE id = ?", (outcome.model_dump_json(), _iso(now), row["id"]))
                else:
                    db.execute("UPDATE jobs SET state = 'queued', lease_token = NULL, note = ? WHERE id = ?",
                               (f"retried: the worker's lease expired (attempt {row['attempts']})", row["id"]))
            row = db.execute("SELECT id FROM jobs WHERE state = 'queued' AND (not_before IS NULL OR not_before <= ?) "
                             "ORDER BY priority DESC, id LIMIT 1", (_iso(now),)).fetchone()
            if row is None:
                return None
            token = uuid.uuid4().hex
            db.execute("UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_token = ?, "
                       "lease_worker = ?, lease_expires = ? WHERE id = ?",
                       (token, worker, _iso(now + self.lease), row["id"]))
        return Lease(job=self._get(str(row["id"])), token=token, worker=worker)

    def heartbeat(self, lease: Lease) -> bool:
        """Push the lease expiry on while the job is still ours."""
        cur = self.db.execute("UPDATE jobs SET lease_expires = ? WHERE id = ? AND state = 'running' "
                              "AND lease_token = ?", (_iso(utcnow() + self.lease), int(lease.job.id), lease.token))
        return cur.rowcount == 1

    def finish(self, lease: Lease, outcome: Outcome) -> bool:
        """Write the outcome once: only the lease holder of a running job can."""
        with self._write() as db:
            cur = db.execute("UPDATE jobs SET state = ?, outcome_json = ?, finished_at = ?, lease_token = NULL "
                             "WHERE id = ? AND state = 'running' AND lease_token = ?",
                             (outcome.state, outcome.model_dump_json(), _iso(utcnow()), int(lease.job.id),
                              lease.token))
            return cur.rowcount == 1

    def requeue(self, lease: Lease, note: str) -> bool:
        """Back to the queue; the attempt does not count against max_attempts."""
        with self._write() as db:
            cur = db.execute("UPDATE jobs SET state = 'queued', note = ?, attempts = attempts - 1, "
                             "lease_token = NULL WHERE id = ? AND state = 'running' AND lease_token = ?",
                             (note, int(lease.job.id), lease.token))
            return cur.rowcount == 1

    def save_checkpoint(self, lease: Lease, checkpoint: Checkpoint) -> None:
        """Remember progress (only while the lease is ours)."""
        self.db.execute("UPDATE jobs SET checkpoint_json = ? WHERE id = ? AND lease_token = ?",
                        (checkpoint.model_dump_json(), int(lease.job.id), lease.token))

    def checkpoint(self, job_id: str) -> Checkpoint | None:
        """The saved progress of a job."""
        row = self.db.execute("SELECT checkpoint_json FROM jobs WHERE id = ?", (int(job_id),)).fetchone()
        return Checkpoint.model_validate_json(row[0]) if row and row[0] else None

    def note_queued(self, note: str) -> None:
        """Say why every queued job is still waiting."""
        self.db.execute("UPDATE jobs SET note = ? WHERE state = 'queued'", (note,))

    def reserve(self, lease: Lease, night: str, cap: Decimal, amount: Decimal) -> int:
        """Hold a call's worst case against the night's cap, atomically with the lease check."""
        with self._write() as db:
            row = db.execute("SELECT state, lease_token, cancel_requested FROM jobs WHERE id = ?",
                             (int(lease.job.id),)).fetchone()
            if row["state"] != "running" or row["lease_token"] != lease.token:
                raise CallRefused("lost", f"job {lease.job.id} was taken over by another worker")
            if row["cancel_requested"]:
                raise CallRefused("cancelled", f"job {lease.job.id} was cancelled; stopped before the next call")
            spent = self._spend(db, night)
            if spent + amount > cap:
                raise CallRefused("cap", f"budget exceeded: nightly cap ${cap} would be crossed "
                                         f"(spent ${spent:.6f}, next call could cost up to ${amount:.6f})")
            cur = db.execute("INSERT INTO holds (night, job_id, amount, created_at) VALUES (?,?,?,?)",
                             (night, int(lease.job.id), str(amount), _iso(utcnow())))
            return int(cur.lastrowid or 0)

    def settle(self, hold: int, amount: Decimal) -> None:
        """The call's real cost replaces its hold."""
        self.db.execute("UPDATE holds SET amount = ?, settled = 1 WHERE id = ?", (str(amount), hold))

    @staticmethod
    def _spend(db: sqlite3.Connection, night: str) -> Decimal:
        rows = db.execute("SELECT amount FROM holds WHERE night = ?", (night,))
        return sum((Decimal(r[0]) for r in rows), Decimal(0))

    def night_spend(self, night: str) -> Decimal:
        """Settled and held dollars of a night."""
        return self._spend(self.db, night)
