"""Skills: discovery across four locations, precedence, bad front matter, load_skill, CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import build_app
from harness.errors import ConfigError
from harness.skills import (
    LOAD_SKILL_TOOL,
    builtin_skills_dir,
    discover_skills,
    load_skill,
    skills_index,
)


def write_skill(base: Path, name: str, description: str, body: str = "Body.\n", folder: str | None = None) -> Path:
    """Write base/<folder or name>/SKILL.md and return its path."""
    path = base / (folder or name) / "SKILL.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\nname: {name}\ndescription: {description}\n---\n\n{body}", encoding="utf-8")
    return path


@pytest.fixture
def places(tmp_path: Path) -> dict[str, Path]:
    """Four empty skill locations and a repo, isolated from the real user config."""
    repo = tmp_path / "repo"
    repo.mkdir()
    return {
        "builtin": tmp_path / "builtin",
        "user": tmp_path / "user",
        "repo": repo / "skills",
        "repo-harness": repo / ".harness" / "skills",
        "root": repo,
    }


def discover(places: dict[str, Path]):
    return discover_skills(
        places["root"], environ={"HARNESS_SKILLS_DIR": str(places["user"])}, builtin_dir=places["builtin"]
    )


def test_discovers_skills_from_all_four_locations(places):
    for where in ("builtin", "user", "repo", "repo-harness"):
        write_skill(places[where], f"from-{where}", f"Skill from {where}.")
    skills = discover(places)
    assert {name: s.source for name, s in skills.items()} == {
        "from-builtin": "builtin",
        "from-repo": "repo",
        "from-repo-harness": "repo-harness",
        "from-user": "user",
    }
    assert list(skills) == sorted(skills)


@pytest.mark.parametrize(
    "present, winner",
    [
        (("builtin", "user", "repo", "repo-harness"), "repo-harness"),
        (("builtin", "user", "repo"), "repo"),
        (("builtin", "user"), "user"),
        (("builtin",), "builtin"),
        (("user", "repo-harness"), "repo-harness"),
    ],
)
def test_precedence_when_names_collide(places, present, winner):
    for where in present:
        write_skill(places[where], "shared", f"Version from {where}.")
    skill = discover(places)["shared"]
    assert skill.source == winner
    assert skill.description == f"Version from {winner}."


def test_user_dir_defaults_to_xdg_config(places, tmp_path):
    write_skill(tmp_path / "xdg" / "harness" / "skills", "xdg-skill", "From XDG.")
    skills = discover_skills(None, environ={"XDG_CONFIG_HOME": str(tmp_path / "xdg")}, builtin_dir=places["builtin"])
    assert list(skills) == ["xdg-skill"]


def test_folders_without_skill_md_are_ignored(places):
    (places["repo"] / "notes").mkdir(parents=True)
    (places["repo"] / "README.md").write_text("not a skill")
    assert discover(places) == {}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("---\nname: bad\n---\nbody", "non-empty string `description`"),
        ("---\ndescription: no name\n---\nbody", "non-empty string `name`"),
        ("just markdown, no front matter", "non-empty string `name`"),
        ("---\nname: bad\ndescription: [unclosed\n---\nbody", "invalid YAML front matter"),
        ("---\nname: other\ndescription: Wrong folder.\n---\nbody", "does not match its folder 'bad'"),
        ("---\nname: Bad_Name\ndescription: x\n---\nbody", "must be 1-64 of a-z"),
    ],
)
def test_bad_front_matter_is_a_config_error_naming_the_file(places, text, expected):
    path = places["repo"] / "bad" / "SKILL.md"
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        discover(places)
    message = str(info.value)
    assert str(path) in message
    assert expected in message
    assert "\n" not in message


def test_index_holds_names_and_descriptions_only(places):
    write_skill(places["builtin"], "b-skill", "Second.", body="SECRET BODY B")
    write_skill(places["builtin"], "a-skill", "First\n  folded.", body="SECRET BODY A")
    index = skills_index(discover(places))
    assert index.splitlines()[-2:] == ["- a-skill: First folded.", "- b-skill: Second."]
    assert "SECRET BODY" not in index
    assert skills_index({}) == ""


def test_load_skill_returns_body_and_supporting_files(places):
    path = write_skill(places["repo"], "tidy", "Tidy things.", body="Step one.\nStep two.\n")
    (path.parent / "references").mkdir()
    (path.parent / "references" / "extra.md").write_text("Extra detail.\n")
    text = load_skill(discover(places), "tidy")
    assert "Step one.\nStep two." in text
    assert "## File: references/extra.md" in text and "Extra detail." in text


def test_load_skill_unknown_name_lists_available(places):
    write_skill(places["builtin"], "alpha", "A.")
    write_skill(places["user"], "beta", "B.")
    assert load_skill(discover(places), "gamma") == (
        "error: unknown skill 'gamma'; available skills: alpha, beta"
    )


def test_load_skill_tool_spec_takes_a_name():
    assert LOAD_SKILL_TOOL.name == "load_skill"
    assert LOAD_SKILL_TOOL.parameters["required"] == ["name"]


def test_builtin_skills_parse_and_match_folders():
    skills = discover_skills(None, environ={"HARNESS_SKILLS_DIR": "/nonexistent"})
    assert len(skills) >= 3
    assert all(s.source == "builtin" and s.path.parent.parent == builtin_skills_dir() for s in skills.values())
    assert "writing-focused-tests" in skills


def test_cli_list_and_show(places, monkeypatch):
    monkeypatch.setenv("HARNESS_SKILLS_DIR", str(places["user"]))
    write_skill(places["repo-harness"], "repo-only", "Only in this repo.", body="Do the repo thing.\n")
    runner = CliRunner()
    listed = runner.invoke(build_app(), ["skills", "list", "--repo", str(places["root"])])
    assert listed.exit_code == 0, listed.output
    line = next(line for line in listed.output.splitlines() if line.startswith("repo-only"))
    assert "[repo-harness] Only in this repo." in line
    assert "writing-focused-tests" in listed.output
    shown = runner.invoke(build_app(), ["skills", "show", "repo-only", "--repo", str(places["root"])])
    assert shown.exit_code == 0
    assert "Do the repo thing." in shown.output


def test_cli_errors_are_one_line_with_exit_code(places, monkeypatch):
    monkeypatch.setenv("HARNESS_SKILLS_DIR", str(places["user"]))
    runner = CliRunner()
    unknown = runner.invoke(build_app(), ["skills", "show", "nope", "--repo", str(places["root"])])
    assert unknown.exit_code == 2
    assert unknown.stderr.startswith("error: unknown skill 'nope'")
    bad = places["user"] / "broken" / "SKILL.md"
    bad.parent.mkdir(parents=True)
    bad.write_text("---\nname: broken\n---\n")
    listed = runner.invoke(build_app(), ["skills", "list", "--repo", str(places["root"])])
    assert listed.exit_code == 2
    assert listed.stderr.strip().splitlines() == [f"error: {bad}: front matter needs a non-empty string `description`"]
