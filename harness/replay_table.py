"""Terminal table of a routing replay result."""

from __future__ import annotations

from typing import Any

from harness.replay import ReplayResult, Row


def _row_cells(row: Row, resolved_fmt: str = "{:.0f}") -> list[str]:
    return [
        row.name, resolved_fmt.format(row.resolved), f"${row.cost_usd:,.2f}",
        "-" if row.cost_per_resolved_usd is None else f"${row.cost_per_resolved_usd:.4f}",
        "-" if row.pct_of_best_single_cost is None else f"{row.pct_of_best_single_cost:.1f}%",
    ]


def render_replay(result: ReplayResult, console: Any) -> None:
    """Single models (best first), the oracle and the router, with % of the best single model's cost."""
    from rich.table import Table

    d = result.detection
    table = Table(
        title=(f"routing replay: {result.tasks} tasks, {result.folds}-fold, seed {result.seed}, "
               f"recall {d.recall}, false alarm {d.false_alarm} (flagged last attempt counts "
               f"{'resolved' if d.flagged_last_succeeds else 'unresolved'}), review ${d.review_cost_usd}/attempt; "
               + (f"policy: most resolved within {result.budget_fraction:.0%} of the best single model's cost"
                  if result.budget_fraction else f"policy: value ${result.value_usd} per trusted change")),
        title_justify="left",
    )
    for col in ("run", "resolved", "cost", "$/resolved", "% of best cost"):
        table.add_column(col, justify="left" if col == "run" else "right")
    for row in sorted(result.models, key=lambda r: (-r.resolved, r.cost_usd, r.name)):
        table.add_row(*_row_cells(row), style="bold" if row.name == result.best_single else None)
    table.add_section()
    table.add_row(*_row_cells(result.oracle))
    table.add_row(*_row_cells(result.router), style="bold green")
    r = result.router
    table.add_row("router (expectation)", f"{r.expected_resolved:.1f}", f"${r.expected_cost_usd:,.2f}", "", "")
    console.print(table)
    console.print(f"classifier difficulty accuracy (held-out folds): {result.difficulty_accuracy:.0%}"
                  + ("  [yellow](ablation: router used the human difficulty labels)[/]" if result.true_difficulty else ""))
    console.print("plans used (tasks):")
    for plan, count in sorted(result.plans.items(), key=lambda kv: -kv[1]):
        console.print(f"  {count:4d}  {plan}")
