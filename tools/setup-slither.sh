#!/usr/bin/env bash
# Create .venv-slither (Slither needs web3<8, so it cannot share the project's venv). Idempotent: a no-op when
# the pinned version is already installed. Usage: tools/setup-slither.sh [VENV_DIR]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${1:-$ROOT/.venv-slither}"
PIN="slither-analyzer==0.11.6"
if [ -x "$VENV/bin/slither" ] && "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('slither-analyzer') != '0.11.6')" 2>/dev/null; then
  exit 0
fi
PY="${PYTHON:-python3}"
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$PIN"
"$VENV/bin/slither" --version >/dev/null
