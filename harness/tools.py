"""The implementer's tools (names fixed by the design) and their execution in the sandbox."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.errors import PathOutsideRepo, SandboxError
from harness.records import Record, ToolCall, ToolResult, ToolSpec
from harness.sandbox import Sandbox


def _spec(name: str, description: str, properties: dict[str, Any], required: list[str]) -> ToolSpec:
    return ToolSpec(name=name, description=description,
                    parameters={"type": "object", "properties": properties, "required": required,
                                "additionalProperties": False})


_PATH = {"type": "string", "description": "path relative to the repository root"}

TOOL_SPECS: list[ToolSpec] = [
    _spec("read_file", "Read a text file, optionally a 1-based inclusive line range.",
          {"path": _PATH, "start_line": {"type": "integer"}, "end_line": {"type": "integer"}}, ["path"]),
    _spec("list_files", "List files under a directory (respects .gitignore).", {"path": _PATH}, ["path"]),
    _spec("search", "Search file contents with a regular expression (ripgrep).",
          {"pattern": {"type": "string"}, "path": _PATH}, ["pattern"]),
    _spec("edit_file", "Replace `old` with `new` in a file; `old` must occur exactly once.",
          {"path": _PATH, "old": {"type": "string"}, "new": {"type": "string"}}, ["path", "old", "new"]),
    _spec("write_file", "Create or overwrite a file with `content`.",
          {"path": _PATH, "content": {"type": "string"}}, ["path", "content"]),
    _spec("run", "Run a shell command in the repository (sandboxed, no network, with a timeout).",
          {"command": {"type": "string"}}, ["command"]),
    _spec("finish", "Declare the task done, with a short summary of the change.",
          {"summary": {"type": "string"}}, ["summary"]),
]


class ToolOutcome(Record):
    """A tool result plus what the loop needs to know about it."""

    result: ToolResult
    finished: bool = False
    summary: str = ""
    read_path: str | None = None


def truncate(text: str, limit: int) -> str:
    """Cut a tool output to `limit` characters, keeping head and tail, with a note saying so."""
    if len(text) <= limit:
        return text
    head, tail = text[: limit * 2 // 3], text[-(limit // 3):]
    return f"{head}\n[... truncated {len(text) - len(head) - len(tail)} characters ...]\n{tail}"


class ToolBox:
    """Executes tool calls against a sandbox. Extra tools (e.g. load_skill) can be added by name."""

    def __init__(self, sandbox: Sandbox, output_chars: int, command_timeout_s: int,
                 extra: dict[str, Callable[[dict[str, Any]], str]] | None = None):
        self.sandbox = sandbox
        self.output_chars = output_chars
        self.command_timeout_s = command_timeout_s
        self.extra = extra or {}

    def execute(self, call: ToolCall) -> ToolOutcome:
        """Run one tool call; every failure becomes an error result the model can read."""
        def error(message: str) -> ToolOutcome:
            return ToolOutcome(result=ToolResult(call_id=call.id, content=f"error: {message}", is_error=True))

        if call.arguments is None:
            return error(f"arguments of {call.name} are not a valid JSON object: {call.raw_arguments[:200]!r}")
        handler = getattr(self, f"_tool_{call.name}", None)
        if handler is None and call.name not in self.extra:
            known = ", ".join([s.name for s in TOOL_SPECS] + sorted(self.extra))
            return error(f"unknown tool {call.name!r}; available tools: {known}")
        try:
            if handler is None:
                text = self.extra[call.name](call.arguments)
                return ToolOutcome(result=ToolResult(call_id=call.id, content=truncate(text, self.output_chars)))
            outcome: ToolOutcome = handler(call.id, **call.arguments)
        except TypeError as exc:
            return error(f"bad arguments for {call.name}: {exc}")
        except PathOutsideRepo as exc:
            return error(str(exc))
        except (FileNotFoundError, IsADirectoryError) as exc:
            return error(f"no such file: {exc}")
        except ValueError as exc:
            return error(str(exc))
        content = truncate(outcome.result.content, self.output_chars)
        return outcome.model_copy(update={"result": outcome.result.model_copy(update={"content": content})})

    def _ok(self, call_id: str, content: str, **extra: Any) -> ToolOutcome:
        return ToolOutcome(result=ToolResult(call_id=call_id, content=content), **extra)

    def _text(self, path: str) -> str:
        data = self.sandbox.read_bytes(path)
        if b"\x00" in data[:8192]:
            raise ValueError(f"{path} is a binary file")
        return data.decode("utf-8", errors="replace")

    def _tool_read_file(self, call_id: str, path: str, start_line: int | None = None,
                        end_line: int | None = None) -> ToolOutcome:
        lines = self._text(path).splitlines()
        start = max(1, start_line or 1)
        end = min(len(lines), end_line or len(lines))
        numbered = "\n".join(f"{n:>5}  {lines[n - 1]}" for n in range(start, end + 1))
        return self._ok(call_id, numbered or "(empty file)", read_path=path)

    def _tool_list_files(self, call_id: str, path: str = ".") -> ToolOutcome:
        target = self.sandbox.resolve(path)
        result = self.sandbox.exec(["rg", "--files", "--hidden", "-g", "!.git", target], self.command_timeout_s)
        root = self.sandbox.resolve(".") + "/"
        files = sorted(line.removeprefix(root) for line in result.output.splitlines() if line)
        return self._ok(call_id, "\n".join(files) or "(no files)")

    def _tool_search(self, call_id: str, pattern: str, path: str = ".") -> ToolOutcome:
        target = self.sandbox.resolve(path)
        result = self.sandbox.exec(["rg", "-n", "--no-heading", "--hidden", "-g", "!.git", "-e", pattern, "--",
                                    target], self.command_timeout_s)
        root = self.sandbox.resolve(".") + "/"
        if result.exit_code == 1:
            return self._ok(call_id, "(no matches)")
        return self._ok(call_id, result.output.replace(root, ""))

    def _tool_edit_file(self, call_id: str, path: str, old: str, new: str) -> ToolOutcome:
        text = self._text(path)
        count = text.count(old) if old else 0
        if count != 1:
            raise ValueError(f"`old` must match exactly once in {path}; it matched {count} times")
        self.sandbox.write_bytes(path, text.replace(old, new, 1).encode("utf-8"))
        return self._ok(call_id, f"edited {path}")

    def _tool_write_file(self, call_id: str, path: str, content: str) -> ToolOutcome:
        self.sandbox.write_bytes(path, content.encode("utf-8"))
        return self._ok(call_id, f"wrote {path} ({len(content)} characters)")

    def _tool_run(self, call_id: str, command: str) -> ToolOutcome:
        try:
            result = self.sandbox.exec(["sh", "-c", command], self.command_timeout_s)
        except SandboxError as exc:
            raise ValueError(str(exc)) from None
        note = f"\n[timed out after {self.command_timeout_s}s]" if result.timed_out else ""
        return self._ok(call_id, f"exit code {result.exit_code}\n{result.output}{note}")

    def _tool_finish(self, call_id: str, summary: str) -> ToolOutcome:
        return self._ok(call_id, "finished", finished=True, summary=summary)
