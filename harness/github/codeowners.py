"""CODEOWNERS: who owns the files a change touches (GitHub's rules: the last matching line wins)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pathspec

CODEOWNERS_PATHS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")


def read_codeowners(repo: Path, commit: str) -> str:
    """The CODEOWNERS text at `commit` (GitHub reads the first of its three locations), or ""."""
    for path in CODEOWNERS_PATHS:
        shown = subprocess.run(["git", "-C", str(repo), "show", f"{commit}:{path}"], capture_output=True, text=True)
        if shown.returncode == 0:
            return shown.stdout
    return ""


def owners_of(codeowners: str, paths: list[str]) -> list[str]:
    """Owners (`@user`, `@org/team`) of the given paths, in first-seen order."""
    rules: list[tuple[pathspec.PathSpec, list[str]]] = []
    for line in codeowners.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 2:
            rules.append((pathspec.PathSpec.from_lines("gitwildmatch", [words[0]]), words[1:]))
    owners: list[str] = []
    for path in paths:
        matching = [who for spec, who in rules if spec.match_file(path)]
        for owner in (matching[-1] if matching else []):
            if owner.startswith("@") and owner not in owners:
                owners.append(owner)
    return owners


def review_request(owners: list[str]) -> dict[str, list[str]]:
    """The body of POST /pulls/{n}/requested_reviewers: users and team slugs."""
    users = [o[1:] for o in owners if "/" not in o]
    teams = [o.split("/", 1)[1] for o in owners if "/" in o]
    return {"reviewers": users, "team_reviewers": teams}
