"""The task classifier: deterministic, offline, learns from history, reads repo features."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from harness.classify import DIFFICULTIES, KINDS, Classification, LabelledRequest, classify, train_classifier


@pytest.mark.parametrize(("request_text", "kind"), [
    ("Fix the crash: `parse()` raises TypeError on empty input. Traceback (most recent call last): ...", "bug_fix"),
    ("Add a new `--verbose` option to the export command; feature request: it would be nice to allow it.",
     "feature"),
    ("Fix the broken link in README.md and document the missing docstring parameter.", "docs"),
    ("Add unit tests for the scheduler covering retries and timeouts with pytest fixtures.", "test"),
    ("Bump the minimum version of the dependency in pyproject.toml and update the CI workflow.", "chore"),
    ("Refactor: extract the duplicated code into a helper and rename the module for readability.", "refactor"),
])
def test_kind_from_text(request_text: str, kind: str) -> None:
    assert classify(request_text).kind == kind


def test_deterministic_and_well_formed() -> None:
    text = "Saving a model with a timezone-aware datetime raises ValueError in app/models.py."
    first, second = classify(text), classify(text)
    assert first == second
    assert first.kind in KINDS and first.difficulty in DIFFICULTIES
    assert 0 < first.confidence <= 1
    assert first.features["paths"] == ["app/models.py"]
    assert abs(sum(first.features["difficulty_probs"].values()) - 1) < 1e-3
    with pytest.raises(ValidationError):
        Classification(kind="bug_fix", difficulty="<15 min fix", confidence=1.0, features={}, extra=1)


def test_history_teaches_difficulty() -> None:
    """Labelled history moves the difficulty estimate: a word seen only in long tasks predicts a long task."""
    text = "The zorblax scheduler loses jobs."
    history = [LabelledRequest(request=f"zorblax subsystem problem number {i}", difficulty="1-4 hours")
               for i in range(30)]
    before = classify(text)
    after = classify(text, history=history)
    assert before.difficulty != "1-4 hours"
    assert after.difficulty == "1-4 hours"
    assert after.features["difficulty_probs"]["1-4 hours"] > before.features["difficulty_probs"]["1-4 hours"]


def test_examples_missing_a_label_train_only_the_other_model() -> None:
    clf = train_classifier([LabelledRequest(request="anything at all", difficulty=">4 hours")])
    assert clf.kind_model.doc_counts.total() == clf.difficulty_model.doc_counts.total() - 1


def test_repo_features(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "core.py").write_text("def run():\n    return 1\n" * 10)
    (tmp_path / "pkg" / "util.js").write_text("export const x = 1;\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    c = classify("Fix the bug in pkg/core.py where `run()` returns the wrong value", repo=tmp_path)
    f = c.features
    assert f["repo_files"] == 2  # .git is skipped
    assert f["languages"][0] in ("python", "javascript") and set(f["languages"]) == {"python", "javascript"}
    assert f["named_files_found"] == 1
    assert f["named_files_lines"] == 20
    assert "run" in f["symbols"]
