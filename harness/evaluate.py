"""`harness eval`: a personal benchmark of a candidate model on your own past tasks.

Past production runs in memory (their request and base commit) are re-run with the candidate as
the only implementer (no escalation), in the sandbox, judged by the same tests, guards and reviewer
as any `harness do`. Each re-run is recorded as a run of kind 'eval': `harness report` leaves those
out unless `--include-eval`, while the router's estimates (harness.router.outcome_stats) do use them,
grouped with the original attempts on the same request, so a new model earns its estimates before it
takes real work. An eval leaves no branch behind; each candidate diff stays in memory (tasks.diff).
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import Field

from harness import gitops
from harness.cascade import Record
from harness.config import HarnessConfig
from harness.errors import ConfigError, UsageError
from harness.memory import Memory
from harness.pipeline import DoOptions, do, memory_path
from harness.progress import Progress

# Runs whose outcome says something about the request: the trust layer reached a verdict.
JUDGED = ("trusted", "not_trusted")


class PastTask(Record):
    """A past production run to re-run: its request, base commit and what happened then."""

    run_id: str
    request: str
    base_commit: str
    status: str
    implementer: str | None
    reviewer: str | None
    cost_usd: Decimal


class EvalItem(Record):
    """The candidate's result on one past task, next to the original outcome."""

    source_run: str
    eval_run: str
    request: str
    status: str
    trusted: bool
    cost_usd: Decimal
    reason: str = ""
    original_status: str
    original_implementer: str | None
    original_cost_usd: Decimal


class EvalReport(Record):
    """What `harness eval --json` prints."""

    model: str
    tasks: int
    trusted: int
    cost_usd: Decimal
    cost_per_trusted_usd: Decimal | None
    original_trusted: int
    original_cost_usd: Decimal
    original_cost_per_trusted_usd: Decimal | None
    skipped: list[str] = Field(default_factory=list)
    items: list[EvalItem] = Field(default_factory=list)


def _per_trusted(cost: Decimal, trusted: int) -> Decimal | None:
    return (cost / trusted).quantize(Decimal("0.000001")) if trusted else None


def past_tasks(memory: Memory, repo: Path, limit: int) -> list[PastTask]:
    """The newest `limit` distinct (request, base commit) production runs of `repo` with a verdict."""
    rows = memory.db.execute(
        "SELECT r.id, r.request, r.base_commit, r.status, r.implementer, r.reviewer, "
        "(SELECT group_concat(c.cost_usd, ' ') FROM calls c WHERE c.run_id = r.id) AS costs "
        "FROM runs r WHERE r.kind != 'eval' AND r.repo = ? AND r.base_commit IS NOT NULL "
        f"AND r.status IN ({', '.join('?' for _ in JUDGED)}) ORDER BY r.started_at DESC, r.id",
        (str(repo), *JUDGED),
    )
    out: list[PastTask] = []
    seen: set[tuple[str, str]] = set()
    for r in rows:
        key = (r["request"], r["base_commit"])
        if key in seen:
            continue
        seen.add(key)
        cost = sum((Decimal(c) for c in (r["costs"] or "").split()), Decimal(0))
        out.append(PastTask(run_id=r["id"], request=r["request"], base_commit=r["base_commit"], status=r["status"],
                            implementer=r["implementer"], reviewer=r["reviewer"], cost_usd=cost))
        if len(out) >= limit:
            break
    return out


def _has_commit(repo: Path, commit: str) -> bool:
    done = subprocess.run(["git", "-C", str(repo), "cat-file", "-e", f"{commit}^{{commit}}"], capture_output=True)
    return done.returncode == 0


def _eval_config(config: HarnessConfig) -> HarnessConfig:
    """The same config with escalation off: the candidate alone is judged."""
    return config.model_copy(update={"routing": config.routing.model_copy(update={"escalate": False})})


