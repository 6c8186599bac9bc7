"""Shared fixtures: a fake model server, a sample git repo with a harness.toml, and a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fake_models import FakeModels
from tests.queue_support import postgres_bin, postgres_server

FAKE_KEYS = {"OPENAI_API_KEY": "sk-test-openai-0123456789abcdefghij", "ANTHROPIC_API_KEY": "sk-ant-test-0123456789abcdefghij"}

CALC = '''"""Arithmetic helpers."""


def add(a, b):
    """The sum of a and b."""
    return a - b


def mul(a, b):
    """The product of a and b."""
    return a * b
'''

TESTS = '''from pathlib import Path

from calc import mul


def test_mul():
    assert mul(2, 3) == 6


def test_runs_in_sandbox():
    # Only the harness sandbox image has this file: the suite cannot pass on the host.
    assert Path("/etc/harness-sandbox").exists()
'''

PYPROJECT = '''[project]
name = "calc"
version = "0.1.0"

[tool.pytest.ini_options]
pythonpath = ["."]
'''


def git(repo: Path, *args: str) -> str:
    """Run git in a repo and return stdout."""
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def config_text(url: str, implementer: str = "gpt", reviewer: str = "claude", extra: str = "") -> str:
    """A harness.toml pointing both providers at the fake server, with explicit prices."""
    return f'''
[models.gpt]
provider = "openai"
model = "gpt-fake"
base_url = "{url}/v1"
api_key_env = "OPENAI_API_KEY"
tier = "cheap"
input_per_mtok = 1.0
output_per_mtok = 4.0
cache_read_per_mtok = 0.1
cache_write_per_mtok = 1.25
max_output_tokens = 1000

[models.claude]
provider = "anthropic"
model = "claude-fake"
base_url = "{url}"
api_key_env = "ANTHROPIC_API_KEY"
tier = "frontier"
input_per_mtok = 3.0
output_per_mtok = 15.0
cache_read_per_mtok = 0.3
cache_write_per_mtok = 3.75
max_output_tokens = 1000

[roles]
implementer = "{implementer}"
reviewer = "{reviewer}"

[routing]
strategy = "fixed"
escalate = false

[agent]
max_retries = 2
request_timeout_s = 20

{extra}
'''


@pytest.fixture
def fake() -> Iterator[FakeModels]:
    """A running fake model server."""
    with FakeModels() as server:
        yield server


@pytest.fixture
def repo(tmp_path: Path, fake: FakeModels) -> Path:
    """A committed sample repo (calc with a bug in add) with a harness.toml for the fake server."""
    root = tmp_path / "repo"
    (root / "tests").mkdir(parents=True)
    (root / "calc.py").write_text(CALC)
    (root / "tests" / "test_calc.py").write_text(TESTS)
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "harness.toml").write_text(config_text(fake.url))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "base")
    return root


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    """Run the real `harness` console entry point in a subprocess."""
    full_env = {**os.environ, **FAKE_KEYS, **(env or {})}
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """One throwaway PostgreSQL server for the session; each test makes its own database in it."""
    if postgres_bin() is None:
        pytest.fail("PostgreSQL binaries are missing: run ./bootstrap.sh")
    with postgres_server() as url:
        yield url
