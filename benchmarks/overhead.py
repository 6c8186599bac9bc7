"""Harness overhead against bare Docker, measured in the same run.

On a copy of the bundled sample repo, times the real `harness do` CLI with a scripted
implementer (10 tool calls, one of them a test run) and a scripted reviewer, against
`docker run` of the same test command on the same image. Also times warm-container
operations (exec, read_file) through the sandbox the pipeline uses.

    .venv/bin/python benchmarks/overhead.py [--repeat N] [--image TAG] [--stages]

Targets (issue 5): harness do <= 1.5 x bare + 2 s; warm exec median <= 50 ms.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

TEST_COMMAND = "python3 -m pytest -q"
REQUEST = "Make mean() raise ValueError with a clear message when given an empty sequence."
_GUARD = '    """Arithmetic mean of a non-empty sequence."""\n'
IMPLEMENTER = [
    {"name": "list_files", "arguments": {"path": "."}},
    {"name": "read_file", "arguments": {"path": "stats.py"}},
    {"name": "read_file", "arguments": {"path": "tests/test_stats.py"}},
    {"name": "search", "arguments": {"pattern": "def mean"}},
    {"name": "edit_file", "arguments": {"path": "stats.py", "old": _GUARD, "new": _GUARD + (
        "    if not values:\n        raise ValueError(\"mean() of an empty sequence\")\n")}},
    {"name": "read_file", "arguments": {"path": "stats.py", "start_line": 1, "end_line": 10}},
    {"name": "edit_file", "arguments": {"path": "tests/test_stats.py", "old": "from stats import mean, median\n",
                                        "new": "import pytest\n\nfrom stats import mean, median\n\n\n"
                                               "def test_mean_empty():\n    with pytest.raises(ValueError):\n"
                                               "        mean([])\n"}},
    {"name": "run", "arguments": {"command": TEST_COMMAND}},
    {"name": "search", "arguments": {"pattern": "ValueError"}},
    {"name": "finish", "arguments": {"summary": "mean() raises ValueError on an empty sequence; test added."}},
]
REVIEWER = [{"name": "submit_review", "arguments": {"verdict": "approve", "summary": "small and tested",
                                                    "findings": []}}]
USAGE = {"input_tokens": 500, "output_tokens": 50, "cache_read_tokens": 0, "cache_write_tokens": 0}
CONFIG = """
[models.impl]
provider = "scripted"
model = "impl"
script = "{scripts}/implementer.json"
input_per_mtok = 1
output_per_mtok = 4

[models.rev]
provider = "scripted"
model = "rev"
script = "{scripts}/reviewer.json"
input_per_mtok = 3
output_per_mtok = 15

[roles]
implementer = "impl"
reviewer = "rev"

[routing]
strategy = "fixed"
escalate = false

