"""Secret guards: known key formats and high-entropy strings on added lines."""

from __future__ import annotations

import pytest
from tests.guards_support import Repo

from harness.guards import GuardContext, GuardsConfig, blocking, run_guards
from harness.secrets import REDACTED, redact

# Built from parts so this file itself does not look like it holds a key.
AWS_KEY = "AKIA" + "Q3EXAMPLE7RANDOMZ"[:16]
RANDOM_TOKEN = "q8Xz3LmP0vR7tK2wY9bN4cJ6hF1dS5gA"  # pragma: allowlist secret


@pytest.fixture
def repo(tmp_path):
    return Repo(tmp_path)


def secret_findings(repo: Repo) -> list:
    findings = run_guards(repo.diff(), GuardContext(request="connect to the pricing service"), GuardsConfig())
    return [f for f in findings if f.rule.startswith("secrets.")]


def test_key_format_is_blocked_and_not_repeated(repo):
    repo.replace("calc/core.py", "def add(a, b):", f'AWS_ACCESS_KEY_ID = "{AWS_KEY}"\n\n\ndef add(a, b):')
    [hit] = secret_findings(repo)
    assert (hit.rule, hit.severity, hit.category) == ("secrets.key_format", "blocker", "security")
    assert (hit.path, hit.line) == ("calc/core.py", 1)
    assert "aws-access-key" in hit.message and AWS_KEY not in hit.message


def test_high_entropy_string_is_blocked(repo):
    repo.replace("calc/core.py", "def add(a, b):", f'SERVICE_CREDENTIAL = "{RANDOM_TOKEN}"\n\n\ndef add(a, b):')
    [hit] = secret_findings(repo)
    assert (hit.rule, hit.severity) == ("secrets.high_entropy", "blocker")
    assert RANDOM_TOKEN not in hit.message


def test_hex_secret_under_a_secret_name_is_blocked(repo):
    repo.write("calc/keys.py", 'api_token = "9f86d081884c7d659a2feaa0c55ad015"\n')  # pragma: allowlist secret
    assert [f.rule for f in secret_findings(repo)] == ["secrets.high_entropy"]


@pytest.mark.parametrize("path,text", [
    ("poetry.lock", 'files = [{file = "x.whl", hash = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"}]\n'),
    ("requirements.txt", "click==8.1.7 --hash=sha256:ae74fb96c20a0277a1d615f1e4d73c8414f5a98db8b799a7931d1582f3390c28\n"),
    ("calc/pins.py", 'FIXED_IN = "6fbc61070fda2ffb8889e77e3b24bca4249ab4d1"  # upstream commit\n'),
    ("calc/ids.py", 'RUN_ID = "123e4567-e89b-12d3-a456-426614174000"\n'),
    ("calc/names.py", "from anthropic.types import BetaCodeExecutionTool20250522Param, ToolTextEditor20250124Param\n"),
    ("calc/paths.py", 'SITE = "usr/local/lib/python3.11/site-packages/calc"\n'),
    ("calc/fake.py", f'EXAMPLE = "{RANDOM_TOKEN}"  # pragma: allowlist secret\n'),
])
def test_hashes_identifiers_and_allowlisted_fakes_are_not_secrets(repo, path, text):
    repo.write(path, text)
    assert secret_findings(repo) == []


def test_removed_secret_is_not_reported(repo):
    repo.replace("calc/core.py", "def add(a, b):", f'KEY = "{AWS_KEY}"\n\n\ndef add(a, b):')
    repo.commit("oops")
    repo.replace("calc/core.py", f'KEY = "{AWS_KEY}"\n\n\n', "")
    findings = run_guards(repo.diff(), GuardContext(request="remove the key"), GuardsConfig())
    assert not blocking(findings)


def test_redact_still_covers_new_key_formats():
    github_pat = "github_pat_" + "11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"
    assert redact(f"token={github_pat} aws={AWS_KEY}") == f"token={REDACTED} aws={REDACTED}"
