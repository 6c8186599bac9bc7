"""run_guards as the pipeline calls it: clean changes pass, findings come ordered and unique."""

from __future__ import annotations

import pytest
from tests.guards_support import Repo, comparison
from pydantic import ValidationError

from harness.guards import GuardContext, GuardsConfig, blocking, run_guards
from harness.records import SEVERITY_ORDER

T = "tests/test_core.py"
BASE = {f"{T}::test_add": "passed", f"{T}::test_divide": "passed", f"{T}::test_divide_by_zero": "passed"}
FIX = "make divide raise ValueError when b is zero"


@pytest.fixture
def repo(tmp_path):
    return Repo(tmp_path)


def small_fix(repo: Repo) -> None:
    repo.replace("calc/core.py", "return a / b", 'if b == 0:\n        raise ValueError("b is zero")\n    return a / b')
    repo.write(T, repo.read(T) + '\n\ndef test_divide_by_zero_is_a_value_error():\n'
               '    with pytest.raises(ValueError, match="zero"):\n        divide(1, 0)\n')


def test_clean_small_change_with_a_test_has_no_blocker(repo):
    small_fix(repo)
    new = f"{T}::test_divide_by_zero_is_a_value_error"
    tests = comparison(dict(BASE, **{new: "failed"}), dict(BASE, **{new: "passed"}))
    context = GuardContext(request=FIX, files_read=["calc/core.py", T], tests=tests, task_kind="bug_fix")
    findings = run_guards(repo.diff(), context, GuardsConfig())
    assert blocking(findings) == []
    assert [f for f in findings if f.severity == "major"] == []


def test_findings_are_ordered_by_severity_and_unique(repo):
    small_fix(repo)
    repo.replace(".github/workflows/ci.yml", "- run: pytest", "- run: pytest -q")
    repo.replace("calc/settings.toml", "precision = 2", "precision = 2\nverbose = true")
    repo.replace(T, "def test_divide():", "@pytest.mark.skip\ndef test_divide():")
    findings = run_guards(repo.diff(), GuardContext(request=FIX, files_read=["calc/core.py"]), GuardsConfig())
    ranks = [SEVERITY_ORDER[f.severity] for f in findings]
    assert ranks == sorted(ranks)
    keys = [(f.rule, f.path, f.line) for f in findings]
    assert len(keys) == len(set(keys))
    assert {f.rule for f in blocking(findings)} == {"scope.protected_path", "tests.skip_added"}
    assert all(f.source == "guard" and f.rule for f in findings)


def test_empty_diff_has_no_findings():
    assert run_guards("", GuardContext(request=FIX), GuardsConfig()) == []


def test_text_that_is_not_a_diff_is_refused():
    with pytest.raises(ValueError):
        run_guards("@@ -1,2 +1 @@\n-a\n", GuardContext(request=FIX), GuardsConfig())


def test_config_and_context_reject_unknown_keys():
    with pytest.raises(ValidationError):
        GuardsConfig(protected_pathz=["x"])
    with pytest.raises(ValidationError):
        GuardContext(request="x", files=["a"])
    assert GuardsConfig.model_validate({"overbuild": {"score_major": 12}}).overbuild.score_major == 12
