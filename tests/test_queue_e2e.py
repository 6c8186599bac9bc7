"""`harness queue` end to end: the real CLI, the fake model server, the real Docker sandbox and git."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import FAKE_KEYS, config_text, git, run_cli
from tests.fake_models import FakeModels, reply, review, tool
from tests.test_do_e2e import ADD_TEST, FIX_ADD

REQUEST = "Fix add() so it returns the sum of its arguments"


def test_queue_run_once_produces_a_trusted_branch_and_a_morning_report(repo: Path, fake: FakeModels) -> None:
    fake.script("openai", reply(FIX_ADD), reply(ADD_TEST), reply(tool("finish", summary="fixed and tested")))
    fake.script("anthropic", review("approve", summary="correct"))
    assert run_cli("queue", "add", REQUEST, "--priority", "3", cwd=repo).returncode == 0
    assert run_cli("queue", "add", "Something for tomorrow", "--not-before", "2099-01-01T00:00", cwd=repo).returncode == 0

    done = run_cli("queue", "run", "--once", "--json", cwd=repo)

    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["done"], summary["trusted"], summary["stop_reason"]) == (1, 1, "drained")
    jobs = {j["request"]: j for j in json.loads(run_cli("queue", "list", "--json", cwd=repo).stdout)}
    first = jobs[REQUEST]
    assert first["state"] == "done" and first["outcome"]["status"] == "trusted"
    assert "return a + b" in git(repo, "show", f"{first['outcome']['branch']}:calc.py")
    assert jobs["Something for tomorrow"]["state"] == "queued"
    # The job's run is in memory, linked by id, and the ledger charged exactly what memory recorded.
    db = sqlite3.connect(repo / "memory" / "harness.db")
    assert db.execute("SELECT kind, status FROM runs WHERE id = ?", (first["outcome"]["run_id"],)).fetchone() == (
        "queue", "trusted")
    morning = json.loads(run_cli("report", "--morning", "--json", cwd=repo).stdout)
    assert [j["id"] for j in morning["trusted"]] == [first["id"]]
    assert morning["spent_usd"] == first["outcome"]["cost_usd"] == morning["cost_per_trusted_usd"]
    assert [j["request"] for j in morning["waiting"]] == ["Something for tomorrow"]


def test_job_killed_after_the_implementer_resumes_from_its_candidate(repo: Path, fake: FakeModels) -> None:
    (repo / "harness.toml").write_text(config_text(fake.url, extra="[queue]\nlease_s = 2\npoll_s = 0.2\n"))
    git(repo, "commit", "-qam", "short leases")
    fake.script("openai", reply(FIX_ADD), reply(ADD_TEST), reply(tool("finish", summary="fixed and tested")))
    fake.script("anthropic", review("approve", summary="correct"))
    assert run_cli("queue", "add", REQUEST, cwd=repo).returncode == 0
    worker = subprocess.Popen([sys.executable, "-m", "harness", "queue", "run", "--once"], cwd=repo,
                              env={**os.environ, **FAKE_KEYS}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    queue_db = sqlite3.connect(repo / "memory" / "queue.db", timeout=30)
    try:
        deadline = time.monotonic() + 240
        # The candidate is saved when the implementer finishes; the head tests run before the review.
        while not queue_db.execute("SELECT checkpoint_json FROM jobs").fetchone()[0]:
            assert worker.poll() is None and time.monotonic() < deadline, worker.communicate()[1]
            time.sleep(0.05)
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    finally:
        # A killed worker cannot remove its sandbox: do it for it.
        ids = subprocess.run(["docker", "ps", "-aq", "--filter", "label=harness"], capture_output=True, text=True)
        for container in ids.stdout.split():
            labels = subprocess.run(["docker", "inspect", "-f", "{{json .Config.Labels}}", container],
                                    capture_output=True, text=True).stdout
            task_ids = [r[0] for r in sqlite3.connect(repo / "memory" / "harness.db").execute("SELECT id FROM tasks")]
            if any(t in labels for t in task_ids):
                subprocess.run(["docker", "rm", "-f", container], capture_output=True)
    assert len(fake.requests["openai"]) == 3 and not fake.requests["anthropic"]
    time.sleep(2.5)  # the lease expires

    done = run_cli("queue", "run", "--once", "--json", cwd=repo)

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["trusted"] == 1
    # No implementer call was paid again: the review saw the saved candidate.
    assert len(fake.requests["openai"]) == 3 and len(fake.requests["anthropic"]) == 1
    assert "return a + b" in json.dumps(fake.requests["anthropic"][0]["messages"])
    [job] = json.loads(run_cli("queue", "list", "--json", cwd=repo).stdout)
    assert job["attempts"] == 2 and job["outcome"]["status"] == "trusted"
    assert "return a + b" in git(repo, "show", f"{job['outcome']['branch']}:calc.py")
    runs = dict(sqlite3.connect(repo / "memory" / "harness.db").execute("SELECT id, status FROM runs").fetchall())
    assert sorted(runs.values()) == ["interrupted", "trusted"]
