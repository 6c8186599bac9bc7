"""The meter: every model call goes through it, is budget-checked before and priced after."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol

from harness.config import BudgetsConfig
from harness.errors import BudgetExceeded, ProviderUnavailable
from harness.memory import Memory
from harness.models.base import ModelClient
from harness.models.pricing import Prices
from harness.records import CallLog, ModelReply, ModelRequest, Usage

# Conservative characters-per-token for the worst-case input estimate (real text is ~4).
_CHARS_PER_TOKEN = 3


def estimate_input_tokens(request: ModelRequest) -> int:
    """An upper-bound guess of a request's input tokens from its serialised size."""
    return len(request.model_dump_json()) // _CHARS_PER_TOKEN + 1


def day_start() -> str:
    """Midnight UTC today, the start of the daily budget window."""
    now = datetime.now(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0).isoformat(timespec="milliseconds")


class SpendLedger(Protocol):
    """A spend ledger shared beyond this run (the queue's nightly cap across workers).

    `reserve` holds a call's worst case atomically or raises BudgetExceeded; `settle` replaces
    the held amount with what the call really cost.
    """

    def reserve(self, worst_case: Decimal) -> None: ...

    def settle(self, actual: Decimal) -> None: ...


class Meter:
    """Checks budgets before each call, prices and records it after.

    Task and run spend come from memory, so a resumed or concurrent run sees real totals.
    """

    def __init__(self, memory: Memory, run_id: str, budgets: BudgetsConfig, prices: dict[str, Prices],
                 run_cap: Decimal | None = None, on_call: Callable[[CallLog], None] | None = None,
                 ledger: SpendLedger | None = None):
        self.memory = memory
        self.run_id = run_id
        self.budgets = budgets
        self.prices = prices
        self.run_cap = budgets.run_usd if run_cap is None else min(run_cap, budgets.run_usd)
        self.on_call = on_call
        self.ledger = ledger
        self.task_spend: dict[str | None, Decimal] = {}

    def check(self, task_id: str | None, worst_case: Decimal) -> None:
        """Raise BudgetExceeded if a call costing `worst_case` could cross any budget."""
        task_spent = self.task_spend.get(task_id, Decimal(0))
        scopes = [
            ("task", self.budgets.task_usd, task_spent),
            ("run", self.run_cap, self.memory.run_spend(self.run_id)),
            ("day", self.budgets.day_usd, self.memory.spend_since(day_start())),
        ]
        for scope, limit, spent in scopes:
            if spent + worst_case > limit:
                raise BudgetExceeded(scope, limit, spent.quantize(Decimal("0.000001")),
                                     worst_case.quantize(Decimal("0.000001")))
        if self.ledger is not None:
            # Last, so a refusal by a local budget never holds shared money.
            self.ledger.reserve(worst_case)

    def call(self, role: str, model_name: str, client: ModelClient, request: ModelRequest,
             task_id: str | None = None) -> ModelReply:
        """Make one budget-checked, priced, recorded call."""
        prices = self.prices[model_name]
        self.check(task_id, prices.worst_case(estimate_input_tokens(request), request.max_tokens))
        started = time.monotonic()
        try:
            reply = client.complete(request)
        except ProviderUnavailable as exc:
            # Only what the provider reported (answers cut short) is charged; errors without an answer are $0.
            usage = exc.partial_usage if isinstance(exc.partial_usage, Usage) else Usage()
            self._record(role, model_name, client.provider, task_id, usage, prices.cost(usage), started, "error")
            raise
        cost = prices.cost(reply.usage)
        self._record(role, model_name, client.provider, task_id, reply.usage, cost, started, "ok")
        return reply

    def _record(self, role: str, model: str, provider: str, task_id: str | None, usage: Usage, cost: Decimal,
                started: float, outcome: str) -> None:
        log = CallLog(role=role, model=model, provider=provider, usage=usage, cost_usd=cost,
                      latency_ms=int((time.monotonic() - started) * 1000), outcome=outcome)
        self.task_spend[task_id] = self.task_spend.get(task_id, Decimal(0)) + cost
        self.memory.record_call(self.run_id, task_id, log)
        if self.ledger is not None:
            self.ledger.settle(cost)
        if self.on_call:
            self.on_call(log)
