"""`harness runs` and `harness show RUN_ID`: what memory holds."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from harness import gitops
from harness.commands.common import config_for, run_guarded
from harness.errors import UsageError
from harness.lessons import list_lessons
from harness.memory import Memory
from harness.pipeline import memory_path
from harness.receipt import models_used


def _memory(repo: Path | None, config: Path | None) -> Memory:
    root = gitops.repo_root(repo or Path.cwd())
    _path, cfg = config_for(root, config)
    path = memory_path(root, cfg)
    return Memory(path)


def runs_command(
    repo: Path = typer.Option(None, "--repo", help="Repository (default: here)."),
    config: Path = typer.Option(None, "--config", help="Config file."),
    limit: int = typer.Option(20, "--limit", help="How many runs to list."),
    json_out: bool = typer.Option(False, "--json", help="JSON on stdout."),
) -> None:
    """List recent runs: status, cost, models, branch."""
    def body() -> list[dict]:
        with _memory(repo, config) as memory:
            return [{**dict(r), "cost_usd": str(memory.run_spend(r["id"]))} for r in memory.runs(limit)]

    rows = run_guarded(body)
    if json_out:
        typer.echo(json.dumps([{k: v for k, v in r.items() if k != "result_json"} for r in rows], indent=2))
        return
    table = Table("run", "started", "status", "cost $", "implementer", "reviewer", "branch", "request")
    for r in rows:
        table.add_row(r["id"], r["started_at"][:19], r["status"], f"{Decimal(r['cost_usd']):.4f}",
                      r["implementer"] or "", r["reviewer"] or "", r["branch"] or "", r["request"][:40])
    Console().print(table)


def show_command(
    run_id: str = typer.Argument(..., help="Run id (a unique prefix is enough)."),
    repo: Path = typer.Option(None, "--repo", help="Repository (default: here)."),
    config: Path = typer.Option(None, "--config", help="Config file."),
    json_out: bool = typer.Option(False, "--json", help="JSON on stdout."),
) -> None:
    """Show one run's receipt: tests base->head, guards, reviews, models, every call and its cost."""
    def body() -> dict:
        with _memory(repo, config) as memory:
            run = memory.run(run_id)
            if run is None:
                raise UsageError(f"no run with id {run_id!r} in memory")
            calls = memory.calls(run["id"])
            tasks = []
            for t in memory.tasks(run["id"]):
                models = models_used(memory, t["id"])
                tasks.append({**{k: t[k] for k in t.keys() if k != "diff"},
                              "cost_usd": str(sum((Decimal(m["cost_usd"]) for m in models.values()), Decimal(0))),
                              "models": models,
                              "tests": [dict(x) for x in memory.test_runs(t["id"])],
                              "reviews": [dict(x) for x in memory.reviews(t["id"])],
                              "findings": [dict(x) for x in memory.findings(t["id"])]})
            cost = sum((Decimal(c["cost_usd"]) for c in calls), Decimal(0))
            cache_read = sum(c["cache_read_tokens"] for c in calls)
            all_input = sum(c["input_tokens"] + c["cache_read_tokens"] + c["cache_write_tokens"] for c in calls)
            result = json.loads(run["result_json"]) if run["result_json"] else {}
            lessons = [x.model_dump() for x in list_lessons(memory) if x.run_id == run["id"]]
            return {"run": {k: run[k] for k in run.keys() if k != "result_json"}, "cost_usd": str(cost),
                    "cache_hit_ratio": round(cache_read / all_input, 4) if all_input else 0.0,
                    "calls": [dict(c) for c in calls], "tasks": tasks,
                    # The per-change receipt written at the end of the run (checks, tests, guards, reviews).
                    "receipt": result.get("attempts", []), "lessons": lessons}

    data = run_guarded(body)
    if json_out:
        typer.echo(json.dumps(data, indent=2, default=str))
        return
    _print_show(data)


def _print_show(data: dict) -> None:
    console = Console(highlight=False, soft_wrap=True)
    run = data["run"]
    console.print(f"[bold]run {run['id']}[/] ({run['kind']}) {run['status']}: {escape(run['reason'])}")
    console.print(f"request: {escape(run['request'])}\nbase: {run['base_commit']}  branch: {run['branch']}")
    console.print(f"cost: ${Decimal(data['cost_usd']):.6f} over {len(data['calls'])} calls, "
                  f"cache hit ratio {data['cache_hit_ratio']:.0%}")
    for c in data["calls"]:
        console.print(f"  call {c['role']:<11} {c['model']:<16} in {c['input_tokens']:>7} out {c['output_tokens']:>6} "
                      f"cache r/w {c['cache_read_tokens']}/{c['cache_write_tokens']}  ${Decimal(c['cost_usd']):.6f}  "
                      f"{c['latency_ms']} ms  {c['outcome']}")
    receipts = {r.get("task_id"): r for r in data["receipt"]}
    for t in data["tasks"]:
        console.print(f"[bold]attempt {t['attempt']}[/] {t['implementer']} reviewed by {t['reviewer']}: "
                      f"{t['status']} ({escape(t['reason'])})  ${Decimal(t['cost_usd']):.6f}")
        decision = (receipts.get(t["id"]) or {}).get("decision") or {}
        if decision.get("checks"):
            console.print("  checks: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in decision["checks"].items()))
        for name, m in t["models"].items():
            console.print(f"  model {name}: {'/'.join(m['roles'])}, {m['calls']} calls, ${Decimal(m['cost_usd']):.6f}")
        for x in t["tests"]:
            console.print(f"  tests {x['phase']}: {x['passed']} passed, {x['failed']} failed, {x['errors']} errors")
        for x in t["reviews"]:
            console.print(f"  review round {x['round']} by {x['reviewer']}: {x['verdict']}: {escape(x['summary'])}")
        for f in t["findings"]:
            console.print(f"    round {f.get('round') or '?'} {f['source']} [{f['severity']}] {f['rule'] or f['category']} "
                          f"{f['path']}:{f['line']} {escape(f['message'])}")
    for x in data["lessons"]:
        console.print(f"lesson {x['id']} learned: {escape(x['text'])} ({x['scope']})")


def register(app: typer.Typer) -> None:
    """Add `runs` and `show`."""
    app.command("runs")(runs_command)
    app.command("show")(show_command)
