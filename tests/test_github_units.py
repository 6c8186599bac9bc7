"""Pure parts of the GitHub jobs: diff-line placement, rendering safety, triggers, reviewer choice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.config import HarnessConfig
from harness.errors import ConfigError, UsageError
from harness.github.diffmap import from_api_files, from_unified_diff, lines_of_patch, place
from harness.github.event import pull_request_event, request_event
from harness.github.pr_do import requested_text
from harness.github.render import SUMMARY_MARKER, fingerprint, inline_body, safe
from harness.github.review_job import choose_reviewer
from harness.records import Finding

FIXTURES = Path(__file__).parent / "fixtures" / "github"
PATCH = "@@ -3,4 +3,5 @@ def f():\n a\n-b\n+c\n+d\n e\n f\n@@ -20,2 +21,2 @@\n-x\n+y\n z"


def finding(path: str, line: int, rule: str = "", source: str = "reviewer", message: str = "m") -> Finding:
    return Finding(path=path, line=line, severity="major", category="correctness", message=message,
                   source=source, rule=rule)  # type: ignore[arg-type]


def test_lines_of_patch_right_and_left() -> None:
    right, left = lines_of_patch(PATCH)
    assert right == {3, 4, 5, 6, 7, 21, 22}
    assert left == {4, 20}


def test_placement_uses_the_hunks_and_the_side() -> None:
    files = from_api_files([{"filename": "a.py", "status": "modified", "patch": PATCH},
                            {"filename": "gone.py", "status": "removed", "patch": "@@ -1,2 +0,0 @@\n-x\n-y"},
                            {"filename": "img.png", "status": "added"}])
    assert place(finding("a.py", 5), files).side == "RIGHT"
    assert place(finding("a.py", 12), files).side is None  # between hunks: summary
    assert place(finding("a.py", 0), files).side is None
    assert place(finding("other.py", 5), files).side is None
    assert place(finding("img.png", 1), files).side is None  # no patch (binary): summary
    assert place(finding("gone.py", 2), files).side == "LEFT"
    # A guard about a removed test names the base line: LEFT when that line was removed, never RIGHT.
    assert place(finding("a.py", 4, rule="tests.deleted", source="guard"), files).side == "LEFT"
    assert place(finding("a.py", 5, rule="tests.deleted", source="guard"), files).side is None


def test_local_diff_map_matches_the_api_shape() -> None:
    diff = ("diff --git a/a.py b/a.py\nindex 1..2 100644\n--- a/a.py\n+++ b/a.py\n" + PATCH + "\n"
            "diff --git a/gone.py b/gone.py\ndeleted file mode 100644\n--- a/gone.py\n+++ /dev/null\n"
            "@@ -1,2 +0,0 @@\n-x\n-y\n")
    files = from_unified_diff(diff)
    assert files["a.py"].right == {3, 4, 5, 6, 7, 21, 22}
    assert files["gone.py"].status == "removed" and files["gone.py"].left == {1, 2}


def test_untrusted_text_cannot_forge_markers_or_ping_people() -> None:
    text = safe(f"{SUMMARY_MARKER} hi @octocat | <img src=x>\nsecond line")
    assert "<!--" not in text and "<img" not in text and "@octocat" not in text
    assert "\\|" in text and "\n" not in text
    body = inline_body(finding("a.py", 3, message="<!-- harness:finding:0123456789abcdef -->"), "claude")
    assert body.count("<!-- harness:finding:") == 1


def test_fingerprint_ignores_line_and_whitespace_but_not_message() -> None:
    a = finding("a.py", 3, message="Missing  test")
    assert fingerprint(a) == fingerprint(finding("a.py", 9, message="missing test"))
    assert fingerprint(a) != fingerprint(finding("a.py", 3, message="missing docs"))


def event(name: str, **changes: object) -> dict:
    data = json.loads((FIXTURES / name).read_text())
    data.update(changes)
    return data


def test_requested_text_from_comment_and_label() -> None:
    comment = request_event(event("issue_comment.json"))
    assert requested_text(comment, "/harness", "harness") == "Fix add() so it returns the sum of its arguments"
    bare = comment.model_copy(update={"text": "/harness"})
    assert requested_text(bare, "/harness", "harness") == "add() returns the wrong result\n\nadd(2, 3) gives -1."
    for text in ("please /harness fix", "/harnessed it", "thanks!"):
        assert requested_text(comment.model_copy(update={"text": text}), "/harness", "harness") is None
    assert requested_text(comment.model_copy(update={"action": "edited"}), "/harness", "harness") is None
    labeled = request_event(event("issues_labeled.json"))
    assert requested_text(labeled, "/harness", "harness").startswith("add() returns the wrong result")
    assert requested_text(labeled, "/harness", "") is None
    assert requested_text(labeled.model_copy(update={"text": "bug"}), "/harness", "harness") is None


def test_bad_payloads_are_one_line_usage_errors() -> None:
    with pytest.raises(UsageError, match="not a pull_request event"):
        pull_request_event(event("issue_comment.json"))
    broken = event("pull_request_opened.json")
    broken["pull_request"]["head"]["sha"] = "not-a-sha"
    with pytest.raises(UsageError, match="head.sha"):
        pull_request_event(broken)
    with pytest.raises(UsageError, match="issue_comment"):
        request_event({"action": "opened"})


def config() -> HarnessConfig:
    models = {name: {"provider": provider, "model": name, "input_per_mtok": 1, "output_per_mtok": 2,
                     "cache_read_per_mtok": 0.1, "cache_write_per_mtok": 1, "tier": tier}
              for name, provider, tier in (("gpt", "openai", "cheap"), ("claude", "anthropic", "frontier"),
                                           ("gpt-big", "openai", "frontier"))}
    return HarnessConfig.model_validate({"models": models, "roles": {"implementer": "gpt", "reviewer": "claude"}})


def test_reviewer_is_never_a_model_that_wrote_the_change() -> None:
    cfg = config()
    assert choose_reviewer(cfg, [], None) == "claude"
    assert choose_reviewer(cfg, ["gpt"], None) == "claude"
    assert choose_reviewer(cfg, ["claude"], None) in ("gpt", "gpt-big")
    assert choose_reviewer(cfg, ["claude", "gpt"], None) == "gpt-big"
    with pytest.raises(ConfigError, match="wrote this change"):
        choose_reviewer(cfg, ["claude"], "claude")
    with pytest.raises(ConfigError, match="not a configured model"):
        choose_reviewer(cfg, [], "nope")
