"""Host-side Docker housekeeping: the client, image checks, and containers left by dead processes."""

from __future__ import annotations

import os
import socket

import docker
import docker.errors
import requests.exceptions

from harness.errors import SandboxError
from harness.sandbox.spec import CONTAINER_ENV, SANDBOX_USER

OWNER_LABEL = "harness.owner"
_SHELL_FILES = {".bashrc", ".profile", ".bash_logout"}

def docker_client() -> docker.DockerClient:
    """A Docker client, or SandboxError with a one-line reason when the daemon is not reachable."""
    try:
        client = docker.from_env(timeout=120)
        client.ping()
        return client
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise SandboxError(f"docker daemon not reachable ({type(exc).__name__}); is dockerd running?") from None


def owner_tag() -> str:
    """Which process on which host created a container: `host:pid`."""
    return f"{socket.gethostname()}:{os.getpid()}"


def remove_orphans(client: docker.DockerClient) -> int:
    """Remove sandbox containers whose creating process on this host is gone (a `kill -9`ed worker
    cannot clean up after itself). Returns how many were removed."""
    host = socket.gethostname()
    removed = 0
    for container in client.containers.list(all=True, filters={"label": OWNER_LABEL}):
        owner_host, _, pid = (container.labels.get(OWNER_LABEL) or "").rpartition(":")
        if owner_host != host or not pid.isdigit() or _alive(int(pid)):
            continue
        try:
            container.remove(force=True)
            removed += 1
        except docker.errors.DockerException:
            pass  # another process is removing it at the same moment
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def check_image(image: str) -> None:
    """Raise SandboxError with a one-line hint when the daemon or the image is missing."""
    client = docker_client()
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        raise SandboxError(f"sandbox image {image} not found; run `harness sandbox build`") from None
    finally:
        client.close()



def hidden_home_entries(client: docker.DockerClient, image: str) -> list[str]:
    """What the image keeps in $HOME beyond shell start-up files: a sandbox's tmpfs $HOME hides it."""
    try:
        listing = client.containers.run(image, ["sh", "-c", 'ls -A "$HOME"'], remove=True, network_mode="none",
                                        user=SANDBOX_USER, environment=dict(CONTAINER_ENV))
    except docker.errors.DockerException as exc:
        # No shell or no sandbox user: the image is not one a sandbox can run either; say so, don't crash.
        return [f"(could not look: {type(exc).__name__})"]
    return sorted(set(listing.decode("utf-8", "replace").split()) - _SHELL_FILES)
