#!/usr/bin/env bash
# The main job on embedded defaults: replay the Black Thursday 2020 crisis close through the
# engine, print its summary, journal it to the replays' journal (replays.db in the data
# directory) and draw it to var/black-thursday-2020.png.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/router simulate --scenario black-thursday-2020 \
    --plot var/black-thursday-2020.png "$@"
