"""`harness report` shows the cache hit ratio: cache reads over all input tokens, per row and in total."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from rich.console import Console

from harness.budget import CallLog
from harness.memory import Memory
from harness.records import Usage
from harness.report import build_ledger, render_terminal


def call(model: str, role: str, usage: Usage) -> CallLog:
    return CallLog(role=role, model=model, provider="openai", usage=usage, cost_usd=Decimal("0.01"),
                   latency_ms=100, outcome="ok")


def test_report_rows_carry_the_cache_hit_ratio(tmp_path: Path) -> None:
    with Memory(tmp_path / "m.db") as memory:
        run = memory.start_run("do", "/repo", "fix", None)
        cheap = memory.start_task(run, "fix", "cheap", "strong", 1)
        memory.record_call(run, cheap, call("cheap", "implementer", Usage(input_tokens=100, cache_read_tokens=800,
                                                                          cache_write_tokens=100)))
        memory.record_call(run, cheap, call("strong", "reviewer", Usage(input_tokens=1000)))
        strong = memory.start_task(run, "fix", "strong", "cheap", 2)
        memory.record_call(run, strong, call("strong", "implementer", Usage(input_tokens=0, output_tokens=5)))
        ledger = build_ledger(memory, by="model")
        by_role = build_ledger(memory, by="role")
    rows = {r.key: r for r in ledger.rows}
    assert rows["cheap"].cache_hit_ratio == round(800 / 2000, 4)  # the reviewer's call counts for cheap's task
    assert rows["strong"].cache_hit_ratio is None  # no input tokens at all
    assert ledger.total.cache_hit_ratio == 0.4
    assert {r.key: r.cache_hit_ratio for r in by_role.rows} == {"implementer": 0.8, "reviewer": 0.0}
    console = Console(record=True, width=160)
    render_terminal(ledger, console)
    text = console.export_text()
    assert "cache hit" in text and "40%" in text
