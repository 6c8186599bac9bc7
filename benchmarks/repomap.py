"""Repo map build time on a large repository, cold versus cached.

The repository is a copy, made at run time in a temp dir, of a big installed
package (default: `openai`, ~2,000 Python files), git-inited with a .gitignore so
the ignore logic runs as it would on a real checkout. Prints the median of each
measurement and the cached/cold ratio against the same run's cold baseline.

    .venv/bin/python benchmarks/repomap.py [--package NAME] [--repeat N] [--budget TOKENS]
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from harness.codeindex import index_repo
from harness.repomap import build_repo_map, rank_files, render_map

REQUEST = "make the client retry on connection errors and log each retry"


def make_repo(package: str, into: Path) -> Path:
    """Copy an installed package into a fresh git repo under `into`."""
    source = Path(importlib.import_module(package).__file__).parent
    repo = into / "repo"
    shutil.copytree(source, repo / package, ignore=shutil.ignore_patterns("*.pyc"))
    (repo / ".gitignore").write_text("__pycache__/\n*.pyc\n", encoding="utf-8")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    return repo


def timed(fn) -> tuple[float, object]:  # noqa: ANN001
    """Seconds one call of `fn` took, and its result."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main() -> None:
    """Run the benchmark and print its numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", default="openai")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--budget", type=int, default=2048)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="repomap-bench-") as tmp:
        tmp_path = Path(tmp)
        repo = make_repo(args.package, tmp_path)
        index = index_repo(repo)
        definitions = sum(len(f.definitions) for f in index.files.values())
        size = sum((repo / p).stat().st_size for p in index.files)
        print(f"repo: copy of {args.package}: {len(index.files)} files, {size / 1e6:.1f} MB, {definitions} definitions")

        cold, cached, uncached = [], [], []
        for i in range(args.repeat):
            cache = tmp_path / f"cache{i}"
            seconds, cold_map = timed(lambda: build_repo_map(repo, REQUEST, token_budget=args.budget, cache_dir=cache))
            cold.append(seconds)
            seconds, warm_map = timed(lambda: build_repo_map(repo, REQUEST, token_budget=args.budget, cache_dir=cache))
            cached.append(seconds)
            assert warm_map == cold_map, "cached map differs from cold map"
            seconds, _ = timed(lambda: build_repo_map(repo, REQUEST, token_budget=args.budget))
            uncached.append(seconds)
        warm_index = index_repo(repo, tmp_path / "cache0")
        seconds_rank, ranked = timed(lambda: rank_files(warm_index, REQUEST))
        seconds_render, _ = timed(lambda: render_map(warm_index, ranked, args.budget))

    cold_s, cached_s, uncached_s = (statistics.median(x) for x in (cold, cached, uncached))
    print(f"runs: {args.repeat}, budget: {args.budget} tokens (medians below)")
    print(f"cold (empty cache, parse + store): {cold_s:.3f} s")
    print(f"no cache (parse only):             {uncached_s:.3f} s")
    print(f"cached ({warm_index.cached} source files, all hits): {cached_s:.3f} s")
    print(f"  of which ranking {seconds_rank:.3f} s, rendering {seconds_render:.4f} s")
    print(f"cached/cold ratio: {cached_s / cold_s:.3f} ({cold_s / cached_s:.1f}x faster)")


if __name__ == "__main__":
    main()
