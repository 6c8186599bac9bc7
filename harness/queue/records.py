"""Queue records (jobs, outcomes, summaries) and the parsing of user input: times, money, job files."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError

from harness.errors import UsageError
from harness.records import Record

JobState = Literal["queued", "running", "done", "failed", "cancelled"]
STATES: tuple[str, ...] = ("queued", "running", "done", "failed", "cancelled")
# A night runs from noon to noon local time, so 22:00 and 04:00 spend count against one cap.
NIGHT_CUTOVER = timedelta(hours=12)


class JobSpec(Record):
    """What `queue add` stores: the request and where and how to run it."""

    request: str = Field(min_length=1)
    repo: str
    config: str
    priority: int = 0
    max_cost: Decimal | None = Field(default=None, ge=0)
    not_before: datetime | None = None


class Outcome(Record):
    """How a job ended; written once."""

    state: Literal["done", "failed", "cancelled"]
    status: str  # the run's status (trusted, not_trusted, budget_exceeded, error) or why it failed
    reason: str = ""
    run_id: str | None = None
    branch: str | None = None
    cost_usd: Decimal = Decimal(0)


class Job(JobSpec):
    """A job as stored, with its state and (once finished) its outcome."""

    id: str
    state: JobState
    attempts: int = 0
    note: str = ""  # why a job waits or was retried
    created_at: datetime
    finished_at: datetime | None = None
    cancel_requested: bool = False
    outcome: Outcome | None = None


class Lease(Record):
    """A worker's claim on a running job; `token` proves ownership to heartbeat, settle and finish."""

    job: Job
    token: str
    worker: str


class Checkpoint(Record):
    """Saved progress of a job: the implementer's finished candidate (resume without re-paying)."""

    implementer: str | None = None
    diff: str = ""
    run_id: str | None = None
    fake_calls_done: int = 0  # progress of the benchmark's fake step


class RunSummary(Record):
    """What `queue run` did, printed at the end."""

    done: int = 0
    failed: int = 0
    cancelled: int = 0
    requeued: int = 0
    trusted: int = 0
    spent_usd: Decimal = Decimal(0)
    stop_reason: str = ""
    jobs: list[str] = []


def utcnow() -> datetime:
    """Timezone-aware now; every stored time is UTC."""
    return datetime.now(UTC)


def night_of(moment: datetime) -> str:
    """The night a moment belongs to, named by the local date it started on (noon-to-noon)."""
    return (moment.astimezone() - NIGHT_CUTOVER).date().isoformat()


def parse_time(text: str, option: str, now: datetime | None = None) -> datetime:
    """`HH:MM` (the next such local time) or an ISO date-time; one-line UsageError otherwise."""
    now = (now or utcnow()).astimezone()
    try:
        clock = time.fromisoformat(text)
    except ValueError:
        clock = None
    if clock is not None and len(text) <= 8:
        moment = now.replace(hour=clock.hour, minute=clock.minute, second=clock.second, microsecond=0)
        return (moment if moment > now else moment + timedelta(days=1)).astimezone(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a time (use HH:MM or YYYY-MM-DDTHH:MM)") from None
    return (moment if moment.tzinfo else moment.astimezone()).astimezone(UTC)


def parse_money(text: str | None, option: str) -> Decimal | None:
    """A non-negative dollar amount, or None when not given."""
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise UsageError(f"{option} {text!r} is not a dollar amount") from None
    if not value.is_finite() or value < 0:
        raise UsageError(f"{option} must be a non-negative dollar amount")
    return value


def read_jobs_file(path: Path) -> list[dict[str, object]]:
    """Requests from a file: one per line, or JSONL objects with `request` and optional fields."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    items: list[dict[str, object]] = []
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if not text.startswith("{"):
            items.append({"request": text})
            continue
        try:
            item = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}:{number}: not valid JSON: {exc.msg}") from None
        allowed = {"request", "repo", "priority", "max_cost", "not_before"}
        if not isinstance(item, dict) or not isinstance(item.get("request"), str) or set(item) - allowed:
            raise UsageError(f"{path}:{number}: a JSON line needs \"request\" and only {sorted(allowed)}")
        items.append(item)
    if not items:
        raise UsageError(f"{path}: no requests in the file")
    return items


def validated_spec(**fields: object) -> JobSpec:
    """A JobSpec, or a one-line UsageError naming the bad field."""
    try:
        return JobSpec.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise UsageError(f"job {'.'.join(map(str, first['loc']))}: {first['msg']}") from None
