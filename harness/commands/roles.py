"""`harness report --failures` and `--scorecard`: the roles layer's views of memory (docs/roles.md)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from harness.commands.common import config_for, fail, repo_root
from harness.errors import HarnessError, UsageError


def roles_report(failures: bool, by: str, since: str | None, json_out: bool, repo: Path | None,
                 config: Path | None) -> None:
    """Print failure attribution per stage (`failures`) or the scorecard grouped `by` model or role."""
    from harness.attribution import failures as failure_table
    from harness.memory import Memory
    from harness.pipeline import memory_path
    from harness.report import parse_since
    from harness.scorecard import scorecard

    try:
        if not failures and by not in ("model", "role"):
            raise UsageError(f"--scorecard groups --by model or role, not {by!r}")
        root = repo_root(repo)
        _, cfg = config_for(root, config)
        path = memory_path(root, cfg)
        if not path.is_file():
            raise UsageError(f"no memory database at {path} (nothing has been recorded yet)")
        day = parse_since(since)
        start = day.isoformat() if day else None
        with Memory(path) as memory:
            data = failure_table(memory, start) if failures else {"by": by, "rows": scorecard(memory, by, start)}
    except HarnessError as exc:
        raise fail(exc) from None
    if json_out:
        typer.echo(json.dumps(data, indent=2, default=str))
        return
    console = Console()
    if failures:
        table = Table("stage", "count", "most recent reason", "evidence", title=f"failures ({data['total']})")
        for stage, entry in data["stages"].items():
            recent = entry["recent"][0] if entry["recent"] else {}
            table.add_row(stage, str(entry["count"]), recent.get("reason", "")[:80], recent.get("evidence", ""))
    else:
        table = Table("role", "model", "tasks", "trusted", "patterns", "overbuild", "self-fixed", "findings/task",
                      "revisions", "finished", title="scorecard")
        for r in data["rows"]:
            table.add_row(r["role"], r["model"], str(r["tasks"]), *(
                "-" if r[k] is None else f"{r[k]:.2f}" for k in (
                    "trusted", "followed_patterns", "overbuild_score", "self_corrected", "findings_per_task",
                    "revision_rounds", "finished")))
    console.print(table)
