"""One implementation attempt: sandbox -> base tests -> implement -> test -> guards -> review -> decide.

Revision rounds stay inside the same container and the same implementer conversation.
"""

from __future__ import annotations

from collections.abc import Callable

from unidiff import PatchSet

from harness.agent import AgentOutcome, ImplementerSession
from harness.budget import Meter
from harness.candidate import candidate_diff, mark_base, run_tests_on_base_code, tracked_files
from harness.config import HarnessConfig
from harness.decide import Decision, decide, revision_message
from harness.errors import BudgetExceeded, ModelProtocolError, ProviderUnavailable
from harness.guards import GuardContext, changed_test_ids, run_guards
from harness.guards.tampering import test_edits_allowed
from harness.models.base import ModelClient
from harness.records import Finding, Record, Review, TestComparison, TestReport
from harness.review import against_earlier, dedupe, review_diff, review_prompt
from harness.sandbox.docker import DockerSandbox
from harness.testrun import BaseReportStore, base_report_key, compare, ensure_ran, run_tests, uses_pytest
from harness.tools import TOOL_SPECS, ToolBox


class TaskResult(Record):
    """What one attempt produced: the diff, the evidence, and the decision."""

    status: str  # trusted | not_trusted | budget_exceeded | error
    trusted: bool = False
    reason: str = ""
    diff: str = ""
    tests: TestComparison | None = None
    guards: list[Finding] = []
    reviews: list[Review] = []
    rounds: int = 0
    files_read: list[str] = []
    decision: Decision | None = None
    # Guard findings of every checked round, in order (`guards` is the last): the receipt and
    # lessons need what was raised and then fixed.
    guard_rounds: list[list[Finding]] = []
    # The suite's run on the base code, as run (before changed tests' evidence is overlaid).
    base_report: TestReport | None = None


class TaskSetup(Record):
    """Everything an attempt needs besides the models."""

    model_config = {"arbitrary_types_allowed": True, "extra": "forbid"}

    request: str
    repo_tar: bytes
    task_id: str
    implementer: str
    reviewer: str
    context: str = ""
    task_kind: str | None = None
    # Resume without re-paying: a candidate saved by an interrupted attempt is applied in place of
    # the implementer's first round, and `on_candidate` is told each finished round's diff.
    resume_diff: str = ""
    on_candidate: Callable[[str], None] | None = None
    # The reviewer's grounding for a candidate diff: repo patterns near the change and lessons.
    review_context: Callable[[str], str] | None = None
    # Called with (review, prompt, diff, tests, guards, round) after each review; returns the review
    # that counts (harness.roles: a stronger review of risky hunks, the auditor's check).
    after_review: Callable[..., Review] | None = None
    # The base run of an earlier attempt on the same base: an escalation does not pay for it again.
    base_report: TestReport | None = None
    # Base runs saved by earlier runs (memory), reused for the same tree, image and command.
    base_reports: BaseReportStore | None = None


def _added_files(diff: str) -> list[str]:
    try:
        return [f.path for f in PatchSet(diff) if f.is_added_file]
    except Exception:  # an unparsable diff has no added files we can name
        return []


def _with_evidence(sandbox: DockerSandbox, config: HarnessConfig, diff: str, comparison: TestComparison,
                   tests_may_change: bool = False) -> TestComparison:
    """Overlay base-code outcomes of changed tests onto the base report, then compare again.

    A test that passed on base keeps that outcome unless the request allows test edits: otherwise an
    edited expected value (failing on base code once edited) would pass as a test that "failed on base".
    """
    ids = changed_test_ids(diff, config.guards)
    if not ids or not uses_pytest(config.sandbox.test_command):
        return comparison  # only pytest can be told to run single tests by node id
    files = sorted({t.split("::")[0] for t in ids})
    evidence = run_tests_on_base_code(sandbox, config.sandbox.test_command, ids, files, _added_files(diff),
                                      config.sandbox.test_timeout_s)
    outcomes = {**comparison.base.outcomes}
    for test, outcome in evidence.outcomes.items():
        if tests_may_change or comparison.base.outcomes.get(test) != "passed":
            outcomes[test] = outcome
    if not evidence.outcomes and not evidence.ok:
        # The changed tests could not even be collected against base code: they need the change.
        for test in comparison.head.outcomes:
            if any(test.startswith(f) for f in files):
                outcomes.setdefault(test, "error")
    base = comparison.base.model_copy(update={"outcomes": outcomes})
    return compare(base, comparison.head)


