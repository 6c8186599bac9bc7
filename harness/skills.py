"""Skills: SKILL.md folders (agentskills format) found in four places, loaded on demand.

Only each skill's name and description go into the stable prompt prefix
(`skills_index`); the model asks for a whole skill with the `load_skill` tool.

Locations, lowest precedence first (a later one wins when names collide):
  1. built-in:  harness/builtin_skills/NAME/SKILL.md (shipped inside the package)
  2. user:      $HARNESS_SKILLS_DIR, else $XDG_CONFIG_HOME/harness/skills,
                else ~/.config/harness/skills
  3. repo:      <repo>/skills/NAME/SKILL.md
  4. repo-harness: <repo>/.harness/skills/NAME/SKILL.md
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Literal

import frontmatter
import yaml
from pydantic import BaseModel, ConfigDict

from harness.errors import ConfigError, UsageError
from harness.records import ToolSpec

SkillSource = Literal["builtin", "user", "repo", "repo-harness"]
SKILL_FILE = "SKILL.md"
# agentskills.io: 1-64 chars of a-z, 0-9 and single hyphens, not at either end.
_NAME_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_MAX_NAME = 64
_MAX_DESCRIPTION = 1024
# Supporting files are inlined into load_skill's answer because the implementer's
# read_file cannot reach outside the target repo (built-in and user skills live elsewhere).
_MAX_EXTRA_CHARS = 20_000

LOAD_SKILL_TOOL = ToolSpec(
    name="load_skill",
    description=(
        "Load one skill from the skills index in full: its instructions and any supporting "
        "files. Call it when a listed skill fits the task before you start that part."
    ),
    parameters={
        "type": "object",
        "properties": {"name": {"type": "string", "description": "The skill's name, as listed."}},
        "required": ["name"],
        "additionalProperties": False,
    },
)


class Skill(BaseModel):
    """One parsed skill: front matter fields, markdown body, and where it came from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str
    body: str
    path: Path
    source: SkillSource
    extra_files: tuple[str, ...] = ()


def builtin_skills_dir() -> Path:
    """The skills shipped inside the installed package."""
    return Path(str(resources.files("harness") / "builtin_skills"))


def user_skills_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The user's skills directory: $HARNESS_SKILLS_DIR, else the XDG config dir."""
    env = os.environ if environ is None else environ
    if env.get("HARNESS_SKILLS_DIR"):
        return Path(env["HARNESS_SKILLS_DIR"]).expanduser()
    config_home = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")) / ".config")
    return Path(config_home).expanduser() / "harness" / "skills"


def skill_locations(
    repo: Path | None, environ: Mapping[str, str] | None = None, builtin_dir: Path | None = None
) -> list[tuple[SkillSource, Path]]:
    """Every directory searched for skills, lowest precedence first."""
    locations: list[tuple[SkillSource, Path]] = [
        ("builtin", builtin_dir if builtin_dir is not None else builtin_skills_dir()),
        ("user", user_skills_dir(environ)),
    ]
    if repo is not None:
        locations += [("repo", repo / "skills"), ("repo-harness", repo / ".harness" / "skills")]
    return locations


def parse_skill(path: Path, source: SkillSource) -> Skill:
    """Parse one SKILL.md; any problem with it is a ConfigError naming the file."""
    try:
        post = frontmatter.loads(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"{path}: invalid YAML front matter: {reason}") from None
    except (OSError, UnicodeDecodeError, ValueError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{path}: cannot read skill: {exc}") from None
    meta = post.metadata
    for field in ("name", "description"):
        value = meta.get(field)
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{path}: front matter needs a non-empty string `{field}`")
    name, description = meta["name"].strip(), " ".join(meta["description"].split())
    if len(name) > _MAX_NAME or not _NAME_RE.match(name):
        raise ConfigError(f"{path}: skill name {name!r} must be 1-64 of a-z, 0-9 and single hyphens")
    if name != path.parent.name:
        raise ConfigError(f"{path}: skill name {name!r} does not match its folder {path.parent.name!r}")
    if len(description) > _MAX_DESCRIPTION:
        raise ConfigError(f"{path}: description is longer than {_MAX_DESCRIPTION} characters")
    extras = sorted(
        p.relative_to(path.parent).as_posix()
        for p in path.parent.rglob("*")
        if p.is_file() and p != path and "__pycache__" not in p.parts
    )
    return Skill(
        name=name,
        description=description,
        body=post.content.strip() + "\n",
        path=path,
        source=source,
        extra_files=tuple(extras),
    )


def discover_skills(
    repo: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    builtin_dir: Path | None = None,
) -> dict[str, Skill]:
    """All skills by name, sorted; a higher-precedence location replaces a same-named skill."""
    found: dict[str, Skill] = {}
    for source, directory in skill_locations(repo, environ, builtin_dir):
        if not directory.is_dir():
            continue
        for folder in sorted(directory.iterdir()):
            skill_file = folder / SKILL_FILE
            if folder.is_dir() and skill_file.is_file():
                skill = parse_skill(skill_file, source)
                found[skill.name] = skill
    return dict(sorted(found.items()))


def skills_index(skills: Mapping[str, Skill]) -> str:
    """The names and descriptions for the stable prompt prefix, in name order."""
    if not skills:
        return ""
    lines = [
        "## Skills",
        "Each skill below is a short guide. When one fits the task, call load_skill(name) "
        "to read it in full.",
    ]
    lines += [f"- {name}: {skills[name].description}" for name in sorted(skills)]
    return "\n".join(lines) + "\n"


def get_skill(skills: Mapping[str, Skill], name: str) -> Skill:
    """The named skill, or a UsageError that lists the available names."""
    if name in skills:
        return skills[name]
    available = ", ".join(sorted(skills)) or "(none)"
    raise UsageError(f"unknown skill {name!r}; available skills: {available}")


def render_skill(skill: Skill) -> str:
    """A skill in full: heading, body, then its small text supporting files inlined."""
    parts = [f"# Skill: {skill.name}\n\n{skill.description}\n\n{skill.body}"]
    budget = _MAX_EXTRA_CHARS
    for relative in skill.extra_files:
        try:
            text = (skill.path.parent / relative).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            parts.append(f"\n(supporting file {relative} is not text; not shown)\n")
            continue
        if len(text) > budget:
            parts.append(f"\n(supporting file {relative} is too large to show)\n")
            continue
        budget -= len(text)
        parts.append(f"\n## File: {relative}\n\n```\n{text.rstrip()}\n```\n")
    return "".join(parts)


def load_skill(skills: Mapping[str, Skill], name: str) -> str:
    """The load_skill tool: one skill in full, or an error string listing the names."""
    try:
        return render_skill(get_skill(skills, name))
    except UsageError as exc:
        return f"error: {exc}"
