"""`harness lessons` (list) and `harness lessons rm ID`: the evidenced lessons in memory."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from harness import gitops
from harness.commands.common import config_for, run_guarded
from harness.errors import UsageError
from harness.lessons import Lesson, list_lessons, remove_lesson
from harness.memory import Memory
from harness.pipeline import memory_path

RepoOption = typer.Option(None, "--repo", help="Repository (default: here).")
ConfigOption = typer.Option(None, "--config", help="Config file.")


def _open(repo: Path | None, config: Path | None) -> tuple[Path, Memory]:
    root = gitops.repo_root(repo or Path.cwd())
    _path, cfg = config_for(root, config)
    return root, Memory(memory_path(root, cfg))


def list_command(
    ctx: typer.Context,
    repo: Path = RepoOption,
    config: Path = ConfigOption,
    all_repos: bool = typer.Option(False, "--all", help="Lessons of every repository in this memory file."),
    json_out: bool = typer.Option(False, "--json", help="JSON on stdout."),
) -> None:
    """List the lessons given to later tasks: text, scope, task kind, and the run and finding behind each."""
    if ctx.invoked_subcommand is not None:
        return

    def body() -> list[Lesson]:
        root, memory = _open(repo, config)
        with memory:
            return list_lessons(memory, None if all_repos else str(root))

    lessons = run_guarded(body)
    if json_out:
        typer.echo(json.dumps([x.model_dump() for x in lessons], indent=2))
        return
    console = Console(highlight=False, soft_wrap=True)
    if not lessons:
        console.print("no lessons yet: they are written only when a run has evidence for one")
        return
    for x in lessons:
        console.print(f"[bold]{x.id}[/] {escape(x.text)}")
        console.print(f"    scope {escape(x.scope)}, kind {x.task_kind or 'any'}, {x.origin}; run {x.run_id}"
                      f"{f', finding {x.finding_id}' if x.finding_id else ''}: {escape(x.evidence)}")


def rm_command(
    lesson_id: int = typer.Argument(..., help="The lesson's id (see `harness lessons`)."),
    repo: Path = RepoOption,
    config: Path = ConfigOption,
) -> None:
    """Remove one lesson so no later task is given it."""
    def body() -> None:
        _root, memory = _open(repo, config)
        with memory:
            if not remove_lesson(memory, lesson_id):
                raise UsageError(f"no lesson with id {lesson_id}")

    run_guarded(body)
    typer.echo(f"removed lesson {lesson_id}")


def register(app: typer.Typer) -> None:
    """Add the `lessons` command (lists) with its `rm` sub-command."""
    lessons_app = typer.Typer(help="List or remove the lessons learned from earlier runs.",
                              invoke_without_command=True)
    lessons_app.callback()(list_command)
    lessons_app.command("rm")(rm_command)
    app.add_typer(lessons_app, name="lessons")
