# Sourced by the bench-*.sh scripts after they set SCENARIOS' default and NAME: environment
# defaults, the release build, a work dir removed at exit with every server started (PIDS),
# and a free port below 55000 (room for the cluster bus port, +10000).
set -euo pipefail
ROUNDS=${ROUNDS:-2}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
[ "${SKIP_BUILD:-}" = 1 ] || cargo build --release --bins >/dev/null 2>&1
SC="$ROOT/target/release/slotcache-server"
WORK=$(mktemp -d "/tmp/bench-$NAME.XXXXXX")
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() {
  local p=0
  while [ "$p" = 0 ]; do
    p=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); p=s.getsockname()[1]; print(p if p < 55000 else 0)')
  done
  echo "$p"
}
