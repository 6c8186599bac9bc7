"""`harness review-pr` and `harness pr-do`: the GitHub Actions jobs, run exactly as a workflow step does."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from harness import gitops
from harness.commands.common import config_for, run_guarded
from harness.config import CONFIG_FILENAME, HarnessConfig, load_config
from harness.errors import ConfigError, GitError, HarnessError, UsageError
from harness.github.client import GitHub
from harness.github.event import actions_env, load_event, pull_request_event, request_event
from harness.github.pr_do import PrDoOutcome, implement_request
from harness.github.review_pr import review_pull_request
from harness.progress import Progress
from harness.receipt import EXIT_CODES
from harness.secrets import redact, secret_env_values


def _token(token_env: str, required: bool) -> str:
    token = os.environ.get(token_env, "").strip()
    if not token and required:
        raise UsageError(f"no GitHub token in ${token_env} (pass the workflow's GITHUB_TOKEN through env:)")
    return token


def _secrets(token_env: str, token: str, config: HarnessConfig | None = None) -> list[str]:
    names = [token_env, *(m.api_key_env for m in (config.models.values() if config else []) if m.api_key_env)]
    return sorted({*secret_env_values(os.environ, names), *([token] if token else [])}, key=len, reverse=True)


def base_config(repo: Path, base_sha: str, explicit: Path | None) -> HarnessConfig:
    """harness.toml as the PR's *base* commit has it: a PR cannot change its own review's models or caps."""
    if explicit is not None:
        return config_for(repo, explicit)[1]
    try:
        text = gitops.git(repo, "show", f"{base_sha}:{CONFIG_FILENAME}")
    except GitError:
        raise ConfigError(f"the base commit {base_sha[:10]} has no {CONFIG_FILENAME}") from None
    with tempfile.TemporaryDirectory(prefix="harness-base-config-") as tmp:
        path = Path(tmp) / CONFIG_FILENAME
        path.write_bytes(text)
        return load_config(path)


# The options both Actions jobs take.
CheckoutOption = typer.Option(None, "--repo", help="The checked-out repository (default: current directory).")
TokenEnvOption = typer.Option("GITHUB_TOKEN", "--token-env", help="Environment variable holding the token.")
QuietOption = typer.Option(False, "--quiet", "-q", help="No progress on stderr.")


def review_pr_command(
    repo: Path = CheckoutOption,
    config: Path = typer.Option(None, "--config", help="Config file (default: harness.toml of the PR's base commit)."),
    token_env: str = TokenEnvOption,
    reviewer: str = typer.Option(None, "--reviewer", help="Force the reviewer model (never one that wrote the PR)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what would be posted; post nothing."),
    json_out: bool = typer.Option(False, "--json", help="Print the review outcome as JSON on stdout."),
    quiet: bool = QuietOption,
) -> None:
    """Review the pull request of a `pull_request` event: tests, guards, a cross-model review, then post."""
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    secrets: list[str] = []

    def body() -> int:
        env = actions_env(os.environ)
        event = pull_request_event(load_event(env.event_path))
        token = _token(token_env, required=not dry_run)
        secrets.extend(_secrets(token_env, token))
        root = gitops.repo_root(repo or Path.cwd())
        cfg = base_config(root, event.base_sha, config)
        secrets[:] = _secrets(token_env, token, cfg)
        github = GitHub(env.api_url, env.repository, token) if token else None
        try:
            outcome, plan = review_pull_request(event, env.repository, github, root, cfg, root, os.environ, secrets,
                                                reviewer, dry_run, Progress(quiet=quiet, console=console).stage)
        finally:
            if github is not None:
                github.close()
        if dry_run:
            typer.echo(redact(plan.model_dump_json(indent=2), secrets))
        elif json_out:
            typer.echo(redact(outcome.model_dump_json(indent=2, exclude={"diff"}), secrets))
        console.print(escape(redact(f"{outcome.status}: {outcome.reason or 'ok'} (run {outcome.run_id}, "
                                    f"${outcome.cost_usd:.4f})", secrets)))
        return EXIT_CODES.get(outcome.status, 1)

    _run_job(body, secrets)


def pr_do_command(
    repo: Path = CheckoutOption,
    config: Path = typer.Option(None, "--config", help="Config file (default: harness.toml at the repo root)."),
    token_env: str = TokenEnvOption,
    remote: str = typer.Option(None, "--remote", help="Where to push (default: $GITHUB_SERVER_URL/<repo>.git)."),
    json_out: bool = typer.Option(False, "--json", help="Print the outcome as JSON on stdout."),
    quiet: bool = QuietOption,
) -> None:
    """Implement the request of an `issue_comment` (`/harness ...`) or labeled issue, and open a PR."""
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    secrets: list[str] = []

    def body() -> int:
        env = actions_env(os.environ)
        event = request_event(load_event(env.event_path))
        token = _token(token_env, required=True)
        secrets.extend(_secrets(token_env, token))
        root = gitops.repo_root(repo or Path.cwd())
        config_path, cfg = config_for(root, config)
        secrets[:] = _secrets(token_env, token, cfg)
        remote_url = remote or f"{env.server_url.rstrip('/')}/{env.repository}.git"
        with GitHub(env.api_url, env.repository, token) as github:
            outcome: PrDoOutcome = implement_request(event, github, root, cfg, config_path, remote_url, token,
                                                     os.environ, secrets, Progress(quiet=quiet, console=console))
        if json_out:
            typer.echo(redact(outcome.model_dump_json(indent=2), secrets))
        console.print(escape(redact(f"{outcome.action}: {outcome.message}", secrets)))
        return EXIT_CODES.get(outcome.result.status, 1) if outcome.result else 0

    _run_job(body, secrets)


def _run_job(body: Callable[[], int], secrets: list[str]) -> None:
    """run_guarded, with the one-line error message redacted too (it may quote an API answer); a
    non-zero code from `body` is the process's exit code."""
    def inner() -> int:
        try:
            return body()
        except HarnessError as exc:
            exc.args = (redact(str(exc), secrets),)
            raise

    code = run_guarded(inner)
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add `review-pr` and `pr-do`."""
    app.command("review-pr")(review_pr_command)
    app.command("pr-do")(pr_do_command)
