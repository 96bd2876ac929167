#!/usr/bin/env bash
# Set up (scripts/setup.sh) and stylise the bundled photo with every bundled
# painting, plus one masked run; pictures and a side-by-side sheet go to demo-output/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/napari-styletransfer demo --overwrite -o "${1:-demo-output}"
