"""Queue semantics on both backends (SQLite file, real PostgreSQL via procrastinate), fast fake step.

Worker processes are real `python -m harness.queue.fake` processes so they can be killed with -9.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from harness.config import QueueConfig
from harness.errors import UsageError
from harness.queue.backend import QueueBackend, open_backend
from harness.queue.fake import CALL_COST, CALL_WORST_CASE, fake_step
from harness.queue.records import JobSpec, Outcome, RunSummary, night_of, utcnow
from harness.queue.worker import Pool, WorkerOptions

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(params=["sqlite", "postgres"])
def queue_config(request: pytest.FixtureRequest, tmp_path: Path) -> QueueConfig:
    """A queue config per backend, with short leases so retries happen within a test."""
    if request.param == "sqlite":
        return QueueConfig(path=str(tmp_path / "queue.db"), lease_s=1.5, poll_s=0.1)
    base = request.getfixturevalue("pg_url")
    name = f"t{time.time_ns()}"
    subprocess.run([sys.executable, "-c", f"import psycopg; psycopg.connect({base!r}, autocommit=True)"
                    f".execute('CREATE DATABASE {name}')"], check=True)
    return QueueConfig(backend="postgres", postgres_url=base.rsplit("/", 1)[0] + "/" + name, lease_s=1.5, poll_s=0.1)


def backend(config: QueueConfig, tmp_path: Path) -> QueueBackend:
    return open_backend(tmp_path, config)


def add_jobs(config: QueueConfig, tmp_path: Path, n: int, **fields: object) -> list[str]:
    with backend(config, tmp_path) as b:
        return [b.add(JobSpec(request=f"job {i}", repo=str(tmp_path), config="harness.toml", **fields)).id
                for i in range(n)]


def worker_process(config: QueueConfig, tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    where = ["--postgres", config.postgres_url] if config.backend == "postgres" else ["--queue-db", config.path]
    return subprocess.Popen([sys.executable, "-m", "harness.queue.fake", *where, "--memory", str(tmp_path / "m.db"),
                             "--lease", str(config.lease_s), *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def memory_calls(tmp_path: Path) -> list[tuple[str, str, str]]:
    """(request, run status, cost) of every recorded call."""
    db = sqlite3.connect(tmp_path / "m.db")
    return db.execute("SELECT runs.request, runs.status, calls.cost_usd FROM calls JOIN runs ON runs.id = calls.run_id"
                      ).fetchall()


def run_pool(config: QueueConfig, tmp_path: Path, workers: int = 1, cap: Decimal = Decimal(100), calls: int = 3,
             latency: float = 0.0) -> RunSummary:
    pool = Pool(lambda: backend(config, tmp_path), fake_step(tmp_path / "m.db", calls, latency),
                WorkerOptions(cap=cap, once=True, poll_s=0.1, lease_s=config.lease_s))
    return pool.run(workers)


def test_two_workers_never_take_the_same_job(queue_config: QueueConfig, tmp_path: Path) -> None:
    ids = add_jobs(queue_config, tmp_path, 40)
    procs = [worker_process(queue_config, tmp_path, "--workers", "3", "--once", "--latency", "0.01") for _ in range(2)]
    summaries = [RunSummary.model_validate_json(p.communicate(timeout=120)[0]) for p in procs]

    taken = [job for s in summaries for job in s.jobs]
    assert sorted(taken, key=int) == sorted(ids, key=int)  # every job finished by exactly one worker
    assert all(s.done > 0 for s in summaries)  # both processes really worked
    runs = [request for request, _status, _cost in memory_calls(tmp_path)]
    assert all(runs.count(f"job {i}") == 3 for i in range(40))  # each job's 3 calls were made once
    with backend(queue_config, tmp_path) as b:
        assert {j.state for j in b.jobs()} == {"done"} and {j.attempts for j in b.jobs()} == {1}


def test_killed_worker_job_is_retried_and_finishes_once(queue_config: QueueConfig, tmp_path: Path) -> None:
    [job_id] = add_jobs(queue_config, tmp_path, 1)
    victim = worker_process(queue_config, tmp_path, "--calls", "3", "--latency", "0.6")
    with backend(queue_config, tmp_path) as b:
        deadline = time.monotonic() + 30
        while b.checkpoint(job_id) is None:  # the implementer's two calls are done; the review call is next
            assert time.monotonic() < deadline, victim.stderr.read() if victim.poll() is not None else "no progress"
            time.sleep(0.05)
        # Kill only once the review call's worst case is held: the call (0.6 s) is then in flight.
        while b.night_spend(night_of(utcnow())) < 2 * CALL_COST + CALL_WORST_CASE:
            assert time.monotonic() < deadline, "the review call never started"
            time.sleep(0.01)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        assert b.get(job_id).state == "running"  # the dead worker still holds the lease
    time.sleep(queue_config.lease_s + 0.5)

    summary = run_pool(queue_config, tmp_path, latency=0.01)

    assert summary.jobs == [job_id] and summary.done == 1
    with backend(queue_config, tmp_path) as b:
        job = b.get(job_id)
        assert job.state == "done" and job.attempts == 2 and job.outcome.status == "trusted"
        # Finishing is idempotent: the same outcome cannot be written again.
        charged = b.night_spend(night_of(utcnow()))
    calls = memory_calls(tmp_path)
    # Resumed from the checkpoint: two implementer calls before the kill, then only the review again.
    assert len(calls) == 3 and sum(Decimal(c) for _r, _s, c in calls) == 3 * CALL_COST
    # The review call in flight at the kill may have been billed: the ledger keeps its worst case.
    assert charged == 3 * CALL_COST + CALL_WORST_CASE
    assert job.outcome.cost_usd == CALL_COST  # the resumed run paid only for the review


def test_nightly_cap_stops_before_the_call_that_would_cross_it(queue_config: QueueConfig, tmp_path: Path) -> None:
    add_jobs(queue_config, tmp_path, 3)
    cap = 4 * CALL_COST + CALL_WORST_CASE  # five calls fit; the sixth's worst case would cross the cap

    summary = run_pool(queue_config, tmp_path, cap=cap)

    assert summary.stop_reason.startswith("nightly cap") and summary.done == 1 and summary.requeued == 1
    with backend(queue_config, tmp_path) as b:
        spent = b.night_spend(night_of(utcnow()))
        jobs = b.jobs()
    assert spent == 5 * CALL_COST <= cap < spent + CALL_WORST_CASE
    assert sum(Decimal(c) for _r, _s, c in memory_calls(tmp_path)) == spent
    assert [j.state for j in jobs] == ["done", "queued", "queued"]
    assert all("nightly cap" in j.note for j in jobs[1:])
    # The next night the interrupted job resumes from its checkpoint: one call, not three.
    with backend(queue_config, tmp_path) as b:
        assert b.checkpoint(jobs[1].id).fake_calls_done == 2


def test_cancel_and_not_before(queue_config: QueueConfig, tmp_path: Path) -> None:
    with backend(queue_config, tmp_path) as b:
        spec = {"repo": str(tmp_path), "config": "harness.toml"}
        now_job = b.add(JobSpec(request="now", **spec))
        cancelled = b.add(JobSpec(request="cancelled", **spec))
        later = b.add(JobSpec(request="later", not_before=utcnow() + timedelta(hours=1), **spec))
        past = b.add(JobSpec(request="past", not_before=utcnow() - timedelta(minutes=1), **spec))
        assert b.cancel(cancelled.id).state == "cancelled"
        with pytest.raises(UsageError):
            b.cancel(cancelled.id)
        with pytest.raises(UsageError):
            b.cancel("999999")

    summary = run_pool(queue_config, tmp_path)

    assert sorted(summary.jobs) == sorted([now_job.id, past.id])
    with backend(queue_config, tmp_path) as b:
        states = {j.request: j.state for j in b.jobs()}
    assert states == {"now": "done", "cancelled": "cancelled", "later": "queued", "past": "done"}
    assert later.id not in summary.jobs
    assert {r for r, _s, _c in memory_calls(tmp_path)} == {"now", "past"}


def test_cancel_of_a_running_job_stops_before_its_next_call(queue_config: QueueConfig, tmp_path: Path) -> None:
    [job_id] = add_jobs(queue_config, tmp_path, 1)
    result: list[RunSummary] = []
    runner = threading.Thread(target=lambda: result.append(run_pool(queue_config, tmp_path, calls=10, latency=0.3)))
    runner.start()
    with backend(queue_config, tmp_path) as b:
        while b.get(job_id).state != "running":
            time.sleep(0.02)
        time.sleep(0.4)
        assert b.cancel(job_id).cancel_requested
    runner.join(30)

    assert result[0].cancelled == 1
    with backend(queue_config, tmp_path) as b:
        assert b.get(job_id).state == "cancelled"
    assert 1 <= len(memory_calls(tmp_path)) < 10


def test_outcome_is_written_once_and_only_by_the_lease_holder(queue_config: QueueConfig, tmp_path: Path) -> None:
    add_jobs(queue_config, tmp_path, 1, priority=1)
    [high] = add_jobs(queue_config, tmp_path, 1, priority=9)
    with backend(queue_config, tmp_path) as b:
        lease = b.claim("w1")
        assert lease is not None and lease.job.id == high  # priority first
        stranger = lease.model_copy(update={"token": "999999"})
        assert not b.finish(stranger, Outcome(state="done", status="trusted"))
        assert b.finish(lease, Outcome(state="done", status="trusted", cost_usd=Decimal("0.5")))
        assert not b.finish(lease, Outcome(state="failed", status="error"))
        assert b.get(high).outcome.status == "trusted" and b.get(high).state == "done"


def test_worker_lost_too_often_fails_the_job(queue_config: QueueConfig, tmp_path: Path) -> None:
    config = queue_config.model_copy(update={"max_attempts": 2, "lease_s": 0.5})
    [job_id] = add_jobs(config, tmp_path, 1)
    with backend(config, tmp_path) as b:
        for _ in range(2):
            lease = b.claim("dies")
            assert lease is not None and lease.job.id == job_id
            if config.backend == "postgres":  # a dead procrastinate worker stops beating; so does this one
                b.worker_id = None
            time.sleep(0.8)
        assert b.claim("next") is None
        job = b.get(job_id)
    assert job.state == "failed" and "lost 2 times" in job.outcome.reason


def test_fake_worker_prints_a_json_summary(queue_config: QueueConfig, tmp_path: Path) -> None:
    add_jobs(queue_config, tmp_path, 2)
    proc = worker_process(queue_config, tmp_path, "--once")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert json.loads(out)["done"] == 2


def test_a_job_capped_tonight_resumes_its_candidate_tomorrow(queue_config: QueueConfig, tmp_path: Path) -> None:
    add_jobs(queue_config, tmp_path, 1)
    assert run_pool(queue_config, tmp_path, cap=CALL_COST + CALL_WORST_CASE).requeued == 1  # two calls, then the cap

    summary = run_pool(queue_config, tmp_path)  # a higher cap, as on the next night

    assert summary.done == 1 and summary.trusted == 1
    assert len(memory_calls(tmp_path)) == 3  # implementer twice, review once: nothing paid twice


def _interrupt_during_first_call(config: QueueConfig, tmp_path: Path, latency: str, grace: str) -> tuple[
        str, subprocess.Popen[str], float]:
    """Start a worker with long leases, Ctrl-C it while its first model call is in flight; (job, worker, seconds)."""
    [job_id] = add_jobs(config, tmp_path, 1)
    long_lease = config.model_copy(update={"lease_s": 600.0})
    worker = worker_process(long_lease, tmp_path, "--calls", "3", "--latency", latency, "--grace", grace)
    with backend(config, tmp_path) as b:
        deadline = time.monotonic() + 30
        while b.night_spend(night_of(utcnow())) < CALL_WORST_CASE:  # the first call's hold: it is in flight
            assert time.monotonic() < deadline, worker.stderr.read() if worker.poll() is not None else "no call"
            time.sleep(0.01)
    started = time.monotonic()
    worker.send_signal(signal.SIGINT)
    worker.wait(timeout=60)
    return job_id, worker, time.monotonic() - started


def test_ctrl_c_requeues_a_running_job_before_its_next_call(queue_config: QueueConfig, tmp_path: Path) -> None:
    job_id, worker, _seconds = _interrupt_during_first_call(queue_config, tmp_path, latency="1.0", grace="30")

    assert worker.returncode == 130, worker.stderr.read()
    with backend(queue_config, tmp_path) as b:
        job = b.get(job_id)
        # Back in the queue at once (the lease is 600 s), not counted as an attempt.
        assert (job.state, job.attempts) == ("queued", 0) and "interrupted" in (job.note or "")
        # The call in flight was let finish and charged; no later call was started.
        assert b.night_spend(night_of(utcnow())) == CALL_COST
    assert [(status, Decimal(c)) for _r, status, c in memory_calls(tmp_path)] == [("budget_exceeded", CALL_COST)]

    summary = run_pool(queue_config, tmp_path, latency=0.01)

    assert summary.jobs == [job_id] and summary.trusted == 1
    with backend(queue_config, tmp_path) as b:
        assert (b.get(job_id).state, b.get(job_id).attempts) == ("done", 1)


def test_second_ctrl_c_puts_a_busy_job_back_without_waiting(queue_config: QueueConfig, tmp_path: Path) -> None:
    # The call in flight takes 20 s, the grace period 0.5 s: the stopping process requeues the job itself.
    job_id, worker, seconds = _interrupt_during_first_call(queue_config, tmp_path, latency="20", grace="0.5")

    assert worker.returncode == 130 and seconds < 15, worker.stderr.read()
    with backend(queue_config, tmp_path) as b:
        job = b.get(job_id)
        assert (job.state, job.attempts) == ("queued", 0) and "interrupted" in (job.note or "")
        # The abandoned call may still be billed: its worst case stays held against the night.
        assert b.night_spend(night_of(utcnow())) == CALL_WORST_CASE
    assert run_pool(queue_config, tmp_path, latency=0.01).trusted == 1
