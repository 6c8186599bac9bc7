"""`harness report --morning`: what the queue did overnight, spend against the nightly cap."""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal

from rich.console import Console
from rich.markup import escape

from harness.queue.backend import QueueBackend
from harness.queue.records import NIGHT_CUTOVER, Job, night_of, utcnow
from harness.records import Record


class JobLine(Record):
    """One job in the report."""

    id: str
    request: str
    state: str
    status: str = ""
    reason: str = ""
    branch: str | None = None
    run_id: str | None = None
    cost_usd: Decimal = Decimal(0)


class MorningReport(Record):
    """The night's outcome: trusted branches, the rest with reasons, spend vs the cap."""

    night: str
    since: datetime
    nightly_cap_usd: Decimal
    spent_usd: Decimal
    trusted: list[JobLine] = []
    not_trusted: list[JobLine] = []
    failed: list[JobLine] = []
    cancelled: list[JobLine] = []
    waiting: list[JobLine] = []
    cost_per_trusted_usd: Decimal | None = None


def _line(job: Job) -> JobLine:
    out = job.outcome
    return JobLine(id=job.id, request=job.request.strip().splitlines()[0][:80], state=job.state,
                   status=out.status if out else job.state, reason=out.reason if out else job.note,
                   branch=out.branch if out else None, run_id=out.run_id if out else None,
                   cost_usd=out.cost_usd if out else Decimal(0))


def morning_report(backend: QueueBackend, cap: Decimal, now: datetime | None = None) -> MorningReport:
    """Jobs finished since the night began (noon local time), and what still waits."""
    now = now or utcnow()
    night = night_of(now)
    since = (datetime.combine(datetime.fromisoformat(night).date(), time()) + NIGHT_CUTOVER).astimezone()
    spent = backend.night_spend(night)
    report = MorningReport(night=night, since=since, nightly_cap_usd=cap, spent_usd=spent)
    for job in backend.jobs():
        if job.state in ("queued", "running"):
            report.waiting.append(_line(job))
        elif job.finished_at is not None and job.finished_at >= since:
            bucket = {"failed": report.failed, "cancelled": report.cancelled}.get(job.state)
            if bucket is None:
                bucket = report.trusted if job.outcome and job.outcome.status == "trusted" else report.not_trusted
            bucket.append(_line(job))
    if report.trusted:
        report.cost_per_trusted_usd = (spent / len(report.trusted)).quantize(Decimal("0.0001"))
    return report


def render_morning(report: MorningReport, console: Console) -> None:
    """The human report."""
    console.print(f"[bold]night of {report.night}[/] (since {report.since:%Y-%m-%d %H:%M})  spent "
                  f"${report.spent_usd:.4f} of ${report.nightly_cap_usd} nightly cap")
    per = "-" if report.cost_per_trusted_usd is None else f"${report.cost_per_trusted_usd}"
    console.print(f"trusted {len(report.trusted)}, not trusted {len(report.not_trusted)}, failed "
                  f"{len(report.failed)}, cancelled {len(report.cancelled)}, waiting {len(report.waiting)}; "
                  f"cost per trusted change {per}")
    sections = [("trusted", "green", report.trusted), ("not trusted", "yellow", report.not_trusted),
                ("failed", "red", report.failed), ("cancelled", "dim", report.cancelled),
                ("still waiting", "cyan", report.waiting)]
    for title, colour, lines in sections:
        if not lines:
            continue
        console.print(f"\n[bold {colour}]{title}[/]")
        for line in lines:
            where = f"  branch {line.branch}" if line.branch else ""
            why = f"\n      {escape(line.reason[:200])}" if line.reason and title != "trusted" else ""
            console.print(f"  #{line.id} {escape(line.request)}  \\[{line.status}] ${line.cost_usd:.4f}"
                          f"{escape(where)}{why}")
