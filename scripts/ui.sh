#!/usr/bin/env bash
# Opens the Dagster UI on the same defaults, with the folder sensor and the nightly schedule running.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/bridge ui "$@"
