"""Queue throughput (workers 1/2/4, SQLite and PostgreSQL) and crash safety under repeated kill -9.

Usage: .venv/bin/python benchmarks/queue_throughput.py [--jobs 200] [--calls 3] [--latency 0.02] [--kill-every 1.5]
Each job is the fake step (harness/queue/fake.py): `--calls` scripted model calls of `--latency`
seconds each, through the real Meter, the shared ledger, memory and checkpoints; no Docker.
PostgreSQL runs on a throwaway local server (tests/queue_support.py) with durable settings.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named queue.py: drop its folder from the path so `import queue` finds the stdlib.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import signal  # noqa: E402
import sqlite3  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from contextlib import ExitStack  # noqa: E402
from decimal import Decimal  # noqa: E402

import psycopg  # noqa: E402

from harness.config import QueueConfig  # noqa: E402
from harness.queue.backend import open_backend  # noqa: E402
from harness.queue.fake import fake_step  # noqa: E402
from harness.queue.records import JobSpec, night_of, utcnow  # noqa: E402
from harness.queue.worker import Pool, WorkerOptions  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.queue_support import postgres_server  # noqa: E402  (test helper, importable from the checkout)


def fresh_config(backend: str, work: Path, pg_url: str | None, name: str, lease_s: float) -> QueueConfig:
    """An empty queue: a new SQLite file or a new PostgreSQL database."""
    if backend == "sqlite":
        return QueueConfig(path=str(work / f"{name}.db"), lease_s=lease_s, poll_s=0.1)
    assert pg_url is not None
    with psycopg.connect(pg_url, autocommit=True) as db:
        db.execute(f"CREATE DATABASE {name}")
    return QueueConfig(backend="postgres", postgres_url=pg_url.rsplit("/", 1)[0] + "/" + name, lease_s=lease_s,
                       poll_s=0.1)


def fill(config: QueueConfig, work: Path, jobs: int) -> None:
    with open_backend(work, config) as b:
        for n in range(jobs):
            b.add(JobSpec(request=f"job {n}", repo=str(work), config="harness.toml"))


def throughput(config: QueueConfig, work: Path, memory: Path, workers: int, args: argparse.Namespace) -> float:
    """Jobs per second for one pool of `workers` threads draining the queue."""
    fill(config, work, args.jobs)
    pool = Pool(lambda: open_backend(work, config), fake_step(memory, args.calls, args.latency),
                WorkerOptions(cap=Decimal(10_000), once=True, poll_s=0.1, lease_s=config.lease_s))
    started = time.perf_counter()
    summary = pool.run(workers)
    elapsed = time.perf_counter() - started
    assert summary.done == args.jobs, summary
    return args.jobs / elapsed


def chaos(config: QueueConfig, work: Path, memory: Path, args: argparse.Namespace) -> None:
    """Two worker processes; one is killed -9 every `kill_every` seconds and replaced, until drained."""
    fill(config, work, args.jobs)
    where = ["--postgres", config.postgres_url or ""] if config.backend == "postgres" else ["--queue-db", config.path]
    command = [sys.executable, "-m", "harness.queue.fake", *where, "--memory", str(memory), "--workers", "2",
               "--calls", str(args.calls), "--latency", str(args.latency), "--lease", str(config.lease_s)]
    kills, started = 0, time.perf_counter()
    procs = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for _ in range(2)]
    with open_backend(work, config) as b:
        while any(j.state in ("queued", "running") for j in b.jobs()):
            time.sleep(args.kill_every)
            victim = procs[kills % 2]
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            procs[kills % 2] = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                                                stderr=subprocess.DEVNULL)
            kills += 1
        for proc in procs:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        jobs = b.jobs()
        charged = b.night_spend(night_of(utcnow()))
    db = sqlite3.connect(memory)
    calls = [Decimal(r[0]) for r in db.execute("SELECT cost_usd FROM calls")]
    finished_runs = Counter(r[0] for r in db.execute("SELECT request FROM runs WHERE status = 'trusted'"))
    # Outcomes are written once by construction; a second finished run of a job would mean work done twice.
    outcome_sum = sum((j.outcome.cost_usd for j in jobs if j.outcome), Decimal(0))
    retried = sum(j.attempts > 1 for j in jobs)
    once = all(j.state == "done" for j in jobs) and all(finished_runs[f"job {n}"] == 1 for n in range(args.jobs))
    print(f"  {config.backend:8} {kills} kills in {time.perf_counter() - started:.1f}s; {len(jobs)} jobs done, "
          f"{retried} retried; every job finished exactly once: {once}")
    print(f"  {'':8} charged ${charged}, recorded calls ${sum(calls, Decimal(0))} "
          f"(finished runs ${outcome_sum} + interrupted attempts ${sum(calls, Decimal(0)) - outcome_sum}); "
          f"charged - recorded = ${charged - sum(calls, Decimal(0))} (worst cases held for calls in flight at a kill)")


def main() -> None:
    """Print jobs/second per backend and worker count, then the kill -9 run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--calls", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--kill-every", type=float, default=1.5)
    parser.add_argument("--workers", default="1,2,4")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="harness-queue-bench-")))
        pg_url = stack.enter_context(postgres_server(durable=True))
        print(f"{args.jobs} jobs x {args.calls} scripted calls of {args.latency * 1000:.0f} ms; fake sandbox step")
        for backend in ("sqlite", "postgres"):
            base = None
            for workers in counts:
                name = f"{backend}_{workers}"
                rate = throughput(fresh_config(backend, work, pg_url, name, 30.0), work, work / f"{name}.mem.db",
                                  workers, args)
                base = base or rate
                print(f"  {backend:8} workers {workers}: {rate:7.1f} jobs/s   x{rate / base:.2f} of 1 worker")
        print(f"kill -9 of a worker process every {args.kill_every}s (2 processes x 2 workers, lease 1s):")
        for backend in ("sqlite", "postgres"):
            chaos(fresh_config(backend, work, pg_url, f"{backend}_chaos", 1.0), work, work / f"{backend}.chaos.db",
                  args)


if __name__ == "__main__":
    main()
