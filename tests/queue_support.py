"""Throwaway PostgreSQL servers for the queue tests and benchmark (real postgres, loopback port).

initdb refuses to run as root, so as root the cluster belongs to `nobody`; the binaries come from
the machine's PostgreSQL packages (bootstrap.sh installs them when missing).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL bin directory, or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def postgres_server(durable: bool = False) -> Iterator[str]:
    """Start a fresh cluster on a free loopback port; yield its URL; stop and delete it after."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL binaries not found (run ./bootstrap.sh)")
    # /tmp, not pytest's tmp_path: the unprivileged server user must be able to reach its data dir.
    root = Path(tempfile.mkdtemp(prefix="harness-pg-"))
    data, port = root / "data", _free_port()
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "nobody")
        as_user = ["runuser", "-u", "nobody", "--"]
    settings = "" if durable else " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    try:
        subprocess.run([*as_user, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                        "--no-sync"], check=True, capture_output=True)
        subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-t", "60",
                        "-o", f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=200{settings}",
                        "start"], check=True, capture_output=True)
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
