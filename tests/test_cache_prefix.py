"""Consecutive implementer requests share a byte-identical prefix (on the bytes the server got),
old large outputs are elided by a deterministic block rule, and cache tokens are priced at cache rates."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from harness.elision import ElisionRule, elide, stub
from harness.models.pricing import Prices
from harness.records import Message, ToolResult, Usage
from tests.cache_support import CachingFake, big_file, canonical_prompt, common_prefix, run_session
from tests.conftest import run_cli
from tests.fake_models import FakeModels, reply, review, tool

MARKER = b',"cache_control":{"type":"ephemeral"}'
FILES = {"src/app.py": big_file(40, "f"), "src/util.py": big_file(20, "g"), "tests/test_app.py": "def test(): pass\n"}
STEPS = [tool("list_files", path="."), tool("read_file", path="src/app.py"), tool("search", pattern="def f_1"),
         tool("edit_file", path="src/app.py", old="    return x + 1\n", new="    return x + 100\n"),
         tool("run", command="python3 -m pytest -q"), tool("read_file", path="src/util.py", start_line=1, end_line=5),
         tool("finish", summary="done")]


def value_span(raw: bytes, key: str) -> tuple[int, int]:
    """Byte offsets of a top-level key's JSON value inside a raw request body."""
    start = raw.index(b'"' + key.encode() + b'":')
    start = start + len(key) + 3
    while raw[start:start + 1] in b" ":
        start += 1
    _, end = json.JSONDecoder().raw_decode(raw.decode(), start)
    return start, end


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_consecutive_requests_share_a_byte_identical_prefix(provider: str, tmp_path: Path) -> None:
    with CachingFake() as fake:
        fake.script(provider, *[reply(s) for s in STEPS])
        outcome = run_session(provider, fake.url, tmp_path, len(STEPS), ElisionRule(), FILES)
        raws = fake.raw_bodies[provider]
    assert outcome.finished and len(raws) == len(STEPS)
    for before, after in zip(raws, raws[1:]):
        b_start, b_end = value_span(before, "messages")
        a_start, a_end = value_span(after, "messages")
        earlier = before[b_start:b_end - 1]  # the messages array without its closing bracket
        if provider == "anthropic":
            # The cache marker moves from the previous latest turn to the new one; nothing else changes.
            assert earlier.count(MARKER) == 1
            earlier = earlier.replace(MARKER, b"")
            for key in ("system", "tools"):
                assert before[slice(*value_span(before, key))] == after[slice(*value_span(after, key))]
        else:
            # Everything before the messages (nothing: they come first) and after them is identical.
            assert before[:b_start] == after[:a_start] and before[b_end:] == after[a_end:]
        assert after[a_start:a_end].startswith(earlier)
        assert len(after) > len(before)
    if provider == "anthropic":
        last = json.loads(raws[-1])
        assert last["system"][-1]["cache_control"] == {"type": "ephemeral"}
        assert last["tools"][-1]["cache_control"] == {"type": "ephemeral"}
        assert last["messages"][-1]["content"][-1]["cache_control"] == {"type": "ephemeral"}
        assert sum(json.dumps(m).count("cache_control") for m in last["messages"]) == 1


def _conversation(turns: int, size: int) -> list[Message]:
    messages = [Message(role="user", text="do it")]
    for n in range(turns):
        messages.append(Message(role="assistant", text=f"step {n}"))
        content = (f"{n:03d}" * size)[:size]
        messages.append(Message(role="tool", tool_results=[ToolResult(call_id=f"c{n}", content=content)]))
    return messages


def test_elision_is_deterministic_monotone_and_jumps_rarely() -> None:
    rule = ElisionRule(keep_recent=4, min_chars=100, max_chars=3000)
    full = _conversation(20, 500)
    views = [elide(full[: 1 + 2 * n], rule) for n in range(21)]  # after n tool turns
    assert views == [elide(full[: 1 + 2 * n], rule) for n in range(21)]  # same input, same output
    changed_at = []
    for n in range(1, 21):
        before, after = views[n - 1], views[n]
        if after[: len(before)] != before:
            changed_at.append(n)
        # Once elided, a result stays elided (the cutoff never moves back).
        for a, b in zip(after, before):
            if b.role == "tool" and b.tool_results[0].content.startswith("[elided"):
                assert a == b
    # 500 large characters per turn: the shown total passes 3000 at 7 turns, the cutoff jumps to
    # 7 - 4 = 3 (2000 left shown), and again every 3 turns after: 7, 10, 13, 16, 19.
    assert changed_at == [7, 10, 13, 16, 19]
    final = views[20]
    contents = [m.tool_results[0].content for m in final if m.role == "tool"]
    assert contents[:15] == [stub("x" * 500)] * 15
    assert contents[15:] == [(f"{n:03d}" * 500)[:500] for n in range(15, 20)]
    # Small outputs never count or get elided; no rule means nothing elided.
    assert elide(_conversation(20, 50), rule) == _conversation(20, 50)
    assert elide(full, None) == full


