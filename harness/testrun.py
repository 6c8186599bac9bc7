"""Run the repo's test suite in the sandbox on base and head, and compare per test."""

from __future__ import annotations

import hashlib
import shlex
import xml.etree.ElementTree as ET
from typing import Protocol, runtime_checkable

from harness.config import SandboxConfig
from harness.errors import SandboxError
from harness.records import TestComparison, TestReport
from harness.sandbox import Sandbox

JUNIT_PATH = "/tmp/harness-junit.xml"


def uses_pytest(command: str) -> bool:
    """Whether the harness drives the runner itself (JUnit flags, running single test ids)."""
    return "pytest" in command


def test_command_argv(command: str, junit_xml: str = "") -> list[str]:
    """The shell command to run: pytest gets a JUnit report and no cache dir in the repo; another runner
    writes its own report to `junit_xml`, which is removed first so a stale one is never read."""
    report = junit_xml or JUNIT_PATH
    if not junit_xml and uses_pytest(command):
        command = f"{command} --junitxml={JUNIT_PATH} -p no:cacheprovider"
    return ["sh", "-c", f"rm -f {shlex.quote(report)}; {command}"]


def node_id(classname: str, name: str, files: set[str]) -> str:
    """A pytest node id (`tests/test_x.py::TestC::test_a`) from JUnit's dotted classname."""
    parts = classname.split(".") if classname else []
    for cut in range(len(parts), 0, -1):
        path = "/".join(parts[:cut]) + ".py"
        if path in files:
            return "::".join([path, *parts[cut:], name])
    return f"{classname}::{name}" if classname else name


def parse_junit(xml_text: str, files: set[str] | None = None) -> dict[str, str]:
    """Per-test outcomes from a JUnit XML report, keyed by pytest node id where the file is known."""
    outcomes: dict[str, str] = {}
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError:
        return outcomes
    for case in root.iter("testcase"):
        test_id = node_id(case.get("classname", ""), case.get("name", ""), files or set())
        if case.find("failure") is not None:
            outcomes[test_id] = "failed"
        elif case.find("error") is not None:
            outcomes[test_id] = "error"
        elif case.find("skipped") is not None:
            outcomes[test_id] = "skipped"
        else:
            outcomes[test_id] = "passed"
    return outcomes


def run_tests(sandbox: Sandbox, command: str, timeout_s: int, files: list[str] | None = None,
              junit_xml: str = "") -> TestReport:
    """Run the suite once in the sandbox's current state; `files` maps JUnit names to paths.

    `junit_xml` is where a non-pytest runner writes its JUnit report (relative to the repo, or
    absolute); it is read and then deleted, so it never shows up in the candidate diff.
    """
    result = sandbox.exec(test_command_argv(command, junit_xml), timeout_s)
    report = junit_xml or JUNIT_PATH
    junit = sandbox.exec(["sh", "-c", f"cat {shlex.quote(report)} && rm -f {shlex.quote(report)}"], 30)
    outcomes = parse_junit(junit.output, set(files or [])) if junit.exit_code == 0 else {}
    counts = {k: sum(1 for o in outcomes.values() if o == k) for k in ("passed", "failed", "error", "skipped")}
    if not outcomes and result.exit_code not in (0, 5):
        counts["error"] = 1  # the runner failed without a per-test report (collection error, crash)
    return TestReport(exit_code=result.exit_code, passed=counts["passed"], failed=counts["failed"],
                      errors=counts["error"], skipped=counts["skipped"], outcomes=outcomes,
                      output_tail=result.output[-3000:], timed_out=result.timed_out)


def compare(base: TestReport, head: TestReport) -> TestComparison:
    """What broke, what got fixed, what still fails, and which tests are new on head."""
    bad = ("failed", "error")
    new_failures = sorted(t for t, o in head.outcomes.items() if o in bad and base.outcomes.get(t) not in bad)
    fixed = sorted(t for t, o in head.outcomes.items() if o == "passed" and base.outcomes.get(t) in bad)
    still = sorted(t for t, o in head.outcomes.items() if o in bad and base.outcomes.get(t) in bad)
    new = sorted(t for t in head.outcomes if t not in base.outcomes)
    missing = sorted(t for t, o in base.outcomes.items() if o == "passed" and t not in head.outcomes)
    if not head.outcomes and not head.ok and base.ok:
        new_failures = ["(test run failed without per-test results)"]
    return TestComparison(base=base, head=head, new_failures=new_failures, fixed=fixed, still_failing=still,
                          new_tests=new, missing=missing)


def ensure_ran(report: TestReport, command: str) -> None:
    """A runner that could not start at all (command missing) is a sandbox problem, not a test result."""
    if report.exit_code in (126, 127):
        raise SandboxError(f"test command could not run in the sandbox: {shlex.split(command)[0]!r} "
                           f"(exit {report.exit_code})")


@runtime_checkable
class BaseReportStore(Protocol):
    """Where base test reports are kept between runs (memory)."""

    def base_report(self, key: str) -> TestReport | None:
        """The report saved under `key`, if any."""
        ...

    def save_base_report(self, key: str, report: TestReport) -> None:
        """Keep `report` under `key`."""
        ...


def base_report_key(repo_digest: str, image_id: str, config: SandboxConfig) -> str:
    """What a base run's outcome depends on: the repo copy (a digest of its archive), the image, the
    test command, its report path and its timeout."""
    parts = [repo_digest, image_id, config.test_command, config.junit_xml, str(config.test_timeout_s)]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()
