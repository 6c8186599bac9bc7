"""Support for prompt-cache tests and benchmarks/cache.py: an implementer session driven
through the real SDK clients against the fake server, with tools on an in-memory sandbox.

The fake server here reports usage like a caching provider would: the part of a request's
prompt that is an unchanged prefix of the previous request is reported as cache reads.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any


from harness.agent import AgentOutcome, ImplementerSession
from harness.budget import Meter
from harness.config import AgentConfig, BudgetsConfig, ModelConfig
from harness.elision import ElisionRule
from harness.memory import Memory
from harness.models.base import build_client
from harness.models.pricing import Prices
from harness.sandbox import ExecResult
from harness.sandbox.paths import confine
from harness.tools import TOOL_SPECS, ToolBox
from tests.fake_models import FakeModels

CHARS_PER_TOKEN = 4
PRICES = Prices(input_per_mtok=Decimal(3), output_per_mtok=Decimal(15), cache_read_per_mtok=Decimal("0.3"),
                cache_write_per_mtok=Decimal("3.75"))


class MemorySandbox:
    """A Sandbox Protocol stand-in: files in a dict, commands answered deterministically."""

    root = "/repo"

    def __init__(self, files: dict[str, str]):
        self.files = {k: v.encode() for k, v in files.items()}

    def resolve(self, path: str) -> str:
        """Lexical confinement only (no symlinks here)."""
        return confine(path, self.root)

    def read_bytes(self, path: str) -> bytes:
        """A stored file."""
        key = self.resolve(path).removeprefix(self.root + "/")
        if key not in self.files:
            raise FileNotFoundError(path)
        return self.files[key]

    def write_bytes(self, path: str, content: bytes) -> None:
        """Store a file."""
        self.files[self.resolve(path).removeprefix(self.root + "/")] = content

    def exec(self, argv: list[str], timeout_s: int, user: str | None = None) -> ExecResult:
        """`rg --files` lists the files; anything else prints a fixed, command-dependent text."""
        if argv[:2] == ["rg", "--files"]:
            return ExecResult(exit_code=0, output="".join(f"{self.root}/{f}\n" for f in sorted(self.files)))
        command = argv[-1]
        body = "".join(f"line {n} of the output of {command}\n" for n in range(40 if "pytest" in command else 3))
        return ExecResult(exit_code=0, output=body)


def canonical_prompt(provider: str, body: dict[str, Any]) -> str:
    """The prompt as the provider caches it: tools, system, messages in order, cache markers removed."""
    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k != "cache_control"}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    parts = [body.get("tools", []), body.get("system", "")] if provider == "anthropic" else [body.get("tools", [])]
    text = "".join(json.dumps(strip(p), sort_keys=True) for p in parts)
    # Messages are appended one by one, so an unchanged conversation is a textual prefix.
    return text + "".join(json.dumps(strip(m), sort_keys=True) for m in body["messages"])


def common_prefix(a: str, b: str) -> int:
    """Length of the longest common prefix of two strings."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class CachingFake(FakeModels):
    """FakeModels whose usage is computed from the request: the unchanged prefix is a cache read."""

    def __init__(self) -> None:
        super().__init__()
        self.previous: dict[str, str] = {"anthropic": "", "openai": ""}

    def _next(self, provider: str, body: dict[str, Any], headers: dict[str, str], raw: bytes) -> dict[str, Any]:
        item = super()._next(provider, body, headers, raw)
        if "status" in item:
            return item
        prompt = canonical_prompt(provider, body)
        cached = common_prefix(self.previous[provider], prompt) // CHARS_PER_TOKEN
        self.previous[provider] = prompt
        total = len(prompt) // CHARS_PER_TOKEN
        # Anthropic writes everything after the read prefix (the marker is on the latest turn);
        # OpenAI bills it as plain input.
        written = total - cached if provider == "anthropic" else 0
        usage = {**item["usage"], "input_tokens": total - cached - written, "cache_read_tokens": cached,
                 "cache_write_tokens": written}
        return {**item, "usage": usage}


def big_file(lines: int, name: str) -> str:
    """A deterministic Python-looking file of `lines` lines."""
    return "".join(f"def {name}_{n}(x):\n    return x + {n}\n" for n in range(lines // 2))


def run_session(provider: str, url: str, tmp: Path, replies_count: int, elision: ElisionRule | None,
                files: dict[str, str], context: str = "## Repository map\nsrc/app.py") -> AgentOutcome:
    """One implementer session of scripted replies (already queued on the fake) through the real SDK."""
    model = ModelConfig(provider=provider, model=f"{provider}-fake", base_url=url if provider == "anthropic"
                        else f"{url}/v1", api_key_env="FAKE_KEY", input_per_mtok=Decimal(3),
                        output_per_mtok=Decimal(15))
    client = build_client("m", model, AgentConfig(max_retries=0, request_timeout_s=20), tmp,
                          {"FAKE_KEY": "sk-fake-0123456789"})
    with Memory(tmp / f"memory-{provider}.db") as memory:
        run_id = memory.start_run("bench", str(tmp), "cache", None)
        task_id = memory.start_task(run_id, "cache", "m", "m")
        meter = Meter(memory, run_id, BudgetsConfig(task_usd=Decimal(100), run_usd=Decimal(100),
                                                    day_usd=Decimal(10_000)), {"m": PRICES})
        toolbox = ToolBox(MemorySandbox(files), 12000, 60)
        session = ImplementerSession("m", client, meter, toolbox, context, max_steps=replies_count,
                                     max_bad_turns=3, max_tokens=1000, task_id=task_id, tools=list(TOOL_SPECS),
                                     elision=elision)
        try:
            return session.run("Request:\nMake app.f_1 return x + 100.")
        finally:
            client.close()
