"""Overbuilding: code, flags, config keys and dependencies nobody asked for, turned into a score."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

from harness.guards.deps import new_dependencies
from harness.guards.diffutil import FileDiff, Line, path_matches
from harness.guards.options import GuardContext, GuardsConfig
from harness.guards.request import names_symbol
from harness.guards.tampering import is_test_path
from harness.records import Finding, Severity

_PUBLIC_DEF = re.compile(r"^(?:\s{0,4})(?:async\s+def|def|class)\s+([A-Za-z]\w*)|^export\s+(?:default\s+)?(?:async\s+)?(?:function|class|const)\s+([A-Za-z]\w*)")
_FLAG_CALL = re.compile(r"\badd_argument\s*\(|\bclick\.(?:option|argument)\s*\(|\btyper\.(?:Option|Argument)\s*\(|\.option\s*\(\s*['\"]--")
_FLAG_NAME = re.compile(r"""["'](--?[A-Za-z][\w\-]*)["']""")
_TYPER_PARAM = re.compile(r"(\w+)\s*:[^:=()]*?(?:=|,)\s*typer\.(?:Option|Argument)\s*\(")
_COMMAND = re.compile(r"""@\w+\.command\s*\((?:\s*["']([\w\-]+)["'])?|\badd_parser\s*\(\s*["']([\w\-]+)["']""")
_ENV_READ = re.compile(r"""\b(?:os\.environ\.get|os\.getenv|os\.environ\[|environ\.get|getenv)\s*\(?\s*["']([A-Z][A-Z0-9_]+)["']""")
_TOML_KEY = re.compile(r"""^\s*["']?([A-Za-z][\w\-]*)["']?\s*=\s*\S""")
_TOML_TABLE = re.compile(r"^\s*\[\[?([\w.\-\"]+)\]\]?\s*$")
_YAML_KEY = re.compile(r"^\s*([A-Za-z][\w\-]*)\s*:(?:\s|$)")
_ENV_KEY = re.compile(r"^\s*(?:export\s+)?([A-Z][A-Z0-9_]*)=")
_FIELD = re.compile(r"^\s{4}([a-z]\w*)\s*:\s*[^=()]+(?:=.*)?$")

_MANIFESTS = ("pyproject.toml", "package.json", "Cargo.toml", "Pipfile", "setup.cfg")
_CONFIG_MODULE_STEMS = ("config", "settings", "options", "conf")
_LOCK_GLOBS = ["*.lock", "package-lock.json", "npm-shrinkwrap.json", "pnpm-lock.yaml", "go.sum"]
_DOC_GLOBS = ["*.md", "*.rst", "*.txt", "docs/**", "CHANGELOG*", "LICENSE*"]


class OverbuildMetrics(BaseModel, extra="forbid"):
    """What a diff adds beyond the request. Test files and lockfiles are not counted."""

    lines_added: int = 0
    lines_removed: int = 0
    files_added: int = 0
    public_defs: list[str] = Field(default_factory=list)
    flags: list[str] = Field(default_factory=list)
    config_keys: list[str] = Field(default_factory=list)
    dependencies: list[str] = Field(default_factory=list)
    score: float = 0.0


def _counts(fd: FileDiff, config: GuardsConfig) -> bool:
    return not (fd.binary or is_test_path(fd.path, config) or path_matches(fd.path, _LOCK_GLOBS))


def _flag_names(lines: list[Line], index: int) -> list[str]:
    ln = lines[index]
    # typer infers the flag from the parameter name: `verbose: bool = typer.Option(False)`.
    typer_params = ["--" + m.group(1).replace("_", "-") for m in _TYPER_PARAM.finditer(ln.text)]
    # `add_argument(` may put its names on the following lines.
    window = " ".join(x.text for x in lines[index:index + 3] if x.new - ln.new < 3)
    names = _FLAG_NAME.findall(ln.text) or ([] if typer_params else _FLAG_NAME.findall(window)[:2])
    long_names = [n for n in names if n.startswith("--")] or names
    return typer_params + [n for n in long_names if n not in typer_params]


def _flags(fd: FileDiff) -> list[tuple[Line, str]]:
    found: list[tuple[Line, str]] = []
    added = fd.added
    for index, ln in enumerate(added):
        if _FLAG_CALL.search(ln.text):
            found += [(ln, name) for name in _flag_names(added, index)]
        if m := _COMMAND.search(ln.text):
            name = m.group(1) or m.group(2)
            if not name:  # `@app.command()` names the command after the function on the next line
                nxt = next((x for x in fd.added if x.new > ln.new and "def " in x.text), None)
                dm = re.search(r"def\s+(\w+)", nxt.text) if nxt else None
                name = dm.group(1).replace("_", "-") if dm else None
            if name:
                found.append((ln, f"command {name}"))
    return found


def _config_keys(fd: FileDiff) -> list[tuple[Line, str]]:
    base = fd.path.rsplit("/", 1)[-1]
    stem = base.rsplit(".", 1)[0].lower()
    found: list[tuple[Line, str]] = []
    for ln in fd.added:
        text = ln.text
        if m := _ENV_READ.search(text):
            found.append((ln, m.group(1)))
        if base in _MANIFESTS:
            continue  # manifests: dependencies are judged separately, metadata is not config
        if base.endswith(".toml") or base.endswith((".ini", ".cfg")):
            if m := (_TOML_TABLE.match(text) or _TOML_KEY.match(text)):
                found.append((ln, m.group(1)))
        elif base.endswith((".yaml", ".yml")):
            if m := _YAML_KEY.match(text):
                found.append((ln, m.group(1)))
        elif base.startswith(".env") or base.endswith(".env"):
            if m := _ENV_KEY.match(text):
                found.append((ln, m.group(1)))
        elif base.endswith(".py") and any(s in stem for s in _CONFIG_MODULE_STEMS):
            # A new field on a settings model is a new config key.
            if (m := _FIELD.match(text)) and ln.scope.names and len(ln.scope.names) == 1:
                found.append((ln, m.group(1)))
    return found


def _public_defs(fd: FileDiff) -> list[str]:
    names = []
    for ln in fd.added:
        if (m := _PUBLIC_DEF.match(ln.text)) and len(ln.scope.names) <= 2:
            names.append(m.group(1) or m.group(2))
    return names


def measure(files: list[FileDiff], context: GuardContext, config: GuardsConfig) -> tuple[OverbuildMetrics, list[Finding]]:
    """Overbuilding metrics of a diff and the findings they raise."""
    request, ob = context.request, config.overbuild
    counted = [fd for fd in files if _counts(fd, config)]
    # A name removed somewhere in the diff and added elsewhere was moved, not invented.
    removed_text = "\n".join(ln.text for fd in files for ln in fd.removed)

    def unasked(name: str) -> bool:
        moved = re.search(rf"(?<![\w\-]){re.escape(name)}(?![\w\-])", removed_text)
        return not names_symbol(request, name) and not moved

    metrics = OverbuildMetrics(
        lines_added=sum(len(fd.added) for fd in counted if not path_matches(fd.path, _DOC_GLOBS)),
        lines_removed=sum(len(fd.removed) for fd in counted),
        files_added=sum(fd.status == "added" for fd in counted),
    )
    findings: list[Finding] = []

    def add(fd: FileDiff, ln: Line, severity: Severity, rule: str, message: str) -> None:
        findings.append(Finding(path=fd.path, line=ln.new, severity=severity, category="overbuilding",
                                message=message, source="guard", rule=rule))

    for fd in counted:
        metrics.public_defs += [n for n in _public_defs(fd) if unasked(n)]
        for ln, flag in _flags(fd):
            if unasked(flag.removeprefix("command ").lstrip("-")) and flag not in metrics.flags:
                metrics.flags.append(flag)
                add(fd, ln, ob.flag_severity, "overbuild.new_flag", f"new CLI option not asked for: {flag}")
        for ln, key in _config_keys(fd):
            if unasked(key) and key not in metrics.config_keys:
                metrics.config_keys.append(key)
                add(fd, ln, ob.config_key_severity, "overbuild.new_config_key", f"new config key not asked for: {key}")
    for fd in files:
        for dep in new_dependencies(fd):
            if not names_symbol(request, dep.name) and dep.name not in metrics.dependencies:
                metrics.dependencies.append(dep.name)
                findings.append(Finding(path=dep.path, line=dep.line, severity=ob.dependency_severity,
                                        category="overbuilding", message=f"new dependency not asked for: {dep.name}",
                                        source="guard", rule="overbuild.new_dependency"))
    metrics.score = round(
        metrics.lines_added / ob.lines_per_point
        + metrics.files_added * ob.new_file_points
        + len(metrics.public_defs) * ob.public_def_points
        + len(metrics.flags) * ob.flag_points
        + len(metrics.config_keys) * ob.config_key_points
        + len(metrics.dependencies) * ob.dependency_points, 2)
    if metrics.score >= ob.score_minor:
        severity: Severity = "major" if metrics.score >= ob.score_major else "minor"
        biggest = max(counted or files, key=lambda fd: len(fd.added), default=None)
        findings.append(Finding(
            path=biggest.path if biggest else "", line=0, severity=severity, category="overbuilding",
            source="guard", rule="overbuild.score",
            message=(f"overbuilding score {metrics.score} (minor at {ob.score_minor}, major at {ob.score_major}): "
                     f"+{metrics.lines_added}/-{metrics.lines_removed} lines, {metrics.files_added} new files, "
                     f"{len(metrics.public_defs)} new public names, {len(metrics.flags)} flags, "
                     f"{len(metrics.config_keys)} config keys, {len(metrics.dependencies)} dependencies not asked for")))
    return metrics, findings
