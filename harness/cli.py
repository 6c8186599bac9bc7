"""The `harness` command: a thin typer app; each command lives in harness/commands/."""

from __future__ import annotations

import typer

from harness.commands import github, history, lessons, queue, routing, run, setup, skills


def build_app() -> typer.Typer:
    """The CLI app with every command registered."""
    app = typer.Typer(help="A coding-agent harness with cross-model review.", no_args_is_help=True,
                      pretty_exceptions_enable=False, add_completion=False)
    for module in (run, setup, history, routing, skills, github, queue, lessons):
        module.register(app)
    return app


def main() -> None:
    """Console-script entry point."""
    build_app()()
