"""The cost ledger: spend, trusted changes and cost per trusted change over slices of memory.

Every dollar recorded in `calls` lands in exactly one row, so the rows add up to the total.
Attribution: a call belongs to its task, or (classifier and other run-level calls) to the first
task of its run. `model` slices by the task's implementer (so the reviews of a model's attempts
count toward that model's cost per trusted change), `kind`/`difficulty` by the task's labels,
`week` by the ISO week the run started, `role` by the call's own role; for `role` every row's
trusted count is the whole scope's, so the rows' cost per trusted change add up to the total's.
Evaluation runs (`harness eval`, runs.kind = 'eval') are left out unless asked for: they measure a
candidate model, they are not production work.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from harness.cascade import Record
from harness.errors import UsageError

GroupBy = Literal["model", "kind", "difficulty", "week", "role"]
GROUPINGS: tuple[str, ...] = ("model", "kind", "difficulty", "week", "role")
CENT_FRACTION = Decimal("0.000001")
NONE_KEY = "(none)"


class LedgerRow(Record):
    """One slice of the ledger."""

    key: str
    spend_usd: Decimal
    calls: int
    attempts: int
    trusted: int
    cost_per_trusted_usd: Decimal | None
    success_rate: float | None
    mean_latency_ms: float | None
    # Cache reads / all input tokens (fresh + cache read + cache write), as `harness show` prints it.
    cache_hit_ratio: float | None = None


class Ledger(Record):
    """The report: rows of one grouping plus the total over the same scope."""

    by: str
    since: str | None
    rows: list[LedgerRow]
    total: LedgerRow
    include_eval: bool = False


def parse_since(text: str | None) -> date | None:
    """--since as a date (YYYY-MM-DD); UsageError otherwise."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--since {text!r} is not a date (use YYYY-MM-DD)") from None


def iso_week(timestamp: str) -> str:
    """'2025-W07' for a stored ISO timestamp."""
    year, week, _ = datetime.fromisoformat(timestamp).isocalendar()
    return f"{year}-W{week:02d}"


def _cost_per_trusted(spend: Decimal, trusted: int) -> Decimal | None:
    return (spend / trusted).quantize(CENT_FRACTION) if trusted else None


class _Acc:
    """Running sums of one slice."""

    def __init__(self) -> None:
        self.spend = Decimal(0)
        self.calls = 0
        self.latency = 0
        self.cache_read = 0
        self.all_input = 0
        self.tasks: set[str] = set()
        self.trusted: set[str] = set()

    def row(self, key: str, trusted: int | None = None, attempts: int | None = None) -> LedgerRow:
        n_trusted = len(self.trusted) if trusted is None else trusted
        n_attempts = len(self.tasks) if attempts is None else attempts
        return LedgerRow(
            key=key, spend_usd=self.spend, calls=self.calls, attempts=n_attempts, trusted=n_trusted,
            cost_per_trusted_usd=_cost_per_trusted(self.spend, n_trusted),
            success_rate=round(n_trusted / n_attempts, 4) if n_attempts else None,
            mean_latency_ms=round(self.latency / self.calls, 1) if self.calls else None,
            cache_hit_ratio=round(self.cache_read / self.all_input, 4) if self.all_input else None,
        )


