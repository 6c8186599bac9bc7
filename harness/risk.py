"""Risk levels of a change from deterministic signals, and the policy each level carries.

Signals come from the diff alone (paths, deletions, size, dependency and API files) plus the
classifier's confidence, so the same change always gets the same level and a person can check why.
"""

from __future__ import annotations

import re

from harness.guards.diffutil import parse_diff, path_matches
from harness.records import Record
from harness.roles_config import LevelPolicy, RiskConfig, RiskLevel

LEVELS: tuple[RiskLevel, ...] = ("low", "medium", "high")
_WORD_SPLIT = re.compile(r"[/_.\-]+")

# What a person must check, per signal, when a change stops as needs_human.
_CHECKS = {
    "path": "the security-, money- or infrastructure-sensitive file is changed as intended",
    "word": "the security-, money- or infrastructure-sensitive file is changed as intended",
    "dependency": "the dependency or manifest change is wanted and safe",
    "api": "callers of the public API surface still work",
    "deletion": "the deleted file is really unused",
    "size": "the large change as a whole (split it if possible)",
    "confidence": "the request was understood as intended (the router was unsure what it is)",
}


class RiskSignal(Record):
    """One reason for a risk level."""

    kind: str  # path | word | dependency | api | deletion | size | confidence
    level: RiskLevel
    detail: str


class Risk(Record):
    """A change's risk level, the signals behind it and the policy it triggers."""

    level: RiskLevel
    signals: list[RiskSignal] = []
    policy: LevelPolicy = LevelPolicy()

    def checks(self) -> list[str]:
        """What a person must check, one line per distinct concern, most severe signals first."""
        ordered = sorted(self.signals, key=lambda s: -LEVELS.index(s.level))
        out: list[str] = []
        for s in ordered:
            line = f"{_CHECKS.get(s.kind, s.kind)}: {s.detail}"
            if line not in out:
                out.append(line)
        return out


def _raise(level: RiskLevel, steps: int = 1) -> RiskLevel:
    return LEVELS[min(len(LEVELS) - 1, LEVELS.index(level) + steps)]


def _sensitive_word(path: str, words: list[str]) -> str | None:
    parts = {p.lower() for p in _WORD_SPLIT.split(path) if p}
    return next((w for w in words if w.lower() in parts), None)


def assess(diff: str, config: RiskConfig, confidence: float | None = None) -> Risk:
    """The risk of a diff: the highest level any signal reaches, one step up when the router is unsure."""
    signals: list[RiskSignal] = []
    try:
        files = parse_diff(diff)
    except ValueError:
        files = []
    changed = 0
    for fd in files:
        path = fd.path or fd.old_path
        changed += sum(1 for ln in fd.lines if ln.kind in "+-")
        if path_matches(path, config.high_paths):
            signals.append(RiskSignal(kind="path", level="high", detail=path))
        elif (word := _sensitive_word(path, config.high_words)) is not None:
            signals.append(RiskSignal(kind="word", level="high", detail=f"{path} ({word})"))
        elif path_matches(path, config.medium_paths):
            kind = "api" if path.endswith("__init__.py") or "/api/" in f"/{path}" else "dependency"
            signals.append(RiskSignal(kind=kind, level="medium", detail=path))
        if fd.status == "deleted":
            signals.append(RiskSignal(kind="deletion", level=config.deletion_level, detail=path))
    if changed >= config.high_lines:
        signals.append(RiskSignal(kind="size", level="high", detail=f"{changed} changed lines"))
    elif changed >= config.medium_lines:
        signals.append(RiskSignal(kind="size", level="medium", detail=f"{changed} changed lines"))
    level: RiskLevel = max((s.level for s in signals), key=LEVELS.index, default="low")
    if confidence is not None and confidence < config.min_confidence:
        level = _raise(level)
        signals.append(RiskSignal(kind="confidence", level=level,
                                  detail=f"classifier confidence {confidence:.2f} < {config.min_confidence}"))
    return Risk(level=level, signals=signals, policy=policy_for(level, config))


def policy_for(level: RiskLevel, config: RiskConfig) -> LevelPolicy:
    """The configured policy of one level."""
    return {"low": config.low, "medium": config.medium, "high": config.high}[level]


def gate_reason(risk: Risk) -> str:
    """The one-line reason a change stops as needs_human."""
    top = [s.detail for s in risk.signals if s.level == risk.level][:3]
    return f"needs a human: {risk.level} risk ({'; '.join(top) or 'policy'})"
