#!/usr/bin/env bash
# Sets up .venv and runs the linters and the whole test suite (pytest arguments pass through).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
ruff check .
ruff format --check .
pytest "$@"
