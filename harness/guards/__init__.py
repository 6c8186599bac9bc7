"""Deterministic guards of the trust layer: checks run on every candidate diff, no model involved.

Each guard reads the parsed diff (and, where given, the request, the files the implementer
read and the base/head test comparison) and returns `Finding`s with source="guard" and a
stable `rule` id. See docs/guards.md for the rules and their configuration.
"""

from __future__ import annotations

from harness.guards.diffutil import parse_diff
from harness.guards.evidence import check_evidence, test_ids
from harness.guards.options import GuardContext, GuardsConfig, OverbuildConfig
from harness.guards.overbuild import OverbuildMetrics, measure
from harness.guards.scope import check_scope
from harness.guards.secrets_guard import check_secrets
from harness.guards.tampering import check_tampering, is_test_path
from harness.records import SEVERITY_ORDER, Finding

__all__ = [
    "GuardContext",
    "GuardsConfig",
    "OverbuildConfig",
    "OverbuildMetrics",
    "blocking",
    "changed_test_ids",
    "overbuild_metrics",
    "run_guards",
]


def run_guards(diff: str, context: GuardContext, config: GuardsConfig) -> list[Finding]:
    """All guard findings for a candidate diff, most severe first, one per (rule, path, line).

    Raises ValueError when `diff` is not a unified diff.
    """
    files = parse_diff(diff)
    findings: list[Finding] = []
    findings += check_secrets(files, config)
    findings += check_scope(files, context, config)
    findings += check_tampering(files, context, config)
    findings += measure(files, context, config)[1]
    findings += check_evidence(context, config)
    return _dedupe(findings)


def overbuild_metrics(diff: str, context: GuardContext, config: GuardsConfig) -> OverbuildMetrics:
    """The overbuilding metrics of a diff (for recording alongside the findings)."""
    return measure(parse_diff(diff), context, config)[0]


def blocking(findings: list[Finding]) -> list[Finding]:
    """The findings that block trust on their own (severity blocker)."""
    return [f for f in findings if f.severity == "blocker"]


def changed_test_ids(diff: str, config: GuardsConfig | None = None) -> list[str]:
    """Pytest node ids (`tests/test_x.py::test_name`, or a file path) of tests added or changed.

    The pipeline runs these against base: a test that fails (or is missing) there and
    passes on head is evidence that the change is exercised. Deleted tests are left out.
    """
    cfg = config or GuardsConfig()
    return test_ids(parse_diff(diff), lambda path: is_test_path(path, cfg))


def _dedupe(findings: list[Finding]) -> list[Finding]:
    ordered = sorted(findings, key=lambda f: (SEVERITY_ORDER[f.severity], f.path, f.line, f.rule))
    seen: set[tuple[str, str, int]] = set()
    out = []
    for f in ordered:
        key = (f.rule, f.path, f.line)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out
