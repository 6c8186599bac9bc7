"""The cost ledger: numbers equal a hand computation from a memory file with known calls."""

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from harness.cli import build_app
from harness.errors import UsageError
from harness.memory import Memory
from harness.report import build_ledger, render_terminal
from harness.report_html import render_html
from tests.memory_support import call

TOML = """
[models.cheap]
provider = "openai"
model = "cheap-x"
input_per_mtok = 0.1
output_per_mtok = 0.4

[models.strong]
provider = "anthropic"
model = "strong-x"
input_per_mtok = 5
output_per_mtok = 25

[roles]
implementer = "cheap"
reviewer = "strong"
"""


def fill(path: Path) -> None:
    """Three runs with known calls (see the hand computations in the tests)."""
    with Memory(path) as m:
        r1 = m.start_run("do", "/repo", "fix bug", None)
        m.record_call(r1, None, call("classifier", "cheap", Decimal("0.001"), 100))
        t1 = m.start_task(r1, "fix bug", "cheap", "strong", 1, "bug_fix", "<15 min fix")
        m.record_call(r1, t1, call("implementer", "cheap", Decimal("0.10"), 1000))
        m.record_call(r1, t1, call("reviewer", "strong", Decimal("0.05"), 2000))
        m.finish_task(t1, "not_trusted", False, "rejected", None)
        t2 = m.start_task(r1, "fix bug", "strong", "mid", 2, "bug_fix", "<15 min fix")
        m.record_call(r1, t2, call("implementer", "strong", Decimal("0.70"), 3000))
        m.record_call(r1, t2, call("reviewer", "mid", Decimal("0.03"), 500))
        m.finish_task(t2, "trusted", True, "", "diff")
        r2 = m.start_run("do", "/repo", "add feature", None)
        t3 = m.start_task(r2, "add feature", "cheap", "strong", 1, "feature", "15 min - 1 hour")
        m.record_call(r2, t3, call("implementer", "cheap", Decimal("0.2"), 1500))
        m.record_call(r2, t3, call("implementer", "cheap", Decimal("0.1"), 500))
        m.record_call(r2, t3, call("reviewer", "strong", Decimal("0.1"), 1000))
        m.finish_task(t3, "trusted", True, "", "diff")
        r3 = m.start_run("do", "/repo", "write docs", None)
        t4 = m.start_task(r3, "write docs", "strong", "cheap", 1, "docs", "<15 min fix")
        m.record_call(r3, t4, call("implementer", "strong", Decimal("1.00"), 4000))
        m.finish_task(t4, "not_trusted", False, "tests failed", None)
        for run, started in ((r1, "2025-01-06T10:00:00.000+00:00"), (r2, "2025-01-20T10:00:00.000+00:00"),
                             (r3, "2024-12-30T10:00:00.000+00:00")):
            m.db.execute("UPDATE runs SET started_at = ? WHERE id = ?", (started, run))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "memory" / "harness.db"
    fill(path)
    return path


def rows(ledger) -> dict:
    return {r.key: (r.spend_usd, r.calls, r.attempts, r.trusted, r.cost_per_trusted_usd) for r in ledger.rows}


def test_by_model_all_time(db: Path) -> None:
    with Memory(db) as m:
        ledger = build_ledger(m, by="model")
    # cheap: its two attempts (0.10+0.05, 0.2+0.1+0.1) plus run 1's classifier call (0.001) = 0.551, 1 trusted.
    # strong: attempt 2 of run 1 (0.70+0.03) and the docs attempt (1.00) = 1.73, 1 trusted.
    assert rows(ledger) == {
        "strong": (Decimal("1.73"), 3, 2, 1, Decimal("1.730000")),
        "cheap": (Decimal("0.551"), 6, 2, 1, Decimal("0.551000")),
    }
    t = ledger.total
    assert (t.spend_usd, t.calls, t.attempts, t.trusted, t.cost_per_trusted_usd) == (
        Decimal("2.281"), 9, 4, 2, Decimal("1.140500"))
    assert t.success_rate == 0.5
    cheap = next(r for r in ledger.rows if r.key == "cheap")
    assert cheap.mean_latency_ms == round((100 + 1000 + 2000 + 1500 + 500 + 1000) / 6, 1)


def test_reconciles_with_calls_table(db: Path) -> None:
    with Memory(db) as m:
        recorded = sum((Decimal(r[0]) for r in m.db.execute("SELECT cost_usd FROM calls")), Decimal(0))
        for by in ("model", "kind", "difficulty", "week", "role"):
            ledger = build_ledger(m, by=by)
            assert sum((r.spend_usd for r in ledger.rows), Decimal(0)) == ledger.total.spend_usd == recorded


