"""A small exec agent inside the sandbox container, so a warm tool call costs milliseconds.

`docker exec` spawns every command through the daemon and runc (~60-90 ms here). Instead,
one long-lived `docker exec -i` runs this agent (python3, as the sandbox user, in the repo);
the host sends one JSON line per request over its stdin and reads one JSON line back.
Commands still run under `timeout` inside the container, exactly as with `docker exec`.

Requests: {"op": "exec", "argv": [...]} -> {"code", "out"};
{"op": "read", "path", "limit"} -> {"data"(base64)} or {"error": "missing|isdir|toolarge|..."};
{"op": "write", "path", "data"(base64)} -> {} or {"error"}.
Paths are resolved and checked on the host before read/write (see DockerSandbox.resolve).
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import threading
import time
from typing import Any

from harness.errors import SandboxError

# Runs inside the container. It makes itself non-dumpable so that code in the sandbox
# (same uid) cannot open /proc/<agent>/fd/1 and forge protocol lines.
AGENT_SOURCE = r'''
import base64, json, os, subprocess, sys
try:
    import ctypes
    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)
except Exception:
    pass
out = sys.stdout.buffer
def handle(req):
    op = req["op"]
    if op == "exec":
        p = subprocess.run(req["argv"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        code = p.returncode if p.returncode >= 0 else 128 - p.returncode
        return {"code": code, "out": p.stdout.decode("utf-8", "replace")}
    path = req["path"]
    try:
        if op == "read":
            if os.path.isdir(path):
                return {"error": "isdir"}
            if os.path.getsize(path) > req["limit"]:
                return {"error": "toolarge"}
            with open(path, "rb") as f:
                return {"data": base64.b64encode(f.read()).decode()}
        if op == "write":
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(base64.b64decode(req["data"]))
            return {}
    except FileNotFoundError:
        return {"error": "missing"}
    except OSError as exc:
        return {"error": "oserror", "message": str(exc)}
    return {"error": "badop"}
for line in sys.stdin.buffer:
    out.write(json.dumps(handle(json.loads(line))).encode() + b"\n")
    out.flush()
'''

# The agent answers within the command's own timeout; this much more is allowed on the host
# side for `timeout -k 5` to kill and for the answer to travel back.
_GRACE_S = 15
_START_TIMEOUT_S = 20


class ExecAgent:
    """The host side of the agent: one `docker exec -i` process talking JSON lines."""

    def __init__(self, container_id: str, user: str, workdir: str):
        docker = shutil.which("docker")
        if docker is None:
            raise SandboxError("the docker CLI is not installed")
        self._proc = subprocess.Popen(
            [docker, "exec", "-i", "-u", user, "-w", workdir, container_id, "python3", "-c", AGENT_SOURCE],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self._buffer = b""
        self._lock = threading.Lock()

    def handshake(self) -> None:
        """Wait until the agent answers (python3 present, container running); SandboxError if not.

        Separate from start-up so the caller can copy the repo in while the agent boots.
        """
        self.request({"op": "exec", "argv": ["true"]}, _START_TIMEOUT_S)

    def request(self, message: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        """Send one request and wait for its answer; SandboxError if the agent is gone or silent."""
        with self._lock:
            if self._proc.poll() is not None or self._proc.stdin is None:
                raise SandboxError("the sandbox exec agent is not running")
            try:
                self._proc.stdin.write(json.dumps(message).encode() + b"\n")
                self._proc.stdin.flush()
            except (BrokenPipeError, OSError):
                self.close()
                raise SandboxError("the sandbox exec agent stopped") from None
            line = self._read_line(time.monotonic() + timeout_s)
        return json.loads(line)

    def _read_line(self, deadline: float) -> bytes:
        assert self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(remaining, 0))
            if not ready:
                self.close()
                raise SandboxError("the sandbox exec agent stopped answering")
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                self.close()
                raise SandboxError("the sandbox exec agent stopped")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line

    def exec(self, argv: list[str], timeout_s: int) -> tuple[int, str]:
        """Run an already `timeout`-wrapped argv; returns (exit code, merged output)."""
        answer = self.request({"op": "exec", "argv": argv}, timeout_s + _GRACE_S)
        return int(answer["code"]), str(answer["out"])

    def read(self, path: str, limit: int, name: str) -> bytes:
        """A file's bytes; FileNotFoundError, IsADirectoryError or ValueError (naming `name`) as a local read would."""
        answer = self.request({"op": "read", "path": path, "limit": limit}, _START_TIMEOUT_S)
        error = answer.get("error")
        if error == "missing":
            raise FileNotFoundError(name)
        if error == "isdir":
            raise IsADirectoryError(name)
        if error == "toolarge":
            raise ValueError(f"{name} is larger than {limit // 1_000_000} MB")
        if error:
            raise ValueError(f"cannot read {name}: {answer.get('message', error)}")
        return base64.b64decode(answer["data"])

    def write(self, path: str, content: bytes) -> None:
        """Create or replace a file (parents made), owned by the sandbox user; ValueError if it cannot."""
        answer = self.request({"op": "write", "path": path, "data": base64.b64encode(content).decode()},
                              _START_TIMEOUT_S)
        if answer.get("error"):
            raise ValueError(f"could not write {path}: {answer.get('message', answer['error'])}")

    def close(self) -> None:
        """Stop the agent's `docker exec` client (the container's removal ends the agent itself)."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        for stream in (self._proc.stdin, self._proc.stdout):
            if stream is not None:
                stream.close()
