"""A fast fake job step: real Meter, ledger, memory and checkpoints; a scripted in-process model.

Used by the queue tests and benchmarks/queue_throughput.py where the Docker pipeline would only add minutes.
Run as `python -m harness.queue.fake ...` to get a worker process that a test can kill -9.
"""

from __future__ import annotations

import argparse
import sys
import time
from decimal import Decimal
from pathlib import Path

from harness.budget import Meter
from harness.config import BudgetsConfig, QueueConfig
from harness.errors import BudgetExceeded
from harness.memory import Memory
from harness.models.pricing import Prices
from harness.queue.backend import open_backend
from harness.queue.records import Checkpoint, Lease, Outcome
from harness.queue.worker import JobContext, Pool, Step, WorkerOptions
from harness.records import ModelReply, ModelRequest, Usage

# One fake call: 1000 input + 100 output tokens at $1 / $4 per million = $0.0014.
FAKE_PRICES = Prices(input_per_mtok=Decimal(1), output_per_mtok=Decimal(4), cache_read_per_mtok=Decimal("0.1"),
                     cache_write_per_mtok=Decimal("1.25"))
FAKE_USAGE = Usage(input_tokens=1000, output_tokens=100)
# The system text makes the worst-case estimate exceed the billed cost, as with real prompts.
FAKE_REQUEST = ModelRequest(system="x" * 4000, messages=[], max_tokens=200)
CALL_COST = FAKE_PRICES.cost(FAKE_USAGE)
CALL_WORST_CASE = FAKE_PRICES.worst_case(len(FAKE_REQUEST.model_dump_json()) // 3 + 1, FAKE_REQUEST.max_tokens)


class FakeModel:
    """Answers every request after `latency_s` with the same usage."""

    provider = "scripted"
    model = "fake"

    def __init__(self, latency_s: float):
        self.latency_s = latency_s

    def complete(self, request: ModelRequest) -> ModelReply:
        """Sleep like a network call, then answer."""
        time.sleep(self.latency_s)
        return ModelReply(text="ok", usage=FAKE_USAGE)

    def close(self) -> None:
        """Nothing to release."""


def fake_step(memory_db: Path, calls: int = 3, latency_s: float = 0.0) -> Step:
    """A step of `calls` model calls: all but the last are the implementer's, then one review call.

    The implementer's finish is checkpointed, as the real pipeline saves its candidate diff,
    so a retried job pays only for the review.
    """
    budgets = BudgetsConfig(task_usd=Decimal(1000), run_usd=Decimal(1000), day_usd=Decimal(100000))

    def step(lease: Lease, ctx: JobContext) -> Outcome:
        saved = ctx.checkpoint() or Checkpoint()
        with Memory(memory_db) as memory:
            earlier = memory.run(saved.run_id) if saved.run_id else None
            if earlier is not None and earlier["status"] != "running":
                # Finished before its worker died, outcome unrecorded: record it, run nothing again.
                return Outcome(state="done", status=earlier["status"], reason=earlier["reason"],
                               run_id=saved.run_id, cost_usd=memory.run_spend(saved.run_id))
            run_id = memory.start_run("queue", "fake", lease.job.request, None)
            meter = Meter(memory, run_id, budgets, {"fake": FAKE_PRICES}, lease.job.max_cost, ledger=ctx.ledger)
            model = FakeModel(latency_s)
            status, reason = "trusted", "fake work done"
            if saved.fake_calls_done:
                # As the pipeline re-reports its resumed candidate: a later retry finds this run.
                ctx.save(saved.model_copy(update={"run_id": run_id}))
            try:
                for n in range(saved.fake_calls_done, calls):
                    meter.call("implementer" if n < calls - 1 else "reviewer", "fake", model, FAKE_REQUEST)
                    if n == calls - 2:
                        ctx.save(Checkpoint(fake_calls_done=n + 1, run_id=run_id))
            except BudgetExceeded as exc:
                status, reason = "budget_exceeded", str(exc)
            memory.finish_run(run_id, status, reason, {})
            cost = memory.run_spend(run_id)
        return Outcome(state="done", status=status, reason=reason, run_id=run_id, cost_usd=cost)

    return step


def main(argv: list[str] | None = None) -> int:
    """A fake-step worker process: prints its summary as JSON."""
    parser = argparse.ArgumentParser(prog="python -m harness.queue.fake")
    parser.add_argument("--queue-db", type=Path)
    parser.add_argument("--postgres")
    parser.add_argument("--memory", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--calls", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--cap", type=Decimal, default=Decimal(1000))
    parser.add_argument("--lease", type=float, default=2.0)
    parser.add_argument("--grace", type=float, default=20.0)
    parser.add_argument("--once", action="store_true")
    args = parser.parse_args(argv)
    config = QueueConfig(backend="postgres" if args.postgres else "sqlite", postgres_url=args.postgres,
                         path=str(args.queue_db or "queue.db"), lease_s=args.lease, poll_s=0.2)
    pool = Pool(lambda: open_backend(Path.cwd(), config), fake_step(args.memory, args.calls, args.latency),
                WorkerOptions(cap=args.cap, once=args.once, poll_s=0.2, lease_s=args.lease, grace_s=args.grace),
                on_event=lambda line: print(line, file=sys.stderr, flush=True))
    try:
        print(pool.run(args.workers).model_dump_json())
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
