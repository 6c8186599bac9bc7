"""`harness review-pr`: review a pull request and post one review, one sticky summary, one status.

Findings already commented on (found by their hidden fingerprint) are not posted again; the
summary comment is found by its hidden marker and edited in place, so every push updates it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from harness import gitops
from harness.config import HarnessConfig
from harness.errors import HarnessError
from harness.github.client import GitHub
from harness.github.diffmap import FileLines, Placement, from_api_files, from_unified_diff, place
from harness.github.event import PullRequestEvent
from harness.github.render import FINDING_MARKER, SUMMARY_MARKER, fingerprint, inline_body, summary_body
from harness.github.review_job import DiffToReview, PullReview, resolve_commits, review_existing_diff
from harness.records import Record
from harness.secrets import redact

STATES = {"trusted": "success", "not_trusted": "failure"}


class PostPlan(Record):
    """Everything the job posts (or, with --dry-run, would post)."""

    review: dict[str, Any] | None = None
    summary: dict[str, Any]
    status: dict[str, Any]
    skipped_already_posted: int = 0


def is_bot(comment: dict[str, Any]) -> bool:
    """Only the bot's own comments count as earlier harness output (anyone can paste a marker)."""
    return (comment.get("user") or {}).get("type") == "Bot"


def posted_fingerprints(review_comments: list[dict[str, Any]]) -> set[str]:
    """Fingerprints of findings the bot already commented on in this PR."""
    return {m for c in review_comments if is_bot(c) for m in FINDING_MARKER.findall(c.get("body") or "")}


def sticky_comment(issue_comments: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The bot's summary comment, if an earlier run left one (the oldest, should there be several)."""
    return next((c for c in issue_comments if is_bot(c) and (c.get("body") or "").startswith(SUMMARY_MARKER)), None)


def plan_posts(event: PullRequestEvent, outcome: PullReview, files: dict[str, FileLines], posted: set[str],
               sticky: dict[str, Any] | None, config: HarnessConfig, secrets: list[str]) -> PostPlan:
    """Decide the inline comments, the summary text and the commit status for one run."""
    findings = [*outcome.guards, *(outcome.review.findings if outcome.review else [])]
    unique = {fingerprint(f): f for f in findings}
    placements: list[Placement] = []
    inline_budget = config.github.max_inline_comments
    for f in unique.values():
        p = place(f, files)
        if p.side and inline_budget <= 0:
            p = Placement(finding=f)  # over the inline cap: the summary lists it instead
        inline_budget -= 1 if p.side else 0
        placements.append(p)
    new_inline = [p for p in placements if p.side and fingerprint(p.finding) not in posted]
    already = sum(1 for p in placements if p.side and fingerprint(p.finding) in posted)
    # Only a completed review can tell that an earlier finding is gone.
    resolved = len(posted - set(unique)) if outcome.review else 0
    reviewer = outcome.review.reviewer if outcome.review else outcome.reviewer
    body = summary_body(status=outcome.status, reason=outcome.reason if not outcome.trusted else "",
                        head_sha=event.head_sha, reviewer=reviewer, authors=outcome.authors, tests=outcome.tests,
                        verdict=outcome.review.verdict if outcome.review else None,
                        review_summary=outcome.review.summary if outcome.review else "", placements=placements,
                        already_posted=already, resolved=resolved, run_id=outcome.run_id, cost=outcome.cost_usd,
                        pr_spent=outcome.pr_spent_usd, pr_cap=outcome.pr_cap_usd)
    review = None
    if new_inline:
        review = {"commit_id": event.head_sha, "event": "COMMENT",
                  "body": redact(f"harness: {len(new_inline)} new finding(s) on this push; the summary comment "
                                 "has the verdict and the rest.", secrets),
                  "comments": [{"path": p.finding.path, "line": p.line, "side": p.side,
                                "body": redact(inline_body(p.finding, reviewer), secrets)} for p in new_inline]}
    summary = {"action": "update" if sticky else "create", "comment_id": sticky["id"] if sticky else None,
               "body": redact(body, secrets)}
    description = outcome.status.replace("_", " ") + (f": {outcome.reason}" if outcome.reason else "")
    status = {"sha": event.head_sha, "state": STATES.get(outcome.status, "error"),
              "context": config.github.status_context, "description": redact(description, secrets)[:139]}
    return PostPlan(review=review, summary=summary, status=status, skipped_already_posted=already)


def review_pull_request(event: PullRequestEvent, repository: str, github: GitHub | None, repo: Path,
                        config: HarnessConfig, config_dir: Path, environ: Mapping[str, str], secrets: list[str],
                        forced_reviewer: str | None = None, dry_run: bool = False,
                        on_stage: Callable[[str, str], None] = lambda *_: None) -> tuple[PullReview, PostPlan]:
    """Run the review and post (unless dry_run) its results; returns both for the CLI to report."""
    context = config.github.status_context
    resolve_commits(repo, event.base_sha, event.head_sha)  # a bad checkout fails before anything is posted
    poster = None if dry_run else github
    if poster is not None:
        poster.post(f"/statuses/{event.head_sha}", {"state": "pending", "context": context,
                                                     "description": "harness is reviewing this push"})
    target = DiffToReview(repo=repo, base=event.base_sha, head=event.head_sha,
                          request=f"{event.title}\n\n{event.body}".strip(),
                          label=f"[pr {repository}#{event.number}]")
    try:
        outcome = review_existing_diff(target, config, config_dir, environ, forced_reviewer, on_stage)
    except HarnessError as exc:
        # A pending status must not be left behind by a job that stopped (bad config, missing key...).
        if poster is not None:
            poster.post(f"/statuses/{event.head_sha}", {
                "state": "error", "context": context, "description": redact(f"harness failed: {exc}", secrets)[:139]})
        raise
    if github is not None:
        files = from_api_files(github.paginate(f"/pulls/{event.number}/files"))
        posted = posted_fingerprints(github.paginate(f"/pulls/{event.number}/comments"))
        sticky = sticky_comment(github.paginate(f"/issues/{event.number}/comments"))
    else:
        local = gitops.git(repo, "diff", "--no-color", "-U3", outcome.merge_base, event.head_sha)
        files, posted, sticky = from_unified_diff(local.decode(errors="replace")), set(), None
    plan = plan_posts(event, outcome, files, posted, sticky, config, secrets)
    if poster is not None:
        publish(poster, event.number, plan)
    return outcome, plan


def publish(github: GitHub, number: int, plan: PostPlan) -> None:
    """Post the review (if any new inline comments), create or edit the summary, set the status."""
    if plan.review is not None:
        github.post(f"/pulls/{number}/reviews", plan.review)
    if plan.summary["action"] == "update":
        comment = github.patch(f"/issues/comments/{plan.summary['comment_id']}", {"body": plan.summary["body"]})
    else:
        comment = github.post(f"/issues/{number}/comments", {"body": plan.summary["body"]})
    status = {k: v for k, v in plan.status.items() if k != "sha"}
    if isinstance(comment, dict) and comment.get("html_url"):
        status["target_url"] = comment["html_url"]
    github.post(f"/statuses/{plan.status['sha']}", status)