def run_base_tests(sandbox: DockerSandbox, config: HarnessConfig,
                   on_stage: Callable[[str, str], None] = lambda *_: None,
                   store: BaseReportStore | None = None) -> TestReport:
    """Run the suite on the sandbox's base state, or reuse a saved run of the same tree, image and
    command from `store`; a runner that cannot start is a SandboxError."""
    on_stage("test", "base")
    key = base_report_key(sandbox.repo_digest, sandbox.image_id, config.sandbox) if (
        store is not None and config.sandbox.reuse_base_tests and sandbox.image_id) else None
    saved = store.base_report(key) if store is not None and key else None
    if saved is not None:
        on_stage("test", f"base: {saved.passed} passed, {saved.failed + saved.errors} failing "
                         "(saved from an earlier run on the same tree, image and command)")
        return saved
    base_report = run_tests(sandbox, config.sandbox.test_command, config.sandbox.test_timeout_s,
                            tracked_files(sandbox), config.sandbox.junit_xml)
    ensure_ran(base_report, config.sandbox.test_command)
    if store is not None and key and not base_report.timed_out:
        store.save_base_report(key, base_report)
    on_stage("test", f"base: {base_report.passed} passed, {base_report.failed + base_report.errors} failing")
    return base_report


def check_candidate(sandbox: DockerSandbox, config: HarnessConfig, diff: str, base_report: TestReport,
                   context: GuardContext, on_stage: Callable[[str, str], None] = lambda *_: None,
                   ) -> tuple[TestComparison, list[Finding]]:
    """Head tests (with evidence runs of changed tests) and the guards' findings for a candidate diff.

    Shared by implementation attempts and the PR review job, which has no implementer.
    """
    on_stage("test", "head")
    head_report = run_tests(sandbox, config.sandbox.test_command, config.sandbox.test_timeout_s,
                            tracked_files(sandbox), config.sandbox.junit_xml)
    tests = _with_evidence(sandbox, config, diff, compare(base_report, head_report),
                           test_edits_allowed(context, config.guards))
    on_stage("test", f"head: {head_report.passed} passed, new failures: {len(tests.new_failures)}")
    on_stage("guards", "checking the diff")
    guards = run_guards(diff, context.model_copy(update={"tests": tests}), config.guards)
    return tests, guards


_RESUME_PATCH = ".harness-resume.patch"
_RESUME_TIMEOUT_S = 120


def apply_saved_candidate(sandbox: DockerSandbox, diff: str) -> AgentOutcome:
    """Put a saved candidate diff into the sandbox as if the implementer had just finished it."""
    sandbox.write_bytes(_RESUME_PATCH, diff.encode())
    script = f"git apply --binary {_RESUME_PATCH}; code=$?; rm -f {_RESUME_PATCH}; exit $code"
    applied = sandbox.exec(["sh", "-c", script], _RESUME_TIMEOUT_S)
    if applied.exit_code != 0:
        return AgentOutcome(finished=False,
                            stop_reason=f"the saved candidate no longer applies: {applied.output[:200]}")
    return AgentOutcome(finished=True, stop_reason="resumed", summary="resumed from the saved candidate diff")


def run_task(setup: TaskSetup, config: HarnessConfig, meter: Meter, implementer: ModelClient,
             reviewer: ModelClient, extra_tools: dict | None = None, extra_specs: list | None = None,
             on_stage: Callable[[str, str], None] = lambda *_: None,
             on_step: Callable[[int, str], None] = lambda *_: None) -> TaskResult:
    """Run one attempt in a fresh sandbox and return its evidence and decision."""
    result = TaskResult(status="not_trusted")
    on_stage("sandbox", f"starting {config.sandbox.image}")
    with DockerSandbox(config.sandbox, setup.repo_tar, label=setup.task_id) as sandbox:
        mark_base(sandbox)
        try:
            return _attempt(setup, config, meter, implementer, reviewer, sandbox, result, extra_tools or {},
                            extra_specs or [], on_stage, on_step)
        except (BudgetExceeded, ProviderUnavailable, ModelProtocolError) as exc:
            # Keep the work so far: the candidate diff is read before the container goes away.
            status = "budget_exceeded" if isinstance(exc, BudgetExceeded) else (
                "error" if isinstance(exc, ProviderUnavailable) else "not_trusted")
            return result.model_copy(update={"status": status, "reason": str(exc), "diff": candidate_diff(sandbox),
                                             "trusted": False})


