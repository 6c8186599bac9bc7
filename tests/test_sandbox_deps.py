"""Per-repo deps images: inputs from the tracked files, reused while unchanged, rebuilt on change,
picked up by `harness do` automatically."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from harness.sandbox.deps import DEPS_LABEL, repo_key, requirement_inputs
from tests.conftest import git, run_cli
from tests.fake_models import FakeModels, reply, tool


def tar_of(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_inputs_come_from_requirement_files_and_pyproject_test_deps() -> None:
    pyproject = """
[project]
name = "x"
dependencies = ["requests>=2"]
[project.optional-dependencies]
test = ["pytest-mock"]
docs = ["sphinx"]
[dependency-groups]
dev = ["hypothesis", {include-group = "test"}]
"""
    inputs = requirement_inputs(tar_of({
        "requirements.txt": "attrs\n-r requirements/base.txt\n-e .\n./local/pkg\nfile:///x.whl\n",
        "requirements-dev.txt": "black\n", "requirements/base.txt": "six\n", "pyproject.toml": pyproject,
        "src/requirements.txt": "nested is ignored\n", "app.py": "print()\n"}))
    assert inputs == {"requirements.txt": "attrs\n-r requirements/base.txt\n", "requirements-dev.txt": "black\n",
                      "requirements/base.txt": "six\n",
                      "pyproject-requirements.txt": "requests>=2\npytest-mock\nhypothesis\n"}


def test_no_requirements_means_no_deps_image() -> None:
    assert requirement_inputs(tar_of({"app.py": "x\n", "pyproject.toml": "[project]\nname = 'x'\n"})) == {}
    assert requirement_inputs(tar_of({"requirements.txt": "# nothing yet\n\n"})) == {}
    assert requirement_inputs(tar_of({"pyproject.toml": "not toml ["})) == {}


@pytest.fixture
def cleanup_images(repo: Path) -> Iterator[None]:
    yield
    client = docker.from_env()
    for image in client.images.list(filters={"label": f"{DEPS_LABEL}={repo_key(repo)}"}):
        client.images.remove(image.id, force=True)
    client.close()


def deps_images(repo: Path) -> list[str]:
    client = docker.from_env()
    try:
        return sorted(t for i in client.images.list(filters={"label": f"{DEPS_LABEL}={repo_key(repo)}"})
                      for t in i.tags)
    finally:
        client.close()


def test_deps_image_is_reused_rebuilt_and_used_by_harness_do(repo: Path, fake: FakeModels,
                                                             cleanup_images: None) -> None:
    # iniconfig is already in the base image (a pytest dependency): pip needs no network here.
    (repo / "requirements.txt").write_text("iniconfig\n")
    git(repo, "add", "requirements.txt")
    git(repo, "commit", "-qm", "requirements")

    first = run_cli("sandbox", "build", "--repo", ".", cwd=repo)
    assert first.returncode == 0, first.stderr
    assert "built harness-sandbox-" in first.stdout
    [tag] = deps_images(repo)
    again = run_cli("sandbox", "build", "--repo", ".", cwd=repo)
    assert f"{tag} is up to date" in again.stdout and deps_images(repo) == [tag]

    fake.script("openai", reply(tool("run", command="cat /etc/harness-deps/requirements.txt")),
                reply(tool("finish", summary="looked")))
    run_cli("do", "Fix add() so it returns the sum", "--json", cwd=repo)
    assert "iniconfig" in fake.requests["openai"][1]["messages"][-1]["content"]

    # Changed requirements: the old image no longer matches, so a run uses the base image...
    (repo / "requirements.txt").write_text("iniconfig\npluggy\n")
    git(repo, "commit", "-qam", "more requirements")
    fake.script("openai", reply(tool("run", command="cat /etc/harness-deps/requirements.txt")),
                reply(tool("finish", summary="looked")))
    run_cli("do", "Fix add() so it returns the sum", "--json", cwd=repo)
    assert "No such file" in fake.requests["openai"][3]["messages"][-1]["content"]
    # ...until it is rebuilt, under a new tag that replaces the old one.
    rebuilt = run_cli("sandbox", "build", "--repo", ".", cwd=repo)
    assert rebuilt.returncode == 0, rebuilt.stderr
    [new_tag] = deps_images(repo)
    assert new_tag != tag and f"built {new_tag}" in rebuilt.stdout
    fake.script("openai", reply(tool("run", command="cat /etc/harness-deps/requirements.txt")),
                reply(tool("finish", summary="looked")))
    done = run_cli("do", "Fix add() so it returns the sum", "--json", cwd=repo)
    assert "pluggy" in fake.requests["openai"][5]["messages"][-1]["content"], json.loads(done.stdout)
