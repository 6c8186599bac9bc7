"""Shared pieces of the roles tests: a three-model config and scripted replies."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from tests.conftest import git
from tests.fake_models import reply, tool

FIX_ADD = tool("edit_file", path="calc.py", old="    return a - b\n", new="    return a + b\n")
ADD_TEST = tool("edit_file", path="tests/test_calc.py", old="from calc import mul\n",
                new="from calc import add, mul\n\n\ndef test_add():\n    assert add(2, 3) == 5\n")
ADD_SUB = tool("edit_file", path="calc.py", old='def mul(a, b):\n',
               new='def sub(a, b):\n    """The difference of a and b."""\n    return a - b\n\n\ndef mul(a, b):\n')
ADD_SUB_TEST = tool("edit_file", path="tests/test_calc.py", old="from calc import add, mul\n",
                    new="from calc import add, mul, sub\n\n\ndef test_sub():\n    assert sub(5, 3) == 2\n")
# A new payments module with its test: the high-risk path of the roles and PR-job tests.
ADD_FEES = [
    reply(tool("write_file", path="payments/fees.py", content="def fee(amount):\n    return amount * 0.02\n")),
    reply(tool("write_file", path="payments/__init__.py", content="")),
    reply(tool("write_file", path="tests/test_fees.py",
               content="from payments.fees import fee\n\n\ndef test_fee():\n    assert fee(100) == 2\n")),
    reply(tool("finish", summary="fee() added with a test")),
]
FIXED = [reply(FIX_ADD), reply(ADD_TEST), reply(tool("finish", summary="add() returns the sum; test added"))]
REQUEST = "Fix add() so it returns the sum of its arguments"


def three_models(url: str, implementer: str = "gpt", reviewer: str = "gpt2", extra: str = "",
                 strategy: str = "fixed", roles_extra: str = "") -> str:
    """A harness.toml with two OpenAI-protocol models (told apart by model id) and one Anthropic model."""
    def model(name: str, provider: str, model_id: str, tier: str, base: str, key: str) -> str:
        return (f'[models.{name}]\nprovider = "{provider}"\nmodel = "{model_id}"\nbase_url = "{base}"\n'
                f'api_key_env = "{key}"\ntier = "{tier}"\ninput_per_mtok = 1.0\noutput_per_mtok = 4.0\n'
                f'cache_read_per_mtok = 0.1\ncache_write_per_mtok = 1.25\nmax_output_tokens = 1000\n\n')
    return (model("gpt", "openai", "gpt-fake", "cheap", f"{url}/v1", "OPENAI_API_KEY")
            + model("gpt2", "openai", "gpt-fake-2", "mid", f"{url}/v1", "OPENAI_API_KEY")
            + model("claude", "anthropic", "claude-fake", "frontier", url, "ANTHROPIC_API_KEY")
            + f'[roles]\nimplementer = "{implementer}"\nreviewer = "{reviewer}"\n{roles_extra}\n\n'
            + f'[routing]\nstrategy = "{strategy}"\nescalate = false\n\n'
            + '[agent]\nmax_retries = 1\nrequest_timeout_s = 20\n\n' + extra)


def use_config(repo: Path, text: str) -> None:
    """Replace the repo's harness.toml and commit it (the harness works from HEAD)."""
    (repo / "harness.toml").write_text(text)
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "config")


def plan_reply(files: list[str], steps: list[dict[str, Any]] | None = None, approach: str = "") -> dict[str, Any]:
    """A scripted submit_plan."""
    return reply(tool("submit_plan", approach=approach or "Change the subtraction in add() to an addition",
                      files=files, tests=["tests/test_calc.py::test_add"],
                      fence=["mul() must not change"], **({"steps": steps} if steps else {})))


def db(repo: Path) -> sqlite3.Connection:
    """The memory database of a repo, rows as dicts."""
    conn = sqlite3.connect(repo / "memory" / "harness.db")
    conn.row_factory = sqlite3.Row
    return conn
