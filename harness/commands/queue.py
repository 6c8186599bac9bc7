"""`harness queue add/list/cancel/run/status` and the morning report behind `harness report --morning`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from harness import gitops
from harness.commands.common import config_for, repo_root, run_guarded
from harness.config import HarnessConfig
from harness.errors import UsageError
from harness.queue.backend import QueueBackend, open_backend
from harness.queue.records import (STATES, night_of, parse_money, parse_time, read_jobs_file, utcnow,
                                   validated_spec)

RepoOption = typer.Option(None, "--repo", help="Target repository; its harness.toml says where the queue is.")
ConfigOption = typer.Option(None, "--config", help="Config file (default: harness.toml at the repo root).")
JsonOption = typer.Option(False, "--json", help="Machine-readable output on stdout.")


@contextmanager
def _queue(repo: Path | None, config: Path | None) -> Iterator[tuple[Path, Path, HarnessConfig, QueueBackend]]:
    root = gitops.repo_root(repo_root(repo))
    config_path, cfg = config_for(root, config)
    with open_backend(root, cfg.queue) as backend:
        yield root, config_path.resolve(), cfg, backend


def add(
    request: str = typer.Argument(None, help="What you want done (omit with --from)."),
    from_file: Path = typer.Option(None, "--from", help="One request per line, or JSONL with \"request\" etc."),
    priority: int = typer.Option(0, "--priority", help="Higher runs first."),
    max_cost: str = typer.Option(None, "--max-cost", help="Dollar cap for this job."),
    not_before: str = typer.Option(None, "--not-before", help="Do not start before HH:MM or an ISO date-time."),
    repo: Path = RepoOption,
    config: Path = ConfigOption,
    json_out: bool = JsonOption,
) -> None:
    """Queue a request (or a file of them) for `harness queue run`."""
    def body() -> list[dict[str, object]]:
        if (request is None) == (from_file is None):
            raise UsageError("give a request or --from FILE (not both)")
        if request is not None and not request.strip():
            raise UsageError("the request is empty")
        items = read_jobs_file(from_file) if from_file else [{"request": request}]
        cap, after = parse_money(max_cost, "--max-cost"), parse_time(not_before, "--not-before") if not_before else None
        with _queue(repo, config) as (root, config_path, _cfg, backend):
            specs = []
            for item in items:
                target, target_config = root, config_path
                if "repo" in item:
                    target = gitops.repo_root(Path(str(item["repo"])).expanduser().resolve())
                    target_config = config_for(target, None)[0].resolve()
                when = parse_time(str(item["not_before"]), "not_before") if "not_before" in item else after
                specs.append(validated_spec(request=item["request"], repo=str(target), config=str(target_config),
                                            priority=item.get("priority", priority),
                                            max_cost=item.get("max_cost", cap), not_before=when))
            return [json.loads(backend.add(spec).model_dump_json()) for spec in specs]

    added = run_guarded(body)
    if json_out:
        typer.echo(json.dumps(added, indent=2))
    else:
        for job in added:
            typer.echo(f"queued #{job['id']}: {str(job['request']).splitlines()[0][:80]}", err=True)


def list_jobs(
    state: str = typer.Option(None, "--state", help=f"Only jobs in this state ({', '.join(STATES)})."),
    repo: Path = RepoOption,
    config: Path = ConfigOption,
    json_out: bool = JsonOption,
) -> None:
    """Every job: state, priority, attempts, cost and why it waits or ended."""
    def body() -> list[dict[str, object]]:
        if state is not None and state not in STATES:
            raise UsageError(f"--state must be one of {', '.join(STATES)}")
        with _queue(repo, config) as (_root, _path, _cfg, backend):
            return [json.loads(j.model_dump_json()) for j in backend.jobs([state] if state else None)]

    jobs = run_guarded(body)
    if json_out:
        typer.echo(json.dumps(jobs, indent=2))
        return
    console = Console(highlight=False, soft_wrap=True)
    for j in jobs:
        out = j["outcome"] or {}
        when = f" after {j['not_before'][:16]}" if j["not_before"] and j["state"] == "queued" else ""
        why = out.get("reason") or j["note"]
        console.print(f"#{j['id']:<5} {j['state']:<9} p{j['priority']:<3} tries {j['attempts']}  "
                      f"${Decimal(str(out.get('cost_usd', 0))):.4f}{when}  {escape(j['request'].splitlines()[0][:70])}"
                      + (f"\n       {escape(str(why)[:160])}" if why else ""))
    if not jobs:
        typer.echo("the queue is empty", err=True)


def cancel(job_id: str = typer.Argument(..., help="The job's id (from `queue list`)."),
           repo: Path = RepoOption, config: Path = ConfigOption) -> None:
    """Cancel a queued job; a running job stops before its next model call."""
    def body() -> str:
        with _queue(repo, config) as (_root, _path, _cfg, backend):
            job = backend.cancel(job_id)
            return "cancelled" if job.state == "cancelled" else "will stop before its next model call"

    typer.echo(f"job {job_id}: {run_guarded(body)}", err=True)


def run(
    workers: int = typer.Option(1, "--workers", min=1, max=64, help="Jobs run at once by this process."),
    until: str = typer.Option(None, "--until", help="Stop taking new jobs at HH:MM or an ISO date-time."),
    max_cost: str = typer.Option(None, "--max-cost", help="Nightly cap for this run (at most [queue] nightly_usd)."),
    once: bool = typer.Option(False, "--once", help="Drain what is runnable now, print a summary and exit."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress on stderr."),
    repo: Path = RepoOption,
    config: Path = ConfigOption,
    json_out: bool = JsonOption,
) -> None:
    """Work through the queue: budget-checked, crash-safe, until drained (--once), --until or the cap."""
    from harness.queue.job import pipeline_step
    from harness.queue.worker import Pool, WorkerOptions

    console = Console(stderr=True, highlight=False, soft_wrap=True)

    def body():  # type: ignore[no-untyped-def]
        stop_at = parse_time(until, "--until") if until else None
        cap_arg = parse_money(max_cost, "--max-cost")
        root = gitops.repo_root(repo_root(repo))
        _path, cfg = config_for(root, config)
        cap = cfg.queue.nightly_usd if cap_arg is None else min(cap_arg, cfg.queue.nightly_usd)
        open_backend(root, cfg.queue).close()  # a bad queue config fails here, in one line, not in a thread
        pool = Pool(lambda: open_backend(root, cfg.queue), pipeline_step(),
                    WorkerOptions(cap=cap, until=stop_at, once=once, poll_s=cfg.queue.poll_s,
                                  lease_s=cfg.queue.lease_s, grace_s=cfg.queue.interrupt_grace_s),
                    on_event=(lambda _line: None) if quiet else (lambda line: console.print(escape(line))))
        return pool.run(workers), cap

    summary, cap = run_guarded(body)
    if json_out:
        typer.echo(summary.model_dump_json(indent=2))
    console.print(f"[bold]queue run[/] stopped: {summary.stop_reason}. done {summary.done} (trusted "
                  f"{summary.trusted}), failed {summary.failed}, cancelled {summary.cancelled}, back in queue "
                  f"{summary.requeued}; spent ${summary.spent_usd:.4f} (nightly cap ${cap})")
    if summary.stop_reason.startswith("nightly cap"):
        raise typer.Exit(3)


def status(repo: Path = RepoOption, config: Path = ConfigOption, json_out: bool = JsonOption) -> None:
    """Counts per state, tonight's spend against the cap, and what is running."""
    def body() -> dict[str, object]:
        with _queue(repo, config) as (_root, _path, cfg, backend):
            jobs = backend.jobs()
            night = night_of(utcnow())
            return {"counts": {s: sum(j.state == s for j in jobs) for s in STATES}, "night": night,
                    "spent_usd": str(backend.night_spend(night)), "nightly_cap_usd": str(cfg.queue.nightly_usd),
                    "backend": cfg.queue.backend,
                    "running": [{"id": j.id, "attempts": j.attempts, "request": j.request[:80]}
                                for j in jobs if j.state == "running"]}

    info = run_guarded(body)
    if json_out:
        typer.echo(json.dumps(info, indent=2))
        return
    counts = ", ".join(f"{k} {v}" for k, v in info["counts"].items())  # type: ignore[union-attr]
    typer.echo(f"{info['backend']} queue: {counts}\nnight {info['night']}: spent ${info['spent_usd']} of "
               f"${info['nightly_cap_usd']}")
    for j in info["running"]:  # type: ignore[union-attr]
        typer.echo(f"  running #{j['id']} (attempt {j['attempts']}): {j['request']}")


def morning(json_out: bool, repo: Path | None, config: Path | None) -> None:
    """`harness report --morning`: the night's trusted branches, the rest with reasons, spend vs cap."""
    from harness.queue.report import morning_report, render_morning

    def body():  # type: ignore[no-untyped-def]
        with _queue(repo, config) as (_root, _path, cfg, backend):
            return morning_report(backend, cfg.queue.nightly_usd)

    report = run_guarded(body)
    if json_out:
        typer.echo(report.model_dump_json(indent=2))
    else:
        render_morning(report, Console(highlight=False, soft_wrap=True))


def register(app: typer.Typer) -> None:
    """Add the `queue` command group."""
    queue = typer.Typer(help="The background queue: add work in the evening, read `report --morning`.",
                        no_args_is_help=True)
    queue.command("add")(add)
    queue.command("list")(list_jobs)
    queue.command("cancel")(cancel)
    queue.command("run")(run)
    queue.command("status")(status)
    app.add_typer(queue, name="queue")
