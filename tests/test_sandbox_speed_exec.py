"""The warm-container exec agent: same results as `docker exec`, falls back when it dies."""

from __future__ import annotations

import io
import statistics
import tarfile
import time
from collections.abc import Iterator

import pytest

from harness.config import SandboxConfig
from harness.errors import PathOutsideRepo
from harness.sandbox.docker import DockerSandbox


def repo_tar() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data, mode in (("a.txt", b"hello\n", 0o644), ("run.sh", b"#!/bin/sh\necho hi\n", 0o755)):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture(params=[True, False], ids=["agent", "docker-api"])
def sandbox(request: pytest.FixtureRequest) -> Iterator[DockerSandbox]:
    with DockerSandbox(SandboxConfig(command_timeout_s=20), repo_tar(), label="test-speed",
                       fast_exec=request.param) as box:
        assert (box._agent is not None) == request.param
        yield box


def test_exec_results_match_docker_exec(sandbox: DockerSandbox) -> None:
    done = sandbox.exec(["sh", "-c", "echo out; echo err >&2; printf '\\377'; exit 3"], 10)
    assert done.exit_code == 3 and not done.timed_out
    assert "out\n" in done.output and "err\n" in done.output and "\ufffd" in done.output
    assert sandbox.exec(["pwd"], 10).output.strip() == "/repo"
    assert sandbox.exec(["id", "-u"], 10).output.strip() == "1000"
    assert "OPENAI" not in sandbox.exec(["env"], 10).output
    slow = sandbox.exec(["sleep", "30"], 1)
    assert slow.timed_out and slow.exit_code == 124


def test_read_write_resolve(sandbox: DockerSandbox, tmp_path: object) -> None:
    assert sandbox.read_bytes("a.txt") == b"hello\n"
    sandbox.write_bytes("new/dir/b.txt", b"\x00\x01data")
    assert sandbox.read_bytes("new/dir/b.txt") == b"\x00\x01data"
    assert sandbox.exec(["stat", "-c", "%u", "new/dir/b.txt"], 10).output.strip() == "1000"
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        sandbox.read_bytes("missing.txt")
    with pytest.raises(IsADirectoryError):
        sandbox.read_bytes("new")
    sandbox.exec(["ln", "-s", "/etc", "link"], 10)
    with pytest.raises(PathOutsideRepo):
        sandbox.read_bytes("link/passwd")
    with pytest.raises(PathOutsideRepo):
        sandbox.write_bytes(".git/config", b"x")


def test_agent_write_keeps_the_file_mode() -> None:
    # Rewriting an executable through the agent keeps it executable, so the diff shows no mode change.
    with DockerSandbox(SandboxConfig(), repo_tar(), label="test-speed") as box:
        box.write_bytes("run.sh", b"#!/bin/sh\necho changed\n")
        assert box.exec(["./run.sh"], 10).output == "changed\n"
        assert box.exec(["git", "diff", "--summary"], 10).output == ""


def test_killed_agent_falls_back_to_the_docker_api() -> None:
    with DockerSandbox(SandboxConfig(), repo_tar(), label="test-speed") as box:
        # The agent is the only python3 process in the container.
        lost = box.exec(["sh", "-c", "pkill -KILL -f 'python3 -c'; sleep 1; echo never"], 10)
        assert lost.exit_code == 137 and "agent" in lost.output
        assert box._agent is None
        assert box.exec(["echo", "still here"], 10).output == "still here\n"
        assert box.read_bytes("a.txt") == b"hello\n"


def test_warm_exec_is_fast() -> None:
    # The target is a 50 ms median; `docker exec` alone costs ~60-90 ms here. Loose bound against load.
    with DockerSandbox(SandboxConfig(), repo_tar(), label="test-speed") as box:
        times = []
        for _ in range(20):
            started = time.perf_counter()
            box.exec(["true"], 10)
            times.append(time.perf_counter() - started)
    assert statistics.median(times) < 0.05


def test_agent_that_cannot_start_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    # As in an image without python3: the handshake fails and the Docker API serves every call.
    monkeypatch.setattr("harness.sandbox.agent.AGENT_SOURCE", "raise SystemExit(1)")
    with DockerSandbox(SandboxConfig(), repo_tar(), label="test-speed") as box:
        assert box._agent is None
        assert box.read_bytes("a.txt") == b"hello\n"
        assert box.exec(["git", "log", "--format=%s"], 10).output == "base\n"