def test_since_and_role(db: Path) -> None:
    with Memory(db) as m:
        ledger = build_ledger(m, by="role", since=date(2025, 1, 1))
    # The docs run (2024-12-30) is out; 2 trusted changes remain, each role row divides by both.
    assert rows(ledger) == {
        "implementer": (Decimal("1.10"), 4, 3, 2, Decimal("0.550000")),
        "reviewer": (Decimal("0.18"), 3, 3, 2, Decimal("0.090000")),
        "classifier": (Decimal("0.001"), 1, 3, 2, Decimal("0.000500")),
    }
    assert ledger.total.cost_per_trusted_usd == Decimal("0.640500")  # = 0.55 + 0.09 + 0.0005


def test_by_week_and_kind(db: Path) -> None:
    with Memory(db) as m:
        week = build_ledger(m, by="week")
        kind = build_ledger(m, by="kind")
    assert [(r.key, r.spend_usd, r.trusted) for r in week.rows] == [
        ("2025-W01", Decimal("1.00"), 0), ("2025-W02", Decimal("0.881"), 1), ("2025-W04", Decimal("0.4"), 1)]
    assert rows(kind) == {
        "docs": (Decimal("1.00"), 1, 1, 0, None),
        "bug_fix": (Decimal("0.881"), 5, 2, 1, Decimal("0.881000")),
        "feature": (Decimal("0.4"), 3, 1, 1, Decimal("0.400000")),
    }


def test_bad_grouping(db: Path) -> None:
    with Memory(db) as m, pytest.raises(UsageError):
        build_ledger(m, by="colour")


def test_terminal_and_html(db: Path) -> None:
    with Memory(db) as m:
        ledger = build_ledger(m, by="model")
    console = Console(record=True, width=120)
    render_terminal(ledger, console)
    text = console.export_text()
    assert "$2.2810" in text and "$1.1405" in text and "█" in text
    html = render_html(ledger)
    assert html.count("<svg") == 3 and "$1.7300" in html
    assert "<script" not in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html


def test_cli(db: Path, tmp_path: Path) -> None:
    (tmp_path / "harness.toml").write_text(TOML)
    out = tmp_path / "report.html"
    result = CliRunner().invoke(build_app(), ["report", "--repo", str(tmp_path), "--json", "--since", "2025-01-01",
                                         "--html", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert Decimal(data["total"]["spend_usd"]) == Decimal("1.281")
    assert Decimal(data["total"]["cost_per_trusted_usd"]) == Decimal("0.6405")
    assert "<svg" in out.read_text()
    bad = CliRunner().invoke(build_app(), ["report", "--repo", str(tmp_path), "--since", "last tuesday"])
    assert bad.exit_code == 2 and bad.stderr.startswith("error: --since")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "harness.toml").write_text(TOML)
    none = CliRunner().invoke(build_app(), ["report", "--repo", str(empty)])
    assert none.exit_code == 2 and "no memory database" in none.stderr


def test_eval_runs_are_left_out_unless_asked(db: Path, tmp_path: Path) -> None:
    with Memory(db) as m:
        run = m.start_run("eval", "/repo", "fix bug", "abc")
        task = m.start_task(run, "fix bug", "cheap", "strong", 1, "bug_fix", "<15 min fix")
        m.record_call(run, task, call("implementer", "cheap", Decimal("0.5"), 1000))
        m.finish_task(task, "trusted", True, "", "diff")
        production = build_ledger(m, by="model")
        everything = build_ledger(m, by="model", include_eval=True)
    # Production numbers are exactly the ones without the eval run (see test_by_model_all_time).
    assert (production.total.spend_usd, production.total.attempts, production.total.trusted) == (Decimal("2.281"), 4, 2)
    assert (everything.total.spend_usd, everything.total.attempts, everything.total.trusted) == (Decimal("2.781"), 5, 3)
    assert rows(everything)["cheap"] == (Decimal("1.051"), 7, 3, 2, Decimal("0.525500"))
    (tmp_path / "harness.toml").write_text(TOML)
    plain = CliRunner().invoke(build_app(), ["report", "--repo", str(tmp_path), "--json"])
    both = CliRunner().invoke(build_app(), ["report", "--repo", str(tmp_path), "--json", "--include-eval"])
    assert Decimal(json.loads(plain.stdout)["total"]["spend_usd"]) == Decimal("2.281")
    assert json.loads(both.stdout)["include_eval"] is True
    assert Decimal(json.loads(both.stdout)["total"]["spend_usd"]) == Decimal("2.781")
