"""Prompt-cache friendliness of the implementer loop, measured on the requests a server receives.

A scripted 20-step implementer session (reads of large files, searches, edits, test runs)
goes through the REAL SDK clients (anthropic, openai) to a fake server on loopback that
reports usage like a caching provider: the part of each prompt that is an unchanged prefix
of the previous request comes back as cache reads. For each elision setting it prints the
share of input tokens that are an unchanged prefix of the previous request (steps 2-20),
the smallest per-step share, the tokens sent, the cache hit ratio recorded in memory, and
the cost at Anthropic-like prices ($3 in, $0.30 cache read, $3.75 cache write, $15 out).
Elision settings: none; the default rule (harness.elision: stub outputs over 2,000 characters
once more than 48,000 characters of them are shown, keeping the 4 latest turns); and "every step"
(the same with no threshold: the naive sliding window, for comparison).

    .venv/bin/python benchmarks/cache.py [--steps 20]

Target (issue 5): >= 90% of input tokens are an unchanged prefix from step 2 on.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
from decimal import Decimal
from pathlib import Path


def scenario(steps: int) -> tuple[dict[str, str], list[dict]]:
    """Files of the fake repo and the scripted tool calls (the last one is finish)."""
    from tests.cache_support import big_file
    from tests.fake_models import tool

    files = {f"src/mod{n}.py": big_file(260, f"mod{n}") for n in range(8)}
    files["tests/test_mod.py"] = "".join(f"def test_{n}():\n    assert True\n" for n in range(30))
    cycle = [
        lambda n: tool("read_file", path=f"src/mod{n % 8}.py"),
        lambda n: tool("search", pattern=f"mod{n % 8}_1"),
        lambda n: tool("run", command="python3 -m pytest -q"),
        lambda n: tool("read_file", path=f"src/mod{(n + 3) % 8}.py", start_line=1, end_line=30),
        lambda n: tool("edit_file", path=f"src/mod{n % 8}.py", old=f"    return x + {n % 8 * 0 + 1}\n",
                       new="    return x + 1  # checked\n"),
        lambda n: tool("list_files", path="src"),
    ]
    calls = [cycle[n % len(cycle)](n) for n in range(steps - 1)]
    return files, [*calls, tool("finish", summary="done")]


def measure(provider: str, label: str, rule: object, steps: int, tmp: Path, context: str) -> dict[str, float]:
    """One session; prefix shares from the recorded request bodies, usage and cost from memory."""
    from tests.cache_support import CHARS_PER_TOKEN, CachingFake, canonical_prompt, common_prefix, run_session
    from tests.fake_models import reply

    files, calls = scenario(steps)
    work = tmp / f"{provider}-{label}"
    work.mkdir()
    with CachingFake() as fake:
        fake.script(provider, *[reply(c) for c in calls])
        outcome = run_session(provider, fake.url, work, steps, rule, files, context)  # type: ignore[arg-type]
        prompts = [canonical_prompt(provider, body) for body in fake.requests[provider]]
    if not outcome.finished or len(prompts) != steps:
        raise SystemExit(f"{provider} {label}: session did not run {steps} steps ({outcome.stop_reason})")
    shares = [common_prefix(a, b) / len(b) for a, b in zip(prompts, prompts[1:])]
    prefix = sum(common_prefix(a, b) for a, b in zip(prompts, prompts[1:]))
    later = sum(len(b) for b in prompts[1:])
    db = sqlite3.connect(work / f"memory-{provider}.db")
    inp, read, write, cost = db.execute("SELECT sum(input_tokens), sum(cache_read_tokens), sum(cache_write_tokens), "
                                        "sum(CAST(cost_usd AS REAL)) FROM calls").fetchone()
    db.close()
    return {"share": prefix / later, "min_share": min(shares), "min_step": shares.index(min(shares)) + 2,
            "tokens": sum(len(p) for p in prompts) / CHARS_PER_TOKEN, "hit": read / (inp + read + write),
            "cost": float(Decimal(str(cost)))}


def main() -> None:
    """Run every provider x elision setting and print the table and the target check."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="implementer steps in the session")
    args = parser.parse_args()
    # The fake server and in-memory sandbox live with the tests; make the repo root importable.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from harness.context import build_context
    from harness.elision import ElisionRule

    # A real prefix: the skills index and a 1,024-token repo map of this repository.
    context = build_context(Path(__file__).resolve().parents[1], "make the cache benchmark faster", [], None).text

    settings = [("none", None), ("default", ElisionRule()), ("every step", ElisionRule(max_chars=0))]
    print(f"{args.steps}-step implementer session through the real SDKs, {len(context):,}-character context "
          "(skills index + repo map); prefix = unchanged prefix of the previous request, steps 2..N")
    print(f"{'provider':<10} {'elision':<18} {'prefix share':>12} {'min (step)':>12} {'tokens sent':>12} "
          f"{'cache hit':>10} {'cost $':>9}")
    results: dict[tuple[str, str], dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="harness-cache-bench-") as tmp:
        for provider in ("anthropic", "openai"):
            for label, rule in settings:
                r = measure(provider, label.replace(" ", "-"), rule, args.steps, Path(tmp), context)
                results[(provider, label)] = r
                print(f"{provider:<10} {label:<18} {r['share']:>12.1%} {r['min_share']:>7.1%} ({r['min_step']:>2}) "
                      f"{r['tokens']:>12,.0f} {r['hit']:>10.1%} {r['cost']:>9.4f}")
    for provider in ("anthropic", "openai"):
        base = results[(provider, "none")]
        default = results[(provider, "default")]
        print(f"{provider}: default rule sends {default['tokens'] / base['tokens']:.2f}x the tokens of no elision, "
              f"costs {default['cost'] / base['cost']:.2f}x; prefix share {default['share']:.1%} "
              f"-> {'PASS' if default['share'] >= 0.90 else 'FAIL'} (target >= 90%)")


if __name__ == "__main__":
    main()
