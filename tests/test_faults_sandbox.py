"""Sandbox faults: a clear error or tool result, the host unaffected, the container always removed."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import docker
import pytest

from tests.conftest import FAKE_KEYS, git, run_cli
from tests.fake_models import FakeModels, reply, tool
from tests.test_do_e2e import snapshot

REQUEST = "Fix add() so it returns the sum"


def set_sandbox(repo: Path, **values: object) -> None:
    lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items())
    (repo / "harness.toml").write_text((repo / "harness.toml").read_text() + f"\n[sandbox]\n{lines}")
    git(repo, "commit", "-qam", "sandbox settings")


def task_ids(repo: Path) -> list[str]:
    db = sqlite3.connect(repo / "memory" / "harness.db")
    return [r[0] for r in db.execute("SELECT id FROM tasks")]


def containers_of(task_id: str) -> list[object]:
    client = docker.from_env()
    try:
        return client.containers.list(all=True, filters={"label": f"harness={task_id}"})
    finally:
        client.close()


def run_output(fake: FakeModels, index: int = 1) -> str:
    return fake.requests["openai"][index]["messages"][-1]["content"]


def test_missing_image_is_one_line_exit_4_before_any_call(repo: Path, fake: FakeModels) -> None:
    set_sandbox(repo, image="harness-no-such-image:0")
    done = run_cli("do", REQUEST, cwd=repo)
    assert done.returncode == 4
    assert done.stderr.strip().splitlines()[-1] == (
        "error: sandbox image harness-no-such-image:0 not found; run `harness sandbox build`")
    assert fake.requests["openai"] == []


def test_docker_daemon_down_is_one_line_exit_4(repo: Path, fake: FakeModels, tmp_path: Path) -> None:
    done = run_cli("do", REQUEST, cwd=repo, env={"DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"})
    assert done.returncode == 4
    assert done.stderr.strip().splitlines()[-1].startswith("error: docker daemon not reachable")
    assert "Traceback" not in done.stderr and fake.requests["openai"] == []


def test_command_timeout_is_a_tool_result(repo: Path, fake: FakeModels) -> None:
    set_sandbox(repo, command_timeout_s=2)
    fake.script("openai", reply(tool("run", command="sleep 30")), reply(tool("finish", summary="gave up")))
    started = time.monotonic()
    run_cli("do", REQUEST, cwd=repo)
    assert time.monotonic() - started < 25
    assert "[timed out after 2s]" in run_output(fake)
    assert all(containers_of(t) == [] for t in task_ids(repo))


def test_out_of_memory_kill_is_a_tool_result(repo: Path, fake: FakeModels) -> None:
    set_sandbox(repo, memory="96m")
    hog = "python3 -c \"b = bytearray(512 * 1024 * 1024); print('allocated')\""
    fake.script("openai", reply(tool("run", command=hog)), reply(tool("run", command="echo still-here")),
                reply(tool("finish", summary="done")))
    run_cli("do", REQUEST, cwd=repo)
    assert "allocated" not in run_output(fake, 1)
    assert "exit code 137" in run_output(fake, 1) or "MemoryError" in run_output(fake, 1)
    assert "still-here" in run_output(fake, 2)
    assert all(containers_of(t) == [] for t in task_ids(repo))


def test_fork_bomb_is_contained_by_the_pids_limit(repo: Path, fake: FakeModels) -> None:
    set_sandbox(repo, pids=64, command_timeout_s=5)
    fake.script("openai", reply(tool("run", command="bomb() { bomb | bomb & }; bomb; sleep 2; echo survived")),
                reply(tool("run", command="echo after")), reply(tool("finish", summary="done")))
    run_cli("do", REQUEST, cwd=repo)
    assert "after" in run_output(fake, 2)
    assert all(containers_of(t) == [] for t in task_ids(repo))


def test_a_full_disk_is_a_tool_result_inside_the_container(repo: Path, fake: FakeModels) -> None:
    set_sandbox(repo, disk="64m")
    fill = "dd if=/dev/zero of=big bs=1M count=200 2>&1; stat -c %s big"
    elsewhere = "touch /etc/x /usr/local/x 2>&1; dd if=/dev/zero of=/tmp/big bs=1M count=200 2>&1 | head -1"
    fake.script("openai", reply(tool("run", command=fill)), reply(tool("run", command=elsewhere)),
                reply(tool("run", command="rm big; echo still-here")), reply(tool("finish", summary="done")))
    run_cli("do", REQUEST, cwd=repo)
    # The repo copy is capped at 64 MiB: the write stops there, inside the container.
    assert "No space left on device" in run_output(fake, 1)
    assert int(run_output(fake, 1).split()[-1]) <= 64 * 1024 * 1024
    # Nothing else is writable but the capped scratch space.
    assert run_output(fake, 2).count("Read-only file system") == 2 and "No space left" in run_output(fake, 2)
    assert "still-here" in run_output(fake, 3)
    assert all(containers_of(t) == [] for t in task_ids(repo))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_interrupt_removes_the_container_and_records_the_run(repo: Path, fake: FakeModels, sig: int) -> None:
    fake.script("openai", reply(tool("run", command="sleep 60")))
    before = snapshot(repo)
    proc = subprocess.Popen([sys.executable, "-m", "harness", "do", REQUEST, "--json"], cwd=repo,
                            env={**os.environ, **FAKE_KEYS}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not fake.requests["openai"] and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.5)  # the `sleep 60` is now running inside the container
    (task_id,) = task_ids(repo)
    assert len(containers_of(task_id)) == 1
    proc.send_signal(sig)
    _out, err = proc.communicate(timeout=60)

    assert proc.returncode == 130
    assert "interrupted" in err and "Traceback" not in err
    assert containers_of(task_id) == []
    db = sqlite3.connect(repo / "memory" / "harness.db")
    assert db.execute("SELECT status FROM runs").fetchall() == [("interrupted",)]
    assert db.execute("SELECT status FROM tasks").fetchall() == [("interrupted",)]
    assert snapshot(repo) == before
