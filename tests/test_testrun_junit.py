"""Per-test outcomes for a runner other than pytest, through its own JUnit report, in the real sandbox."""

from __future__ import annotations

import io
import tarfile

from harness.candidate import mark_base
from harness.config import SandboxConfig
from harness.sandbox.docker import DockerSandbox
from harness.testrun import compare, run_tests

# A test runner that is not pytest: it checks two functions and writes a JUnit report where told.
RUNNER = b'''import os, sys
from calc import add, sub
cases = {"adds": add(2, 3) == 5, "subtracts": sub(5, 3) == 2}
os.makedirs("reports", exist_ok=True)
with open("reports/junit.xml", "w") as out:
    out.write('<testsuites><testsuite name="calc">')
    for name, ok in cases.items():
        body = "" if ok else '<failure message="wrong"/>'
        out.write(f'<testcase classname="calc" name="{name}">{body}</testcase>')
    out.write("</testsuite></testsuites>")
sys.exit(0 if all(cases.values()) else 1)
'''
BASE_CALC = b"def add(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    return a - b\n"
# Fixes add() and breaks sub(): one fixed test, one new failure.
HEAD_CALC = b"def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a + b\n"


def _repo_tar() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in (("check.py", RUNNER), ("calc.py", BASE_CALC)):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_a_runners_junit_report_tells_new_failures_from_old_ones() -> None:
    with DockerSandbox(SandboxConfig(command_timeout_s=30), _repo_tar(), label="test-junit") as box:
        mark_base(box)
        base = run_tests(box, "python3 check.py", 60, junit_xml="reports/junit.xml")
        box.write_bytes("calc.py", HEAD_CALC)
        head = run_tests(box, "python3 check.py", 60, junit_xml="reports/junit.xml")
        status = box.exec(["git", "status", "--porcelain"], 30).output
        without_report = run_tests(box, "python3 check.py", 60)

    assert base.outcomes == {"calc::adds": "failed", "calc::subtracts": "passed"}
    comparison = compare(base, head)
    assert (comparison.new_failures, comparison.fixed) == (["calc::subtracts"], ["calc::adds"])
    # Read, then removed: the report never becomes part of the candidate diff.
    assert status.split() == ["M", "calc.py"]
    # Without junit_xml the same runner is judged by its exit code only.
    assert (without_report.outcomes, without_report.ok) == ({}, False)
