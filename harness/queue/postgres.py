"""The scale-out queue: jobs on the `procrastinate` task engine in PostgreSQL.

Jobs are procrastinate jobs (queue `harness`): procrastinate defers them, fetches the next one
with FOR UPDATE SKIP LOCKED (priority, then age; `scheduled_at` is --not-before), and tracks
workers by heartbeat; a job whose worker stops beating is retried through procrastinate's own
retry. Our side tables add what a coding job needs: outcome written once, checkpoint, notes,
and the nightly spend holds, serialised per night by an advisory transaction lock.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
from procrastinate import App, SyncPsycopgConnector
from procrastinate import sql as procrastinate_sql
from procrastinate.schema import SchemaManager
from psycopg.rows import dict_row

from harness.errors import ConfigError, UsageError
from harness.queue.backend import CallRefused
from harness.queue.records import Checkpoint, Job, JobSpec, Lease, Outcome, utcnow

QUEUE = "harness"
TASK = "harness.queue.job"
SCHEMA_VERSION = 1
_SCHEMA_LOCK = 7_311_001  # advisory lock ids: one for schema set-up, one for reclaiming stalled jobs
_RECLAIM_LOCK = 7_311_002
_TABLES = """
CREATE TABLE IF NOT EXISTS harness_queue_meta (version integer NOT NULL);
CREATE TABLE IF NOT EXISTS harness_queue_jobs (
    job_id bigint PRIMARY KEY REFERENCES procrastinate_jobs(id) ON DELETE CASCADE,
    note text NOT NULL DEFAULT '',
    checkpoint_json text,
    outcome_json text,
    finished_at timestamptz
);
CREATE TABLE IF NOT EXISTS harness_queue_holds (
    id bigserial PRIMARY KEY,
    night text NOT NULL,
    job_id bigint NOT NULL,
    amount numeric NOT NULL,
    settled boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS harness_queue_holds_night ON harness_queue_holds(night);
"""
_STATES = {"todo": "queued", "doing": "running", "succeeded": "done", "failed": "failed",
           "cancelled": "cancelled", "aborted": "cancelled", "aborting": "running"}
_END = {"done": "succeeded", "failed": "failed", "cancelled": "aborted"}
_SELECT = ("SELECT j.id, j.status, j.priority, j.scheduled_at, j.attempts, j.abort_requested, j.args, "
           "j.worker_id, h.note, h.outcome_json, h.finished_at FROM procrastinate_jobs j "
           "LEFT JOIN harness_queue_jobs h ON h.job_id = j.id WHERE j.queue_name = %(queue)s")


def _q(name: str) -> str:
    return procrastinate_sql.queries[name]


class PostgresQueue:
    """The PostgreSQL backend. One instance per thread; use as a context manager."""

    def __init__(self, url: str, lease_s: float, max_attempts: int):
        self.url, self.lease_s, self.max_attempts = url, lease_s, max_attempts
        try:
            self.db = psycopg.connect(url, autocommit=True, row_factory=dict_row)
        except psycopg.Error as exc:
            raise ConfigError(f"cannot connect to the queue database: {str(exc).strip().splitlines()[0]}") from None
        self.worker_id: int | None = None
        self._ensure_schema()

    def __enter__(self) -> PostgresQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Unregister this worker (its jobs, if any, become stalled) and close the connection."""
        if not self.db.closed:
            if self.worker_id is not None:
                self.db.execute(_q("unregister_worker"), {"worker_id": self.worker_id})
            self.db.close()

    def _ensure_schema(self) -> None:
        with self.db.transaction():
            self.db.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            exists = self.db.execute("SELECT to_regclass('procrastinate_jobs') AS t").fetchone()
            if exists is None or exists["t"] is None:
                self.db.execute(SchemaManager.get_schema())  # procrastinate's own schema, unchanged
            self.db.execute(_TABLES)
            row = self.db.execute("SELECT version FROM harness_queue_meta").fetchone()
            if row is None:
                self.db.execute("INSERT INTO harness_queue_meta VALUES (%s)", (SCHEMA_VERSION,))
            elif row["version"] > SCHEMA_VERSION:
                raise ConfigError(f"the queue database has schema {row['version']}; this harness knows "
                                  f"{SCHEMA_VERSION}: upgrade harness")

    def _job(self, row: dict[str, Any]) -> Job:
        args = row["args"]
        state = _STATES[row["status"]]
        return Job(**JobSpec.model_validate(args["spec"]).model_dump(), id=str(row["id"]), state=state,
                   attempts=row["attempts"] + (state == "running"), note=row["note"] or "",
                   created_at=datetime.fromisoformat(args["created_at"]), finished_at=row["finished_at"],
                   cancel_requested=bool(row["abort_requested"]),
                   outcome=Outcome.model_validate_json(row["outcome_json"]) if row["outcome_json"] else None)

    def add(self, spec: JobSpec) -> Job:
        """Defer a procrastinate job carrying the spec."""
        app = App(connector=SyncPsycopgConnector(conninfo=self.url))
        with app.open():
            deferrer = app.configure_task(TASK, queue=QUEUE, priority=spec.priority, schedule_at=spec.not_before)
            job_id = deferrer.defer(spec=json.loads(spec.model_dump_json()), created_at=utcnow().isoformat())
        return self._get(str(job_id))

    def _get(self, job_id: str) -> Job:
        job = self.get(job_id)
        assert job is not None
        return job

    def get(self, job_id: str) -> Job | None:
        """One job by id."""
        if not job_id.isdigit():
            return None
        row = self.db.execute(_SELECT + " AND j.id = %(id)s", {"queue": QUEUE, "id": int(job_id)}).fetchone()
        return self._job(row) if row else None

    def jobs(self, states: Sequence[str] | None = None) -> list[Job]:
        """Jobs in the given states, in the order workers take them."""
        rows = self.db.execute(_SELECT + " ORDER BY j.priority DESC, j.id", {"queue": QUEUE}).fetchall()
        return [job for job in map(self._job, rows) if states is None or job.state in states]

    def _upsert(self, job_id: int, **fields: Any) -> None:
        cols = ", ".join(fields)
        marks = ", ".join(["%s"] * len(fields))
        updates = ", ".join(f"{c} = excluded.{c}" for c in fields)
        self.db.execute(f"INSERT INTO harness_queue_jobs (job_id, {cols}) VALUES (%s, {marks}) "
                        f"ON CONFLICT (job_id) DO UPDATE SET {updates}", (job_id, *fields.values()))

    def _locked_status(self, job_id: int) -> dict[str, Any] | None:
        return self.db.execute("SELECT status, worker_id, abort_requested, attempts FROM procrastinate_jobs "
                               "WHERE id = %s AND queue_name = %s FOR UPDATE", (job_id, QUEUE)).fetchone()

    def cancel(self, job_id: str) -> Job:
        """Cancel a queued job now; a running one gets procrastinate's abort request."""
        key = int(job_id) if job_id.isdigit() else -1
        with self.db.transaction():
            row = self._locked_status(key)
            if row is None:
                raise UsageError(f"no job {job_id!r} in the queue")
            state = _STATES[row["status"]]
            if state not in ("queued", "running"):
                raise UsageError(f"job {job_id} is already {state}")
            self.db.execute(_q("cancel_job"), {"job_id": key, "abort": state == "running", "delete_job": False})
            if state == "queued":
                outcome = Outcome(state="cancelled", status="cancelled", reason="cancelled before it ran")
                self._upsert(key, outcome_json=outcome.model_dump_json(), finished_at=utcnow())
        return self._get(job_id)

    def _register(self) -> int:
        if self.worker_id is not None:
            alive = self.db.execute("SELECT 1 FROM procrastinate_workers WHERE id = %s", (self.worker_id,)).fetchone()
            if alive:
                self.db.execute(_q("update_heartbeat"), {"worker_id": self.worker_id})
                return self.worker_id
        self.worker_id = int(self.db.execute(_q("register_worker")).fetchone()["worker_id"])
        return self.worker_id

    def _reclaim(self) -> None:
        """Retry (or fail, after max_attempts) the jobs of workers that stopped beating."""
        with self.db.transaction():
            if not self.db.execute("SELECT pg_try_advisory_xact_lock(%s) AS ok", (_RECLAIM_LOCK,)).fetchone()["ok"]:
                return  # another worker is reclaiming right now
            stalled = self.db.execute(_q("select_stalled_jobs_by_heartbeat"), {
                "queue": QUEUE, "task_name": None, "seconds_since_heartbeat": self.lease_s}).fetchall()
            for row in stalled:
                # Open holds of the lost worker stay at their worst case (the call may have been billed).
                tried = row["attempts"] + 1
                if tried >= self.max_attempts:
                    outcome = Outcome(state="failed", status="error", reason=f"its worker was lost {tried} times")
                    self.db.execute(_q("finish_job"), {"job_id": row["id"], "status": "failed", "delete_job": False})
                    self._upsert(row["id"], outcome_json=outcome.model_dump_json(), finished_at=utcnow())
                else:
                    self.db.execute(_q("retry_job"), {"job_id": row["id"], "retry_at": utcnow(), "new_priority": None,
                                                      "new_queue_name": None, "new_lock": None})
                    self._upsert(row["id"], note=f"retried: the worker's lease expired (attempt {tried})")
            self.db.execute(_q("prune_stalled_workers"), {"seconds_since_heartbeat": self.lease_s})

    def claim(self, worker: str) -> Lease | None:
        """Reclaim stalled jobs, then let procrastinate hand out the next one."""
        self._reclaim()
        worker_id = self._register()
        row = self.db.execute(_q("fetch_job"), {"queues": [QUEUE], "worker_id": worker_id}).fetchone()
        if row is None or row["id"] is None:
            return None
        return Lease(job=self._get(str(row["id"])), token=str(worker_id), worker=worker)

    def heartbeat(self, lease: Lease) -> bool:
        """Beat for the lease's procrastinate worker while the job is still its."""
        self.db.execute(_q("update_heartbeat"), {"worker_id": int(lease.token)})
        row = self.db.execute("SELECT status, worker_id FROM procrastinate_jobs WHERE id = %s",
                              (int(lease.job.id),)).fetchone()
        return bool(row and row["status"] == "doing" and str(row["worker_id"]) == lease.token)

    def _ours(self, lease: Lease) -> dict[str, Any] | None:
        row = self._locked_status(int(lease.job.id))
        return row if row and row["status"] == "doing" and str(row["worker_id"]) == lease.token else None

    def finish(self, lease: Lease, outcome: Outcome) -> bool:
        """Finish the procrastinate job and write the outcome in one transaction, once."""
        with self.db.transaction():
            if self._ours(lease) is None:
                return False
            job_id = int(lease.job.id)
            self.db.execute(_q("finish_job"), {"job_id": job_id, "status": _END[outcome.state], "delete_job": False})
            self._upsert(job_id, outcome_json=outcome.model_dump_json(), finished_at=utcnow())
            return True

    def requeue(self, lease: Lease, note: str) -> bool:
        """Back to `todo` through procrastinate's retry, without counting an attempt."""
        with self.db.transaction():
            if self._ours(lease) is None:
                return False
            job_id = int(lease.job.id)
            self.db.execute(_q("retry_job"), {"job_id": job_id, "retry_at": utcnow(), "new_priority": None,
                                              "new_queue_name": None, "new_lock": None})
            self.db.execute("UPDATE procrastinate_jobs SET attempts = attempts - 1 WHERE id = %s", (job_id,))
            self._upsert(job_id, note=note)
            return True

    def save_checkpoint(self, lease: Lease, checkpoint: Checkpoint) -> None:
        """Remember progress (only while the lease is ours)."""
        with self.db.transaction():
            if self._ours(lease) is not None:
                self._upsert(int(lease.job.id), checkpoint_json=checkpoint.model_dump_json())

    def checkpoint(self, job_id: str) -> Checkpoint | None:
        """The saved progress of a job."""
        row = self.db.execute("SELECT checkpoint_json FROM harness_queue_jobs WHERE job_id = %s",
                              (int(job_id),)).fetchone()
        return Checkpoint.model_validate_json(row["checkpoint_json"]) if row and row["checkpoint_json"] else None

    def note_queued(self, note: str) -> None:
        """Say why every queued job is still waiting."""
        self.db.execute("INSERT INTO harness_queue_jobs (job_id, note) SELECT id, %s FROM procrastinate_jobs "
                        "WHERE status = 'todo' AND queue_name = %s ON CONFLICT (job_id) DO UPDATE SET note = "
                        "excluded.note", (note, QUEUE))

    def reserve(self, lease: Lease, night: str, cap: Decimal, amount: Decimal) -> int:
        """Hold a call's worst case against the night's cap; one night's holds are serialised."""
        with self.db.transaction():
            self.db.execute("SELECT pg_advisory_xact_lock(hashtext('harness-night-' || %s))", (night,))
            row = self._locked_status(int(lease.job.id))
            if row is None or row["status"] != "doing" or str(row["worker_id"]) != lease.token:
                raise CallRefused("lost", f"job {lease.job.id} was taken over by another worker")
            if row["abort_requested"]:
                raise CallRefused("cancelled", f"job {lease.job.id} was cancelled; stopped before the next call")
            spent = self._spend(night)
            if spent + amount > cap:
                raise CallRefused("cap", f"budget exceeded: nightly cap ${cap} would be crossed "
                                         f"(spent ${spent:.6f}, next call could cost up to ${amount:.6f})")
            hold = self.db.execute("INSERT INTO harness_queue_holds (night, job_id, amount) VALUES (%s, %s, %s) "
                                   "RETURNING id", (night, int(lease.job.id), amount)).fetchone()
            return int(hold["id"])

    def settle(self, hold: int, amount: Decimal) -> None:
        """The call's real cost replaces its hold."""
        self.db.execute("UPDATE harness_queue_holds SET amount = %s, settled = true WHERE id = %s", (amount, hold))

    def _spend(self, night: str) -> Decimal:
        row = self.db.execute("SELECT COALESCE(SUM(amount), 0) AS s FROM harness_queue_holds WHERE night = %s",
                              (night,)).fetchone()
        return Decimal(row["s"])

    def night_spend(self, night: str) -> Decimal:
        """Settled and held dollars of a night."""
        return self._spend(night)
