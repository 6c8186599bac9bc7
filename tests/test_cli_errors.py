"""Bad input gets one line on stderr and exit 2, never a traceback, and nothing is spent."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import config_text, git, run_cli
from tests.fake_models import FakeModels


def assert_one_line_error(done, *needles: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "Traceback" not in done.stderr
    for needle in needles:
        assert needle in lines[0]


def test_not_a_git_repository(tmp_path: Path) -> None:
    assert_one_line_error(run_cli("do", "anything", cwd=tmp_path), "not inside a git repository")


def test_missing_config(repo: Path) -> None:
    (repo / "harness.toml").unlink()
    assert_one_line_error(run_cli("do", "anything", cwd=repo), "no config file", "harness init")


@pytest.mark.parametrize("extra, needle", [
    ("[budgets]\ntask_usd = 'lots'\n", "budgets.task_usd"),
    ("[sandbox]\nimage_name = 'x'\n", "sandbox.image_name"),
    ("[budgets\n", "not valid TOML"),
])
def test_bad_config(repo: Path, fake: FakeModels, extra: str, needle: str) -> None:
    (repo / "harness.toml").write_text(config_text(fake.url, extra=extra))
    assert_one_line_error(run_cli("do", "anything", cwd=repo), needle)
    assert fake.requests == {"anthropic": [], "openai": []}


def test_reviewer_equal_to_implementer(repo: Path, fake: FakeModels) -> None:
    (repo / "harness.toml").write_text(config_text(fake.url, reviewer="gpt"))
    assert_one_line_error(run_cli("do", "anything", cwd=repo), "different model")


def test_unknown_price(repo: Path, fake: FakeModels) -> None:
    text = config_text(fake.url).replace('model = "gpt-fake"', 'model = "no-such-model-anywhere"')
    text = text.replace("input_per_mtok = 1.0\noutput_per_mtok = 4.0\n", "")
    (repo / "harness.toml").write_text(text)
    assert_one_line_error(run_cli("do", "anything", cwd=repo), "gpt", "no known price")


def test_missing_key(repo: Path, fake: FakeModels) -> None:
    done = run_cli("do", "anything", cwd=repo, env={"OPENAI_API_KEY": ""})
    assert_one_line_error(done, "OPENAI_API_KEY")
    assert fake.requests == {"anthropic": [], "openai": []}


def test_unknown_forced_model(repo: Path) -> None:
    assert_one_line_error(run_cli("do", "anything", "--implementer", "nope", cwd=repo), "nope")


def test_bad_max_cost(repo: Path) -> None:
    assert_one_line_error(run_cli("do", "anything", "--max-cost", "ten", cwd=repo), "--max-cost")


def test_repo_without_commits(tmp_path: Path, fake: FakeModels) -> None:
    git(tmp_path, "init", "-q")
    (tmp_path / "harness.toml").write_text(config_text(fake.url))
    assert_one_line_error(run_cli("do", "anything", cwd=tmp_path), "no commits")


def test_init_writes_a_valid_config_and_refuses_to_overwrite(repo: Path) -> None:
    (repo / "harness.toml").unlink()
    done = run_cli("init", cwd=repo)
    assert done.returncode == 0, done.stderr
    from harness.config import load_config

    config = load_config(repo / "harness.toml", environ={})
    assert config.roles.implementer != config.roles.reviewer
    assert_one_line_error(run_cli("init", cwd=repo), "already exists")


def test_env_override(repo: Path, fake: FakeModels) -> None:
    from harness.config import load_config

    config = load_config(repo / "harness.toml", environ={"HARNESS_BUDGETS__TASK_USD": "0.25",
                                                         "HARNESS_SANDBOX__TEST_COMMAND": "pytest -x"})
    assert str(config.budgets.task_usd) == "0.25" and config.sandbox.test_command == "pytest -x"
    done = run_cli("do", "anything", cwd=repo, env={"HARNESS_BUDGETS__TASK_USD": "free"})
    assert_one_line_error(done, "budgets.task_usd")


def test_huge_repo_is_refused_before_any_call(repo: Path, fake: FakeModels) -> None:
    (repo / "harness.toml").write_text(config_text(fake.url, extra="[sandbox]\nmax_repo_mb = 0.001\n"))
    git(repo, "commit", "-qam", "tiny limit")
    assert_one_line_error(run_cli("do", "anything", cwd=repo), "max_repo_mb")
    assert fake.requests == {"anthropic": [], "openai": []}


def test_repo_larger_than_the_sandbox_disk_is_refused_before_any_call(repo: Path, fake: FakeModels) -> None:
    (repo / "harness.toml").write_text(config_text(fake.url, extra="[sandbox]\ndisk = \"4k\"\n"))
    git(repo, "commit", "-qam", "tiny disk")
    assert_one_line_error(run_cli("do", "anything", cwd=repo), "[sandbox] disk = '4k'")
    assert fake.requests == {"anthropic": [], "openai": []}
