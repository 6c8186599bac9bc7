#!/usr/bin/env bash
# Set up everything harness needs on a fresh Debian/Ubuntu machine (run as root, or with sudo):
# system packages (docker.io, debootstrap, git, python3-venv), a running dockerd, the
# package in .venv, and the sandbox image built locally. Safe to run again: each step is skipped
# or cached when already done.
set -euo pipefail
cd "$(dirname "$0")"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v git >/dev/null || need+=(git)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
# The queue's PostgreSQL tests start a throwaway server from these binaries.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! as_root docker info >/dev/null 2>&1; then
  echo "== starting dockerd"
  as_root sh -c 'nohup dockerd >/var/log/harness-dockerd.log 2>&1 &'
  for _ in $(seq 1 30); do as_root docker info >/dev/null 2>&1 && break; sleep 1; done
  if ! as_root docker info >/dev/null 2>&1; then
    # Some CI containers lack iptables or overlayfs: retry with the most portable settings.
    as_root pkill dockerd || true; sleep 2
    as_root sh -c 'nohup dockerd --iptables=false --bridge=none --storage-driver=vfs >/var/log/harness-dockerd.log 2>&1 &'
    for _ in $(seq 1 30); do as_root docker info >/dev/null 2>&1 && break; sleep 1; done
  fi
  as_root docker info >/dev/null || { echo "dockerd did not start; see /var/log/harness-dockerd.log"; exit 1; }
fi

if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv"
  python3 -m venv .venv
fi
echo "== installing harness into .venv"
.venv/bin/pip install -q --upgrade pip >/dev/null
.venv/bin/pip install -q -e '.[test]'

echo "== building the sandbox image"
as_root .venv/bin/harness sandbox build
echo "== ready: .venv/bin/harness demo | .venv/bin/python -m pytest -q"
