"""`harness init`, `harness doctor` and `harness sandbox build`."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import typer

from harness import gitops
from harness.commands.common import config_for, run_guarded
from harness.config import CONFIG_FILENAME, BudgetsConfig, SandboxConfig
from harness.errors import HarnessError, UsageError
from harness.models.pricing import resolve_prices


def init_command(
    repo: Path = typer.Option(None, "--repo", help="Repository to write harness.toml into (default: here)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing harness.toml."),
) -> None:
    """Write a commented harness.toml into the repository."""
    def body() -> Path:
        root = gitops.repo_root(repo or Path.cwd())
        target = root / CONFIG_FILENAME
        if target.exists() and not force:
            raise UsageError(f"{target} already exists (use --force to overwrite)")
        target.write_text((resources.files("harness.templates") / "harness.toml").read_text())
        return target

    typer.echo(f"wrote {run_guarded(body)}")


def _check(name: str, ok: bool, detail: str, blocking: bool = True) -> bool:
    mark = "ok  " if ok else ("FAIL" if blocking else "warn")
    typer.echo(f"{mark} {name}: {detail}")
    return ok or not blocking


def _check_ledger(budgets: BudgetsConfig) -> bool:
    from harness.day_ledger import SharedDayLedger

    try:
        with SharedDayLedger(budgets.ledger_url, budgets.day_usd) as ledger:
            spent = ledger.spent()
    except HarnessError as exc:
        return _check("shared ledger", False, str(exc))
    return _check("shared ledger", True, f"today ${spent:.4f} of day_usd ${budgets.day_usd}, across every "
                                         "process that shares it")


def doctor_command(
    repo: Path = typer.Option(None, "--repo", help="Repository to check (default: here)."),
    config: Path = typer.Option(None, "--config", help="Config file (default: harness.toml at the repo root)."),
) -> None:
    """Check what a run needs: git repo, config, prices, API keys, docker daemon, sandbox image."""
    from harness.sandbox.host import docker_client, hidden_home_entries
    from harness.sandbox.image import RECIPE_LABEL, current_recipe_hash

    good = True
    root = repo or Path.cwd()
    try:
        root = gitops.repo_root(root)
        good &= _check("git", True, f"repository at {root}")
    except HarnessError as exc:
        good &= _check("git", False, str(exc))
    sandbox = SandboxConfig()
    try:
        _path, cfg = config_for(root, config)
        sandbox = cfg.sandbox
        good &= _check("config", True, f"{_path}: {len(cfg.models)} models, implementer {cfg.roles.implementer}, "
                                       f"reviewer {cfg.roles.reviewer}")
        for name, model in cfg.models.items():
            try:
                prices = resolve_prices(name, model)
                good &= _check(f"price {name}", True, f"${prices.input_per_mtok}/M in, ${prices.output_per_mtok}/M out")
            except HarnessError as exc:
                good &= _check(f"price {name}", False, str(exc))
            if model.api_key_env:
                is_set = bool(os.environ.get(model.api_key_env))
                in_roles = name in (cfg.roles.implementer, cfg.roles.reviewer)
                good &= _check(f"key {name}", is_set, f"{model.api_key_env} {'is set' if is_set else 'is not set'}",
                               blocking=in_roles)
        if cfg.budgets.ledger_url:
            good &= _check_ledger(cfg.budgets)
    except HarnessError as exc:
        good &= _check("config", False, str(exc))
    try:
        client = docker_client()
        good &= _check("docker", True, f"daemon {client.version().get('Version', '?')}")
        try:
            image = client.images.get(sandbox.image)
            fresh = (image.labels or {}).get(RECIPE_LABEL) == current_recipe_hash()
            good &= _check("sandbox image", True, f"{sandbox.image}" + ("" if fresh else
                           " (recipe changed: run `harness sandbox build`)"))
        except Exception:  # docker.errors.ImageNotFound and friends
            good &= _check("sandbox image", False, f"{sandbox.image} missing: run `harness sandbox build`")
        else:
            hidden = hidden_home_entries(client, sandbox.image)
            good &= _check("sandbox home", not hidden, "empty apart from shell start-up files" if not hidden else
                           f"the image's $HOME holds {', '.join(hidden[:5])}, which a sandbox cannot see: it mounts "
                           "an empty, size-capped $HOME; install tools outside $HOME", blocking=False)
        client.close()
    except HarnessError as exc:
        good &= _check("docker", False, str(exc))
    if not good:
        raise typer.Exit(1)


def sandbox_build_command(
    tag: str = typer.Option("harness-sandbox:latest", "--tag", help="Image tag to build."),
    force: bool = typer.Option(False, "--force", help="Rebuild even when the recipe is unchanged "
                                                       "(with --repo: only the deps image)."),
    repo: Path = typer.Option(None, "--repo", help="Also build this repo's deps image (its test requirements "
                                                   "pip-installed once; needs network); used automatically."),
) -> None:
    """Build the sandbox image locally (debootstrap + docker import + Dockerfile); cached when unchanged."""
    from harness.sandbox.image import build_image, build_repo_image

    def log(line: str) -> None:
        typer.echo(line, err=True)

    typer.echo(run_guarded(lambda: build_image(tag, log=log, force=force and repo is None)))
    if repo is not None:
        typer.echo(run_guarded(lambda: build_repo_image(tag, repo, log=log, force=force)))


def sandbox_recipe_command() -> None:
    """Print the hash of the sandbox image's recipe (what `sandbox build` labels the image with): a cache key."""
    from harness.sandbox.image import current_recipe_hash

    typer.echo(run_guarded(current_recipe_hash))


def register(app: typer.Typer) -> None:
    """Add `init`, `doctor` and the `sandbox` sub-commands."""
    app.command("init")(init_command)
    app.command("doctor")(doctor_command)
    sandbox = typer.Typer(help="Sandbox image management.", no_args_is_help=True)
    sandbox.command("build")(sandbox_build_command)
    sandbox.command("recipe")(sandbox_recipe_command)
    app.add_typer(sandbox, name="sandbox")


