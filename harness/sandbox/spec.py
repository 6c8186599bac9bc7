"""What a sandbox container is, apart from its lifecycle: its user, environment and limits.

The root file system is read-only; the writable places are size-capped tmpfs mounts, so a runaway
write ends inside the container ("No space left on device"), never on the host's disk.
"""

from __future__ import annotations

SANDBOX_USER = "sandbox"
# The image's sandbox user (sandboxes/Dockerfile); it owns the writable mounts.
SANDBOX_UID = 1000
# Only these variables reach the container: never anything from the host environment.
CONTAINER_ENV = {"HOME": "/home/sandbox", "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8",
                 "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_memory(text: str) -> str:
    """A memory limit as Docker takes it (`2g`)."""
    return text.strip().lower()


def size_bytes(text: str) -> int:
    """`512m`, `2g`, `1048576` -> bytes (Docker's units)."""
    value = text.strip().lower().removesuffix("ib").removesuffix("b")
    unit = value[-1:] if value[-1:] in _UNITS else ""
    return int(float(value[: len(value) - len(unit)]) * _UNITS[unit])


def writable_mounts(root: str, disk: str) -> dict[str, str]:
    """The only writable places in a sandbox: size-capped tmpfs mounts. The repo gets `disk`; /tmp,
    /var/tmp and $HOME a quarter each. `exec`, since Docker's tmpfs default (noexec) would stop the
    repo's own scripts."""
    total = size_bytes(disk)
    scratch = max(total // 4, 16 * 1024**2)
    owned = f"uid={SANDBOX_UID},gid={SANDBOX_UID},mode=0755,exec"
    return {root: f"size={total},{owned}", CONTAINER_ENV["HOME"]: f"size={scratch},{owned}",
            "/tmp": f"size={scratch},mode=1777,exec", "/var/tmp": f"size={scratch},mode=1777,exec"}
