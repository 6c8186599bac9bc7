"""Lessons: written only with evidence, linked to run and finding, scoped, deduplicated, given to later
tasks (asserted on the fake model server's recorded requests), listed and removed through the CLI."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from harness.lessons import add_lesson, list_lessons, matches, relevant_lessons, remove_lesson, scope_for
from harness.memory import Memory
from tests.conftest import git, run_cli
from tests.fake_models import FakeModels, reply, review, tool
from tests.test_trust_scenarios import ADD_TEST, FINISH, FIX_ADD, READ_CALC, harness_do, implementer_steps

SKIP_MUL = tool("edit_file", path="tests/test_calc.py", old="def test_mul():",
                new="import pytest\n\n\n@pytest.mark.skip(reason='slow')\ndef test_mul():")
UNSKIP_MUL = tool("edit_file", path="tests/test_calc.py",
                  old="import pytest\n\n\n@pytest.mark.skip(reason='slow')\ndef test_mul():", new="def test_mul():")
SKIP_ADVICE = "Do not skip or xfail tests to get a green run."


def lessons_json(repo: Path) -> list[dict]:
    done = run_cli("lessons", "--json", cwd=repo)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def system_prompt(request: dict) -> str:
    """The system text of an OpenAI chat request."""
    return next(m["content"] for m in request["messages"] if m["role"] == "system")


def test_no_evidence_no_lesson(repo: Path, fake: FakeModels) -> None:
    fake.script("openai", *implementer_steps(READ_CALC, FIX_ADD, ADD_TEST))
    fake.script("anthropic", review("approve", [{"path": "calc.py", "line": 6, "severity": "minor",
                                                 "category": "other", "message": "consider a docstring example"}]))
    code, _ = harness_do(repo)
    assert code == 0
    assert lessons_json(repo) == []


def test_fixed_guard_finding_becomes_a_lesson_for_later_tasks(repo: Path, fake: FakeModels) -> None:
    # Run 1: round 1 skips a test (guard blocker), the revision removes the skip: evidence of a lesson.
    fake.script("openai", *implementer_steps(READ_CALC, FIX_ADD, ADD_TEST, SKIP_MUL), reply(UNSKIP_MUL), reply(FINISH))
    fake.script("anthropic", review("approve"), review("approve"))
    code, first = harness_do(repo)
    assert code == 0 and first["rounds"] == 2, first

    (lesson,) = lessons_json(repo)
    assert lesson["text"] == SKIP_ADVICE
    assert (lesson["run_id"], lesson["origin"], lesson["scope"]) == (first["run_id"], "fixed_finding", "tests/**")
    db = sqlite3.connect(repo / "memory" / "harness.db")
    rule, found_round = db.execute("SELECT rule, round FROM findings WHERE id = ?", (lesson["finding_id"],)).fetchone()
    assert (rule, found_round) == ("tests.skip_added", 1)

    # Run 2, another request in the same repo: the implementer and the reviewer are given the lesson.
    fake.requests["openai"].clear()
    fake.requests["anthropic"].clear()
    mul_test = tool("edit_file", path="tests/test_calc.py", old="def test_runs_in_sandbox():",
                    new="def test_mul_zero():\n    assert mul(0, 5) == 0\n\n\ndef test_runs_in_sandbox():")
    fake.script("openai", *implementer_steps(mul_test))
    fake.script("anthropic", review("approve"))
    harness_do(repo, "Add a test that mul() by zero is zero")
    assert SKIP_ADVICE in system_prompt(fake.requests["openai"][0])
    assert f"learned in run {first['run_id']}" in system_prompt(fake.requests["openai"][0])
    assert SKIP_ADVICE in json.dumps(fake.requests["anthropic"][0]["messages"])

    # Removed lessons are no longer given.
    done = run_cli("lessons", "rm", str(lesson["id"]), cwd=repo)
    assert done.returncode == 0 and lessons_json(repo) == []
    assert run_cli("lessons", "rm", str(lesson["id"]), cwd=repo).returncode == 2


def test_cited_convention_becomes_a_lesson_and_uncited_or_invented_ones_do_not(repo: Path, fake: FakeModels) -> None:
    (repo / "harness.toml").write_text((repo / "harness.toml").read_text() + "\n[review]\nmax_revisions = 0\n")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "no revisions")
    cited = {"path": "calc.py", "line": 6, "severity": "minor", "category": "patterns",
             "message": "functions here carry a one-line docstring like calc.py:10; keep that"}
    uncited = {"path": "calc.py", "line": 6, "severity": "major", "category": "patterns",
               "message": "this is not how the repo names things"}
    invented = {"path": "calc.py", "line": 5, "severity": "minor", "category": "patterns",
                "message": "see helpers.py:40 for the usual style"}
    fake.script("openai", *implementer_steps(READ_CALC, FIX_ADD, ADD_TEST))
    fake.script("anthropic", review("approve", [cited, uncited, invented]))

    code, result = harness_do(repo)

    # The uncited major was downgraded to a nit, so it does not block.
    assert code == 0, result
    severities = {f["message"].split(" [")[0]: f["severity"] for f in result["review"]["findings"]}
    assert severities["this is not how the repo names things"] == "nit"
    (lesson,) = lessons_json(repo)
    assert lesson["origin"] == "convention" and "calc.py:10" in lesson["text"]
    assert lesson["scope"] == "*.py" and lesson["finding_id"] is not None


def test_a_test_failing_on_base_is_recorded_as_a_quirk(repo: Path, fake: FakeModels) -> None:
    (repo / "tests" / "test_known.py").write_text("def test_known_broken():\n    assert 1 == 2\n")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "known broken")
    fake.script("openai", *implementer_steps(READ_CALC, FIX_ADD, ADD_TEST))
    fake.script("anthropic", review("approve"))
    harness_do(repo)
    (lesson,) = lessons_json(repo)
    assert lesson["origin"] == "test_quirk" and lesson["scope"] == "tests/test_known.py"
    assert lesson["text"].startswith("tests/test_known.py::test_known_broken already fails on base")


def _memory_with_run(tmp_path: Path) -> tuple[Memory, str]:
    memory = Memory(tmp_path / "m.db")
    return memory, memory.start_run("do", "/r", "req", None)


def test_lessons_are_deduplicated_scoped_and_removable(tmp_path: Path) -> None:
    memory, run = _memory_with_run(tmp_path)
    with memory:
        first = add_lesson(memory, "/r", "pkg/**", None, "Do not skip tests.", run, None, "fixed_finding", "e")
        assert first is not None
        assert add_lesson(memory, "/r", "pkg/**", None, "do not skip  tests", run, None, "fixed_finding", "e") is None
        assert add_lesson(memory, "/r", "pkg/**", None, "Do not skip tests!", run, None, "fixed_finding", "e") is None
        other = add_lesson(memory, "/r", "*.py", "feature", "Raise ValueError like calc.py:3.", run, None, "convention", "e")
        add_lesson(memory, "/elsewhere", "*", None, "Another repo's lesson.", run, None, "fixed_finding", "e")
        assert [x.text for x in list_lessons(memory, "/r")] == ["Raise ValueError like calc.py:3.", "Do not skip tests."]
        # Kind-scoped lessons only go to tasks of that kind; path matches come first.
        assert [x.id for x in relevant_lessons(memory, "/r", "bug_fix", ["pkg/a.py"], 8)] == [first.id]
        assert [x.id for x in relevant_lessons(memory, "/r", "feature", ["pkg/notes.md"], 8)] == [first.id, other.id]
        assert relevant_lessons(memory, "/r", "feature", ["docs/x.md"], 8, require_match=True) == []
        assert remove_lesson(memory, first.id) and not remove_lesson(memory, first.id)


def test_scope_globs() -> None:
    assert scope_for("pkg/sub/mod.py") == "pkg/sub/**" and scope_for("calc.py") == "*.py"
    assert matches("pkg/**", "pkg/a/b.py") and not matches("pkg/**", "other/pkg.py")
    assert matches("*.py", "calc.py") and matches("*", "README")
