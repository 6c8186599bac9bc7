"""Secrets on added lines: known key formats and high-entropy tokens."""

from __future__ import annotations

import math
import re
from collections import Counter

from harness.guards.diffutil import FileDiff, Line, path_matches
from harness.guards.options import GuardsConfig
from harness.records import Finding
from harness.secrets import KEY_PATTERNS

_TOKEN = re.compile(r"[A-Za-z0-9+/=_\-]+")
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_HASH_PREFIX = re.compile(r"(?:sha\d+|md5|blake2\w*|integrity|--hash)[:=\-\"'\s]*$", re.IGNORECASE)
_SECRET_NAME = re.compile(r"(?:key|token|secret|passw|pwd|credential|auth|bearer|private)", re.IGNORECASE)
# Conventions of detect-secrets and gitleaks for "this is a known fake".
_ALLOW = re.compile(r"pragma:\s*allowlist\s+secret|gitleaks:allow|noqa:\s*secret", re.IGNORECASE)


def shannon_entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    if not text:
        return 0.0
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


def mask(secret: str) -> str:
    """A preview safe to store: the first characters and the length, never the secret."""
    return f"{secret[:4]}… ({len(secret)} chars)"


def _class_changes(token: str) -> float:
    """Share of adjacent character pairs that switch between lower, upper and digit.

    Upper-to-lower is not counted: it is how every CamelCase word starts. Random base62
    keys switch on about 0.44 of pairs; identifiers, model names and dates (like
    CamelCase20250101Name) on far fewer, whatever their entropy.
    """
    def cls(ch: str) -> int:
        return 0 if ch.islower() else 1 if ch.isupper() else 2 if ch.isdigit() else 3

    pairs = [(cls(a), cls(b)) for a, b in zip(token, token[1:]) if cls(a) < 3 and cls(b) < 3]
    return sum(a != b and (a, b) != (1, 0) for a, b in pairs) / len(pairs) if pairs else 0.0


def _pieces(token: str) -> list[str]:
    """Split paths and key=value pairs so a digest inside a URL is judged on its own."""
    token = token.rstrip("=")
    parts = [p for p in re.split(r"=", token) if p]
    if any("/" in p for p in parts) and any(re.fullmatch(r"[A-Za-z]{3,}", seg) for p in parts for seg in p.split("/")):
        parts = [seg for p in parts for seg in p.split("/")]
    return [p.strip("-_+") for p in parts if p.strip("-_+")]


def _high_entropy_tokens(line: str, config: GuardsConfig) -> list[str]:
    named = bool(_SECRET_NAME.search(line))
    out = []
    for m in _TOKEN.finditer(line):
        if _HASH_PREFIX.search(line[: m.start()]):
            continue  # a checksum pinned on purpose
        for token in _pieces(m.group(0)):
            if len(token) < config.entropy_min_length or _UUID.match(token):
                continue
            entropy = shannon_entropy(token)
            if _HEX.match(token):
                # Hex strings are usually digests or commit ids; only suspicious under a secret-like name.
                if named and entropy >= config.hex_entropy_threshold:
                    out.append(token)
                continue
            if entropy >= config.entropy_threshold and _class_changes(token) >= config.entropy_min_class_changes:
                out.append(token)
    return out


def _finding(fd: FileDiff, ln: Line, rule: str, message: str) -> Finding:
    return Finding(path=fd.path, line=ln.new, severity="blocker", category="security", message=message,
                   source="guard", rule=rule)


def check_secrets(files: list[FileDiff], config: GuardsConfig) -> list[Finding]:
    """Blocker findings for key-shaped or high-entropy strings on added lines.

    Messages carry a masked preview only, so findings can be stored and shown safely.
    """
    findings: list[Finding] = []
    for fd in files:
        if fd.binary or fd.status == "deleted":
            continue
        skip_entropy = path_matches(fd.path, config.entropy_skip_paths)
        for ln in fd.added:
            if _ALLOW.search(ln.text):
                continue
            keys = [(rule, m.group(0)) for rule, pattern in KEY_PATTERNS for m in pattern.finditer(ln.text)]
            if keys:
                rule, value = keys[0]
                findings.append(_finding(fd, ln, "secrets.key_format", f"{rule} on an added line: {mask(value)}"))
                continue
            if skip_entropy:
                continue
            tokens = _high_entropy_tokens(ln.text, config)
            if tokens:
                token = max(tokens, key=shannon_entropy)
                findings.append(_finding(
                    fd, ln, "secrets.high_entropy",
                    f"high-entropy string ({shannon_entropy(token):.2f} bits/char) on an added line: {mask(token)}"))
    return findings
