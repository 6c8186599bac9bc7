"""The daily cap across machines: a spend ledger in PostgreSQL that every harness process shares.

Memory is per repository checkout, so on its own `[budgets] day_usd` holds per machine (and, in
GitHub Actions, per branch cache). With `[budgets] ledger_url` set, every call's worst case is also
held in one table under a per-day advisory lock before the call is made, and replaced by its real
cost after; parallel PR jobs, queue workers and laptops then share one daily cap.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from harness.config import BudgetsConfig
from harness.errors import BudgetExceeded, ConfigError

if TYPE_CHECKING:
    from harness.budget import SpendLedger

_SCHEMA = """
CREATE TABLE IF NOT EXISTS harness_day_spend (
    id BIGSERIAL PRIMARY KEY,
    day DATE NOT NULL,
    amount NUMERIC NOT NULL,
    settled BOOLEAN NOT NULL DEFAULT false,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS harness_day_spend_day ON harness_day_spend (day);
"""


def utc_day() -> date:
    """Today in UTC: the daily budget's window, as in memory's own day check."""
    return datetime.now(UTC).date()


class SharedDayLedger:
    """Holds each call's worst case against the shared daily cap; a context manager."""

    def __init__(self, url: str, cap: Decimal):
        import psycopg  # only needed when a ledger is configured

        self.cap = cap
        self._hold: int | None = None
        try:
            self.db = psycopg.connect(url, autocommit=True)
            with self.db.transaction():
                # Two processes creating the table at once must not both try.
                self.db.execute("SELECT pg_advisory_xact_lock(hashtext('harness-day-schema'))")
                self.db.execute(_SCHEMA)
        except psycopg.Error as exc:
            raise ConfigError(f"cannot use [budgets] ledger_url: {str(exc).strip().splitlines()[0]}") from None

    def __enter__(self) -> SharedDayLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self.db.close()

    def reserve(self, worst_case: Decimal) -> None:
        """Hold `worst_case` for today, or raise BudgetExceeded if the shared cap would be crossed."""
        self.release()
        day = utc_day()
        with self.db.transaction():
            self.db.execute("SELECT pg_advisory_xact_lock(hashtext('harness-day-' || %s))", (day.isoformat(),))
            spent = self.spent(day)
            if spent + worst_case > self.cap:
                raise BudgetExceeded("shared daily", self.cap, spent.quantize(Decimal("0.000001")),
                                     worst_case.quantize(Decimal("0.000001")))
            row = self.db.execute("INSERT INTO harness_day_spend (day, amount) VALUES (%s, %s) RETURNING id",
                                  (day, worst_case)).fetchone()
            assert row is not None
            self._hold = int(row[0])

    def settle(self, actual: Decimal) -> None:
        """Replace the open hold with the call's real cost."""
        if self._hold is not None:
            self.db.execute("UPDATE harness_day_spend SET amount = %s, settled = true WHERE id = %s",
                            (actual, self._hold))
            self._hold = None

    def release(self) -> None:
        """Drop an open hold: its call raised without an answer, which providers do not bill."""
        self.settle(Decimal(0))

    def spent(self, day: date | None = None) -> Decimal:
        """Settled and held dollars of a day (today by default), across every process."""
        row = self.db.execute("SELECT COALESCE(SUM(amount), 0) FROM harness_day_spend WHERE day = %s",
                              (day or utc_day(),)).fetchone()
        return Decimal(row[0]) if row else Decimal(0)


class BothLedgers:
    """Two ledgers as one (the queue's nightly cap and the shared daily cap): both must agree."""

    def __init__(self, first: SpendLedger, second: SpendLedger):
        self.first, self.second = first, second

    def reserve(self, worst_case: Decimal) -> None:
        """Hold in both; if the second refuses, the first's hold is dropped."""
        self.first.reserve(worst_case)
        try:
            self.second.reserve(worst_case)
        except BaseException:
            self.first.settle(Decimal(0))
            raise

    def settle(self, actual: Decimal) -> None:
        """Settle both."""
        self.first.settle(actual)
        self.second.settle(actual)


@contextmanager
def with_shared_day_cap(budgets: BudgetsConfig, ledger: SpendLedger | None = None) -> Iterator[SpendLedger | None]:
    """`ledger`, joined by the shared daily ledger when `[budgets] ledger_url` is set."""
    if not budgets.ledger_url:
        yield ledger
        return
    with SharedDayLedger(budgets.ledger_url, budgets.day_usd) as day:
        yield day if ledger is None else BothLedgers(ledger, day)
