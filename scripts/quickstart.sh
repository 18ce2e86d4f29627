#!/usr/bin/env bash
# Quick start: install what is needed, build, and run the quickstart workflow (real CP2K):
# Li binding energy on Al(111) and Li2S(111) and ΔE between them. ~5–10 min on 2 cores.
# Results: runs/quickstart/results.h5 and the printed table. Running it again reuses every
# finished task and finishes in seconds.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/scripts/setup.sh"
cd "$here"
exec "$here/build/apps/interphase" run workflows/quickstart.yaml "$@"
