"""harness.toml: pydantic models, loading, and HARNESS_* environment overrides."""

from __future__ import annotations

import os
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from harness.errors import ConfigError
from harness.github.options import GithubConfig
from harness.guards.options import GuardsConfig
from harness.roles_config import PlanningConfig, PolicyConfig, RiskConfig

CONFIG_FILENAME = "harness.toml"
ENV_PREFIX = "HARNESS_"


class Section(BaseModel):
    """Base for config sections: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


class ModelConfig(Section):
    """One `[models.NAME]` table."""

    provider: Literal["anthropic", "openai", "scripted"]
    model: str
    base_url: str | None = None
    api_key_env: str | None = None
    tier: Literal["cheap", "mid", "frontier"] = "mid"
    input_per_mtok: Decimal | None = None
    output_per_mtok: Decimal | None = None
    cache_read_per_mtok: Decimal | None = None
    cache_write_per_mtok: Decimal | None = None
    max_output_tokens: int = Field(default=8192, gt=0)
    # Only for provider = "scripted": a JSON transcript replayed instead of a real model.
    script: str | None = None

    @model_validator(mode="after")
    def _scripted_needs_script(self) -> ModelConfig:
        if self.provider == "scripted" and not self.script:
            raise ValueError("a scripted model needs `script` (path to its transcript)")
        return self


class RolesConfig(Section):
    """Default model names per role."""

    implementer: str
    reviewer: str
    # Optional judgment roles (harness/roles.py picks one by tier when unset): see docs/roles.md.
    planner: str | None = None
    auditor: str | None = None


class BudgetsConfig(Section):
    """Dollar limits, checked before every call against a worst-case estimate."""

    task_usd: Decimal = Field(default=Decimal("2.00"), ge=0)
    run_usd: Decimal = Field(default=Decimal("5.00"), ge=0)
    day_usd: Decimal = Field(default=Decimal("20.00"), ge=0)
    # A PostgreSQL URL: day_usd then also holds across every machine and parallel CI job that shares
    # it (each call's worst case is held there before the call). Set it from a secret, e.g.
    # HARNESS_BUDGETS__LEDGER_URL; empty: the daily cap counts this checkout's memory only.
    ledger_url: str = ""


class SandboxConfig(Section):
    """The Docker sandbox: image, test command and resource limits."""

    image: str = "harness-sandbox:latest"
    test_command: str = "python3 -m pytest -q"
    # For a runner other than pytest: where test_command writes a JUnit XML report (relative to the
    # repo or absolute), so new failures are told from old ones per test, not by exit code alone.
    junit_xml: str = ""
    # Reuse the suite's base outcomes saved by an earlier task on the same tree, image and command
    # (saves one suite run per task); turn off for a suite whose results depend on the time or host.
    reuse_base_tests: bool = True
    command_timeout_s: int = Field(default=120, gt=0)
    test_timeout_s: int = Field(default=600, gt=0)
    memory: str = "2g"
    # The writable space (the repo copy, /tmp, $HOME): size-capped tmpfs on a read-only root, so a
    # runaway write ends in "no space left" inside the container, never on the host. Counts as memory.
    disk: str = Field(default="2g", pattern=r"(?i)^\s*\d+(\.\d+)?\s*([bkmgt]i?b?)?\s*$")
    cpus: float = Field(default=1.0, gt=0)
    pids: int = Field(default=256, gt=0)
    workdir: str = "/repo"
    # Tracked files larger than this in total are refused: copying them in would dominate every run.
    max_repo_mb: float = Field(default=500.0, gt=0)


class AgentConfig(Section):
    """The implementer's loop limits."""

    max_steps: int = Field(default=40, gt=0)
    max_wall_s: float = Field(default=1800.0, gt=0)
    max_bad_turns: int = Field(default=3, gt=0)
    tool_output_chars: int = Field(default=12000, gt=200)
    max_retries: int = Field(default=3, ge=0)
    request_timeout_s: float = Field(default=300.0, gt=0)


class ReviewConfig(Section):
    """Review rounds and findings."""

    max_revisions: int = Field(default=1, ge=0)
    max_findings: int = Field(default=7, gt=0)
    # Severities that still allow an approve-with-comments to count as trusted.
    tolerated_severities: list[Literal["blocker", "major", "minor", "nit"]] = ["minor", "nit"]
    # Escalating to a stronger implementer starts only while the run has spent less than this.
    escalation_cap_usd: Decimal = Field(default=Decimal("2.00"), ge=0)
    # Lessons from earlier tasks given to the implementer and the reviewer (0 turns them off).
    max_lessons: int = Field(default=8, ge=0)


