"""Records that cross a boundary: model I/O, findings, test reports, run results.

All are pydantic models with extra="forbid" so a typo in a field name is an error,
not a silently dropped value.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Record(BaseModel):
    """Base for every boundary record."""

    model_config = ConfigDict(extra="forbid")


Role = Literal["classifier", "planner", "implementer", "reviewer", "auditor"]
Severity = Literal["blocker", "major", "minor", "nit"]
Category = Literal["correctness", "tests", "patterns", "overbuilding", "security", "other"]
Verdict = Literal["approve", "request_changes", "reject"]
RunStatus = Literal["trusted", "not_trusted", "needs_human", "budget_exceeded", "error", "interrupted", "running"]

SEVERITY_ORDER: dict[str, int] = {"blocker": 0, "major": 1, "minor": 2, "nit": 3}


class Usage(Record):
    """Tokens of one model call. `input_tokens` excludes cache reads and writes."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_read_tokens + self.cache_write_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_read_tokens=self.cache_read_tokens + other.cache_read_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
        )


class CallLog(Record):
    """One priced model call: who, which model, tokens, dollars, latency, outcome."""

    role: str
    model: str
    provider: str
    usage: Usage
    cost_usd: Decimal
    latency_ms: int
    outcome: str


class ToolSpec(Record):
    """A tool offered to a model: name, description and JSON-schema parameters."""

    name: str
    description: str
    parameters: dict[str, Any]


class ToolCall(Record):
    """A tool call the model asked for. `arguments` is None when they were not valid JSON."""

    id: str
    name: str
    arguments: dict[str, Any] | None
    raw_arguments: str = ""


class ToolResult(Record):
    """What the harness answers to one tool call."""

    call_id: str
    content: str
    is_error: bool = False


class Message(Record):
    """One turn of a provider-neutral conversation."""

    role: Literal["user", "assistant", "tool"]
    text: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_results: list[ToolResult] = Field(default_factory=list)


class ModelRequest(Record):
    """Everything a model client needs for one call.

    `system` is the stable prefix; `messages` is the append-only conversation.
    `force_tool` makes the model answer through that tool (the reviewer's verdict).
    """

    system: str
    messages: list[Message]
    tools: list[ToolSpec] = Field(default_factory=list)
    force_tool: str | None = None
    max_tokens: int = 4096


class ModelReply(Record):
    """A model's answer with the usage it was billed for."""

    text: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    stop_reason: str = ""


class Finding(Record):
    """A problem tied to a file and line, from the reviewer or a deterministic guard."""

    path: str
    line: int = 0
    severity: Severity
    category: Category
    message: str
    source: Literal["reviewer", "guard"] = "reviewer"
    rule: str = ""


class Review(Record):
    """The reviewer's verdict on one candidate diff."""

    verdict: Verdict
    summary: str
    findings: list[Finding] = Field(default_factory=list)
    reviewer: str = ""
    round: int = 1


class TestReport(Record):
    """One run of the test suite: per-test outcomes where the runner gives them."""

    __test__ = False  # keep pytest from collecting this class

    exit_code: int
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    outcomes: dict[str, Literal["passed", "failed", "error", "skipped"]] = Field(default_factory=dict)
    output_tail: str = ""
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return not self.timed_out and self.failed == 0 and self.errors == 0 and self.exit_code in (0, 5)


class TestComparison(Record):
    """Base versus head: what broke, what got fixed, what was already failing."""

    __test__ = False

    base: TestReport
    head: TestReport
    new_failures: list[str] = Field(default_factory=list)
    fixed: list[str] = Field(default_factory=list)
    still_failing: list[str] = Field(default_factory=list)
    new_tests: list[str] = Field(default_factory=list)
    # Tests that passed on base and did not run on head (deleted, renamed or no longer collected).
    missing: list[str] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Everything that passed on base still passes on head, and the head run itself completed."""
        head_failed = [t for t, o in self.head.outcomes.items() if o in ("failed", "error")]
        untracked_failures = [t for t in head_failed if t not in self.still_failing]
        return not self.new_failures and not untracked_failures and not self.missing and not self.head.timed_out and (
            self.head.exit_code in (0, 5) or bool(self.still_failing)
        )


class TokenTotals(Record):
    """Token totals of a run, for the JSON result."""

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0


class RunResult(Record):
    """The machine-readable result of `harness do` (printed by --json)."""

    status: RunStatus
    run_id: str
    branch: str | None = None
    implementer: str | None = None
    reviewer: str | None = None
    tests: dict[str, Any] = Field(default_factory=dict)
    review: dict[str, Any] = Field(default_factory=dict)
    guards: list[Finding] = Field(default_factory=list)
    cost_usd: Decimal = Decimal(0)
    tokens: TokenTotals = Field(default_factory=TokenTotals)
    reason: str = ""
    rounds: int = 0
    attempts: list[dict[str, Any]] = Field(default_factory=list)
    # The roles layer (harness/roles.py): the planner's plan, the change's risk level (and, for
    # needs_human, what a person must check), each step of a split request, and failure attribution.
    plan: dict[str, Any] = Field(default_factory=dict)
    risk: dict[str, Any] = Field(default_factory=dict)
    steps: list[dict[str, Any]] = Field(default_factory=list)
    attribution: list[dict[str, Any]] = Field(default_factory=list)
