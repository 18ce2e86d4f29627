#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what the tests need (setup.sh),
# builds, then runs ctest — unit tests, real-CP2K integration tests and the CLI tests.
#   scripts/test.sh                 everything
#   scripts/test.sh -L unit         only one label (extra arguments go to ctest)
# Label "long" (the 200-kill crash test) is left out unless asked for: ctest -L long.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/scripts/setup.sh"
cd "$here/build"
if [ $# -eq 0 ]; then set -- -LE long; fi
ctest --output-on-failure --timeout 1800 -j 2 "$@"
