"""The other commands on a real run: demo, doctor, runs, show, --apply."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import git, run_cli
from tests.fake_models import FakeModels, reply, review, tool
from tests.test_do_e2e import ADD_TEST, FIX_ADD

REQUEST = "Fix add() so it returns the sum"


def test_demo_runs_the_whole_pipeline_with_scripted_models(tmp_path: Path) -> None:
    done = run_cli("demo", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "SCRIPTED" in done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "trusted" and result["rounds"] == 2
    assert result["tests"]["base"]["passed"] == 3 and result["tests"]["head"]["passed"] == 5
    assert result["review"]["verdict"] == "approve"
    assert float(result["cost_usd"]) > 0


def test_doctor_reports_each_check(repo: Path) -> None:
    done = run_cli("doctor", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    checks = {line.split(":")[0][5:] for line in done.stdout.splitlines()}
    assert {"git", "config", "price gpt", "price claude", "key gpt", "key claude", "docker", "sandbox image"} <= checks
    missing = run_cli("doctor", cwd=repo, env={"ANTHROPIC_API_KEY": ""})
    assert missing.returncode == 1
    assert "FAIL key claude: ANTHROPIC_API_KEY is not set" in missing.stdout


def test_doctor_warns_when_the_image_keeps_tools_in_home(repo: Path, tmp_path: Path) -> None:
    # A custom image that installed something into $HOME: the sandbox's tmpfs $HOME would hide it.
    (tmp_path / "Dockerfile").write_text("FROM harness-sandbox:latest\nRUN mkdir -p /home/sandbox/.cargo/bin\n")
    tag = "harness-test-home:latest"
    subprocess.run(["docker", "build", "-q", "--network", "none", "-t", tag, str(tmp_path)], check=True,
                   capture_output=True)
    try:
        done = run_cli("doctor", cwd=repo, env={"HARNESS_SANDBOX__IMAGE": tag})
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)
    assert done.returncode == 0, done.stdout  # a warning, not a failure
    assert "warn sandbox home: the image's $HOME holds .cargo, which a sandbox cannot see" in done.stdout


def test_apply_runs_show_and_runs(repo: Path, fake: FakeModels) -> None:
    fake.script("openai", reply(FIX_ADD), reply(ADD_TEST), reply(tool("finish", summary="ok")))
    fake.script("anthropic", review("approve", summary="good change"))

    done = run_cli("do", REQUEST, "--json", "--apply", cwd=repo)

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    # --apply writes the trusted change into the working tree, on the user's own branch.
    assert "return a + b" in (repo / "calc.py").read_text()
    assert git(repo, "branch", "--show-current").strip() == "main"
    listed = json.loads(run_cli("runs", "--json", cwd=repo).stdout)
    assert [r["id"] for r in listed] == [result["run_id"]]
    assert listed[0]["cost_usd"] == result["cost_usd"]
    shown = json.loads(run_cli("show", result["run_id"][:6], "--json", cwd=repo).stdout)
    assert shown["run"]["status"] == "trusted"
    assert len(shown["calls"]) == 4
    human = run_cli("show", result["run_id"], cwd=repo)
    assert "good change" in human.stdout and "cache hit ratio" in human.stdout
    unknown = run_cli("show", "nope", cwd=repo)
    assert unknown.returncode == 2 and unknown.stderr.startswith("error: no run")
