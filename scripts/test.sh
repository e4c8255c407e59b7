#!/usr/bin/env bash
# The project's test command: installs what it needs, then lints, type-checks and tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
.venv/bin/ruff check router tests scripts
.venv/bin/ruff format --check router tests scripts
.venv/bin/mypy router
.venv/bin/mypy --strict router/core
# In parallel (ROUTER_TEST_WORKERS processes, 3 by default), then, alone, the tests that
# restart the PostgreSQL server the others share. Exit 5 = nothing selected in a phase.
.venv/bin/pytest -n "${ROUTER_TEST_WORKERS:-3}" -m "not serial" "$@" || [ $? -eq 5 ]
.venv/bin/pytest -m serial "$@" || [ $? -eq 5 ]