def test_elision_keeps_the_prefix_between_jumps_through_the_sdk(tmp_path: Path) -> None:
    files = {f"src/m{n}.py": big_file(400, f"m{n}") for n in range(12)}
    steps = [tool("read_file", path=f"src/m{n}.py") for n in range(12)] + [tool("finish", summary="read")]
    rule = ElisionRule(keep_recent=2, min_chars=2000, max_chars=50_000)
    with CachingFake() as fake:
        fake.script("openai", *[reply(s) for s in steps])
        run_session("openai", fake.url, tmp_path, len(steps), rule, files)
        prompts = [canonical_prompt("openai", b) for b in fake.requests["openai"]]
    broken = [i for i in range(1, len(prompts)) if not prompts[i].startswith(prompts[i - 1])]
    # Request i carries i reads of ~10,000 characters: over 50,000 at 6 and (4 stubbed, 2 shown) at 10.
    assert broken == [6, 10]
    assert prompts[-1].count("[elided: an earlier tool output") == 8
    # A jump keeps everything before the first newly elided result as the cached prefix.
    for i in broken:
        assert prompts[i][common_prefix(prompts[i - 1], prompts[i]):].startswith("[elided")


def test_cache_tokens_are_priced_at_cache_rates() -> None:
    prices = Prices(input_per_mtok=Decimal(3), output_per_mtok=Decimal(15), cache_read_per_mtok=Decimal("0.30"),
                    cache_write_per_mtok=Decimal("3.75"))
    usage = Usage(input_tokens=1_000, output_tokens=200, cache_read_tokens=90_000, cache_write_tokens=4_000)
    assert prices.cost(usage) == (Decimal(1_000 * 3 + 200 * 15) + Decimal("90000") * Decimal("0.30")
                                  + Decimal(4_000) * Decimal("3.75")) / 1_000_000
    # A cached read is ten times cheaper than the same tokens sent fresh.
    assert prices.cost(Usage(cache_read_tokens=10_000)) * 10 == prices.cost(Usage(input_tokens=10_000))


def test_recorded_cache_tokens_come_from_the_provider_usage(tmp_path: Path) -> None:
    import sqlite3

    with CachingFake() as fake:
        fake.script("anthropic", *[reply(s) for s in STEPS])
        run_session("anthropic", fake.url, tmp_path, len(STEPS), ElisionRule(), FILES)
    db = sqlite3.connect(tmp_path / "memory-anthropic.db")
    rows = db.execute("SELECT input_tokens, cache_read_tokens, cache_write_tokens, cost_usd FROM calls "
                      "ORDER BY id").fetchall()
    assert len(rows) == len(STEPS)
    assert rows[0][1] == 0 and all(r[1] > 0 for r in rows[1:])
    for inp, read, write, cost in rows:
        expected = (Decimal(inp) * 3 + Decimal(100) * 15 + Decimal(read) * Decimal("0.3")
                    + Decimal(write) * Decimal("3.75")) / 1_000_000
        assert Decimal(cost) == expected


def test_harness_do_requests_extend_each_other_byte_for_byte(repo: Path, fake: FakeModels) -> None:
    # The real pipeline (context prefix with skills and repo map, sandbox tools, a revision round).
    fix = tool("edit_file", path="calc.py", old="    return a - b\n", new="    return a + b\n")
    add_test = tool("edit_file", path="tests/test_calc.py", old="from calc import mul\n",
                    new="from calc import add, mul\n\n\ndef test_add():\n    assert add(2, 3) == 5\n")
    fake.script("openai", reply(tool("read_file", path="calc.py")), reply(fix), reply(tool("finish", summary="x")),
                reply(add_test), reply(tool("run", command="python3 -m pytest -q")), reply(tool("finish", summary="y")))
    finding = {"path": "calc.py", "line": 6, "severity": "major", "category": "tests", "message": "add a test"}
    fake.script("anthropic", review("request_changes", [finding]), review("approve"))

    done = run_cli("do", "Fix add() so it returns the sum", "--json", cwd=repo)

    assert done.returncode == 0, done.stderr
    raws = fake.raw_bodies["openai"]
    assert len(raws) == 6
    for before, after in zip(raws, raws[1:]):
        b_start, b_end = value_span(before, "messages")
        a_start, a_end = value_span(after, "messages")
        assert before[:b_start] == after[:a_start] and before[b_end:] == after[a_end:]
        assert after[a_start:a_end].startswith(before[b_start:b_end - 1])
