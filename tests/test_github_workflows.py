"""The composite action and the example workflows pass offline linters and keep the hardening rules."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
ACTION = ROOT / "action.yml"
WORKFLOWS = sorted((ROOT / "examples" / "github").glob("*.yml"))
# The PR-job files (issue 6); other example workflows are schema-checked here and audited by their owners.
PR_JOB_FILES = [ACTION, *(ROOT / "examples" / "github" / name for name in ("review-pr.yml", "do-on-comment.yml",
                                                                                 "nightly-queue.yml"))]
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    path = BIN / name if (BIN / name).exists() else shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]'")
    return str(path)


def test_zizmor_offline_finds_nothing() -> None:
    done = subprocess.run([tool("zizmor"), "--offline", "--persona=pedantic", "--no-progress",
                           *map(str, PR_JOB_FILES)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(("schema", "files"), [("vendor.github-actions", [ACTION]),
                                               ("vendor.github-workflows", WORKFLOWS)])
def test_files_match_the_github_schemas(schema: str, files: list[Path]) -> None:
    # The vendored schemas ship inside check-jsonschema: no network needed.
    done = subprocess.run([tool("check-jsonschema"), "--builtin-schema", schema, *map(str, files)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("path", PR_JOB_FILES[1:], ids=lambda p: p.name)
def test_workflow_hardening(path: Path) -> None:
    text = path.read_text()
    flow = yaml.safe_load(text)
    triggers = flow[True] if True in flow else flow["on"]  # YAML 1.1 reads `on` as true
    assert "pull_request_target" not in triggers
    assert flow["permissions"] == {}  # nothing by default; each job asks for what it needs
    assert flow["concurrency"]["group"]
    for job in flow["jobs"].values():
        assert set(job["permissions"]) <= {"contents", "pull-requests", "issues", "statuses"}
        for step in job["steps"]:
            assert "${{" not in step.get("run", ""), "event text must reach run: through env:"
            uses = step.get("uses", "")
            assert not uses or re.search(r"@[0-9a-f]{40}$", uses), f"{uses} is not pinned to a commit"
            if uses.startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False


def test_action_reads_untrusted_values_only_through_env() -> None:
    action = yaml.safe_load(ACTION.read_text())
    for step in action["runs"]["steps"]:
        assert "${{" not in step.get("run", "")


def test_action_caches_the_sandbox_image_under_its_recipe_hash() -> None:
    steps = {s["name"]: s for s in yaml.safe_load(ACTION.read_text())["runs"]["steps"]}
    key = "${{ steps.image.outputs.key }}"
    assert "harness sandbox recipe" in steps["Sandbox image cache key"]["run"]
    assert steps["Restore the sandbox image"]["with"]["key"] == steps["Save the sandbox image"]["with"]["key"] == key
    assert steps["Save the sandbox image"]["if"] == "steps.image-cache.outputs.cache-hit != 'true'"
    # The key is the label `sandbox build` gives the image, so a restored image is one the build accepts.
    printed = subprocess.run([str(BIN / "harness"), "sandbox", "recipe"], capture_output=True, text=True, timeout=60)
    label = subprocess.run(["docker", "inspect", "-f", '{{index .Config.Labels "harness.recipe"}}',
                            "harness-sandbox:latest"], capture_output=True, text=True, timeout=60)
    assert printed.returncode == 0 and printed.stdout.strip() == label.stdout.strip() != ""
