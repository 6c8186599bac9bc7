"""The implementer misbehaving: malformed calls, empty answers, loops and limits stop with a clear reason."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import git, run_cli
from tests.fake_models import FakeModels, reply, tool
from tests.test_do_e2e import FIX_ADD

REQUEST = "Fix add() so it returns the sum"


def tool_result(fake: FakeModels, request_index: int) -> str:
    """The tool message the implementer received in its n-th request (OpenAI format)."""
    return fake.requests["openai"][request_index]["messages"][-1]["content"]


def test_malformed_tool_calls_are_explained_then_stop(repo: Path, fake: FakeModels) -> None:
    fake.script("openai",
                reply({"name": "edit_file", "arguments": {}, "raw": "{not json"}),
                reply(tool("delete_everything", path=".")),
                reply(tool("edit_file", path="calc.py", old="return a - b")))

    done = run_cli("do", REQUEST, "--json", cwd=repo)

    assert done.returncode == 1
    assert "not a valid JSON object" in tool_result(fake, 1)
    assert "unknown tool 'delete_everything'" in tool_result(fake, 2)
    assert len(fake.requests["openai"]) == 3
    result = json.loads(done.stdout)
    assert result["status"] == "not_trusted"
    assert "3 turns of failing tool calls" in result["reason"]


def test_missing_argument_is_reported_to_the_model(repo: Path, fake: FakeModels) -> None:
    fake.script("openai", reply(tool("edit_file", path="calc.py", old="return a - b")), reply(FIX_ADD),
                reply(tool("read_file", path="calc.py")), reply(tool("read_file", path="calc.py")),
                reply(tool("read_file", path="calc.py")))

    run_cli("do", REQUEST, "--json", cwd=repo)

    assert "bad arguments for edit_file" in tool_result(fake, 1) and "new" in tool_result(fake, 1)


def test_empty_answers_and_refusals_stop_after_n_turns(repo: Path, fake: FakeModels) -> None:
    fake.script("openai", reply(), reply(text="I can't help with that."), reply())

    done = run_cli("do", REQUEST, "--json", cwd=repo)

    assert done.returncode == 1
    assert "Use the tools" in tool_result(fake, 1)
    assert "3 turns without a usable tool call" in json.loads(done.stdout)["reason"]


def test_loop_stops_and_keeps_work_on_an_untrusted_branch(repo: Path, fake: FakeModels) -> None:
    again = reply(tool("read_file", path="calc.py"))
    fake.script("openai", reply(FIX_ADD), again, again, again, again)

    done = run_cli("do", REQUEST, "--json", cwd=repo)

    assert done.returncode == 1
    result = json.loads(done.stdout)
    assert "repeated 3 times" in result["reason"]
    assert len(fake.requests["openai"]) == 4
    assert result["branch"].endswith("-untrusted")
    assert "return a + b" in git(repo, "show", f"{result['branch']}:calc.py")
    # An unfinished implementer's work is not sent for review.
    assert fake.requests["anthropic"] == []


def test_step_limit(repo: Path, fake: FakeModels) -> None:
    (repo / "harness.toml").write_text((repo / "harness.toml").read_text().replace("[agent]", "[agent]\nmax_steps = 2"))
    git(repo, "commit", "-qam", "steps")
    fake.script("openai", reply(tool("read_file", path="calc.py")), reply(tool("list_files", path=".")),
                reply(tool("finish", summary="never reached")))

    done = run_cli("do", REQUEST, "--json", cwd=repo)

    assert done.returncode == 1
    assert "step limit (2 steps)" in json.loads(done.stdout)["reason"]
    assert len(fake.requests["openai"]) == 2


def test_wall_clock_limit(repo: Path, fake: FakeModels) -> None:
    (repo / "harness.toml").write_text((repo / "harness.toml").read_text().replace("[agent]", "[agent]\nmax_wall_s = 2"))
    git(repo, "commit", "-qam", "wall")
    fake.script("openai", reply(tool("run", command="sleep 3")), reply(tool("finish", summary="late")))

    done = run_cli("do", REQUEST, "--json", cwd=repo)

    assert done.returncode == 1
    assert "wall-clock limit" in json.loads(done.stdout)["reason"]
    assert len(fake.requests["openai"]) == 1