class RoutingConfig(Section):
    """How implementer and reviewer are chosen."""

    # learned: the router picks from memory's outcomes; fixed: always [roles].
    strategy: Literal["learned", "fixed"] = "learned"
    # Re-run a task with the next model of the cascade when an attempt is not trusted.
    escalate: bool = True


class MemoryConfig(Section):
    """Where the SQLite memory lives (relative paths are relative to the target repo)."""

    path: str = "memory/harness.db"

    def file_in(self, repo: Path) -> Path:
        """The database file for a repository (not created)."""
        path = Path(self.path)
        return path if path.is_absolute() else repo / path


class QueueConfig(Section):
    """The background queue (`harness queue`): where jobs live, the nightly cap, leases."""

    backend: Literal["sqlite", "postgres"] = "sqlite"
    # SQLite: a sibling of the memory database (relative paths are relative to the target repo).
    path: str = "memory/queue.db"
    postgres_url: str | None = None
    nightly_usd: Decimal = Field(default=Decimal("10.00"), ge=0)
    # A worker that misses heartbeats for lease_s loses its job to another worker.
    lease_s: float = Field(default=60.0, gt=0)
    max_attempts: int = Field(default=3, gt=0)
    poll_s: float = Field(default=5.0, gt=0)
    # After Ctrl-C (or SIGTERM), how long running jobs get to reach their next model call and requeue.
    interrupt_grace_s: float = Field(default=20.0, ge=0)

    @model_validator(mode="after")
    def _postgres_needs_url(self) -> QueueConfig:
        if self.backend == "postgres" and not self.postgres_url:
            raise ValueError("backend = \"postgres\" needs postgres_url")
        return self


class HarnessConfig(Section):
    """The whole of harness.toml."""

    models: dict[str, ModelConfig]
    roles: RolesConfig
    budgets: BudgetsConfig = Field(default_factory=BudgetsConfig)
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)
    agent: AgentConfig = Field(default_factory=AgentConfig)
    review: ReviewConfig = Field(default_factory=ReviewConfig)
    memory: MemoryConfig = Field(default_factory=MemoryConfig)
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    guards: GuardsConfig = Field(default_factory=GuardsConfig)
    queue: QueueConfig = Field(default_factory=QueueConfig)
    github: GithubConfig = Field(default_factory=GithubConfig)
    planning: PlanningConfig = Field(default_factory=PlanningConfig)
    risk: RiskConfig = Field(default_factory=RiskConfig)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)

    @model_validator(mode="after")
    def _roles_name_models(self) -> HarnessConfig:
        for role, name in (("implementer", self.roles.implementer), ("reviewer", self.roles.reviewer)):
            if name not in self.models:
                raise ValueError(f"roles.{role} = {name!r} is not a configured model")
        if self.roles.implementer == self.roles.reviewer:
            raise ValueError("roles.reviewer must be a different model from roles.implementer")
        for role, optional in (("planner", self.roles.planner), ("auditor", self.roles.auditor)):
            if optional is not None and optional not in self.models:
                raise ValueError(f"roles.{role} = {optional!r} is not a configured model")
        return self


def _apply_env_overrides(data: dict[str, Any], environ: dict[str, str]) -> dict[str, Any]:
    """Set nested keys from HARNESS_SECTION__KEY=value (double underscore separates levels)."""
    for key, value in sorted(environ.items()):
        if not key.startswith(ENV_PREFIX) or "__" not in key:
            continue
        path = [part.lower() for part in key[len(ENV_PREFIX):].split("__")]
        node = data
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{key}: cannot override a non-table value")
        node[path[-1]] = value
    return data


def _one_line(error: ValidationError, source: str) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{source}: {where}: {first['msg']}{more}"


def find_config(repo: Path, explicit: Path | None) -> Path:
    """The config file to use: --config if given, else harness.toml at the repo root."""
    path = explicit if explicit is not None else repo / CONFIG_FILENAME
    if not path.is_file():
        hint = "" if explicit else " (run `harness init` to write one)"
        raise ConfigError(f"no config file at {path}{hint}")
    return path


def load_config(path: Path, environ: dict[str, str] | None = None) -> HarnessConfig:
    """Read, override from the environment, and validate a harness.toml."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    data = _apply_env_overrides(data, dict(os.environ if environ is None else environ))
    try:
        return HarnessConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc, str(path))) from None
