"""Memory rows of the roles layer: plans, audits, risk levels, attributions and scorecards.

The tables come from migration 3 in harness/memory.py; these helpers keep the SQL out of the
pipeline and out of Memory itself (whose connection redacts every string it is given).
"""

from __future__ import annotations

import json
from typing import Any

from harness.memory import Memory, now_iso


def record_plan(memory: Memory, run_id: str, planner: str, plan: dict[str, Any] | None, status: str,
                note: str = "") -> None:
    """Store the run's plan (or why there is none: skipped, failed)."""
    memory.db.execute(
        "INSERT INTO plans (run_id, planner, status, step_count, plan_json, note, created_at) VALUES (?,?,?,?,?,?,?)",
        (run_id, planner, status, len((plan or {}).get("steps", [])), json.dumps(plan or {}, sort_keys=True),
         note, now_iso()))


def plan_for(memory: Memory, run_id: str) -> Any:
    """The plan row of a run, if any."""
    return memory.db.execute("SELECT * FROM plans WHERE run_id = ? ORDER BY id DESC LIMIT 1", (run_id,)).fetchone()


def record_audit(memory: Memory, task_id: str, audit: dict[str, Any]) -> None:
    """Store one audit of one review."""
    memory.db.execute(
        "INSERT INTO audits (task_id, round, auditor, sound, audit_json, created_at) VALUES (?,?,?,?,?,?)",
        (task_id, audit["round"], audit["auditor"], int(audit["sound"]), json.dumps(audit, sort_keys=True),
         now_iso()))


def audits(memory: Memory, task_id: str) -> list[Any]:
    """The audits of a task, in order."""
    return list(memory.db.execute("SELECT * FROM audits WHERE task_id = ? ORDER BY id", (task_id,)))


def record_risk(memory: Memory, run_id: str, task_id: str | None, risk: dict[str, Any], gated: bool) -> None:
    """Store the risk level of a run's final change and whether it stopped the automation."""
    memory.db.execute(
        "INSERT INTO risks (run_id, task_id, level, gated, risk_json, created_at) VALUES (?,?,?,?,?,?)",
        (run_id, task_id, risk["level"], int(gated), json.dumps(risk, sort_keys=True), now_iso()))


def record_attribution(memory: Memory, run_id: str, task_id: str | None, stage: str, reason: str,
                       evidence: list[str]) -> None:
    """Store the stage an outcome is attributed to, with links to its evidence."""
    memory.db.execute(
        "INSERT INTO attributions (run_id, task_id, stage, reason, evidence_json, created_at) VALUES (?,?,?,?,?,?)",
        (run_id, task_id, stage, reason, json.dumps(evidence), now_iso()))


def record_scorecard(memory: Memory, row: dict[str, Any]) -> None:
    """Store (or replace) one task's scorecard line."""
    keys = ["task_id", "run_id", "implementer", "reviewer", "planner", "followed_patterns", "overbuild_score",
            "self_corrected", "findings", "revision_rounds", "finished", "trusted"]
    memory.db.execute(
        f"INSERT OR REPLACE INTO scorecards ({', '.join(keys)}, created_at) VALUES ({', '.join('?' * len(keys))}, ?)",
        (*(row.get(k) for k in keys), now_iso()))
