# Shared by scripts/demo and scripts/demo-remediate: install the emulator, build xray-cmk, start the
# emulator on a free loopback port, seed the demo organization, and define `xray_cmk`, which runs
# the tool against it with nothing from the caller's AWS environment. Source it; it sets a trap that
# stops the emulator on exit.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/xray-cmk/target}

"$root/emulator/install.sh" >&2
python=${XRAY_CMK_EMULATOR_PYTHON:-${XRAY_CMK_EMULATOR_VENV:-$root/emulator/.venv}/bin/python}
echo "building xray-cmk (first build of the AWS SDK takes several minutes)…" >&2
cargo build --quiet --manifest-path "$root/Cargo.toml" -p xray-cmk
bin=$CARGO_TARGET_DIR/debug/xray-cmk

work=$(mktemp -d)
emulator_pid=
cleanup() {
  [ -n "$emulator_pid" ] && kill "$emulator_pid" 2>/dev/null && wait "$emulator_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

(cd "$root/emulator" && exec "$python" -m xray_cmk_emulator --host 127.0.0.1 --port 0 \
  --port-file "$work/port" >"$work/emulator.log" 2>&1) &
emulator_pid=$!
for _ in $(seq 1 300); do [ -s "$work/port" ] && break; sleep 0.1; done
[ -s "$work/port" ] || { echo "emulator did not start; log:" >&2; cat "$work/emulator.log" >&2; exit 2; }
endpoint="http://127.0.0.1:$(cat "$work/port")"
echo "emulator at $endpoint; seeding the demo organization…" >&2
(cd "$root/emulator" && AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
  "$python" -m xray_cmk_emulator.seed --endpoint "$endpoint" \
  --aws-config-out "$work/aws-config" --json-out "$work/seed.json" \
  --policy-out "$work/xray-cmk.toml" >&2)
policy=$work/xray-cmk.toml

xray_cmk() {
  env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN -u AWS_PROFILE \
    -u AWS_REGION -u AWS_DEFAULT_REGION \
    AWS_CONFIG_FILE="$work/aws-config" AWS_SHARED_CREDENTIALS_FILE="$work/no-credentials" \
    AWS_EC2_METADATA_DISABLED=true AWS_ENDPOINT_URL="$endpoint" \
    "$bin" "$@"
}
