"""Building memory rows by hand for ledger, router and eval tests."""

from __future__ import annotations

from decimal import Decimal

from harness.records import CallLog, Usage


def call(role: str, model: str, cost_usd: Decimal, latency_ms: int = 1000) -> CallLog:
    """A priced call record as the meter would write it (tokens left at zero: only dollars matter)."""
    return CallLog(role=role, model=model, provider="openai", usage=Usage(), cost_usd=cost_usd,
                   latency_ms=latency_ms, outcome="ok")
