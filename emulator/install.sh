#!/usr/bin/env bash
# Idempotent installer for the emulator's Python environment.
#
# Creates a virtualenv at ${XRAY_CMK_EMULATOR_VENV:-<this dir>/.venv} and installs
# requirements.txt into it. The sha256 of requirements.txt is stored in the venv;
# when it matches (and the interpreter still works) the install is skipped, so
# calling this before every test run costs almost nothing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${XRAY_CMK_EMULATOR_VENV:-$here/.venv}"
python="${PYTHON:-python3}"
req="$here/requirements.txt"
stamp="$venv/.requirements.sha256"

# Make `python -m xray_cmk_emulator` work from any directory with the venv's
# python, without packaging: a .pth file puts this directory on sys.path.
link_package() {
    local site
    site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    echo "$here" > "$site/xray_cmk_emulator.pth"
}

want="$(sha256sum "$req" | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] \
    && "$venv/bin/python" -c 'import moto, boto3, pytest' >/dev/null 2>&1; then
    link_package
    echo "emulator venv up to date: $venv"
    exit 0
fi

if [[ ! -x "$venv/bin/python" ]]; then
    echo "creating emulator venv: $venv"
    "$python" -m venv "$venv"
fi

# The stamp is removed first so an interrupted install is retried next time.
rm -f "$stamp"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
link_package
echo "$want" > "$stamp"
echo "emulator venv installed: $venv"
