"""The shared daily cap ([budgets] ledger_url) on a real PostgreSQL: atomic across processes, before the call."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from harness.day_ledger import SharedDayLedger
from harness.errors import BudgetExceeded
from tests.conftest import run_cli
from tests.fake_models import FakeModels, reply, review, tool
from tests.test_do_e2e import ADD_TEST, FIX_ADD

REQUEST = "Fix add() so it returns the sum of its arguments"
PASSWORD = "ledger-pw-93a1f0"


@pytest.fixture
def ledger_url(pg_url: str) -> str:
    """A fresh database per test, its URL carrying a password (trust auth ignores it) to check redaction."""
    name = f"d{time.time_ns()}"
    with psycopg.connect(pg_url, autocommit=True) as db:
        db.execute(f"CREATE DATABASE {name}")
    return pg_url.replace("postgres@", f"postgres:{PASSWORD}@").rsplit("/", 1)[0] + "/" + name


def test_parallel_holds_never_cross_the_shared_cap(ledger_url: str) -> None:
    granted: list[bool] = []
    start = threading.Barrier(12)

    def one_process() -> None:
        with SharedDayLedger(ledger_url, Decimal("1.00")) as ledger:
            start.wait()
            try:
                ledger.reserve(Decimal("0.30"))
                granted.append(True)
                ledger.settle(Decimal("0.25"))
            except BudgetExceeded:
                granted.append(False)

    threads = [threading.Thread(target=one_process) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Holds of $0.30 against $1.00, settled at $0.25: whatever the interleaving, a fourth call's
    # worst case never fits ($0.75 + $0.30 > $1.00), so exactly three calls are made.
    with SharedDayLedger(ledger_url, Decimal("1.00")) as ledger:
        spent = ledger.spent()
    assert (granted.count(True), granted.count(False), spent) == (3, 9, Decimal("0.75"))


def test_another_machines_spend_stops_a_run_before_its_first_call(repo: Path, fake: FakeModels,
                                                                 ledger_url: str) -> None:
    with SharedDayLedger(ledger_url, Decimal("100")) as elsewhere:  # a parallel job spent $19.9999 today
        elsewhere.reserve(Decimal("19.9999"))
        elsewhere.settle(Decimal("19.9999"))

    done = run_cli("do", REQUEST, cwd=repo, env={"HARNESS_BUDGETS__LEDGER_URL": ledger_url})

    assert done.returncode == 3, done.stderr
    assert "budget exceeded: shared daily budget $20.00 would be crossed (spent $19.999900" in done.stderr
    assert fake.requests == {"anthropic": [], "openai": []}


def test_a_run_charges_the_shared_ledger_what_memory_records(repo: Path, fake: FakeModels, ledger_url: str) -> None:
    fake.script("openai", reply(FIX_ADD), reply(ADD_TEST), reply(tool("finish", summary="fixed and tested")))
    fake.script("anthropic", review("approve", summary="correct"))

    done = run_cli("do", REQUEST, "--json", cwd=repo, env={"HARNESS_BUDGETS__LEDGER_URL": ledger_url})

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    with SharedDayLedger(ledger_url, Decimal("20")) as ledger:
        assert ledger.spent() == Decimal(result["cost_usd"]) > 0
    # The URL's password is a secret: not in the output, not in memory.
    assert PASSWORD not in done.stdout + done.stderr
    assert PASSWORD.encode() not in (repo / "memory" / "harness.db").read_bytes()
    db = sqlite3.connect(repo / "memory" / "harness.db")
    assert db.execute("SELECT count(*) FROM calls").fetchone()[0] == 4


def test_an_unreachable_ledger_is_one_line_exit_2_before_any_call(repo: Path, fake: FakeModels) -> None:
    done = run_cli("do", REQUEST, cwd=repo,
                   env={"HARNESS_BUDGETS__LEDGER_URL": "postgresql://nobody:pw@127.0.0.1:1/none"})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("error: cannot use [budgets] ledger_url:")
    assert "pw@" not in done.stderr and fake.requests == {"anthropic": [], "openai": []}


def test_doctor_checks_the_shared_ledger(repo: Path, ledger_url: str) -> None:
    with SharedDayLedger(ledger_url, Decimal("100")) as elsewhere:
        elsewhere.reserve(Decimal("1.25"))
        elsewhere.settle(Decimal("1.25"))

    done = run_cli("doctor", cwd=repo, env={"HARNESS_BUDGETS__LEDGER_URL": ledger_url})
    down = run_cli("doctor", cwd=repo, env={"HARNESS_BUDGETS__LEDGER_URL": "postgresql://x:pw@127.0.0.1:1/none"})

    assert done.returncode == 0 and "ok   shared ledger: today $1.2500 of day_usd $20.00" in done.stdout
    assert down.returncode == 1 and "FAIL shared ledger: cannot use [budgets] ledger_url:" in down.stdout
    assert PASSWORD not in done.stdout + down.stdout