def evaluate(model: str, repo: Path, config_path: Path, config: HarnessConfig, limit: int = 10,
             max_cost: Decimal | None = None, progress: Progress | None = None,
             environ: Mapping[str, str] | None = None) -> EvalReport:
    """Re-run up to `limit` past tasks with `model` as implementer and report against the originals.

    The reviewer is the original run's reviewer when it is configured and not the candidate, else
    the router's choice. Stops early when a budget is exceeded (the rest would be refused too).
    """
    if model not in config.models:
        raise ConfigError(f"--model {model!r} is not a configured model (choose from: {', '.join(sorted(config.models))})")
    if limit < 1:
        raise UsageError("--tasks must be at least 1")
    progress = progress or Progress(quiet=True)
    root = gitops.repo_root(repo)
    db = memory_path(root, config)
    if not db.is_file():
        raise UsageError(f"no memory database at {db}: there are no past tasks to re-run")
    with Memory(db) as memory:
        todo = past_tasks(memory, root, limit)
    if not todo:
        raise UsageError(f"no past task of {root} with a recorded base commit and verdict to re-run")
    cfg = _eval_config(config)
    items: list[EvalItem] = []
    skipped: list[str] = []
    for n, past in enumerate(todo, start=1):
        if not _has_commit(root, past.base_commit):
            skipped.append(f"{past.run_id}: base commit {past.base_commit[:12]} is not in this repository")
            continue
        progress.stage("eval", f"{n}/{len(todo)} {model} on run {past.run_id}: {past.request.splitlines()[0][:80]}")
        reviewer = past.reviewer if past.reviewer in config.models and past.reviewer != model else None
        options = DoOptions(request=past.request, repo=root, config_path=config_path, implementer=model,
                            reviewer=reviewer, kind="eval", base_commit=past.base_commit, max_cost=max_cost)
        result = do(options, cfg, progress, environ)
        if result.branch:
            gitops.git(root, "update-ref", "-d", f"refs/heads/{result.branch}")
        items.append(EvalItem(source_run=past.run_id, eval_run=result.run_id, request=past.request,
                              status=result.status, trusted=result.status == "trusted", cost_usd=result.cost_usd,
                              reason=result.reason, original_status=past.status,
                              original_implementer=past.implementer, original_cost_usd=past.cost_usd))
        if result.status == "budget_exceeded":
            skipped.extend(f"{p.run_id}: not run, a budget was exceeded" for p in todo[n:])
            break
    return _summary(model, items, skipped)


def _summary(model: str, items: list[EvalItem], skipped: list[str]) -> EvalReport:
    cost = sum((i.cost_usd for i in items), Decimal(0))
    original = sum((i.original_cost_usd for i in items), Decimal(0))
    trusted = sum(i.trusted for i in items)
    original_trusted = sum(i.original_status == "trusted" for i in items)
    return EvalReport(model=model, tasks=len(items), trusted=trusted, cost_usd=cost,
                      cost_per_trusted_usd=_per_trusted(cost, trusted), original_trusted=original_trusted,
                      original_cost_usd=original, original_cost_per_trusted_usd=_per_trusted(original, original_trusted),
                      skipped=skipped, items=items)


def render_eval(report: EvalReport, console: Any) -> None:
    """A table of the candidate's results per task, and the totals next to the original runs'."""
    from rich.table import Table

    table = Table(title=f"harness eval: {report.model} on {report.tasks} past task(s)", title_justify="left")
    for col in ("past run", "request", "then", "now", "cost now", "cost then"):
        table.add_column(col, justify="right" if col.startswith("cost") else "left")
    for i in report.items:
        table.add_row(i.source_run, i.request.splitlines()[0][:50],
                      f"{i.original_status} ({i.original_implementer})", i.status,
                      f"${i.cost_usd:.4f}", f"${i.original_cost_usd:.4f}")

    def per(value: Decimal | None) -> str:
        return "-" if value is None else f"${value:.4f}"

    console.print(table)
    console.print(f"{report.model}: {report.trusted}/{report.tasks} trusted, ${report.cost_usd:.4f}, "
                  f"per trusted change {per(report.cost_per_trusted_usd)}; originally {report.original_trusted}/"
                  f"{report.tasks} trusted, ${report.original_cost_usd:.4f}, per trusted change "
                  f"{per(report.original_cost_per_trusted_usd)}")
    for note in report.skipped:
        console.print(f"[yellow]skipped[/] {note}")
