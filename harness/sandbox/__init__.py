"""The Sandbox Protocol: where tool calls and tests run, apart from the host."""

from __future__ import annotations

from typing import Protocol

from harness.records import Record


class ExecResult(Record):
    """What a command in the sandbox printed and how it ended."""

    exit_code: int
    output: str
    timed_out: bool = False


class Sandbox(Protocol):
    """A running, isolated copy of the repo. Paths are relative to the repo root."""

    def exec(self, argv: list[str], timeout_s: int, user: str | None = None) -> ExecResult:
        """Run a command in the repo directory with a timeout."""
        ...

    def read_bytes(self, path: str) -> bytes:
        """The contents of a file inside the repo copy."""
        ...

    def write_bytes(self, path: str, content: bytes) -> None:
        """Create or replace a file inside the repo copy."""
        ...

    def resolve(self, path: str) -> str:
        """The absolute in-sandbox path for a repo-relative path; raises PathOutsideRepo if it escapes."""
        ...
