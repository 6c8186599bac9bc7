"""Workers: claim a job, keep its lease alive, run it with the shared ledger, write the outcome once."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from harness.queue.backend import CallRefused, QueueBackend
from harness.queue.records import Checkpoint, Lease, Outcome, RunSummary, night_of, utcnow
from harness.records import Record


class JobLedger:
    """The Meter's SpendLedger for one job: each call's worst case is held against the nightly cap.

    Holds live in the queue store, so workers on other threads, processes or machines see them.
    """

    def __init__(self, backend: QueueBackend, lease: Lease, night: str, cap: Decimal,
                 stopping: threading.Event | None = None):
        self.backend, self.lease, self.night, self.cap = backend, lease, night, cap
        self.stopping = stopping or threading.Event()
        self.refused: CallRefused | None = None
        self.charged = Decimal(0)
        self._hold: int | None = None

    def reserve(self, worst_case: Decimal) -> None:
        """Hold `worst_case` or raise CallRefused (cap reached, job cancelled, lease lost)."""
        self.release()
        try:
            if self.stopping.is_set():
                raise CallRefused("interrupted", "the queue run was interrupted; stopped before the next call")
            self._hold = self.backend.reserve(self.lease, self.night, self.cap, worst_case)
        except CallRefused as exc:
            self.refused = exc
            raise

    def settle(self, actual: Decimal) -> None:
        """Charge the real cost in place of the hold."""
        if self._hold is not None:
            self.backend.settle(self._hold, actual)
            self._hold = None
            self.charged += actual

    def release(self) -> None:
        """Drop an open hold: its call raised without an answer, which providers do not bill."""
        if self._hold is not None:
            self.backend.settle(self._hold, Decimal(0))
            self._hold = None


class JobContext:
    """What a job step gets besides its lease: the ledger and its checkpoint."""

    def __init__(self, backend: QueueBackend, lease: Lease, ledger: JobLedger):
        self.backend, self.lease, self.ledger = backend, lease, ledger

    def checkpoint(self) -> Checkpoint | None:
        """Progress saved by an earlier, interrupted attempt."""
        return self.backend.checkpoint(self.lease.job.id)

    def save(self, checkpoint: Checkpoint) -> None:
        """Save progress so a retry resumes without re-paying."""
        self.backend.save_checkpoint(self.lease, checkpoint)


Step = Callable[[Lease, JobContext], Outcome]


class WorkerOptions(Record):
    """How `queue run` works: cap, time window, polling."""

    cap: Decimal
    until: datetime | None = None
    once: bool = False
    poll_s: float = 5.0
    lease_s: float = 60.0
    # After Ctrl-C, how long running jobs get to reach their next model call and requeue themselves.
    grace_s: float = 20.0


class Pool:
    """Worker threads sharing a summary and a stop flag; each thread has its own connections."""

    def __init__(self, open_backend: Callable[[], QueueBackend], step: Step, options: WorkerOptions,
                 on_event: Callable[[str], None] = lambda _: None):
        self.open_backend, self.step, self.options, self.on_event = open_backend, step, options, on_event
        self.summary = RunSummary()
        self.stop = threading.Event()
        # Set only by Ctrl-C/SIGTERM: unlike `stop` (drained, --until, cap), it also refuses running jobs' calls.
        self.interrupt = threading.Event()
        self._lock = threading.Lock()
        self._running: dict[str, Lease] = {}
        self.prefix = f"{socket.gethostname()}:{uuid.uuid4().hex[:6]}"

    def run(self, workers: int) -> RunSummary:
        """Run `workers` threads until drained (--once), --until, the cap, or an interrupt."""
        threads = [threading.Thread(target=self._work, args=(f"{self.prefix}/{n}",), daemon=True)
                   for n in range(1, workers + 1)]
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                while thread.is_alive():
                    thread.join(0.2)
        except KeyboardInterrupt:
            self._interrupted()
            raise
        if self.summary.stop_reason.startswith("nightly cap"):
            with self.open_backend() as backend:
                backend.note_queued(f"waiting: {self.summary.stop_reason}")
        return self.summary

    def _interrupted(self) -> None:
        """Ctrl-C: running jobs stop before their next model call and go back to the queue.

        Jobs still busy after the grace period (or at a second Ctrl-C) are put back from here, so no
        job waits for its lease to expire; their sandboxes go with this process (the next sandbox on
        this host removes them) and the retry resumes from the saved candidate.
        """
        self._stopping("interrupted")
        self.interrupt.set()
        if self._running:
            self.on_event(f"interrupted: {len(self._running)} running job(s) stop before their next model call "
                          f"and go back to the queue (up to {self.options.grace_s:.0f} s; Ctrl-C again to leave now)")
        deadline = time.monotonic() + self.options.grace_s
        try:
            # Not Thread.join: a join cut by KeyboardInterrupt can leave is_alive() wrongly False.
            while self._running and time.monotonic() < deadline:
                time.sleep(0.05)
        except KeyboardInterrupt:
            pass
        with self._lock:
            left = list(self._running.values())
            self._running.clear()
        if not left:
            return
        with self.open_backend() as backend:
            for lease in left:
                if backend.requeue(lease, "interrupted while running; resumes from its checkpoint"):
                    with self._lock:
                        self.summary.requeued += 1
                    self.on_event(f"job {lease.job.id}: interrupted; back in the queue")

    def _stopping(self, reason: str) -> None:
        with self._lock:
            if not self.summary.stop_reason:
                self.summary.stop_reason = reason
        self.stop.set()

    def _work(self, name: str) -> None:
        with self.open_backend() as backend:
            while not self.stop.is_set():
                now = utcnow()
                if self.options.until is not None and now >= self.options.until:
                    return self._stopping(f"reached --until {self.options.until.astimezone():%H:%M}")
                night = night_of(now)
                if backend.night_spend(night) >= self.options.cap:
                    return self._stopping(f"nightly cap ${self.options.cap} reached")
                lease = backend.claim(name)
                if lease is None:
                    if self.options.once:
                        return self._stopping("drained")
                    self.stop.wait(self.options.poll_s)
                    continue
                self.on_event(f"{name} took job {lease.job.id} (attempt {lease.job.attempts})")
                self._run_one(backend, lease, night)

    def _run_one(self, backend: QueueBackend, lease: Lease, night: str) -> None:
        ledger = JobLedger(backend, lease, night, self.options.cap, self.interrupt)
        with self._lock:
            self._running[lease.job.id] = lease
        done = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(lease, done), daemon=True)
        beat.start()
        try:
            outcome = self.step(lease, JobContext(backend, lease, ledger))
        except Exception as exc:  # a job's crash must not take the worker down; it is recorded
            outcome = Outcome(state="failed", status="error", reason=f"{type(exc).__name__}: {exc}"[:500])
        finally:
            done.set()
            beat.join()
        ledger.release()
        with self._lock:
            if lease.job.id not in self._running:
                return  # put back in the queue by an interrupt that stopped waiting for it
        self._record(backend, lease, ledger, outcome)
        with self._lock:
            self._running.pop(lease.job.id, None)

    def _record(self, backend: QueueBackend, lease: Lease, ledger: JobLedger, outcome: Outcome) -> None:
        why = ledger.refused.why if ledger.refused else None
        job = lease.job.id
        with self._lock:
            self.summary.spent_usd += ledger.charged
        if why == "lost":
            self.on_event(f"job {job}: another worker holds it now; leaving it")
            return
        if why in ("cap", "interrupted"):
            saved = backend.checkpoint(job)
            if saved is not None and saved.run_id:
                # That run ended before a call: the retry must resume its candidate, not adopt its outcome.
                backend.save_checkpoint(lease, saved.model_copy(update={"run_id": None}))
            cap = why == "cap"
            backend.requeue(lease, f"waiting: nightly cap ${self.options.cap} reached" if cap else
                            "interrupted before a model call; resumes from its checkpoint")
            with self._lock:
                self.summary.requeued += 1
            self.on_event(f"job {job}: {'nightly cap reached' if cap else 'interrupted'}; back in the queue")
            if cap:
                self._stopping(f"nightly cap ${self.options.cap} reached")
            return
        if why == "cancelled":
            outcome = outcome.model_copy(update={"state": "cancelled", "status": "cancelled",
                                                 "reason": "cancelled while running; stopped before the next call"})
        if backend.finish(lease, outcome):
            with self._lock:
                field = {"done": "done", "failed": "failed", "cancelled": "cancelled"}[outcome.state]
                setattr(self.summary, field, getattr(self.summary, field) + 1)
                self.summary.trusted += outcome.status == "trusted"
                self.summary.jobs.append(job)
            self.on_event(f"job {job}: {outcome.state} ({outcome.status}) ${outcome.cost_usd:.4f}")
        else:
            self.on_event(f"job {job}: outcome already written elsewhere; not written again")

    def _heartbeat(self, lease: Lease, done: threading.Event) -> None:
        # Its own connection: the job's thread may hold the other one inside a long transaction.
        with self.open_backend() as backend:
            while not done.wait(self.options.lease_s / 3):
                if not backend.heartbeat(lease):
                    return
