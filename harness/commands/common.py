"""Helpers shared by the CLI commands: one-line errors, repo and config lookup."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TypeVar

import typer

from harness.config import HarnessConfig, find_config, load_config
from harness.errors import HarnessError

T = TypeVar("T")


def fail(exc: HarnessError) -> typer.Exit:
    """Print a one-line error and return the Exit to raise (never a traceback on bad input)."""
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(exc.exit_code)


def run_guarded(body: Callable[[], T]) -> T:
    """Run a command body, turning deliberate errors into a one-line message and their exit code."""
    try:
        with sigterm_as_interrupt():
            return body()
    except HarnessError as exc:
        raise fail(exc) from None
    except KeyboardInterrupt:
        typer.echo("error: interrupted", err=True)
        raise typer.Exit(130) from None


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C so context managers (sandbox, memory) clean up the same way."""
    def handler(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (e.g. inside a test runner's worker): nothing to install
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def repo_root(repo: Path | None) -> Path:
    """The given repo, else the nearest directory holding .git, else the current directory."""
    if repo is not None:
        return repo
    here = Path.cwd()
    for candidate in (here, *here.parents):
        if (candidate / ".git").exists():
            return candidate
    return here


def config_for(repo: Path, explicit: Path | None) -> tuple[Path, HarnessConfig]:
    """Find and load the config for a repo; ConfigError with one line if missing or invalid."""
    path = find_config(repo, explicit)
    return path, load_config(path)
