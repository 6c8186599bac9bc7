"""`harness route`, `harness report` and `harness bench routing`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from harness.commands.common import fail, repo_root
from harness.errors import HarnessError, UsageError

RepoOption = typer.Option(None, "--repo", help="Target repository (default: the git root above the current directory).")
ConfigOption = typer.Option(None, "--config", help="Config file (default: harness.toml at the repo root).")


def route(
    request: str = typer.Argument(..., help="What you want done, in plain words."),
    json_out: bool = typer.Option(False, "--json", help="Print the plan as JSON on stdout."),
    implementer: str | None = typer.Option(None, "--implementer", help="Force the first implementer."),
    reviewer: str | None = typer.Option(None, "--reviewer", help="Force the reviewer."),
    repo: Path | None = RepoOption,
    config: Path | None = ConfigOption,
) -> None:
    """Show the classification, the cascade plan and per-model expected cost and success. Runs nothing."""
    from harness.cascade import OutcomeStats
    from harness.classify import classify, history_from_memory
    from harness.config import find_config, load_config
    from harness.memory import Memory
    from harness.router import outcome_stats, plan_route

    try:
        root = repo_root(repo)
        cfg = load_config(find_config(root, config))
        db_path = cfg.memory.file_in(root)
        stats, history = OutcomeStats(), []
        if db_path.is_file():  # route only reads: never create a database as a side effect
            with Memory(db_path) as memory:
                stats, history = outcome_stats(memory), history_from_memory(memory)
        classification = classify(request, root, history)
        plan = plan_route(classification, cfg, stats, force_implementer=implementer, force_reviewer=reviewer)
    except HarnessError as exc:
        raise fail(exc) from None
    if json_out:
        typer.echo(plan.model_dump_json(indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    c = plan.classification
    console.print(f"[bold]kind[/] {c.kind}   [bold]difficulty[/] {c.difficulty}   confidence {c.confidence:.2f}")
    steps = "  ->  ".join(f"{m} (review: {plan.reviewers[m]})" for m in plan.cascade)
    console.print(f"[bold]plan[/] {steps}")
    per = "-" if plan.expected_cost_per_trusted_usd is None else f"${plan.expected_cost_per_trusted_usd:.4f}"
    console.print(f"expected success {plan.expected_success:.0%}, cost ${plan.expected_cost_usd:.4f}, "
                  f"per trusted change {per}")
    table = Table(title="candidates (one attempt each, incl. review)", title_justify="left")
    for col in ("model", "tier", "success", "cost", "$/trusted", "observed"):
        table.add_column(col, justify="left" if col in ("model", "tier") else "right")
    for line in plan.candidates:
        table.add_row(line.model, line.tier, f"{line.success:.0%}", f"${line.cost_usd:.4f}",
                      "-" if line.cost_per_trusted_usd is None else f"${line.cost_per_trusted_usd:.4f}",
                      str(line.observed))
    console.print(table)


def report(
    since: str | None = typer.Option(None, "--since", help="Only runs started on or after this date (YYYY-MM-DD)."),
    by: str = typer.Option("model", "--by", help="Group by model, kind, difficulty, week or role."),
    json_out: bool = typer.Option(False, "--json", help="Print the ledger as JSON on stdout."),
    html: Path | None = typer.Option(None, "--html", help="Also write a self-contained HTML report here."),
    morning: bool = typer.Option(False, "--morning", help="What the queue did overnight (see `harness queue`)."),
    include_eval: bool = typer.Option(False, "--include-eval", help="Also count `harness eval` runs (left out by default)."),
    failures: bool = typer.Option(False, "--failures", help="Not-trusted outcomes per stage, with evidence (docs/roles.md)."),
    scorecard: bool = typer.Option(False, "--scorecard", help="Per-model scorecard; --by model or role (docs/roles.md)."),
    repo: Path | None = RepoOption,
    config: Path | None = ConfigOption,
) -> None:
    """Spend, trusted changes and cost per trusted change from the memory database."""
    if failures or scorecard:
        from harness.commands.roles import roles_report

        return roles_report(failures, by, since, json_out, repo, config)
    if morning:
        from harness.commands.queue import morning as morning_report

        return morning_report(json_out, repo, config)
    from harness.config import find_config, load_config
    from harness.memory import Memory
    from harness.report import build_ledger, parse_since, render_terminal
    from harness.report_html import render_html

    try:
        root = repo_root(repo)
        cfg = load_config(find_config(root, config))
        db_path = cfg.memory.file_in(root)
        if not db_path.is_file():
            raise UsageError(f"no memory database at {db_path} (nothing has been recorded yet)")
        with Memory(db_path) as memory:
            ledger = build_ledger(memory, by=by, since=parse_since(since), include_eval=include_eval)
        if html is not None:
            try:
                html.write_text(render_html(ledger), encoding="utf-8")
            except OSError as exc:
                raise UsageError(f"cannot write {html}: {exc.strerror or exc}") from None
    except HarnessError as exc:
        raise fail(exc) from None
    if json_out:
        typer.echo(ledger.model_dump_json(indent=2))
        return
    from rich.console import Console

    render_terminal(ledger, Console())
    if html is not None:
        typer.echo(f"wrote {html}", err=True)


def bench_routing(
    tasks: Path = typer.Option(..., "--tasks", help="tasks.jsonl: id, repo, difficulty, problem_statement."),
    runs: Path = typer.Option(..., "--runs", help="runs.jsonl: id, model, resolved, cost_usd per (model, task)."),
    folds: int = typer.Option(5, "--folds", help="k of the k-fold replay."),
    seed: int = typer.Option(0, "--seed", help="Seed of the fold split and the detection draws."),
    detect_recall: float = typer.Option(0.8, "--detect-recall", min=0.0, max=1.0,
                                        help="Probability a failed attempt is caught."),
    false_alarm: float = typer.Option(0.05, "--false-alarm", min=0.0, max=1.0,
                                      help="Probability a good attempt is wrongly flagged."),
    review_cost: float = typer.Option(0.02, "--review-cost", min=0.0, help="Dollars added per attempt for review."),
    exclude: list[str] = typer.Option([], "--exclude", help="Leave a run out (repeatable)."),
    value: float = typer.Option(7.0, "--value", min=0.01,
                                help="With --budget-fraction 0: dollars one more trusted change is worth."),
    budget_fraction: float = typer.Option(
        0.4, "--budget-fraction", min=0.0,
        help="The policy: the most likely plan expected to cost at most this fraction of the most likely "
             "single model (learned on the training folds); 0 = use the --value trade-off instead."),
    flagged_last: str = typer.Option(
        "resolved", "--flagged-last",
        help="A correct last attempt wrongly flagged: 'resolved' (the correct patch is delivered, marked not "
             "trusted, and scored like a single model's) or 'unresolved'."),
    true_difficulty: bool = typer.Option(False, "--true-difficulty",
                                         help="Ablation: route on the human difficulty label, not the classifier's."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout."),
) -> None:
    """Replay recorded outcomes through the classifier and router (k-fold) against single models and the oracle."""
    from harness.cascade import DetectionModel
    from harness.replay import load, replay
    from harness.router import RoutingPolicy

    try:
        if flagged_last not in ("resolved", "unresolved"):
            raise UsageError(f"--flagged-last {flagged_last!r}: choose resolved or unresolved")
        task_list, run_map = load(tasks, runs, frozenset(exclude))
        result = replay(task_list, run_map, folds=folds, seed=seed,
                        detection=DetectionModel(recall=detect_recall, false_alarm=false_alarm,
                                                 review_cost_usd=review_cost,
                                                 flagged_last_succeeds=flagged_last == "resolved"),
                        policy=RoutingPolicy(value_usd=value, budget_fraction=budget_fraction or None),
                        true_difficulty=true_difficulty)
    except HarnessError as exc:
        raise fail(exc) from None
    if json_out:
        typer.echo(json.dumps(result.model_dump(mode="json"), indent=2))
        return
    from rich.console import Console

    from harness.replay_table import render_replay

    render_replay(result, Console())


def eval_command(
    model: str = typer.Option(..., "--model", help="The candidate model: a model name configured in harness.toml."),
    tasks: int = typer.Option(10, "--tasks", help="How many past tasks to re-run (newest first)."),
    max_cost: float | None = typer.Option(None, "--max-cost", min=0.0, help="Dollar cap per re-run task."),
    json_out: bool = typer.Option(False, "--json", help="Print the evaluation as JSON on stdout."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress on stderr."),
    repo: Path | None = RepoOption,
    config: Path | None = ConfigOption,
) -> None:
    """Re-run past tasks from memory with a candidate model, judged like any run; recorded as eval runs."""
    from decimal import Decimal

    from rich.console import Console

    from harness.commands.common import config_for, run_guarded
    from harness.evaluate import EvalReport, evaluate, render_eval
    from harness.progress import Progress

    console = Console(stderr=True, highlight=False, soft_wrap=True)

    def body() -> EvalReport:
        root = repo_root(repo)
        config_path, cfg = config_for(root, config)
        cap = Decimal(str(max_cost)) if max_cost is not None else None
        return evaluate(model, root, config_path, cfg, tasks, cap, Progress(quiet=quiet, console=console))

    result = run_guarded(body)
    if json_out:
        typer.echo(result.model_dump_json(indent=2))
        return
    render_eval(result, console)


def label(
    run_id: str = typer.Argument(..., help="The run whose tasks to label (from `harness runs`)."),
    kind: str = typer.Option(None, "--kind", help="bug_fix, feature, refactor, test, docs or chore."),
    difficulty: str = typer.Option(None, "--difficulty", help='"<15 min fix", "15 min - 1 hour", "1-4 hours" '
                                                              'or ">4 hours".'),
    repo: Path | None = RepoOption,
    config: Path | None = ConfigOption,
) -> None:
    """Correct the classifier: set a past run's kind and/or difficulty; later routing learns from it."""
    from harness.classify import DIFFICULTIES, KINDS
    from harness.config import find_config, load_config
    from harness.memory import Memory

    try:
        if kind is None and difficulty is None:
            raise UsageError("give --kind and/or --difficulty")
        for name, value, allowed in (("--kind", kind, KINDS), ("--difficulty", difficulty, DIFFICULTIES)):
            if value is not None and value not in allowed:
                raise UsageError(f"{name} must be one of: {', '.join(allowed)} (got {value!r})")
        root = repo_root(repo)
        db_path = load_config(find_config(root, config)).memory.file_in(root)
        if not db_path.is_file():
            raise UsageError(f"no memory at {db_path}: nothing to label")
        with Memory(db_path) as memory:
            if memory.run(run_id) is None:
                raise UsageError(f"no run {run_id!r} in memory (see `harness runs`)")
            changed = memory.relabel_run(run_id, kind, difficulty)
    except HarnessError as exc:
        raise fail(exc) from None
    typer.echo(f"run {run_id}: {changed} task(s) labelled " + ", ".join(v for v in (kind, difficulty) if v))


def register(app: typer.Typer) -> None:
    """Add `route`, `report`, `eval`, `label` and the `bench routing` sub-command to the CLI app."""
    app.command("route")(route)
    app.command("label")(label)
    app.command("report")(report)
    app.command("eval")(eval_command)
    bench = typer.Typer(help="On-demand benchmarks.", no_args_is_help=True)
    bench.command("routing")(bench_routing)
    app.add_typer(bench, name="bench")
