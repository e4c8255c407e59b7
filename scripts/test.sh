#!/usr/bin/env bash
# The project's test command: installs what it needs, then lints, type-checks and tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
.venv/bin/ruff check router tests scripts
.venv/bin/ruff format --check router tests scripts
.venv/bin/mypy router
.venv/bin/mypy --strict router/core
.venv/bin/pytest "$@"
