"""The queue backend contract both stores meet, and the factory that opens the configured one."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from harness.config import QueueConfig
from harness.errors import BudgetExceeded
from harness.queue.records import Checkpoint, Job, JobSpec, Lease, Outcome


class CallRefused(BudgetExceeded):
    """The queue refused a model call: the nightly cap, a cancelled job, or a lease another worker took.

    A BudgetExceeded, so the pipeline stops the way it does for any budget: before the call,
    keeping the work so far. `why` tells the worker what to do with the job.
    """

    def __init__(self, why: str, message: str):
        self.scope = "nightly" if why == "cap" else why
        self.why = why
        Exception.__init__(self, message)


class QueueBackend(Protocol):
    """One queue store. Every state change is a single transaction; finishing is idempotent."""

    def add(self, spec: JobSpec) -> Job:
        """Store a queued job."""
        ...

    def get(self, job_id: str) -> Job | None:
        """One job by id."""
        ...

    def jobs(self, states: Sequence[str] | None = None) -> list[Job]:
        """Jobs in the given states (all when None), in the order workers take them."""
        ...

    def cancel(self, job_id: str) -> Job:
        """Cancel a queued job, or ask a running one to stop before its next call."""
        ...

    def claim(self, worker: str) -> Lease | None:
        """Take the next runnable job (expired leases first go back to the queue or fail)."""
        ...

    def heartbeat(self, lease: Lease) -> bool:
        """Extend the lease; False when it is no longer ours."""
        ...

    def finish(self, lease: Lease, outcome: Outcome) -> bool:
        """Write the outcome once; False (and no change) if the lease was lost or it is written."""
        ...

    def requeue(self, lease: Lease, note: str) -> bool:
        """Put a running job back in the queue with a note (e.g. the nightly cap was reached)."""
        ...

    def save_checkpoint(self, lease: Lease, checkpoint: Checkpoint) -> None:
        """Remember a job's progress so a later attempt resumes without re-paying."""
        ...

    def checkpoint(self, job_id: str) -> Checkpoint | None:
        """The saved progress of a job, if any."""
        ...

    def note_queued(self, note: str) -> None:
        """Tell every queued job why it is still waiting."""
        ...

    def reserve(self, lease: Lease, night: str, cap: Decimal, amount: Decimal) -> int:
        """Atomically hold `amount` of the night's cap for a call; raise CallRefused if it cannot."""
        ...

    def settle(self, hold: int, amount: Decimal) -> None:
        """Replace a hold by the call's real cost."""
        ...

    def night_spend(self, night: str) -> Decimal:
        """Dollars charged (settled and held) against a night's cap."""
        ...

    def close(self) -> None:
        """Release connections (and, for Postgres, the worker registrations)."""
        ...


def sqlite_path(repo: Path, config: QueueConfig) -> Path:
    """Where the SQLite queue lives: next to the memory database by default."""
    path = Path(config.path)
    return path if path.is_absolute() else repo / path


def open_backend(repo: Path, config: QueueConfig) -> QueueBackend:
    """The configured backend; use it as a context manager or call close()."""
    if config.backend == "postgres":
        from harness.queue.postgres import PostgresQueue

        assert config.postgres_url is not None  # guaranteed by QueueConfig validation
        return PostgresQueue(config.postgres_url, config.lease_s, config.max_attempts)
    from harness.queue.sqlite import SqliteQueue

    return SqliteQueue(sqlite_path(repo, config), config.lease_s, config.max_attempts)
