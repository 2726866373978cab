#!/usr/bin/env bash
# Sets up .venv and runs the linters and the whole test suite (pytest arguments pass through).
# The tests mostly wait on processes and sockets, so four workers fit even two cores;
# TEST_WORKERS=0 runs them in this process, one after another.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
ruff check .
ruff format --check .
pytest -n "${TEST_WORKERS:-4}" --dist worksteal "$@"
