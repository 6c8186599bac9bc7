"""Provider faults: bounded retries, then a clear `provider unavailable` (exit 4) with spend recorded once."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path

from tests.conftest import run_cli
from tests.fake_models import FakeModels, reply, review, tool
from tests.test_do_e2e import ADD_TEST, FIX_ADD

REQUEST = "Fix add() so it returns the sum"


def calls(repo: Path) -> list[tuple]:
    db = sqlite3.connect(repo / "memory" / "harness.db")
    return db.execute("SELECT role, outcome, input_tokens, cost_usd FROM calls ORDER BY id").fetchall()


def test_rate_limit_waits_for_retry_after(repo: Path, fake: FakeModels) -> None:
    fake.script("openai", {"status": 429, "headers": {"retry-after": "2"}}, reply(FIX_ADD), reply(ADD_TEST),
                reply(tool("finish", summary="ok")))
    fake.script("anthropic", review("approve"))

    done = run_cli("do", REQUEST, "--json", cwd=repo)

    assert done.returncode == 0, done.stderr
    first, second = fake.times["openai"][:2]
    assert second - first >= 1.9
    assert len(calls(repo)) == 4


def test_connection_reset_is_retried(repo: Path, fake: FakeModels) -> None:
    fake.script("openai", {"fault": "reset"}, reply(FIX_ADD), reply(ADD_TEST), reply(tool("finish", summary="ok")))
    fake.script("anthropic", {"fault": "reset"}, review("approve"))

    done = run_cli("do", REQUEST, "--json", cwd=repo)

    assert done.returncode == 0, done.stderr
    assert len(fake.requests["openai"]) == 4 and len(fake.requests["anthropic"]) == 2


def test_read_timeout_exhausts_retries_with_exit_4(repo: Path, fake: FakeModels) -> None:
    text = (repo / "harness.toml").read_text().replace("request_timeout_s = 20", "request_timeout_s = 1")
    (repo / "harness.toml").write_text(text)
    slow = {**reply(FIX_ADD), "delay": 3}
    fake.script("openai", slow, slow, slow)

    done = run_cli("do", REQUEST, "--json", cwd=repo)

    assert done.returncode == 4, done.stderr
    assert "provider unavailable" in done.stderr and "Traceback" not in done.stderr
    assert json.loads(done.stdout)["status"] == "error"
    assert len(fake.requests["openai"]) == 3
    assert [c[1] for c in calls(repo)] == ["error"]


def test_truncated_stream_is_retried_and_its_tokens_charged_once(repo: Path, fake: FakeModels) -> None:
    cut = {**reply(FIX_ADD, usage={"input_tokens": 500}), "fault": "truncate"}
    fake.script("anthropic", cut, reply(FIX_ADD, usage={"input_tokens": 700, "output_tokens": 50}),
                reply(ADD_TEST), reply(tool("finish", summary="ok")))
    fake.script("openai", review("approve"))

    done = run_cli("do", REQUEST, "--json", "--implementer", "claude", "--reviewer", "gpt", cwd=repo)

    assert done.returncode == 0, done.stderr
    assert len(fake.requests["anthropic"]) == 4
    first = calls(repo)[0]
    # The cut-short answer's 500 input tokens and the retry's 700 are one recorded call.
    assert first[:3] == ("implementer", "ok", 1200)
    assert Decimal(first[3]) == (Decimal(1200) * 3 + Decimal(51) * 15) / 1_000_000


def test_truncated_every_time_is_provider_unavailable_with_partial_spend(repo: Path, fake: FakeModels) -> None:
    cut = {**reply(FIX_ADD, usage={"input_tokens": 400}), "fault": "truncate"}
    fake.script("anthropic", cut, cut, cut)

    done = run_cli("do", REQUEST, "--json", "--implementer", "claude", "--reviewer", "gpt", cwd=repo)

    assert done.returncode == 4
    result = json.loads(done.stdout)
    assert result["status"] == "error" and "provider unavailable" in result["reason"]
    # Three cut-short answers reported 400 input tokens (and 1 output token) each: charged once, in one row.
    assert calls(repo) == [("implementer", "error", 1200, str((Decimal(1200) * 3 + Decimal(3) * 15) / 1_000_000))]
    assert Decimal(result["cost_usd"]) == (Decimal(1200) * 3 + Decimal(3) * 15) / 1_000_000
