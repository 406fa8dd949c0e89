#!/usr/bin/env bash
# Install (or reuse) the emulator venv, then run its pytest suite; exits with pytest's code.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${XRAY_CMK_EMULATOR_VENV:-$here/.venv}"
bash "$here/install.sh"
cd "$here"
set +e
"$venv/bin/python" -m pytest -q "$@"
code=$?
set -e
exit "$code"
