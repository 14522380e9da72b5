#!/usr/bin/env bash
# Runs the bridge on its embedded defaults: sample book -> inbox -> every asset -> summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/bridge demo "$@"