[sandbox]
image = "{image}"
test_command = "{test_command}"
"""


def make_repo(into: Path, image: str) -> Path:
    """A committed copy of the demo sample repo with scripted models in its harness.toml."""
    repo, scripts = into / "repo", into / "scripts"
    shutil.copytree(Path(str(resources.files("harness.demo"))) / "sample_repo", repo)
    scripts.mkdir()
    for name, calls in (("implementer", IMPLEMENTER), ("reviewer", REVIEWER)):
        replies = [{"text": "", "tool_calls": [c], "usage": USAGE} for c in calls]
        (scripts / f"{name}.json").write_text(json.dumps(replies))
    (repo / "harness.toml").write_text(CONFIG.format(scripts=scripts, image=image, test_command=TEST_COMMAND))
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-m", "base"]):
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)
    return repo


def time_harness(image: str, stages: bool) -> float:
    """Wall time of one `harness do` in a fresh repo copy; asserts it produced a trusted change."""
    with tempfile.TemporaryDirectory(prefix="harness-bench-") as tmp:
        repo = make_repo(Path(tmp), image)
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "harness", "do", REQUEST, "--json"], cwd=repo,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        marks: list[tuple[float, str]] = []
        assert proc.stderr is not None and proc.stdout is not None
        for line in proc.stderr:
            marks.append((time.perf_counter() - started, line.rstrip()))
        out = proc.stdout.read()
        proc.wait()
        elapsed = time.perf_counter() - started
        if proc.returncode != 0:
            raise SystemExit(f"harness do failed ({proc.returncode}):\n" + "\n".join(m[1] for m in marks))
        if json.loads(out)["status"] != "trusted":
            raise SystemExit("harness do did not produce a trusted change")
        if stages:
            for at, line in marks:
                print(f"    {at:6.2f}s  {line[:100]}")
        return elapsed


def time_bare(image: str) -> float:
    """Wall time of `docker run` of the test command on the same image, repo mounted."""
    with tempfile.TemporaryDirectory(prefix="harness-bare-") as tmp:
        repo = Path(tmp) / "repo"
        shutil.copytree(Path(str(resources.files("harness.demo"))) / "sample_repo", repo)
        repo.chmod(0o777)
        started = time.perf_counter()
        done = subprocess.run(["docker", "run", "--rm", "--network", "none", "-v", f"{repo}:/repo", "-w", "/repo",
                               image, "sh", "-c", TEST_COMMAND], capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"bare docker run failed: {done.stdout[-300:]}{done.stderr[-300:]}")
        return elapsed


def time_warm_ops(image: str, n: int) -> dict[str, float]:
    """Median milliseconds of warm-container operations through DockerSandbox."""
    from harness.config import SandboxConfig
    from harness.sandbox.docker import DockerSandbox
    from harness.tools import ToolBox
    from harness.records import ToolCall

    repo = Path(str(resources.files("harness.demo"))) / "sample_repo"
    tar = subprocess.run(["tar", "-C", str(repo), "-c", "."], capture_output=True, check=True).stdout
    results: dict[str, list[float]] = {"start + copy-in": [], "exec `true`": [], "tool read_file": [],
                                       "tool edit_file": [], "tool run `true`": []}
    started = time.perf_counter()
    with DockerSandbox(SandboxConfig(image=image), tar) as sandbox:
        results["start + copy-in"].append(time.perf_counter() - started)
        box = ToolBox(sandbox, 12000, 60)
        ops = {
            "exec `true`": lambda i: sandbox.exec(["true"], 10),
            "tool read_file": lambda i: box.execute(ToolCall(id="c", name="read_file", arguments={"path": "stats.py"})),
            "tool edit_file": lambda i: box.execute(ToolCall(id="c", name="edit_file", arguments={
                "path": "stats.py", "old": f"# {i}\n" if i else "\n\ndef median", "new": f"# {i + 1}\n" + (
                    "" if i else "\n\ndef median")})),
            "tool run `true`": lambda i: box.execute(ToolCall(id="c", name="run", arguments={"command": "true"})),
        }
        for name, op in ops.items():
            for i in range(n):
                t = time.perf_counter()
                op(i)
                results[name].append(time.perf_counter() - t)
    return {name: statistics.median(values) * 1000 for name, values in results.items()}


def main() -> None:
    """Run the measurements and print ratios against the same run's bare baseline."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each end-to-end measurement (median)")
    parser.add_argument("--image", default="harness-sandbox:latest")
    parser.add_argument("--stages", action="store_true", help="print harness do's progress lines with times")
    args = parser.parse_args()

    bare = statistics.median(time_bare(args.image) for _ in range(args.repeat))
    runs = [time_harness(args.image, args.stages and i == 0) for i in range(args.repeat)]
    harness = statistics.median(runs)
    warm = time_warm_ops(args.image, 30)
    target = 1.5 * bare + 2
    print(f"bare docker run ({TEST_COMMAND}):      {bare:6.2f} s  (median of {args.repeat})")
    print(f"harness do (10 tool calls + review): {harness:6.2f} s  (median of {args.repeat}; "
          f"runs {', '.join(f'{r:.2f}' for r in runs)})")
    print(f"ratio harness/bare:                  {harness / bare:6.2f} x")
    print(f"target 1.5 x bare + 2 s:             {target:6.2f} s  -> {'PASS' if harness <= target else 'FAIL'}")
    for name, ms in warm.items():
        print(f"warm {name + ':':<31} {ms:7.1f} ms median")
    print(f"target warm exec <= 50 ms:           {'PASS' if warm['exec `true`'] <= 50 else 'FAIL'}")


if __name__ == "__main__":
    main()
