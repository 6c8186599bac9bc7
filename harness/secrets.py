"""Secret detection and redaction: nothing key-like reaches logs, memory or comments."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

REDACTED = "[REDACTED]"

# Known key formats; each a (rule id, pattern) pair.
KEY_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("anthropic-key", re.compile(r"sk-ant-[A-Za-z0-9_\-]{20,}")),
    ("openai-key", re.compile(r"sk-(?:proj-)?[A-Za-z0-9_\-]{20,}")),
    ("github-token", re.compile(r"gh[pousr]_[A-Za-z0-9]{30,}")),
    ("aws-access-key", re.compile(r"AKIA[0-9A-Z]{16}")),
    ("private-key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("slack-token", re.compile(r"xox[baprs]-[A-Za-z0-9\-]{10,}")),
    ("github-fine-grained-token", re.compile(r"github_pat_[A-Za-z0-9_]{22,}")),
    ("aws-temporary-key", re.compile(r"ASIA[0-9A-Z]{16}")),
    ("google-api-key", re.compile(r"AIza[0-9A-Za-z_\-]{35}")),
    ("stripe-key", re.compile(r"(?:sk|rk)_live_[0-9A-Za-z]{20,}")),
    ("slack-webhook", re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9/]{20,}")),
    ("gitlab-token", re.compile(r"glpat-[A-Za-z0-9_\-]{20,}")),
    ("huggingface-token", re.compile(r"hf_[A-Za-z0-9]{30,}")),
    ("npm-token", re.compile(r"npm_[A-Za-z0-9]{36}")),
    ("jwt", re.compile(r"eyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}")),
]

# Host environment variables whose values are secrets whatever their shape.
SECRET_ENV_HINTS = ("KEY", "TOKEN", "SECRET", "PASSWORD")
# A URL carrying a password (e.g. HARNESS_BUDGETS__LEDGER_URL=postgresql://user:pw@host/db).
_URL_WITH_PASSWORD = re.compile(r"://[^/@\s:]+:[^/@\s]+@")


def secret_env_values(environ: Mapping[str, str], extra_names: Iterable[str] = ()) -> list[str]:
    """Values of environment variables that look like secrets (by name), long enough to matter."""
    names = set(extra_names)
    values = [
        v for k, v in environ.items()
        if (k in names or any(h in k.upper() for h in SECRET_ENV_HINTS) or _URL_WITH_PASSWORD.search(v))
        and len(v) >= 8
    ]
    return sorted(set(values), key=len, reverse=True)


def redact(text: str, known_values: Iterable[str] = ()) -> str:
    """Replace known secret values and key-shaped strings with a marker."""
    for value in known_values:
        if value:
            text = text.replace(value, REDACTED)
    for _rule, pattern in KEY_PATTERNS:
        text = pattern.sub(REDACTED, text)
    return text
