"""The personal scorecard: per change, how each model did in its role, and the report over them.

Per task: followed the repo's patterns (no blocking `patterns` finding from the reviewer),
overbuilt (the guards' overbuild score), caught its own mistakes (a test run inside the
implementer's loop failed and a later one passed), review work created (findings, revision
rounds), finished versus partial.
"""

from __future__ import annotations

import re
from typing import Any

from harness.guards import GuardContext, GuardsConfig, overbuild_metrics
from harness.memory import Memory
from harness.models.base import ModelClient
from harness.records import ModelReply, ModelRequest
from harness.roles_store import record_scorecard
from harness.task import TaskResult

_FAILED = re.compile(r"\b\d+ (?:failed|errors?)\b")
_PASSED = re.compile(r"\b\d+ passed\b")


class SelfCheck:
    """Watches implementer requests for test runs inside the loop: failed, then passed = self-corrected.

    The implementer's tool results reach the model as the last turn of its next request, so the
    client wrapper sees each one exactly once, in order, without touching the agent loop.
    """

    def __init__(self) -> None:
        self.failed: dict[str, bool] = {}
        self.corrected: dict[str, bool] = {}
        self.current: str | None = None

    def start(self, task_id: str) -> None:
        """Attribute the following implementer requests to a task."""
        self.current = task_id

    def see(self, request: ModelRequest) -> None:
        """Look at one request's newest tool results, if it is an implementer's."""
        if self.current is None or not request.messages or not any(t.name == "finish" for t in request.tools):
            return
        for result in request.messages[-1].tool_results:
            text = result.content
            if _FAILED.search(text):
                self.failed[self.current] = True
            elif _PASSED.search(text) and self.failed.get(self.current):
                self.corrected[self.current] = True

    def self_corrected(self, task_id: str) -> bool:
        """Whether the implementer caught and fixed a failing test run itself."""
        return self.corrected.get(task_id, False)


class ObservedClient:
    """A client wrapper that shows each request to a SelfCheck before sending it."""

    def __init__(self, inner: ModelClient, check: SelfCheck):
        self.inner = inner
        self.check = check
        self.provider = inner.provider
        self.model = inner.model

    def complete(self, request: ModelRequest) -> ModelReply:
        """Observe, then call the wrapped client."""
        self.check.see(request)
        return self.inner.complete(request)

    def close(self) -> None:
        """Close the wrapped client."""
        self.inner.close()


def score_task(memory: Memory, run_id: str, task_id: str, implementer: str, reviewer: str, planner: str | None,
               result: TaskResult, request: str, guards: GuardsConfig, check: SelfCheck) -> dict[str, Any]:
    """Compute and store one task's scorecard line."""
    final = result.reviews[-1] if result.reviews else None
    followed = None if final is None else not any(
        f.category == "patterns" and f.severity in ("blocker", "major") for f in final.findings)
    try:
        overbuild = overbuild_metrics(result.diff, GuardContext(request=request), guards).score if result.diff else 0.0
    except ValueError:  # not a unified diff: nothing to measure
        overbuild = None
    finished = bool(result.decision.checks.get("finished")) if result.decision else False
    row = {"task_id": task_id, "run_id": run_id, "implementer": implementer, "reviewer": reviewer,
           "planner": planner, "followed_patterns": followed, "overbuild_score": overbuild,
           "self_corrected": check.self_corrected(task_id),
           "findings": sum(len(r.findings) for r in result.reviews), "revision_rounds": max(0, result.rounds - 1),
           "finished": finished, "trusted": result.trusted}
    record_scorecard(memory, row)
    return row


def _mean(values: list[Any]) -> float | None:
    vals = [float(v) for v in values if v is not None]
    return round(sum(vals) / len(vals), 3) if vals else None


def scorecard(memory: Memory, by: str = "model", since: str | None = None) -> list[dict[str, Any]]:
    """Scorecard lines grouped by implementer model (`model`) or by (role, model) (`role`)."""
    rows = memory.db.execute("SELECT * FROM scorecards WHERE (? IS NULL OR created_at >= ?)", (since, since)).fetchall()
    groups: dict[tuple[str, str], list[Any]] = {}
    for r in rows:
        roles = [("implementer", r["implementer"])]
        if by == "role":
            roles += [("reviewer", r["reviewer"]), ("planner", r["planner"])]
        for role, model in roles:
            if model:
                groups.setdefault((role, model), []).append(r)
    out = []
    for (role, model), items in sorted(groups.items()):
        out.append({"role": role, "model": model, "tasks": len(items),
                    "trusted": _mean([r["trusted"] for r in items]),
                    "followed_patterns": _mean([r["followed_patterns"] for r in items]),
                    "overbuild_score": _mean([r["overbuild_score"] for r in items]),
                    "self_corrected": _mean([r["self_corrected"] for r in items]),
                    "findings_per_task": _mean([r["findings"] for r in items]),
                    "revision_rounds": _mean([r["revision_rounds"] for r in items]),
                    "finished": _mean([r["finished"] for r in items])})
    return out
