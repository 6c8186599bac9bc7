"""Build the sandbox image locally: debootstrap a base, `docker import` it, build the Dockerfile on top.

Both steps are skipped when an image labelled with the same recipe hash already exists,
so a second build with nothing changed takes seconds.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import docker.errors

from harness.errors import SandboxError
from harness.sandbox.host import docker_client

RECIPE_LABEL = "harness.recipe"
DEFAULT_MIRROR = "http://deb.debian.org/debian"


def recipe_dir() -> Path:
    """Where the sandbox recipes live (the `sandboxes/` directory, installed as harness.sandboxes)."""
    return Path(str(resources.files("harness.sandboxes")))


def _packages(recipe: Path) -> list[str]:
    lines = (recipe / "base-packages.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def host_suite_and_mirror() -> tuple[str, str]:
    """The Debian suite and mirror apt is configured with here, so debootstrap needs no other network."""
    suite = "bookworm"
    os_release = Path("/etc/os-release")
    if os_release.exists():
        for line in os_release.read_text().splitlines():
            if line.startswith("VERSION_CODENAME=") and line.split("=", 1)[1]:
                suite = line.split("=", 1)[1].strip('"')
    mirror = DEFAULT_MIRROR
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for source in sources:
        if not source.is_file():
            continue
        for line in source.read_text(errors="replace").splitlines():
            words = line.split()
            if line.startswith("URIs:") and len(words) > 1 and "security" not in words[1]:
                return suite, words[1]
            if words[:1] == ["deb"] and len(words) > 2 and "security" not in line:
                return suite, next(w for w in words[1:] if w.startswith("http"))
    return suite, mirror


def recipe_hash(recipe: Path, suite: str) -> str:
    """A hash of everything that goes into the image; it labels the built images."""
    digest = hashlib.sha256(suite.encode())
    for name in ("base-packages.txt", "Dockerfile"):
        digest.update((recipe / name).read_bytes())
    return digest.hexdigest()[:16]


def current_recipe_hash() -> str:
    """The recipe hash `build_image` would label an image built on this host with."""
    return recipe_hash(recipe_dir(), host_suite_and_mirror()[0])


def _has_image(client: docker.DockerClient, tag: str, label: str) -> bool:
    try:
        image = client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return (image.labels or {}).get(RECIPE_LABEL) == label


def build_base(client: docker.DockerClient, tag: str, suite: str, mirror: str, packages: list[str],
               label: str, log: Callable[[str], None]) -> None:
    """debootstrap a minimal root filesystem and import it as an image."""
    if shutil.which("debootstrap") is None:
        raise SandboxError("debootstrap is not installed (apt-get install debootstrap)")
    with tempfile.TemporaryDirectory(prefix="harness-rootfs-") as rootfs:
        log(f"debootstrap {suite} from {mirror} ({len(packages)} packages)")
        cmd = ["debootstrap", "--variant=minbase", f"--include={','.join(packages)}", suite, rootfs, mirror]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise SandboxError(f"debootstrap failed: {tail[0]}")
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            shutil.rmtree(Path(rootfs) / junk, ignore_errors=True)
        log(f"docker import -> {tag}")
        # Stream tar straight into the docker CLI: the rootfs never sits in this process's memory.
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run(["docker", "import", "--change", f"LABEL {RECIPE_LABEL}={label}", "-", tag],
                                  stdin=tar.stdout, capture_output=True, text=True)
        tar.wait()
        if imported.returncode != 0 or tar.returncode != 0:
            raise SandboxError(f"docker import failed: {imported.stderr.strip()[:200]}")


def build_image(tag: str, log: Callable[[str], None] = lambda _: None, force: bool = False) -> str:
    """Build (or confirm up to date) the sandbox image `tag`; returns what was done."""
    recipe = recipe_dir()
    suite, mirror = host_suite_and_mirror()
    label = current_recipe_hash()
    client = docker_client()
    try:
        if not force and _has_image(client, tag, label):
            return f"{tag} is up to date (recipe {label})"
        base_tag = f"harness-base:{suite}"
        base_label = hashlib.sha256(",".join(_packages(recipe)).encode() + suite.encode()).hexdigest()[:16]
        if force or not _has_image(client, base_tag, base_label):
            if os.geteuid() != 0:
                raise SandboxError("building the base image needs root (debootstrap); run as root or with sudo")
            build_base(client, base_tag, suite, mirror, _packages(recipe), base_label, log)
        log(f"docker build {recipe / 'Dockerfile'} -> {tag}")
        try:
            client.images.build(path=str(recipe), tag=tag, rm=True, buildargs={"BASE": base_tag},
                                labels={RECIPE_LABEL: label}, network_mode="none")
        except (docker.errors.BuildError, docker.errors.APIError) as exc:
            raise SandboxError(f"docker build failed: {str(exc).splitlines()[0]}") from None
        return f"built {tag} (recipe {label})"
    finally:
        client.close()


def build_repo_image(base_tag: str, repo: Path, log: Callable[[str], None] = lambda _: None,
                     force: bool = False) -> str:
    """Build (or confirm) the per-repo deps image for the repo's HEAD on top of `base_tag`."""
    from harness import gitops
    from harness.sandbox.deps import build_deps_image, repo_key

    root = gitops.repo_root(repo)
    repo_tar = gitops.archive(root, gitops.head_commit(root))
    client = docker_client()
    try:
        return build_deps_image(client, base_tag, repo_tar, repo_key(root), log=log, force=force)
    finally:
        client.close()
