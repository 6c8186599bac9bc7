"""The real job step: one queued request through `harness do`'s pipeline, with the shared ledger.

The first attempt's finished candidate is checkpointed, so a job whose worker died between the
implementer and the review resumes from that diff instead of paying the implementer again.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from harness.config import HarnessConfig, load_config
from harness.errors import HarnessError
from harness.memory import Memory
from harness.pipeline import DoOptions, do, memory_path
from harness.progress import Progress
from harness.queue.records import Checkpoint, Lease, Outcome
from harness.queue.worker import JobContext, Step


def pipeline_step(environ: Mapping[str, str] | None = None, progress: Progress | None = None) -> Step:
    """A Step that runs the full pipeline for a job."""

    def step(lease: Lease, ctx: JobContext) -> Outcome:
        job = lease.job
        try:
            config = load_config(Path(job.config), dict(environ) if environ is not None else None)
        except HarnessError as exc:
            return Outcome(state="failed", status="error", reason=str(exc))
        saved = ctx.checkpoint()
        resume = saved is not None and bool(saved.diff)

        def on_candidate(run_id: str, implementer: str, diff: str) -> None:
            ctx.save(Checkpoint(implementer=implementer, diff=diff, run_id=run_id))

        options = DoOptions(request=job.request, repo=Path(job.repo), config_path=Path(job.config),
                            implementer=saved.implementer if resume and saved else None, max_cost=job.max_cost,
                            kind="queue", resume_diff=saved.diff if resume and saved else "")
        if saved is not None and saved.run_id:
            finished = _finished_or_abandoned(Path(job.repo), config, saved.run_id)
            if finished is not None:
                return finished
        try:
            result = do(options, config, progress or Progress(quiet=True), environ, ledger=ctx.ledger,
                        on_candidate=on_candidate)
        except HarnessError as exc:
            return Outcome(state="failed", status="error", reason=str(exc))
        return Outcome(state="done", status=result.status, reason=result.reason, run_id=result.run_id,
                       branch=result.branch, cost_usd=result.cost_usd)

    return step


def _finished_or_abandoned(repo: Path, config: HarnessConfig, run_id: str) -> Outcome | None:
    """The earlier attempt's run: its outcome if it finished (the worker died before recording it,
    so nothing is run or paid again), else it is marked interrupted and None is returned."""
    with Memory(memory_path(repo, config)) as memory:
        row = memory.run(run_id)
        if row is None:
            return None
        if row["status"] != "running":
            return Outcome(state="done", status=row["status"], reason=row["reason"], run_id=run_id,
                           branch=row["branch"], cost_usd=memory.run_spend(run_id))
        memory.finish_run(run_id, "interrupted", "its queue worker was lost; the job resumed from its candidate", {})
        return None
