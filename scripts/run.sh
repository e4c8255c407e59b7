#!/usr/bin/env bash
# The main job on embedded defaults: serve the simulated venues of the `calm` scenario.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/router sim serve --scenario "${SCENARIO:-calm}" "$@"
