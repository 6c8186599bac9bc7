"""Seeded failures end to end: each is attributed to the stage that caused it, with evidence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import config_text, run_cli
from tests.fake_models import FakeModels, reply, review, tool
from tests.roles_support import ADD_TEST, FIX_ADD, FIXED, REQUEST, db, plan_reply, three_models, use_config

ONE_ROUND = "[review]\nmax_revisions = 0\n"
BREAK_MUL = tool("edit_file", path="calc.py", old="    return a * b\n", new="    return a + b\n")
BUMP = tool("edit_file", path="pyproject.toml", old='version = "0.1.0"', new='version = "0.1.1"')
OUT_OF_SCOPE = {"path": "pyproject.toml", "line": 3, "severity": "major", "category": "overbuilding",
                "message": "the version bump was not asked for"}
WRONG = {"path": "calc.py", "line": 6, "severity": "blocker", "category": "correctness",
         "message": "wrong approach: add() should delegate to operator.add"}


def _testing(fake: FakeModels, repo: Path) -> None:
    use_config(repo, config_text(fake.url, extra=ONE_ROUND))
    fake.script("openai", reply(FIX_ADD), reply(ADD_TEST), reply(BREAK_MUL), reply(tool("finish", summary="done")))
    fake.script("anthropic", review("approve"))


def _execution(fake: FakeModels, repo: Path) -> None:
    use_config(repo, config_text(fake.url, extra=ONE_ROUND))
    fake.script("openai", reply(tool("read_file", path="calc.py")), reply(FIX_ADD),
                *[reply(text="I think that is it.")] * 3)


def _context(fake: FakeModels, repo: Path) -> None:
    use_config(repo, config_text(fake.url, extra=ONE_ROUND))
    fake.script("openai", reply(tool("read_file", path="calc.py")), reply(FIX_ADD), reply(ADD_TEST), reply(BUMP),
                reply(tool("finish", summary="done")))
    fake.script("anthropic", review("request_changes", [OUT_OF_SCOPE]))


def _review(fake: FakeModels, repo: Path) -> None:
    use_config(repo, config_text(fake.url, extra=ONE_ROUND))
    fake.script("openai", *FIXED)
    fake.script("anthropic", reply(text="Looks fine to me."), reply(text="Still fine."))


def _planning(fake: FakeModels, repo: Path) -> None:
    use_config(repo, three_models(fake.url, roles_extra='planner = "claude"',
                                  extra="[planning]\nenabled = true\nskip_trivial = false\n" + ONE_ROUND))
    fake.script_model("claude-fake", plan_reply(["calc.py"]))
    fake.script_model("gpt-fake", *FIXED)
    fake.script_model("gpt-fake-2", review("reject", [WRONG], summary="wrong approach"))


@pytest.mark.parametrize("seed, stage, evidence", [
    (_testing, "testing", "tests:"),
    (_execution, "execution", "calls:"),
    (_context, "context", "finding:"),
    (_review, "review", "calls:"),
    (_planning, "planning", "plan:"),
])
def test_seeded_failure_is_attributed_to_its_stage(repo: Path, fake: FakeModels, seed: Any, stage: str,
                                                   evidence: str) -> None:
    seed(fake, repo)

    done = run_cli("do", REQUEST, "--json", cwd=repo)

    assert done.returncode == 1, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "not_trusted"
    assert [a["stage"] for a in result["attribution"]] == [stage], result["attribution"]
    links = result["attribution"][0]["evidence"]
    assert links[0].startswith("task:") and any(link.startswith(evidence) for link in links)
    row = db(repo).execute("SELECT stage, evidence_json FROM attributions").fetchone()
    assert row["stage"] == stage and json.loads(row["evidence_json"]) == links
