"""Configuration and inputs of the deterministic guards."""

from __future__ import annotations

from pydantic import BaseModel, Field

from harness.records import Severity, TestComparison

DEFAULT_PROTECTED_PATHS = [
    ".github/**",
    "*.lock",
    "poetry.lock",
    "package-lock.json",
    "**/migrations/**",
    "harness.toml",
]

# Lockfiles and checksum files: full of hashes, so entropy checks would only produce noise.
DEFAULT_ENTROPY_SKIP_PATHS = [
    "*.lock",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "pnpm-lock.yaml",
    "go.sum",
    "*.sum",
    "*.svg",
    "*.min.js",
    "*.map",
]

DEFAULT_TEST_PATHS = [
    "tests/**",
    "test/**",
    "**/tests/**",
    "**/test/**",
    "test_*.py",
    "*_test.py",
    "conftest.py",
    "**/__tests__/**",
    "*.test.*",
    "*.spec.*",
]


class OverbuildConfig(BaseModel, extra="forbid"):
    """Weights and thresholds turning overbuilding metrics into a score.

    Only code nobody asked for counts: test files are excluded, and names that
    appear in the request are not penalised.
    """

    lines_per_point: int = Field(default=60, gt=0, description="added non-test lines worth one point")
    new_file_points: float = Field(default=1.0, ge=0)
    public_def_points: float = Field(default=0.5, ge=0)
    flag_points: float = Field(default=3.0, ge=0)
    config_key_points: float = Field(default=2.0, ge=0)
    dependency_points: float = Field(default=3.0, ge=0)
    score_minor: float = Field(default=4.0, ge=0, description="score at or above which a minor finding is raised")
    score_major: float = Field(default=8.0, ge=0, description="score at or above which the finding is major")
    flag_severity: Severity = "major"
    config_key_severity: Severity = "minor"
    dependency_severity: Severity = "major"


class GuardsConfig(BaseModel, extra="forbid"):
    """The `[guards]` section of harness.toml."""

    protected_paths: list[str] = Field(default_factory=lambda: list(DEFAULT_PROTECTED_PATHS))
    # Paths (globs) the user has allowed the agent to change even though they are protected.
    permitted_paths: list[str] = Field(default_factory=list)
    test_paths: list[str] = Field(default_factory=lambda: list(DEFAULT_TEST_PATHS))
    allow_test_edits: bool = False
    overbuild: OverbuildConfig = Field(default_factory=OverbuildConfig)
    entropy_min_length: int = Field(default=20, ge=8)
    entropy_threshold: float = Field(default=3.7, gt=0, description="bits per character, base64-like tokens")
    # Random keys switch between lower/upper/digit on most adjacent pairs; identifiers rarely do.
    entropy_min_class_changes: float = Field(default=0.3, ge=0, le=1)
    hex_entropy_threshold: float = Field(default=3.0, gt=0, description="bits per character, hex tokens on secret-named lines")
    entropy_skip_paths: list[str] = Field(default_factory=lambda: list(DEFAULT_ENTROPY_SKIP_PATHS))
    # Task kinds (as the classifier names them; case, "-" and "_" ignored) for which a change
    # must come with a test that fails on base.
    evidence_task_kinds: list[str] = Field(default_factory=lambda: ["bug_fix", "feature"])
    scope_check: bool = True


class GuardContext(BaseModel, extra="forbid"):
    """What the guards know besides the diff."""

    request: str
    files_read: list[str] = Field(default_factory=list)
    repo_files: list[str] = Field(default_factory=list)
    tests: TestComparison | None = None
    task_kind: str | None = None
