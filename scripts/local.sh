#!/usr/bin/env bash
# Starts (or stops) a local slotcache on 127.0.0.1, built from this checkout.
#   scripts/local.sh start [port]   build (release) and start; prints how to connect
#   scripts/local.sh stop           stop it
# Cluster mode arrives with the cluster issue; this then starts a whole local cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD/cluster-local
PORT=${2:-6379}
case "${1:-start}" in
  start)
    cargo build --release --quiet
    mkdir -p "$ROOT"
    if [ -f "$ROOT/server.pid" ] && kill -0 "$(cat "$ROOT/server.pid")" 2>/dev/null; then
      echo "already running (pid $(cat "$ROOT/server.pid")); scripts/local.sh stop first"; exit 1
    fi
    ./target/release/slotcache-server --port "$PORT" --bind 127.0.0.1 --dir "$ROOT" \
      --logfile "$ROOT/server.log" >/dev/null 2>&1 &
    echo $! > "$ROOT/server.pid"
    for _ in $(seq 1 100); do
      if (exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null; then
        echo "slotcache is running on 127.0.0.1:$PORT (pid $(cat "$ROOT/server.pid"), log $ROOT/server.log)"
        echo "connect with: redis-cli -p $PORT"
        echo "stop with:    scripts/local.sh stop"
        exit 0
      fi
      sleep 0.1
    done
    echo "slotcache did not start; see $ROOT/server.log"; exit 1 ;;
  stop)
    if [ -f "$ROOT/server.pid" ]; then kill "$(cat "$ROOT/server.pid")" 2>/dev/null || true; rm -f "$ROOT/server.pid"; echo stopped; else echo "not running"; fi ;;
  *) echo "usage: $0 start [port] | stop"; exit 2 ;;
esac
