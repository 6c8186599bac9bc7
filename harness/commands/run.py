"""`harness do` and `harness demo`."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from harness import gitops
from harness.commands.common import config_for, run_guarded
from harness.errors import UsageError
from harness.pipeline import DoOptions, do
from harness.progress import Progress
from harness.receipt import EXIT_CODES
from harness.records import RunResult


def _money(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise UsageError(f"--max-cost {text!r} is not a dollar amount") from None
    if value < 0:
        raise UsageError("--max-cost must not be negative")
    return value


def render_summary(result: RunResult, console: Console) -> None:
    """The human receipt on stderr."""
    colour = {"trusted": "green", "not_trusted": "yellow"}.get(result.status, "red")
    console.print(f"\n[bold {colour}]{result.status.replace('_', ' ')}[/]  run {result.run_id}  "
                  f"${result.cost_usd:.4f}  ({result.tokens.input + result.tokens.cache_read} in / "
                  f"{result.tokens.output} out tokens)")
    if result.reason:
        console.print(f"  reason: {escape(result.reason)}")
    console.print(f"  implementer {result.implementer}, reviewer {result.reviewer}, rounds {result.rounds}")
    if result.tests:
        console.print("  tests " + escape(result.tests["summary"]).replace("\n", "\n        "))
    if result.review:
        console.print(f"  review: {result.review['verdict']}: {escape(result.review['summary'])}")
        for f in result.review["findings"]:
            console.print(escape(f"    [{f['severity']}] {f['path']}:{f['line']} {f['message']}"))
    for f in result.guards:
        console.print(escape(f"  guard [{f.severity}] {f.rule} {f.path}:{f.line} {f.message}"))
    if result.branch:
        console.print(f"  branch: {result.branch}   (git diff HEAD...{result.branch})")


def _finish(result: RunResult, json_out: bool, console: Console) -> None:
    render_summary(result, console)
    if json_out:
        typer.echo(result.model_dump_json(indent=2))
    code = EXIT_CODES.get(result.status, 1)
    if code:
        raise typer.Exit(code)


def do_command(
    request: str = typer.Argument(..., help="What you want done, in plain words."),
    repo: Path = typer.Option(None, "--repo", help="Target git repository (default: current directory)."),
    implementer: str = typer.Option(None, "--implementer", help="Force the implementer model (a [models] name)."),
    reviewer: str = typer.Option(None, "--reviewer", help="Force the reviewer model (a [models] name)."),
    config: Path = typer.Option(None, "--config", help="Config file (default: harness.toml at the repo root)."),
    json_out: bool = typer.Option(False, "--json", help="Print the result object as JSON on stdout."),
    apply: bool = typer.Option(False, "--apply", help="Also apply a trusted change to your working tree."),
    max_cost: str = typer.Option(None, "--max-cost", help="Dollar cap for this run (lower than [budgets] run_usd)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress on stderr."),
) -> None:
    """Implement REQUEST in a sandbox, test it, have another model review it, and leave a branch."""
    console = Console(stderr=True, highlight=False, soft_wrap=True)

    def body() -> RunResult:
        if not request.strip():
            raise UsageError("the request is empty")
        root = gitops.repo_root(repo or Path.cwd())
        config_path, cfg = config_for(root, config)
        options = DoOptions(request=request, repo=root, config_path=config_path, implementer=implementer,
                            reviewer=reviewer, apply=apply, max_cost=_money(max_cost))
        return do(options, cfg, Progress(quiet=quiet, console=console))

    _finish(run_guarded(body), json_out, console)


def demo_command(
    json_out: bool = typer.Option(False, "--json", help="Print the result object as JSON on stdout."),
    keep: bool = typer.Option(False, "--keep", help="Keep the demo repository (its path is printed)."),
) -> None:
    """Run the whole pipeline on a bundled sample repo with SCRIPTED models (no API keys needed)."""
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    console.print("[bold magenta]demo:[/] the implementer and reviewer are SCRIPTED transcripts, not real models; "
                  "the sandbox, tests, git, guards and memory are real.")

    def body() -> RunResult:
        demo = Path(str(resources.files("harness.demo")))
        workdir = Path(tempfile.mkdtemp(prefix="harness-demo-"))
        try:
            repo = workdir / "sample"
            shutil.copytree(demo / "sample_repo", repo)
            config_text = (demo / "harness.toml").read_text().replace("@SCRIPTS@", str(demo / "scripts"))
            (repo / "harness.toml").write_text(config_text)
            for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                         ["-c", "user.name=demo", "-c", "user.email=demo@localhost", "commit", "-q", "-m", "sample"]):
                subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)
            request = (demo / "request.txt").read_text().strip()
            console.print(f"[bold]request:[/] {request}\n[bold]repo:[/] {repo}")
            config_path, cfg = config_for(repo, None)
            options = DoOptions(request=request, repo=repo, config_path=config_path, kind="demo")
            return do(options, cfg, Progress(console=console))
        finally:
            if keep:
                console.print(f"demo repository kept at {workdir / 'sample'}")
            else:
                shutil.rmtree(workdir, ignore_errors=True)

    _finish(run_guarded(body), json_out, console)


def register(app: typer.Typer) -> None:
    """Add `do` and `demo`."""
    app.command("do")(do_command)
    app.command("demo")(demo_command)
