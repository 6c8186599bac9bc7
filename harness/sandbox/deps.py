"""Per-repo dependency images: the repo's test requirements pip-installed once, on top of the sandbox image.

The inputs are read from the same tar of tracked files the sandbox gets: top-level
`requirements*.txt` (with `requirements/*.txt` beside them for `-r` includes) and, from
`pyproject.toml`, `[project] dependencies` plus the test/dev extras and dependency groups.
The image is named `harness-sandbox-<hash>` where the hash covers those inputs, the recipe
and the base image's id: unchanged requirements reuse it, changed ones get a new image, and
a sandbox whose repo has a built image uses it automatically.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tarfile
import tempfile
import tomllib
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import docker
import docker.errors

from harness.errors import SandboxError

DEPS_LABEL = "harness.deps"
_TEST_GROUPS = ("test", "tests", "testing", "dev")
_PYPROJECT_REQS = "pyproject-requirements.txt"
_HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
# A requirement line naming the repo itself or a local path cannot be installed without the source.
_LOCAL = re.compile(r"^\s*(-e\b|--editable\b|\.|/|file:)")


def _is_input(path: str) -> bool:
    parts = PurePosixPath(path).parts
    if len(parts) == 1:
        return parts[0] == "pyproject.toml" or (parts[0].startswith("requirements") and parts[0].endswith(".txt"))
    return len(parts) == 2 and parts[0] == "requirements" and parts[1].endswith(".txt")


def _pyproject_requirements(text: str) -> list[str]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return []
    project = data.get("project", {})
    reqs = list(project.get("dependencies", []))
    extras = project.get("optional-dependencies", {})
    groups = data.get("dependency-groups", {})
    for name in _TEST_GROUPS:
        reqs += extras.get(name, [])
        reqs += [r for r in groups.get(name, []) if isinstance(r, str)]  # skip {include-group = ...}
    return [r for r in reqs if isinstance(r, str)]


def requirement_inputs(repo_tar: bytes) -> dict[str, str]:
    """The files the deps image installs, by path (local/editable lines dropped); {} when there are none."""
    found: dict[str, str] = {}
    with tarfile.open(fileobj=io.BytesIO(repo_tar)) as tar:
        for member in tar:
            name = member.name.removeprefix("./")
            if member.isfile() and _is_input(name):
                handle = tar.extractfile(member)
                found[name] = handle.read().decode("utf-8", errors="replace") if handle else ""
    inputs = {path: "".join(line + "\n" for line in text.splitlines() if not _LOCAL.match(line))
              for path, text in found.items() if path != "pyproject.toml"}
    pyproject = _pyproject_requirements(found.get("pyproject.toml", ""))
    if pyproject:
        inputs[_PYPROJECT_REQS] = "".join(r + "\n" for r in pyproject)
    installs = [p for p in inputs if "/" not in p]
    if not any(line.strip() and not line.lstrip().startswith("#") for p in installs
               for line in inputs[p].splitlines()):
        return {}
    return inputs


def _dockerfile() -> bytes:
    from harness.sandbox.image import recipe_dir

    return (recipe_dir() / "deps.Dockerfile").read_bytes()


def deps_tag(inputs: dict[str, str], base_id: str) -> str:
    """`harness-sandbox-<hash>`: a hash of the requirement inputs, the recipe and the base image id."""
    digest = hashlib.sha256(_dockerfile() + base_id.encode())
    for path in sorted(inputs):
        digest.update(f"\0{path}\0{inputs[path]}".encode())
    return f"harness-sandbox-{digest.hexdigest()[:16]}:latest"


def deps_image(client: docker.DockerClient, base: str, repo_tar: bytes) -> str | None:
    """The built deps image for this repo state on top of `base`, or None (no requirements or not built)."""
    inputs = requirement_inputs(repo_tar)
    if not inputs:
        return None
    try:
        tag = deps_tag(inputs, client.images.get(base).id)
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return None
    return tag


def build_deps_image(client: docker.DockerClient, base: str, repo_tar: bytes, repo_key: str,
                     log: Callable[[str], None] = lambda _: None, force: bool = False) -> str:
    """Build (or confirm) the deps image of a repo; returns what was done. Needs network for pip."""
    inputs = requirement_inputs(repo_tar)
    if not inputs:
        return "no requirements*.txt or pyproject dependencies found; the base image is used as is"
    try:
        base_id = client.images.get(base).id
    except docker.errors.ImageNotFound:
        raise SandboxError(f"sandbox image {base} not found; run `harness sandbox build`") from None
    tag = deps_tag(inputs, base_id)
    if not force and _exists(client, tag):
        return f"{tag} is up to date ({', '.join(sorted(inputs))})"
    with tempfile.TemporaryDirectory(prefix="harness-deps-") as context:
        root = Path(context)
        (root / "Dockerfile").write_bytes(_dockerfile())
        for path, text in inputs.items():
            (root / "reqs" / path).parent.mkdir(parents=True, exist_ok=True)
            (root / "reqs" / path).write_text(text)
        installs = sorted(p for p in inputs if "/" not in p)
        (root / "reqs" / "install.txt").write_text("".join(f"-r {p}\n" for p in installs))
        # pip verifies TLS against the host's bundle, which may hold a local proxy's CA.
        (root / "ca.crt").write_bytes(_HOST_CA.read_bytes() if _HOST_CA.is_file() else b"")
        log(f"docker build deps ({', '.join(installs)}) on {base} -> {tag}")
        proxies = {k: v for k, v in os.environ.items() if k.lower() in ("http_proxy", "https_proxy", "no_proxy")}
        try:
            client.images.build(path=context, tag=tag, rm=True, buildargs={"BASE": base_id, **proxies},
                                labels={DEPS_LABEL: repo_key})
        except (docker.errors.BuildError, docker.errors.APIError) as exc:
            raise SandboxError(f"deps image build failed: {_build_error(exc)}") from None
    _remove_older(client, repo_key, tag)
    return f"built {tag} ({', '.join(installs)})"


def _exists(client: docker.DockerClient, tag: str) -> bool:
    try:
        client.images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


def _build_error(exc: Exception) -> str:
    lines = [str(chunk.get("stream", "")).strip() for chunk in getattr(exc, "build_log", []) or []]
    tail = [line for line in lines if line][-3:]
    return " | ".join(tail) or str(exc).splitlines()[0]


def _remove_older(client: docker.DockerClient, repo_key: str, keep: str) -> None:
    """Drop this repo's earlier deps images, so changed requirements do not pile up images."""
    for image in client.images.list(filters={"label": f"{DEPS_LABEL}={repo_key}"}):
        if keep not in image.tags:
            try:
                client.images.remove(image.id, force=False)
            except docker.errors.APIError:
                pass  # still used by a container: it goes next time


def repo_key(repo: Path) -> str:
    """A short stable id of a repository checkout (its resolved path)."""
    return hashlib.sha256(str(repo.resolve()).encode()).hexdigest()[:16]