def build_ledger(memory: Any, by: str = "model", since: date | None = None, include_eval: bool = False) -> Ledger:
    """Aggregate the memory DB (a harness.memory.Memory) into a ledger grouped `by` (eval runs only if asked)."""
    if by not in GROUPINGS:
        raise UsageError(f"--by {by!r}: choose one of {', '.join(GROUPINGS)}")
    since_iso = since.isoformat() if since else ""
    db = memory.db
    runs = {r["id"]: r for r in db.execute("SELECT id, started_at FROM runs WHERE started_at >= ? AND (kind != 'eval' OR ?)",
                                           (since_iso, int(include_eval)))}
    tasks = {t["id"]: t for t in db.execute(
        "SELECT id, run_id, task_kind, difficulty, implementer, trusted, attempt, started_at FROM tasks "
        "ORDER BY run_id, attempt, started_at, id") if t["run_id"] in runs}
    first_task: dict[str, Any] = {}
    for t in tasks.values():
        first_task.setdefault(t["run_id"], t)

    def task_key(t: Any | None, run_id: str) -> str:
        if by == "week":
            return iso_week(runs[run_id]["started_at"])
        if t is None:
            return NONE_KEY
        value = {"model": t["implementer"], "kind": t["task_kind"], "difficulty": t["difficulty"]}[by]
        return value or NONE_KEY

    groups: dict[str, _Acc] = defaultdict(_Acc)
    total = _Acc()
    for c in db.execute("SELECT run_id, task_id, role, cost_usd, latency_ms, input_tokens, cache_read_tokens, "
                        "cache_write_tokens FROM calls ORDER BY id"):
        if c["run_id"] not in runs:
            continue
        task = tasks.get(c["task_id"]) if c["task_id"] else first_task.get(c["run_id"])
        key = c["role"] if by == "role" else task_key(task, c["run_id"])
        for acc in (groups[key], total):
            acc.spend += Decimal(c["cost_usd"])
            acc.calls += 1
            acc.latency += c["latency_ms"]
            acc.cache_read += c["cache_read_tokens"]
            acc.all_input += c["input_tokens"] + c["cache_read_tokens"] + c["cache_write_tokens"]
    for t in tasks.values():
        targets = [total] if by == "role" else [groups[task_key(t, t["run_id"])], total]
        for acc in targets:
            acc.tasks.add(t["id"])
            if t["trusted"]:
                acc.trusted.add(t["id"])
    if by == "role":
        # A trusted change needs every role; each role row is its share of the whole scope's changes.
        rows = [acc.row(key, trusted=len(total.trusted), attempts=len(total.tasks)) for key, acc in groups.items()]
    else:
        rows = [acc.row(key) for key, acc in groups.items()]
    rows.sort(key=lambda r: r.key if by == "week" else (-r.spend_usd, r.key))
    return Ledger(by=by, since=since_iso or None, rows=rows, total=total.row("total"), include_eval=include_eval)


def _money(value: Decimal | None, places: int = 4) -> str:
    return "-" if value is None else f"${value:,.{places}f}"


def bar(value: Decimal | float, top: Decimal | float, width: int = 20) -> str:
    """A block bar of `width` cells for value relative to top (eighth-cell resolution)."""
    if not top or value <= 0:
        return ""
    eighths = round(float(value) / float(top) * width * 8)
    full, part = divmod(eighths, 8)
    return "█" * full + ("" if part == 0 else " ▏▎▍▌▋▊▉"[part])


def render_terminal(ledger: Ledger, console: Any) -> None:
    """Print the ledger as a rich table with spend and cost-per-trusted bars."""
    from rich.table import Table

    title = (f"Cost ledger by {ledger.by}" + (f" since {ledger.since}" if ledger.since else "")
             + (" (including eval runs)" if ledger.include_eval else ""))
    table = Table(title=title, title_justify="left")
    for name, justify in (("", "left"), ("spend", "right"), ("", "left"), ("trusted", "right"),
                          ("$/trusted", "right"), ("", "left"), ("success", "right"), ("latency", "right"), ("cache hit", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    top_spend = max((r.spend_usd for r in ledger.rows), default=Decimal(0))
    top_cpt = max((r.cost_per_trusted_usd for r in ledger.rows if r.cost_per_trusted_usd), default=Decimal(0))
    for r in [*ledger.rows, ledger.total]:
        is_total = r is ledger.total
        table.add_row(
            f"[bold]{r.key}[/]" if is_total else r.key, _money(r.spend_usd),
            "" if is_total else f"[cyan]{bar(r.spend_usd, top_spend)}[/]", str(r.trusted),
            _money(r.cost_per_trusted_usd), "" if is_total else f"[magenta]{bar(r.cost_per_trusted_usd or 0, top_cpt, 12)}[/]",
            "-" if r.success_rate is None else f"{r.success_rate:.0%}",
            "-" if r.mean_latency_ms is None else f"{r.mean_latency_ms / 1000:.1f}s",
            "-" if r.cache_hit_ratio is None else f"{r.cache_hit_ratio:.0%}",
            end_section=r is ledger.rows[-1],
        )
    console.print(table)
