"""Units of the roles layer: risk levels, policy filtering and cleaning, audits, attribution, reports."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from harness.attribution import RunFacts, attribute_attempt
from harness.audit import apply_audit, deterministic_checks, parse_audit
from harness.config import HarnessConfig
from harness.errors import ConfigError
from harness.memory import Memory
from harness.planner import ArchiveRepo, parse_plan
from harness.policy import RestrictedContent, apply_policy
from harness.records import Finding, Message, ModelRequest, Review, TestComparison, TestReport, ToolCall, ToolResult
from harness.risk import assess
from harness.roles_config import PolicyConfig, RiskConfig
from harness.roles_store import record_attribution, record_scorecard
from harness.task import TaskResult
from tests.conftest import run_cli


def _diff(path: str, added: str = "x = 1", lines: int = 1) -> str:
    body = "".join(f"+{added}\n" for _ in range(lines))
    return f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -0,0 +1,{lines} @@\n{body}"


@pytest.mark.parametrize("path, level", [
    ("calc.py", "low"), ("src/auth/session.py", "high"), (".github/workflows/ci.yml", "high"),
    ("app/migrations/0002_add.py", "high"), ("pyproject.toml", "medium"), ("author.py", "low"),
])
def test_risk_level_from_paths(path: str, level: str) -> None:
    risk = assess(_diff(path), RiskConfig(), confidence=0.9)
    assert risk.level == level
    assert risk.policy.needs_human == (level == "high")


def test_low_confidence_raises_the_level_and_size_counts() -> None:
    assert assess(_diff("calc.py"), RiskConfig(), confidence=0.1).level == "medium"
    big = "".join(_diff(f"m{n}.py", lines=120) for n in range(3))
    assert assess(big, RiskConfig(medium_lines=300), confidence=0.9).level == "medium"


def _config(reviewer: str = "gpt", **policy: object) -> HarnessConfig:
    models = {n: {"provider": p, "model": f"{n}-id", "input_per_mtok": 1, "output_per_mtok": 1,
                  **({"base_url": "http://localhost:8080/v1"} if n == "local" else {})}
              for n, p in (("gpt", "openai"), ("claude", "anthropic"), ("local", "openai"))}
    return HarnessConfig.model_validate({"models": models, "roles": {"implementer": "local", "reviewer": reviewer},
                                         "policy": policy})


def test_policy_matches_host_provider_and_name() -> None:
    # A local OpenAI-compatible server stays allowed when the OpenAI host is denied.
    assert set(apply_policy(_config("claude", deny=["api.openai.com"]), {}).models) == {"claude", "local"}
    # The provider name is the protocol: denying "openai" denies the local server too.
    with pytest.raises(ConfigError, match="roles.implementer"):
        apply_policy(_config("claude", deny=["openai"]), {})
    assert set(apply_policy(_config(deny=["claude-id"]), {}).models) == {"gpt", "local"}


def test_policy_refuses_a_denied_role_or_forced_model() -> None:
    with pytest.raises(ConfigError, match="roles.reviewer"):
        apply_policy(_config(deny=["api.openai.com"]), {})
    with pytest.raises(ConfigError, match="--implementer"):
        apply_policy(_config(allow=["localhost", "gpt"]), {"implementer": "claude"})
    assert set(apply_policy(_config(allow=["localhost", "gpt"]), {}).models) == {"local", "gpt"}


def _tar(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_restricted_content_withholds_identifying_lines_and_diff_blocks() -> None:
    tar = _tar({"vault/keys.py": "import os\nSALT = 'penguin-harbour-0042'\n", "app.py": "import os\n"})
    content = RestrictedContent(tar, PolicyConfig(restricted_paths=["vault/**"], min_line_chars=8))
    request = ModelRequest(system="map: SALT = 'penguin-harbour-0042'", messages=[
        Message(role="tool", tool_results=[ToolResult(call_id="1", content="    2  SALT = 'penguin-harbour-0042'")]),
        Message(role="user", text=_diff("vault/keys.py", "NEW = 'other'") + _diff("app.py", "y = 2")),
        Message(role="assistant", tool_calls=[ToolCall(id="1", name="read_file", arguments={"path": "vault/keys.py"})]),
    ])
    cleaned = content.clean_request(request).model_dump_json()
    assert "penguin-harbour" not in cleaned and "NEW = 'other'" not in cleaned
    assert "+y = 2" in cleaned and "vault/keys.py" in cleaned


def test_archive_repo_is_read_only_and_bounded() -> None:
    repo = ArchiveRepo(_tar({"a/b.py": "def f():\n    return 1\n"}), 1000)
    assert repo.read("a/b.py").splitlines()[0].endswith("def f():")
    assert repo.search(r"return", ".") == "a/b.py:2:    return 1"
    result = repo.execute(ToolCall(id="1", name="write_file", arguments={"path": "a/b.py", "content": ""}))
    assert result.is_error and "planner may" in result.content
    assert repo.execute(ToolCall(id="2", name="read_file", arguments={"path": "../etc/passwd"})).is_error


def test_plan_steps_must_depend_on_earlier_steps() -> None:
    steps = [{"title": "a", "request": "a"}, {"title": "b", "request": "b", "depends_on": [2]}]
    with pytest.raises(ValueError, match="earlier"):
        parse_plan({"approach": "x", "files": [], "tests": [], "fence": [], "steps": steps}, "p", 4)
    one = parse_plan({"approach": "x", "files": [], "tests": [], "fence": [], "steps": steps[:1]}, "p", 4)
    assert one.steps == []  # a single step is just the request


def test_audit_corrections_when_the_reviewer_does_not_resolve_them() -> None:
    guard = Finding(path="x.py", line=1, severity="blocker", category="security", message="secret",
                    source="guard", rule="secrets.key_format")
    approve = Review(verdict="approve", summary="ok", reviewer="r")
    checks = deterministic_checks(approve, [guard], ["minor", "nit"])
    audit = parse_audit({"sound": True, "summary": "fine", "missed": [], "false_positives": []}, "a", 1, checks, approve)
    assert not audit.sound  # the model cannot talk a deterministic problem away
    assert apply_audit(approve, audit).verdict == "request_changes"
    wrong = Review(verdict="request_changes", summary="no", reviewer="r", findings=[
        Finding(path="x.py", line=2, severity="blocker", category="correctness", message="not real")])
    fp = parse_audit({"sound": False, "summary": "fp", "missed": [], "false_positives": [1, 9]}, "a", 1, [], wrong)
    assert fp.false_positives == [1]
    fixed = apply_audit(wrong, fp)
    assert fixed.verdict == "approve" and fixed.findings[0].severity == "nit"


def _tests(ok: bool) -> TestComparison:
    report = TestReport(exit_code=0 if ok else 1, passed=1, failed=0 if ok else 1)
    return TestComparison(base=report, head=report, new_failures=[] if ok else ["t::x"])


def test_attribution_of_escalation_and_classification(tmp_path: Path) -> None:
    with Memory(tmp_path / "m.db") as memory:
        run = memory.start_run("do", "r", "req", None)
        task = memory.start_task(run, "req", "cheap", "rev")
        facts = RunFacts(run_id=run, difficulty="<15 min fix", planning_skipped=True)
        budget = TaskResult(status="budget_exceeded", reason="budget exceeded: run")
        assert attribute_attempt(memory, task, 2, budget, facts, False).stage == "escalation"
        assert attribute_attempt(memory, task, 1, budget, facts, False).stage == "execution"
        rejected = TaskResult(status="not_trusted", diff=_diff("calc.py"), tests=_tests(True), reason="review: reject",
                              reviews=[Review(verdict="request_changes", summary="meh")])
        assert attribute_attempt(memory, task, 1, rejected, facts, later_trusted=True).stage == "classification"
        assert attribute_attempt(memory, task, 1, rejected, facts, later_trusted=False).stage == "execution"
        failing = rejected.model_copy(update={"tests": _tests(False)})
        assert attribute_attempt(memory, task, 1, failing, facts, False).stage == "testing"


def test_report_failures_and_scorecard(repo: Path) -> None:
    (repo / "memory").mkdir()
    with Memory(repo / "memory" / "harness.db") as memory:
        run = memory.start_run("do", str(repo), "req", None)
        task = memory.start_task(run, "req", "gpt", "claude")
        record_attribution(memory, run, task, "testing", "tests fail on head: t::x", [f"task:{task}", f"tests:{task}"])
        record_scorecard(memory, {"task_id": task, "run_id": run, "implementer": "gpt", "reviewer": "claude",
                                  "planner": None, "followed_patterns": True, "overbuild_score": 2.0,
                                  "self_corrected": False, "findings": 3, "revision_rounds": 1, "finished": True,
                                  "trusted": False})
    failures = json.loads(run_cli("report", "--failures", "--json", cwd=repo).stdout)
    assert failures["total"] == 1 and failures["stages"]["testing"]["count"] == 1
    assert failures["stages"]["testing"]["recent"][0]["implementer"] == "gpt"
    card = json.loads(run_cli("report", "--scorecard", "--by", "role", "--json", cwd=repo).stdout)["rows"]
    assert {(r["role"], r["model"]) for r in card} == {("implementer", "gpt"), ("reviewer", "claude")}
    assert card[0]["findings_per_task"] == 3.0
    assert run_cli("report", "--scorecard", "--by", "week", cwd=repo).returncode == 2
