#!/usr/bin/env bash
# What the test suite needs besides the Python packages: node tools from npm (anvil, solc-js compilers), Debian's
# chromium for the dashboard's browser tests, Go for the checkpoint-interop test, and Slither in its own virtual environment (it needs web3<8).
# Idempotent: each step is skipped when its result is already there. Run from the repository root, venv active.
set -euo pipefail
cd "$(dirname "$0")/.."

npm ci --no-audit --no-fund

debian_packages=()
command -v chromium >/dev/null 2>&1 || debian_packages+=(chromium)  # the dashboard's browser tests
command -v sqlite3 >/dev/null 2>&1 || debian_packages+=(sqlite3)    # the tamper tests edit ledger files with it
# Go and golang.org/x/mod/sumdb/note from Debian (the Go proxy is not reachable): checkpoints must open with Go's own
# note verifier (tests/witness/test_go_interop.py)
command -v go >/dev/null 2>&1 || debian_packages+=(golang-go)
[ -d /usr/share/gocode/src/golang.org/x/mod/sumdb/note ] || debian_packages+=(golang-golang-x-mod-dev)
if [ ${#debian_packages[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then apt_get=(apt-get); else apt_get=(sudo apt-get); fi
  export DEBIAN_FRONTEND=noninteractive
  "${apt_get[@]}" install -y --no-install-recommends "${debian_packages[@]}" \
    || { "${apt_get[@]}" update && "${apt_get[@]}" install -y --no-install-recommends "${debian_packages[@]}"; }
fi

bash tools/setup-slither.sh  # .venv-slither: slither-analyzer with web3<8, beside the project's venv
