"""Markdown the bot posts: the sticky summary, inline finding comments, and pr-do receipts.

Text that came from a model or from the PR is neutralised before it is posted: HTML (so it
cannot forge the hidden markers), @-mentions (so it cannot ping people) and table pipes.
"""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal

from harness.github.diffmap import Placement
from harness.records import Finding, RunResult, TestComparison

SUMMARY_MARKER = "<!-- harness:summary -->"
FINDING_MARKER = re.compile(r"<!-- harness:finding:([0-9a-f]{16}) -->")
ICONS = {"trusted": "✅", "not_trusted": "❌", "budget_exceeded": "⏸️", "error": "⚠️", "needs_human": "🧑‍⚖️"}
TITLES = {"trusted": "trusted", "not_trusted": "not trusted", "budget_exceeded": "budget reached",
          "error": "could not finish", "needs_human": "needs a person"}


def safe(text: str, limit: int = 600) -> str:
    """One line of untrusted text made inert for GitHub markdown."""
    text = " ".join(text.split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")
    text = re.sub(r"@(?=\w)", "@\u200b", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fingerprint(finding: Finding) -> str:
    """A stable id of a finding that survives line shifts between pushes (path, rule, message)."""
    key = f"{finding.source}|{finding.rule}|{finding.path}|{' '.join(finding.message.lower().split())}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def finding_label(f: Finding) -> str:
    """`[major] guard tests.deleted` / `[minor] correctness` prefix."""
    what = f"guard `{f.rule}`" if f.source == "guard" else f.category
    return f"**[{f.severity}]** {what}"


def inline_body(f: Finding, reviewer: str | None) -> str:
    """The body of one inline review comment, ending with its hidden fingerprint."""
    who = "guard" if f.source == "guard" else f"reviewer `{safe(reviewer or '?', 40)}`"
    return (f"{finding_label(f)}: {safe(f.message, 2000)}\n\n<sub>harness {who}</sub>\n"
            f"<!-- harness:finding:{fingerprint(f)} -->")


def tests_table(tests: TestComparison) -> list[str]:
    """Base-vs-head counts and the tests that changed state."""
    b, h = tests.base, tests.head
    lines = ["| tests | passed | failing | skipped |", "|---|---|---|---|",
             f"| base | {b.passed} | {b.failed + b.errors} | {b.skipped} |",
             f"| head | {h.passed} | {h.failed + h.errors} | {h.skipped} |"]
    for label, names in (("newly failing", tests.new_failures), ("fixed", tests.fixed),
                         ("new tests", tests.new_tests), ("still failing", tests.still_failing)):
        if names:
            shown = ", ".join(f"`{safe(n, 120)}`" for n in names[:10])
            lines.append(f"\n{label}: {shown}" + (f" and {len(names) - 10} more" if len(names) > 10 else ""))
    return lines


def summary_body(*, status: str, reason: str, head_sha: str, reviewer: str | None, authors: list[str],
                 tests: TestComparison | None, verdict: str | None, review_summary: str,
                 placements: list[Placement], already_posted: int, resolved: int, run_id: str,
                 cost: Decimal, pr_spent: Decimal, pr_cap: Decimal) -> str:
    """The sticky summary comment (starts with the marker so later runs find and edit it)."""
    out = [SUMMARY_MARKER, f"### {ICONS.get(status, '')} harness review: {TITLES.get(status, status)}", ""]
    if reason:
        out.append(f"**Why:** {safe(reason, 800)}")
    if verdict:
        by = f" by `{safe(reviewer or '?', 40)}`"
        wrote = f" (change written by {', '.join(f'`{safe(a, 40)}`' for a in authors)})" if authors else ""
        out.append(f"**Review:** {verdict.replace('_', ' ')}{by}{wrote}: {safe(review_summary, 800)}")
    if tests is not None:
        out += ["", *tests_table(tests)]
    inline = [p for p in placements if p.side]
    elsewhere = [p for p in placements if not p.side]
    if placements:
        out += ["", "| severity | where | finding |", "|---|---|---|"]
        for p in placements:
            f = p.finding
            where = f"`{safe(f.path, 120)}:{f.line}`" if f.path else "(whole change)"
            tag = " (inline)" if p.side else ""
            out.append(f"| {f.severity} | {where}{tag} | {finding_label(f).split(' ', 1)[1]}: {safe(f.message, 400)} |")
    notes = []
    if inline:
        notes.append(f"{len(inline)} on diff lines" + (f", {already_posted} already commented earlier"
                                                         if already_posted else ""))
    if elsewhere:
        notes.append(f"{len(elsewhere)} outside the diff hunks (listed here only)")
    if resolved:
        notes.append(f"{resolved} earlier finding(s) no longer raised")
    if notes:
        out += ["", "Findings: " + "; ".join(notes) + "."]
    if not placements and status in ("trusted", "not_trusted") and verdict:
        out += ["", "No findings."]
    out += ["", f"<sub>head {head_sha[:10]} · run `{run_id}` · cost ${cost:.4f} · this PR so far "
                f"${pr_spent:.4f} of ${pr_cap}</sub>"]
    return "\n".join(out)


def receipt_body(result: RunResult, requester: str, number: int, marker: str = "") -> str:
    """The body of a PR opened by `pr-do`: what was asked, tests, guards, review, models and cost."""
    out = [marker, f"Requested by @{requester} in #{number}. Change made by the harness.", ""] if marker else [
        f"Requested by @{requester} in #{number}. Change made by the harness.", ""]
    out.append(f"**Status:** {ICONS.get(result.status, '')} {TITLES.get(result.status, result.status)}"
               + (f": {safe(result.reason, 600)}" if result.reason else ""))
    out.append(f"**Models:** implementer `{result.implementer}`, reviewer `{result.reviewer}`; "
               f"{result.rounds} round(s); cost ${result.cost_usd:.4f}; run `{result.run_id}`")
    if result.tests:
        t = result.tests
        out += ["", "| tests | passed | failing |", "|---|---|---|",
                f"| base | {t['base']['passed']} | {t['base']['failed']} |",
                f"| head | {t['head']['passed']} | {t['head']['failed']} |"]
        if t.get("fixed"):
            out.append(f"\nfixed: {', '.join(f'`{safe(n, 120)}`' for n in t['fixed'][:10])}")
    if result.review:
        r = result.review
        out += ["", f"**Review:** {r['verdict'].replace('_', ' ')}: {safe(r['summary'], 800)}"]
        out += [f"- [{f['severity']}] `{safe(f['path'], 120)}:{f['line']}` {safe(f['message'], 400)}"
                for f in r["findings"]]
    if result.guards:
        out += ["", "**Guards:**"] + [f"- [{g.severity}] `{g.rule}` `{safe(g.path, 120)}:{g.line}` "
                                      f"{safe(g.message, 400)}" for g in result.guards]
    else:
        out += ["", "**Guards:** clear."]
    return "\n".join(out)