def _attempt(setup: TaskSetup, config: HarnessConfig, meter: Meter, implementer: ModelClient,
             reviewer: ModelClient, sandbox: DockerSandbox, result: TaskResult, extra_tools: dict,
             extra_specs: list, on_stage: Callable[[str, str], None],
             on_step: Callable[[int, str], None]) -> TaskResult:
    if setup.base_report is not None:
        base_report = setup.base_report
        on_stage("test", f"base: {base_report.passed} passed, {base_report.failed + base_report.errors} failing "
                         "(from the previous attempt on this base)")
    else:
        base_report = run_base_tests(sandbox, config, on_stage, setup.base_reports)
    result = result.model_copy(update={"base_report": base_report})
    toolbox = ToolBox(sandbox, config.agent.tool_output_chars, config.sandbox.command_timeout_s, extra_tools)
    session = ImplementerSession(setup.implementer, implementer, meter, toolbox, setup.context,
                                 config.agent.max_steps, config.agent.max_bad_turns,
                                 config.models[setup.implementer].max_output_tokens, setup.task_id,
                                 tools=[*TOOL_SPECS, *extra_specs], on_step=on_step,
                                 max_wall_s=config.agent.max_wall_s)
    instruction = f"Request:\n{setup.request}"
    earlier: list[Finding] = []
    for round_number in range(1, config.review.max_revisions + 2):
        on_stage("implement", f"{setup.implementer} (round {round_number})")
        if round_number == 1 and setup.resume_diff:
            outcome = apply_saved_candidate(sandbox, setup.resume_diff)
        else:
            outcome = session.run(instruction)
        diff = candidate_diff(sandbox)
        if setup.on_candidate is not None and outcome.finished and diff.strip():
            setup.on_candidate(diff)
        previous_diff = result.diff
        result = result.model_copy(update={"diff": diff, "rounds": round_number, "files_read": outcome.files_read})
        if not diff.strip():
            return result.model_copy(update={"reason": f"no change was made ({outcome.stop_reason})"})
        tests, guards = check_candidate(sandbox, config, diff, base_report,
                                       GuardContext(request=setup.request, files_read=outcome.files_read,
                                                    task_kind=setup.task_kind), on_stage)
        review: Review | None = None
        if outcome.finished:
            on_stage("review", setup.reviewer)
            grounding = setup.review_context(diff) if setup.review_context else ""
            prompt = review_prompt(setup.request, diff, tests, guards, earlier, grounding)
            review = review_diff(meter, setup.reviewer, reviewer, prompt, round_number,
                                 config.review.max_findings, setup.task_id,
                                 config.models[setup.reviewer].max_output_tokens)
            if setup.after_review is not None:
                review = setup.after_review(review, prompt, diff, tests, guards, round_number)
            # Findings raised in an earlier round are dropped once fixed, else marked still open.
            review = against_earlier(review, earlier, revised=diff != previous_diff)
        decision = decide(tests, guards, review, outcome.finished, round_number, config.review)
        if not outcome.finished:
            decision = decision.model_copy(update={"reason": f"{outcome.stop_reason}; {decision.reason}"})
        reviews = [*result.reviews, review] if review else result.reviews
        result = result.model_copy(update={"tests": tests, "guards": guards, "reviews": reviews,
                                           "guard_rounds": [*result.guard_rounds, guards],
                                           "decision": decision, "trusted": decision.trusted,
                                           "status": "trusted" if decision.trusted else "not_trusted",
                                           "reason": decision.reason if not decision.trusted else (
                                               outcome.summary or decision.reason)})
        if decision.action != "revise":
            return result
        to_fix = dedupe([*(f for f in guards if f.severity in ("blocker", "major")),
                         *(review.findings if review else [])])
        earlier = dedupe([*earlier, *(review.findings if review else [])])
        instruction = revision_message(tests, to_fix)
    return result
