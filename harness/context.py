"""The implementer's stable prompt prefix: skills index, repo map and lessons.

Built once per task and never changed between steps, so providers can cache it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.records import ToolSpec
from harness.repomap import build_repo_map
from harness.skills import LOAD_SKILL_TOOL, discover_skills, load_skill, skills_index

REPO_MAP_TOKENS = 1024


class TaskContext:
    """The prefix text plus the extra tools it brings (load_skill)."""

    def __init__(self, text: str, tools: dict[str, Callable[[dict[str, Any]], str]], specs: list[ToolSpec]):
        self.text = text
        self.tools = tools
        self.specs = specs


def build_context(repo: Path, request: str, lessons: list[str], cache_dir: Path | None,
                  map_root: Path | None = None) -> TaskContext:
    """Skills index, repo map and lessons for one request. Raises ConfigError for a broken skill."""
    skills = discover_skills(repo)
    parts = []
    if skills:
        parts.append(skills_index(skills))
    # The map shows what the sandbox holds (the base commit), not uncommitted work in the user's tree.
    repo_map = build_repo_map(map_root or repo, request, token_budget=REPO_MAP_TOKENS, cache_dir=cache_dir)
    if repo_map.strip():
        parts.append("## Repository map\n" + repo_map)
    if lessons:
        parts.append("## Lessons from earlier tasks in this repository\n" + "\n".join(f"- {x}" for x in lessons))
    tools: dict[str, Callable[[dict[str, Any]], str]] = {}
    specs: list[ToolSpec] = []
    if skills:
        tools["load_skill"] = lambda args: load_skill(skills, str(args.get("name", "")))
        specs.append(LOAD_SKILL_TOOL)
    return TaskContext("\n\n".join(parts), tools, specs)
