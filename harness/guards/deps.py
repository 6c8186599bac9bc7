"""Dependencies added to manifests: pyproject.toml, requirements*.txt, package.json, Cargo.toml, go.mod."""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness.guards.diffutil import FileDiff, Line, path_matches

_REQ_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._\-]*)")
_QUOTED = re.compile(r"""["']([^"']+)["']""")
_TABLE = re.compile(r"^\s*\[\[?([^\]]+)\]\]?\s*$")
_ARRAY_OPEN = re.compile(r"""^\s*["']?([\w.\-]+)["']?\s*=\s*\[(.*)$""")
_TOML_KEY = re.compile(r"""^\s*["']?([\w.\-]+)["']?\s*=""")
_JSON_ENTRY = re.compile(r"""^\s*"([^"]+)"\s*:\s*"([^"]*)"\s*,?\s*$""")
_JSON_OBJECT = re.compile(r"""^\s*"([^"]+)"\s*:\s*\{""")
_VERSIONISH = re.compile(r"^(?:[\^~><=]*\s*\d|\*$|latest$|next$|(?:npm|file|git|git\+\w+|github|link|workspace):)")
_GO_REQUIRE = re.compile(r"^\s*(?:require\s+)?([a-z0-9][\w.\-]*\.[\w.\-/]+)\s+v\d")
_DEP_ARRAY_KEYS = {"dependencies", "requires", "dev-dependencies", "install_requires"}
_JSON_DEP_OBJECTS = {"dependencies", "devDependencies", "peerDependencies", "optionalDependencies"}
_JSON_NOT_DEPS = {"version", "node", "npm", "yarn", "pnpm", "main", "types", "module"}

REQUIREMENTS_GLOBS = ["requirements*.txt", "requirements/*.txt", "*requirements.txt", "constraints*.txt", "requirements*.in"]


@dataclass(frozen=True)
class Dependency:
    """A dependency name found on a changed manifest line."""

    name: str
    path: str
    line: int


def normalize(name: str) -> str:
    """PEP 503 normalisation; also good enough for npm, cargo and go names."""
    return re.sub(r"[-_.]+", "-", name.strip().lower())


def _requirement(text: str) -> str | None:
    text = text.split("#", 1)[0].strip()
    if not text or text.startswith(("-", "--")):
        return None
    m = _REQ_NAME.match(text)
    return normalize(m.group(1)) if m else None


def _dep_table(table: str | None) -> bool:
    return table is not None and (table.endswith("dependencies") or table.endswith("dependency-groups")
                                  )


def _toml_side(lines: list[Line], header: str) -> list[tuple[Line, str]]:
    """(line, dependency) pairs from one side of a TOML hunk, tracking tables and open arrays."""
    table: str | None = None
    array: str | None = None
    m = _ARRAY_OPEN.match(header)
    if m and "]" not in m.group(2):
        array = m.group(1)  # git's function context: the hunk starts inside this array
    found: list[tuple[Line, str]] = []
    for ln in lines:
        text = ln.text.split("#", 1)[0]
        if tm := _TABLE.match(text):
            table, array = tm.group(1).strip(), None
            continue
        if array is not None:
            if array in _DEP_ARRAY_KEYS or _dep_table(table):
                found += [(ln, r) for s in _QUOTED.findall(text) if (r := _requirement(s))]
            if "]" in text:
                array = None
            continue
        if am := _ARRAY_OPEN.match(text):
            key, rest = am.group(1), am.group(2)
            if key in _DEP_ARRAY_KEYS or _dep_table(table):
                found += [(ln, r) for s in _QUOTED.findall(rest) if (r := _requirement(s))]
            if "]" not in rest:
                array = key
            continue
        if _dep_table(table) and (km := _TOML_KEY.match(text)) and km.group(1) != "python":
            found.append((ln, normalize(km.group(1))))
    return found


def _json_side(lines: list[Line]) -> list[tuple[Line, str]]:
    found: list[tuple[Line, str]] = []
    obj: str | None = None
    for ln in lines:
        if om := _JSON_OBJECT.match(ln.text):
            obj = om.group(1)
            continue
        if ln.text.strip().startswith("}"):
            obj = None
            continue
        em = _JSON_ENTRY.match(ln.text)
        if not em:
            continue
        key, value = em.groups()
        # Without the enclosing object in view, a version-like value is the best evidence.
        if obj in _JSON_DEP_OBJECTS or (obj is None and key not in _JSON_NOT_DEPS and _VERSIONISH.match(value)):
            found.append((ln, normalize(key)))
    return found


def _sides(fd: FileDiff) -> tuple[list[list[Line]], list[list[Line]]]:
    """Per-hunk line lists for the old side and the new side."""
    old: dict[int, list[Line]] = {}
    new: dict[int, list[Line]] = {}
    for ln in fd.lines:
        if ln.kind in (" ", "-"):
            old.setdefault(ln.hunk, []).append(ln)
        if ln.kind in (" ", "+"):
            new.setdefault(ln.hunk, []).append(ln)
    return list(old.values()), list(new.values())


def _scan(fd: FileDiff, side: list[list[Line]]) -> list[tuple[Line, str]]:
    base = fd.path.rsplit("/", 1)[-1]
    found: list[tuple[Line, str]] = []
    for lines in side:
        if not lines:
            continue
        if base == "package.json":
            found += _json_side(lines)
        elif base.endswith(".toml") and base in ("pyproject.toml", "Cargo.toml", "Pipfile"):
            found += _toml_side(lines, fd.headers[lines[0].hunk])
        elif base == "go.mod":
            found += [(ln, normalize(m.group(1))) for ln in lines if (m := _GO_REQUIRE.match(ln.text))]
        elif path_matches(fd.path, REQUIREMENTS_GLOBS):
            found += [(ln, r) for ln in lines if (r := _requirement(ln.text))]
    return found


def new_dependencies(fd: FileDiff) -> list[Dependency]:
    """Dependencies on added lines of a manifest that were not there before (bumps excluded)."""
    if fd.status == "deleted" or fd.binary:
        return []
    old_side, new_side = _sides(fd)
    before = {name for _ln, name in _scan(fd, old_side)}
    out: dict[str, Dependency] = {}
    for ln, name in _scan(fd, new_side):
        if ln.kind == "+" and name not in before and name not in out:
            out[name] = Dependency(name=name, path=fd.path, line=ln.new)
    return list(out.values())
