#!/usr/bin/env bash
# Redis 7.0.15's own unit test suite against slotcache-server, in both modes.
#
#   bash scripts/redis-suite.sh [standalone|cluster|both] [extra run.sh options, e.g. --files "unit/type/list"]
#
# Builds the release binary (SKIP_BUILD=1: use the existing one), copies it aside (a rebuild while
# the suite runs must not swap the server under it), and runs ../shared/redis-suite/run.sh
# (SUITE=path to override) once per mode: standalone, then --cluster-mode (each server owns all
# 16384 slots, as Redis's CI tests an external cluster node). run.sh prints a row per test file
# and the tests redis-server 7.0.15 passes that slotcache does not; they are kept in
# OUT/<mode>/missing.txt (OUT=dir to choose, default a new /tmp/slotcache-suite.* directory).
# The two modes run one after the other (about 20-25 minutes each on 2 cores); with
# PARALLEL=1 they run at once on separate port ranges (SUITE_BASEPORT).
# Exit status: 0 when every mode ran (failures are reported, not fatal), 2 on a usage error.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SUITE=${SUITE:-$ROOT/../shared/redis-suite}
MODE=${1:-both}
[[ $# -gt 0 ]] && shift
case $MODE in standalone | cluster | both) ;; *) echo "usage: $0 [standalone|cluster|both] [run.sh options]" >&2; exit 2 ;; esac
[[ -x $SUITE/run.sh ]] || { echo "no Redis suite at $SUITE (set SUITE=...)" >&2; exit 2; }
if [[ ${SKIP_BUILD:-} != 1 ]]; then
    (cd "$ROOT" && cargo build --release --bin slotcache-server) >&2
fi
OUT=${OUT:-$(mktemp -d /tmp/slotcache-suite.XXXXXX)}
mkdir -p "$OUT/bin"
cp "$ROOT/target/release/slotcache-server" "$OUT/bin/slotcache-server"
BIN=$OUT/bin/slotcache-server

run_mode() { # run_mode standalone|cluster BASEPORT [run.sh options]
    local mode=$1 port=$2
    shift 2
    local flag=()
    [[ $mode == cluster ]] && flag=(--cluster-mode)
    SUITE_BASEPORT=$port "$SUITE/run.sh" "$BIN" "${flag[@]}" --out "$OUT/$mode" "$@" >"$OUT/$mode.log" 2>&1 || true
}

modes=(standalone cluster)
[[ $MODE != both ]] && modes=("$MODE")
if [[ ${PARALLEL:-0} == 1 && ${#modes[@]} == 2 ]]; then
    run_mode standalone 21111 "$@" &
    run_mode cluster 23111 "$@" &
    wait
else
    for m in "${modes[@]}"; do run_mode "$m" 21111 "$@"; done
fi
for m in "${modes[@]}"; do
    printf '\n=============== %s ===============\n' "$m"
    cat "$OUT/$m.log"
done
printf '\nresults in %s (per mode: results.tsv, missing.txt, logs)\n' "$OUT"
