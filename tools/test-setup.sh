#!/usr/bin/env bash
# What the test suite needs besides the Python packages: node tools from npm (anvil, solc-js compilers), Debian's
# chromium for the dashboard's browser tests, and Slither in its own virtual environment (it needs web3<8).
# Idempotent: each step is skipped when its result is already there. Run from the repository root, venv active.
set -euo pipefail
cd "$(dirname "$0")/.."

npm ci --no-audit --no-fund

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then apt_get=(apt-get); else apt_get=(sudo apt-get); fi
  DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y --no-install-recommends chromium \
    || { DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" update && \
         DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y --no-install-recommends chromium; }
fi

if [ -f tools/setup-slither.sh ]; then
  bash tools/setup-slither.sh
fi
