#!/usr/bin/env bash
# Runs the test suite (installs first if needed). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Both cores by default (tests start their own emulators on free ports); BRIDGE_TEST_WORKERS=0 runs in one process.
exec .venv/bin/python -m pytest -n "${BRIDGE_TEST_WORKERS:-2}" "$@"
