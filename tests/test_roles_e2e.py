"""Roles end to end: planner, implementer and reviewer on three fake models, risk gates, audits,
model policy and split requests, through the real CLI, Docker sandbox, git and SQLite."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import git, run_cli
from tests.fake_models import FakeModels, reply, review, tool
from tests.roles_support import (
    ADD_FEES, ADD_SUB, ADD_SUB_TEST, ADD_TEST, FIX_ADD, FIXED, REQUEST, db, plan_reply, three_models, use_config,
)

PLANNING = "[planning]\nenabled = true\nskip_trivial = false\n"


def test_planner_implementer_reviewer_on_three_models(repo: Path, fake: FakeModels) -> None:
    use_config(repo, three_models(fake.url, roles_extra='planner = "claude"', extra=PLANNING))
    fake.script_model("claude-fake", reply(tool("read_file", path="calc.py")),
                      plan_reply(["calc.py", "tests/test_calc.py"], approach="Swap the minus in add() for a plus"))
    fake.script_model("gpt-fake", *FIXED)
    fake.script_model("gpt-fake-2", review("approve", summary="matches the plan"))

    done = run_cli("do", REQUEST, "--json", cwd=repo)

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "trusted"
    assert result["plan"]["planner"] == "claude" and result["plan"]["approach"] == "Swap the minus in add() for a plus"
    # The planner was forced to answer through submit_plan after reading, with read-only tools only.
    planner_calls = fake.by_model["claude-fake"]
    assert [t["name"] for t in planner_calls[0]["tools"]] == ["read_file", "list_files", "search", "submit_plan"]
    assert "def add(a, b)" in json.dumps(planner_calls[1]["messages"])
    # The plan is in every implementer request and in the reviewer's, with its fence.
    for body in [*fake.by_model["gpt-fake"], *fake.by_model["gpt-fake-2"]]:
        assert "Swap the minus in add() for a plus" in json.dumps(body)
        assert "mul() must not change" in json.dumps(body)
    conn = db(repo)
    roles = {(r["role"], r["model"]) for r in conn.execute("SELECT role, model FROM calls")}
    assert roles == {("planner", "claude"), ("implementer", "gpt"), ("reviewer", "gpt2")}
    assert conn.execute("SELECT status, planner FROM plans").fetchone()[:] == ("planned", "claude")
    card = conn.execute("SELECT implementer, reviewer, planner, finished, trusted FROM scorecards").fetchone()
    assert card[:] == ("gpt", "gpt2", "claude", 1, 1)


def test_high_risk_path_ends_needs_human_despite_approval(repo: Path, fake: FakeModels) -> None:
    request = "Create payments/fees.py with fee(amount) returning 2% of amount, tested in tests/test_fees.py"
    fake.script("openai", *ADD_FEES)
    fake.script("anthropic", review("approve", summary="fine"))

    done = run_cli("do", request, "--json", cwd=repo)

    assert done.returncode == 1, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "needs_human"
    assert result["review"]["verdict"] == "approve" and result["tests"]["ok"]
    assert result["risk"]["level"] == "high" and result["risk"]["needs_human"]
    assert any("payments/fees.py" in c for c in result["risk"]["checks"])
    assert "needs a human" in result["reason"]
    # The branch is kept with the change, marked as not trusted; the stop is attributed to escalation.
    assert "amount * 0.02" in git(repo, "show", f"{result['branch']}:payments/fees.py")
    assert [a["stage"] for a in result["attribution"]] == ["escalation"]
    assert db(repo).execute("SELECT level, gated FROM risks").fetchone()[:] == ("high", 1)


AUDITED = PLANNING.replace("enabled = true", "enabled = false") + "[risk.low]\naudit = true\n[risk.medium]\naudit = true\n"


def test_auditor_catches_approval_over_a_blocking_guard(repo: Path, fake: FakeModels) -> None:
    use_config(repo, three_models(fake.url, roles_extra='auditor = "claude"',
                                  extra=AUDITED + "[review]\nmax_revisions = 0\n"))
    fake.script_model("gpt-fake", reply(FIX_ADD), reply(ADD_TEST),
                      reply(tool("edit_file", path="harness.toml", old="[agent]\n", new="[agent]\n# tuned\n")),
                      reply(tool("finish", summary="fixed")))
    blocker = {"path": "harness.toml", "line": 1, "severity": "blocker", "category": "security",
               "message": "the harness config must not be edited by the change"}
    fake.script_model("gpt-fake-2", review("approve", summary="looks good"),
                      review("request_changes", [blocker], summary="the config edit must go"))
    fake.script_model("claude-fake", reply(tool("submit_audit", sound=False, summary="approved over a blocker",
                                                 missed=[blocker], false_positives=[])),
                      reply(tool("submit_audit", sound=True, summary="now right", missed=[], false_positives=[])))

    done = run_cli("do", REQUEST, "--json", cwd=repo)

    result = json.loads(done.stdout)
    assert result["status"] == "not_trusted" and done.returncode == 1
    assert result["review"]["verdict"] == "request_changes"
    audits = db(repo).execute("SELECT sound, audit_json FROM audits ORDER BY id").fetchall()
    assert [a["sound"] for a in audits] == [0, 1]
    first = json.loads(audits[0]["audit_json"])
    assert any("scope.protected_path" in c for c in first["checks"])
    # The reviewer was sent back with the audit, and the auditor saw the guard finding.
    assert "Audit of your previous review" in json.dumps(fake.by_model["gpt-fake-2"][1])
    assert "scope.protected_path" in json.dumps(fake.by_model["claude-fake"][0])


def test_auditor_catches_a_false_positive(repo: Path, fake: FakeModels) -> None:
    use_config(repo, three_models(fake.url, roles_extra='auditor = "claude"', extra=AUDITED))
    fake.script_model("gpt-fake", *FIXED)
    wrong = {"path": "calc.py", "line": 6, "severity": "blocker", "category": "correctness",
             "message": "add() must also concatenate strings"}
    fake.script_model("gpt-fake-2", review("request_changes", [wrong], summary="strings"),
                      review("approve", summary="agreed, the finding was not asked for"))
    fake.script_model("claude-fake", reply(tool("submit_audit", sound=False, summary="nobody asked for strings",
                                                 missed=[], false_positives=[1])),
                      reply(tool("submit_audit", sound=True, summary="ok", missed=[], false_positives=[])))

    done = run_cli("do", REQUEST, "--json", cwd=repo)

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "trusted" and result["rounds"] == 1
    assert "false positive" in json.dumps(fake.by_model["gpt-fake-2"][1])
    assert [r[0] for r in db(repo).execute("SELECT sound FROM audits ORDER BY id")] == [0, 1]
    assert len(fake.by_model["gpt-fake"]) == 3  # no revision round was spent on the false positive


def test_denied_provider_is_never_called(repo: Path, fake: FakeModels) -> None:
    use_config(repo, three_models(fake.url, strategy="learned", extra='[policy]\ndeny = ["anthropic"]\n'))
    fake.script("openai", *FIXED, review("approve"))

    done = run_cli("do", REQUEST, "--json", cwd=repo)

    assert done.returncode == 0, done.stderr
    assert fake.requests["anthropic"] == []
    forced = run_cli("do", REQUEST, "--json", "--reviewer", "claude", cwd=repo)
    assert forced.returncode == 2 and "denied by [policy]" in forced.stderr
    assert fake.requests["anthropic"] == []


SECRET_LINE = 'ROUTE_NOTE = "the falcon leaves at midnight from pier seven"'


def test_restricted_path_contents_never_reach_a_non_allowed_model(repo: Path, fake: FakeModels) -> None:
    (repo / "secret_area").mkdir()
    (repo / "secret_area" / "notes.py").write_text(f'"""Internal."""\n\n{SECRET_LINE}\n')
    use_config(repo, three_models(fake.url, reviewer="claude", extra=(
        '[policy]\nrestricted_paths = ["secret_area/**"]\nrestricted_models = ["claude"]\n')))
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "notes")
    fake.script_model("gpt-fake", reply(tool("read_file", path="secret_area/notes.py")),
                      reply(tool("run", command="cat secret_area/notes.py")),
                      reply(tool("search", pattern="falcon")), *FIXED)
    fake.script_model("claude-fake", review("approve"))

    done = run_cli("do", REQUEST, "--json", cwd=repo)

    assert done.returncode == 0, done.stderr
    sent = b"".join(fake.raw_bodies["openai"]).decode()
    assert "falcon leaves at midnight" not in sent
    assert sent.count("withheld by model policy") >= 3
    # The allowed reviewer still sees what it is sent (the policy filters per model).
    assert "withheld" not in json.dumps(fake.by_model["claude-fake"])


def test_two_step_request_produces_two_tested_commits(repo: Path, fake: FakeModels) -> None:
    use_config(repo, three_models(fake.url, roles_extra='planner = "claude"', extra=PLANNING))
    request = "Fix add() so it returns the sum, then add sub(a, b) returning a - b; test both"
    steps = [{"title": "fix add", "request": "Fix add() to return the sum, with a test"},
             {"title": "add sub", "request": "Add sub(a, b) returning a - b, with a test", "depends_on": [1]}]
    fake.script_model("claude-fake", plan_reply(["calc.py", "tests/test_calc.py"], steps))
    fake.script_model("gpt-fake", *FIXED, reply(ADD_SUB), reply(ADD_SUB_TEST), reply(tool("finish", summary="sub")))
    fake.script_model("gpt-fake-2", review("approve"), review("approve"), review("approve", summary="whole ok"))
    base = git(repo, "rev-parse", "HEAD").strip()

    done = run_cli("do", request, "--json", cwd=repo)

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "trusted" and [s["status"] for s in result["steps"]] == ["trusted", "trusted"]
    branch = result["branch"]
    assert git(repo, "rev-list", "--count", f"{base}..{branch}").strip() == "2"
    assert "return a + b" in git(repo, "show", f"{branch}:calc.py") and "def sub" in git(repo, "show", f"{branch}:calc.py")
    # Each step ran the tests in the sandbox: the second step's base already had test_add.
    assert [s["tests"]["head"]["passed"] for s in result["steps"]] == [3, 4]
    assert "THIS CHANGE IS STEP 2 OF 2" in json.dumps(fake.by_model["gpt-fake"][3])
    assert result["review"]["verdict"] == "approve"
    kinds = [r[0] for r in db(repo).execute("SELECT kind FROM runs ORDER BY started_at")]
    assert kinds == ["do", "step", "step"]


def test_weak_reviewer_is_followed_by_a_stronger_review_of_the_risky_hunks_only(repo: Path, fake: FakeModels) -> None:
    # calc.py counts as medium risk here, and medium risk wants a frontier reviewer; gpt2 is mid.
    use_config(repo, three_models(fake.url, extra='[risk]\nmedium_paths = ["calc.py"]\n'
                                                  '[risk.medium]\nreview_tier = "frontier"\n'))
    fake.script_model("gpt-fake", *FIXED)
    fake.script_model("gpt-fake-2", review("approve", summary="whole diff fine"))
    fake.script_model("claude-fake", review("approve", summary="the risky part is right"))

    done = run_cli("do", REQUEST, "--json", cwd=repo)

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "trusted"
    assert "risky hunks (claude)" in result["review"]["summary"]
    whole, focused = json.dumps(fake.by_model["gpt-fake-2"][0]), json.dumps(fake.by_model["claude-fake"][0])
    # The cheap reviewer saw the whole diff; the strong one only the calc.py section of it.
    assert "def test_add" in whole and "return a + b" in whole
    assert "return a + b" in focused and "def test_add" not in focused
    assert "You review only the risky hunks" in focused
