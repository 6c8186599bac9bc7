"""Repo map: .gitignore, binaries, token budget, ranking, cache, definitions near a line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from harness import codeindex
from harness.codeindex import index_repo
from harness.errors import PathOutsideRepo
from harness.repomap import CHARS_PER_TOKEN, build_repo_map, definitions, definitions_near, rank_files


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A small git repo with a few related Python modules."""
    root = tmp_path / "repo"
    write(root, "app/models.py", "class User:\n    def __init__(self, name):\n        self.name = name\n\n"
          "    def greet(self, other: 'User') -> str:\n        return f'hi {other.name}'\n")
    write(root, "app/billing.py", "from app.models import User\n\n\ndef invoice_total(user: User, items: list[int]) -> int:\n"
          "    def helper(x):\n        return x\n    return sum(helper(i) for i in items)\n")
    write(root, "app/views.py", "from app.billing import invoice_total\n\n\ndef render_invoice(user):\n"
          "    return str(invoice_total(user, [1, 2]))\n")
    write(root, "web/client.ts", "export class Client {\n  fetchUser(id: number): string { return '' }\n}\n"
          "export function connect(url: string) { return new Client() }\n")
    write(root, "README.md", "# Demo\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def test_map_lists_files_and_signatures(repo):
    text = build_repo_map(repo, token_budget=2000)
    assert "app/models.py:\n  1: class User\n    2: def __init__(self, name)\n" in text
    assert "    5: def greet(self, other: 'User') -> str\n" in text
    assert "  4: def invoice_total(user: User, items: list[int]) -> int\n" in text
    assert "helper" not in text  # locals of a function are not part of the map
    assert "web/client.ts:\n  1: class Client\n    2: fetchUser(id: number): string\n" in text
    assert "\nREADME.md\n" in "\n" + text


def test_map_respects_gitignore_and_skips_binaries(repo):
    write(repo, ".gitignore", "build/\n*.gen.py\n!keep.gen.py\n")
    write(repo, "build/out.py", "def built(): pass\n")
    write(repo, "app/schema.gen.py", "def generated(): pass\n")
    write(repo, "app/keep.gen.py", "def kept(): pass\n")
    write(repo, "app/sub/.gitignore", "local.py\n")
    write(repo, "app/sub/local.py", "def local_only(): pass\n")
    write(repo, "app/sub/shared.py", "def shared(): pass\n")
    (repo / "app" / "blob.py").write_bytes(b"def x():\x00 pass\n")
    text = build_repo_map(repo, token_budget=4000)
    for hidden in ("built", "generated", "local_only", "blob.py", "build/out.py"):
        assert hidden not in text
    for shown in ("def kept()", "def shared()", "app/sub/shared.py"):
        assert shown in text


@pytest.mark.parametrize("budget", [0, 5, 20, 40, 100])
def test_map_never_exceeds_token_budget(repo, budget):
    for i in range(30):
        write(repo, f"pkg/mod{i:02}.py", "".join(f"def function_{i}_{j}(a, b, c): pass\n" for j in range(20)))
    text = build_repo_map(repo, token_budget=budget)
    assert len(text) <= budget * CHARS_PER_TOKEN
    if budget >= 20:
        assert text  # a useful budget always shows something


def test_file_named_in_request_ranks_first(repo):
    for request in ("the greeting in app/models.py is rude", "please change models.py"):
        text = build_repo_map(repo, request=request, token_budget=2000)
        assert text.startswith("app/models.py:"), text
    text = build_repo_map(repo, request="connect should retry", token_budget=2000)
    assert text.startswith("web/client.ts:")


def test_files_read_pull_in_what_they_use(repo):
    ranked = [path for path, _ in rank_files(index_repo(repo), files_read=["app/views.py"])]
    assert ranked[:2] == ["app/views.py", "app/billing.py"]


def test_map_is_deterministic(repo):
    first = build_repo_map(repo, request="invoice User", token_budget=300)
    assert first == build_repo_map(repo, request="invoice User", token_budget=300)


def test_cache_is_used_on_second_build(repo, tmp_path, monkeypatch):
    parsed: list[str] = []
    real_scan = codeindex.scan_file

    def counting_scan(path, source):
        parsed.append(path)
        return real_scan(path, source)

    monkeypatch.setattr(codeindex, "scan_file", counting_scan)
    cache = tmp_path / "cache"
    cold = build_repo_map(repo, request="invoice", cache_dir=cache)
    assert sorted(parsed) == ["README.md", "app/billing.py", "app/models.py", "app/views.py", "web/client.ts"]
    parsed.clear()
    warm = build_repo_map(repo, request="invoice", cache_dir=cache)
    assert parsed == [] and warm == cold
    write(repo, "app/views.py", "def render_receipt(user):\n    return ''\n")
    changed = build_repo_map(repo, request="invoice", cache_dir=cache)
    assert parsed == ["app/views.py"] and "render_receipt" in changed


def test_cache_key_includes_tool_version(repo, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    assert index_repo(repo, cache).parsed == 5
    monkeypatch.setattr(codeindex, "SCHEMA_VERSION", codeindex.SCHEMA_VERSION + 1)
    again = index_repo(repo, cache)
    assert (again.parsed, again.cached) == (5, 0)


def test_definitions_near_gives_siblings_nearest_first(tmp_path):
    write(tmp_path, "m.py", "def a():\n    pass\n\n\nclass K:\n    def one(self):\n        pass\n\n"
          "    def two(self):\n        x = 1\n        return x\n\n    def three(self):\n        pass\n\n\ndef b():\n    pass\n")
    assert [d.name for d in definitions_near(tmp_path, "m.py", 10)] == ["one", "three"]
    assert [d.name for d in definitions_near(tmp_path, "m.py", 18)] == ["K", "a"]
    assert [d.name for d in definitions_near(tmp_path, "m.py", 3, limit=2)] == ["a", "K"]
    assert [(d.name, d.parent, d.kind) for d in definitions(tmp_path, "m.py")][:3] == [
        ("a", None, "function"), ("K", None, "class"), ("one", "K", "method")
    ]


def test_definitions_refuses_paths_outside_repo(tmp_path):
    (tmp_path / "repo").mkdir()
    write(tmp_path, "secret.py", "def s(): pass\n")
    with pytest.raises(PathOutsideRepo):
        definitions(tmp_path / "repo", "../secret.py")


def test_other_languages_and_one_line_members(tmp_path):
    write(tmp_path, "A.java", "class A { int m(int x) { return x; } A() {} }\nfunction_like_text_is_not_a_def\n")
    write(tmp_path, "lib.rs", "struct S;\nimpl S { fn m(&self) -> i32 { 1 } }\nfn f(x: i32) {}\n")
    write(tmp_path, "util.c", "static char *dup_name(const char *s) { return 0; }\n")
    assert [(d.name, d.kind) for d in definitions(tmp_path, "util.c")] == [("dup_name", "function")]
    text = build_repo_map(tmp_path, token_budget=1000)
    assert "A.java:\n  1: class A\n    1: int m(int x)\n    1: A()\n" in text
    assert "lib.rs:\n  1: struct S;\n  2: impl S\n    2: fn m(&self) -> i32\n  3: fn f(x: i32)\n" in text
