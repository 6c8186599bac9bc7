"""The default sandbox: one Docker container per task, network off, no secrets, resource-limited.

Lifecycle (start, copy in, remove) lives in `DockerSandbox.__enter__/__exit__`; the runtime
operations (exec, read, write) are plain methods. The container is removed on every exit path.
"""

from __future__ import annotations

import hashlib
import io
import socket
import tarfile
import time
from typing import Any

import docker
import docker.errors
import requests.exceptions

from harness.config import SandboxConfig
from harness.errors import PathOutsideRepo, SandboxError
from harness.sandbox import ExecResult
from harness.sandbox.agent import ExecAgent
from harness.sandbox.deps import deps_image
from harness.sandbox.host import OWNER_LABEL, docker_client, owner_tag, remove_orphans
from harness.sandbox.paths import confine, within
from harness.sandbox.spec import CONTAINER_ENV, SANDBOX_USER, parse_memory, writable_mounts

# `timeout` exits 124 when it had to stop the command.
_TIMEOUT_EXIT = 124
_GIT_EXCLUDES = "__pycache__/\n*.pyc\n.pytest_cache/\n"
_MAX_READ_BYTES = 10_000_000


class DockerSandbox:
    """A container holding a copy of the repo at /repo. Use as a context manager."""

    def __init__(self, config: SandboxConfig, repo_tar: bytes, label: str = "harness", fast_exec: bool = True,
                 image: str | None = None):
        self.config = config
        self.root = config.workdir
        self.image = image or config.image
        self._image_given = image is not None
        self._repo_tar = repo_tar
        self._label = label
        self._fast_exec = fast_exec
        self._client: docker.DockerClient | None = None
        self._container: Any = None
        self._agent: ExecAgent | None = None

    # -- lifecycle ---------------------------------------------------------------

    def __enter__(self) -> DockerSandbox:
        self._client = docker_client()
        remove_orphans(self._client)
        try:
            self._client.images.get(self.image)
        except docker.errors.ImageNotFound:
            raise SandboxError(f"sandbox image {self.image} not found; run `harness sandbox build`") from None
        if not self._image_given:
            # The repo's deps image (`harness sandbox build --repo`), when built for these requirements.
            self.image = deps_image(self._client, self.config.image, self._repo_tar) or self.image
        try:
            self._container = self._client.containers.run(
                self.image, command=["sleep", "infinity"], detach=True, init=True,
                network_mode="none", mem_limit=parse_memory(self.config.memory),
                memswap_limit=parse_memory(self.config.memory), nano_cpus=int(self.config.cpus * 1e9),
                pids_limit=self.config.pids, user=SANDBOX_USER, environment=dict(CONTAINER_ENV),
                working_dir=self.root, cap_drop=["ALL"], security_opt=["no-new-privileges"],
                read_only=True, tmpfs=writable_mounts(self.root, self.config.disk),
                labels={"harness": self._label, OWNER_LABEL: owner_tag()},
            )
            if self._fast_exec:
                self._start_agent()
            self._copy_in()
        except BaseException:
            self._remove()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._remove()

    def _start_agent(self) -> None:
        try:
            self._agent = ExecAgent(self._container.id, SANDBOX_USER, self.root)
        except SandboxError:
            self._agent = None  # no docker CLI: every exec goes through the Docker API instead

    def _agent_ready(self) -> None:
        if self._agent is None:
            return
        try:
            self._agent.handshake()
        except SandboxError:
            self._drop_agent()  # no python3 in the image: every exec goes through the Docker API instead

    def _drop_agent(self) -> None:
        if self._agent is not None:
            self._agent.close()
            self._agent = None

    def _remove(self) -> None:
        self._drop_agent()
        if self._container is not None:
            try:
                self._container.remove(force=True)
            except docker.errors.DockerException:
                pass  # already gone; nothing left to clean up
            self._container = None
        if self._client is not None:
            self._client.close()
            self._client = None

    @property
    def container_id(self) -> str:
        """The running container's id."""
        return self._container.id if self._container is not None else ""

    @property
    def repo_digest(self) -> str:
        """sha256 of the repo archive copied in: equal digests, equal repo copies."""
        return hashlib.sha256(self._repo_tar).hexdigest()

    @property
    def image_id(self) -> str:
        """The id of the image the container runs (the deps image when one is used)."""
        return str(self._container.attrs.get("Image", "")) if self._container is not None else ""

    def _copy_in(self) -> None:
        # The agent boots while the archive goes in; the first command waits for it.
        self._untar(self.root, self._repo_tar)
        self._agent_ready()
        # A base commit inside the container makes the candidate diff simply `git diff`.
        self._checked(["sh", "-c", "git init -q && git add -A && git commit -q --no-verify -m base "
                       f"&& printf '{_GIT_EXCLUDES}' >> .git/info/exclude"])

    def _untar(self, directory: str, data: bytes) -> None:
        """Unpack a tar stream into `directory` as the sandbox user, through an exec's stdin: the
        root filesystem is read-only and Docker's archive API cannot write into tmpfs mounts."""
        assert self._client is not None
        api = self._client.api
        try:
            exec_id = api.exec_create(self._container.id, ["tar", "-x", "--no-same-owner", "-C", directory, "-f", "-"],
                                      stdin=True, user=SANDBOX_USER)["Id"]
            stream = api.exec_start(exec_id, socket=True)
            raw = getattr(stream, "_sock", stream)
            try:
                raw.sendall(data)
                raw.shutdown(socket.SHUT_WR)
                output = b""
                while chunk := raw.recv(65536):
                    output += chunk
            finally:
                stream.close()
            code = api.exec_inspect(exec_id)["ExitCode"]
            for _ in range(50):  # the exit code can trail the end of the stream by a moment
                if code is not None:
                    break
                time.sleep(0.02)
                code = api.exec_inspect(exec_id)["ExitCode"]
        except (docker.errors.DockerException, requests.exceptions.RequestException, OSError,
                AttributeError) as exc:  # AttributeError: a transport without a raw socket to write to
            raise SandboxError(f"could not copy files into the sandbox: {type(exc).__name__}") from None
        if code != 0:
            text = output.decode("utf-8", errors="replace")
            detail = "no space left (raise [sandbox] disk)" if "No space left" in text else text.strip()[-200:]
            raise SandboxError(f"could not copy files into the sandbox: {detail}")

    def _checked(self, argv: list[str], user: str | None = None) -> ExecResult:
        result = self.exec(argv, self.config.command_timeout_s, user=user)
        if result.exit_code != 0:
            first_line = (result.output.strip().splitlines() or ["no output"])[0][:200]
            raise SandboxError(f"sandbox setup failed: {' '.join(argv[:3])}: {first_line}")
        return result

    # -- runtime operations ------------------------------------------------------

    def exec(self, argv: list[str], timeout_s: int, user: str | None = None) -> ExecResult:
        """Run argv in /repo, killed after `timeout_s` (Docker's exec has no timeout of its own)."""
        if self._container is None:
            raise SandboxError("sandbox is not running")
        wrapped = ["timeout", "-k", "5", str(timeout_s), *argv]
        if self._agent is not None and user in (None, SANDBOX_USER):
            try:
                code, text = self._agent.exec(wrapped, timeout_s)
            except SandboxError as exc:
                # The agent was killed (e.g. by the OOM killer) mid-command. Later commands go through
                # the Docker API; this one is not re-run, since it may have had effects.
                self._drop_agent()
                return ExecResult(exit_code=137, output=f"[{exc}; the command may not have finished]")
            return ExecResult(exit_code=code, output=text, timed_out=code == _TIMEOUT_EXIT)
        try:
            code, output = self._container.exec_run(wrapped, workdir=self.root, user=user or SANDBOX_USER,
                                                    environment=dict(CONTAINER_ENV))
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            raise SandboxError(f"sandbox command failed to run: {type(exc).__name__}") from None
        text = (output or b"").decode("utf-8", errors="replace")
        return ExecResult(exit_code=code if code is not None else -1, output=text,
                          timed_out=code == _TIMEOUT_EXIT)

    def resolve(self, path: str) -> str:
        """Absolute in-container path; symlinks are followed in the container and must stay in /repo."""
        lexical = confine(path, self.root)
        result = self.exec(["readlink", "-m", "--", lexical], self.config.command_timeout_s)
        resolved = result.output.strip()
        if result.exit_code != 0 or not within(resolved, self.root):
            raise PathOutsideRepo(f"path {path!r} resolves outside the repository")
        if within(resolved, self.root + "/.git"):
            raise PathOutsideRepo(f"path {path!r} is inside .git, which tools may not touch")
        return resolved

    def read_bytes(self, path: str) -> bytes:
        """Read a file (at most 10 MB) from the repo copy."""
        resolved = self.resolve(path)
        if self._agent is not None:
            try:
                return self._agent.read(resolved, _MAX_READ_BYTES, path)
            except SandboxError:
                self._drop_agent()  # a read has no effects: fall back to the Docker API below
        # Through exec, not the archive API, which cannot see into tmpfs mounts.
        script = 'if [ -d "$1" ]; then exit 21; elif [ ! -f "$1" ]; then exit 2; fi; head -c "$2" -- "$1"'
        try:
            code, (out, _err) = self._container.exec_run(
                ["sh", "-c", script, "read", resolved, str(_MAX_READ_BYTES + 1)], user=SANDBOX_USER, demux=True)
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            raise SandboxError(f"sandbox read failed: {type(exc).__name__}") from None
        if code == 21:
            raise IsADirectoryError(path)
        if code != 0:
            raise FileNotFoundError(path)
        if len(out or b"") > _MAX_READ_BYTES:
            raise ValueError(f"{path} is larger than 10 MB")
        return out or b""

    def write_bytes(self, path: str, content: bytes) -> None:
        """Create or replace a file, making parent directories as the sandbox user."""
        resolved = self.resolve(path)
        if self._agent is not None:
            try:
                self._agent.write(resolved, content)
                return
            except SandboxError:
                self._drop_agent()  # writing the same bytes again is harmless: fall back below
        parent, name = resolved.rsplit("/", 1)
        mkdir = self.exec(["mkdir", "-p", "--", parent], self.config.command_timeout_s)
        if mkdir.exit_code != 0:
            raise SandboxError(f"cannot create directory for {path}: {mkdir.output.strip()[:200]}")
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(content), 0o644, int(time.time())
            tar.addfile(info, io.BytesIO(content))
        self._untar(parent, buffer.getvalue())
