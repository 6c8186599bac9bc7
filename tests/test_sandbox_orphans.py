"""Containers left by a killed process are removed; live processes' containers are not touched."""

from __future__ import annotations

import socket
import subprocess

import docker

from harness.sandbox.host import OWNER_LABEL, owner_tag, remove_orphans


def test_orphaned_containers_are_removed_and_live_ones_kept() -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    client = docker.from_env()
    try:
        orphan = client.containers.create("harness-sandbox:latest", ["sleep", "60"],
                                          labels={OWNER_LABEL: f"{socket.gethostname()}:{dead.pid}"})
        mine = client.containers.create("harness-sandbox:latest", ["sleep", "60"], labels={OWNER_LABEL: owner_tag()})
        other_host = client.containers.create("harness-sandbox:latest", ["sleep", "60"],
                                              labels={OWNER_LABEL: f"elsewhere:{dead.pid}"})
        try:
            assert remove_orphans(client) >= 1
            left = {c.id for c in client.containers.list(all=True, filters={"label": OWNER_LABEL})}
            assert orphan.id not in left
            assert mine.id in left and other_host.id in left
        finally:
            for c in (orphan, mine, other_host):
                try:
                    c.remove(force=True)
                except docker.errors.NotFound:
                    pass
    finally:
        client.close()
