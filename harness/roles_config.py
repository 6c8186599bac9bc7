"""Config sections of the roles layer: planning, risk gates, audit and model policy.

Kept apart from harness/config.py (which imports them) so the roles modules can use them without
importing the whole config. Every default keeps the harness's behaviour without these sections:
no planner, no auditor, no model restrictions, and only high-risk changes stop as `needs_human`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

RiskLevel = Literal["low", "medium", "high"]
Tier = Literal["cheap", "mid", "frontier"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlanningConfig(_Section):
    """`[planning]`: whether a planner runs, and how far it may look and split."""

    # Off unless turned on here or a planner model is named in [roles].
    enabled: bool = False
    # The tier a planner is chosen from when [roles] planner is not set (judgment, not labour).
    tier: Tier = "frontier"
    # Trivial requests (classified "<15 min fix") skip planning: the plan would cost more than it saves.
    skip_trivial: bool = True
    # Read-only tool calls the planner may make before it must submit its plan.
    max_steps: int = Field(default=8, gt=0)
    # Steps a larger request may be split into (1 turns splitting off).
    max_split: int = Field(default=4, ge=1, le=10)


class LevelPolicy(_Section):
    """What one risk level requires."""

    # The auditor (a third model) checks the review itself.
    audit: bool = False
    # The reviewer must be at least this tier; a weaker one is followed by a stronger review of
    # the risky hunks only (None: any reviewer will do).
    review_tier: Tier | None = None
    # The result may not be trusted automatically: it stops as `needs_human`.
    needs_human: bool = False


DEFAULT_HIGH_PATHS = [
    ".github/**", ".gitlab-ci.yml", ".circleci/**", "Jenkinsfile", "**/migrations/**", "migrations/**",
    "Dockerfile", "**/Dockerfile", "*.tf", "**/*.tf", "k8s/**", "helm/**", "deploy/**", "infra/**",
]
# Path words (split on / _ - .) that mark security- or money-sensitive code.
DEFAULT_HIGH_WORDS = ["auth", "authn", "authz", "oauth", "login", "password", "passwords", "crypto",
                      "cryptography", "payment", "payments", "billing", "secrets", "permissions"]
DEFAULT_MEDIUM_PATHS = ["pyproject.toml", "setup.py", "setup.cfg", "requirements*.txt", "package.json",
                        "Cargo.toml", "go.mod", "Gemfile", "*.lock", "**/__init__.py", "**/api/**", "api/**"]


class RiskConfig(_Section):
    """`[risk]`: deterministic signals that set a change's risk level, and the policy per level."""

    high_paths: list[str] = Field(default_factory=lambda: list(DEFAULT_HIGH_PATHS))
    high_words: list[str] = Field(default_factory=lambda: list(DEFAULT_HIGH_WORDS))
    # Dependency manifests and public API surface.
    medium_paths: list[str] = Field(default_factory=lambda: list(DEFAULT_MEDIUM_PATHS))
    # Changed lines (added + removed) at or above which a change is medium / high risk.
    medium_lines: int = Field(default=300, gt=0)
    high_lines: int = Field(default=1500, gt=0)
    # Deleting a file is at least medium risk.
    deletion_level: RiskLevel = "medium"
    # The classifier's confidence (the lower of its kind and difficulty probabilities) below which
    # the level goes up one step: the router is unsure what the request is. 0.2 is near-uniform
    # over the six kinds, so only really ambiguous requests are raised by default.
    min_confidence: float = Field(default=0.2, ge=0, le=1)
    low: LevelPolicy = Field(default_factory=LevelPolicy)
    medium: LevelPolicy = Field(default_factory=LevelPolicy)
    high: LevelPolicy = Field(default_factory=lambda: LevelPolicy(needs_human=True))
    # Extra review rounds the auditor may send back before its corrections are applied as they are.
    audit_retries: int = Field(default=1, ge=0, le=3)


class PolicyConfig(_Section):
    """`[policy]`: which models may be used at all, and which may see restricted paths.

    An entry matches a [models] name, its provider, its model id, or the host of its base_url
    (a provider's default host when base_url is unset), e.g. "api.openai.com" or "localhost".
    """

    # Empty: every configured model is allowed (unless denied).
    allow: list[str] = Field(default_factory=list)
    deny: list[str] = Field(default_factory=list)
    # Globs of paths whose contents may only be sent to `restricted_models`.
    restricted_paths: list[str] = Field(default_factory=list)
    # Entries (same matching as allow) of models that may see restricted paths.
    restricted_models: list[str] = Field(default_factory=list)
    # Lines shorter than this are not treated as identifying a restricted file (braces, imports...).
    min_line_chars: int = Field(default=12, ge=4)
