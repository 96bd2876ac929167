#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the whole test suite. Qt tests run under
# Xvfb through pytest-xvfb; no display is needed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check src tests benchmarks scripts
# passive OpenMP waiting: spinning threads slow everything down on a busy machine
OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE} .venv/bin/python -m pytest "$@"
