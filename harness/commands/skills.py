"""`harness skills list` and `harness skills show NAME`."""

from __future__ import annotations

from pathlib import Path

import typer

from harness.commands.common import fail, repo_root
from harness.errors import HarnessError
from harness.skills import discover_skills, get_skill, render_skill

RepoOption = typer.Option(
    None, "--repo", help="Target repository (default: the git root above the current directory)."
)


def list_skills(repo: Path | None = RepoOption) -> None:
    """List every skill the harness would offer, with where it comes from."""
    try:
        skills = discover_skills(repo_root(repo))
    except HarnessError as exc:
        raise fail(exc) from None
    if not skills:
        typer.echo("no skills found")
        return
    width = max(len(name) for name in skills)
    for name, skill in skills.items():
        typer.echo(f"{name.ljust(width)}  [{skill.source}] {skill.description}")


def show_skill(name: str = typer.Argument(..., help="The skill's name."), repo: Path | None = RepoOption) -> None:
    """Print one skill in full, as the load_skill tool gives it to the model."""
    try:
        skill = get_skill(discover_skills(repo_root(repo)), name)
    except HarnessError as exc:
        raise fail(exc) from None
    typer.echo(f"({skill.source}: {skill.path})")
    typer.echo(render_skill(skill), nl=False)


def register(app: typer.Typer) -> None:
    """Add the `skills` sub-command group to the CLI app."""
    skills_app = typer.Typer(help="List and show the skills offered to the implementer.", no_args_is_help=True)
    skills_app.command("list")(list_skills)
    skills_app.command("show")(show_skill)
    app.add_typer(skills_app, name="skills")
