#!/usr/bin/env bash
# Starts (or stops) a local slotcache cluster on 127.0.0.1, built from this checkout and formed
# by slotcache itself (`slotcache-server --cluster-form`; no redis-cli needed).
#   scripts/local.sh start [base-port] [primaries] [replicas-per-primary]
#        default: 7000, 3 primaries (7000-7002) with 1 replica each (7003-7005)
#   scripts/local.sh stop                            stop every node started here
# Each node runs in cluster-local/<port>/ (nodes.conf, log). A stopped cluster started again
# with the same ports comes back from its nodes.conf files.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD/cluster-local
BASE=${2:-7000}
P=${3:-3}
R=${4:-1}
N=$((P * (R + 1)))
BIN=./target/release/slotcache-server

up() { (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; }

case "${1:-start}" in
  start)
    cargo build --release --quiet
    mkdir -p "$ROOT"
    addrs=()
    for i in $(seq 0 $((N - 1))); do
      port=$((BASE + i)); dir="$ROOT/$port"; mkdir -p "$dir"
      addrs+=("127.0.0.1:$port")
      if [ -f "$dir/server.pid" ] && kill -0 "$(cat "$dir/server.pid")" 2>/dev/null; then
        continue   # already running (a restart brings back only the nodes that are down)
      fi
      "$BIN" --port "$port" --bind 127.0.0.1 --dir "$dir" --cluster-enabled yes \
        --cluster-config-file nodes.conf --cluster-node-timeout 5000 --logfile "$dir/server.log" \
        --repl-diskless-sync-delay 0 \
        >/dev/null 2>&1 &
      echo $! > "$dir/server.pid"
    done
    for a in "${addrs[@]}"; do
      for _ in $(seq 1 100); do up "${a#*:}" && break; sleep 0.1; done
      up "${a#*:}" || { echo "node $a did not start; see $ROOT/${a#*:}/server.log"; exit 1; }
    done
    "$BIN" --cluster-form --replicas "$R" "${addrs[@]}"
    echo "slotcache cluster is running: ${addrs[*]} (logs in $ROOT/<port>/server.log)"
    echo "connect with: redis-cli -c -p $BASE    (any node; -c follows MOVED redirections)"
    echo "roles:        redis-cli -p $BASE cluster nodes"
    echo "failover:     kill -9 \$(cat $ROOT/$BASE/server.pid), then watch redis-cli -p $((BASE + 1)) cluster nodes"
    echo "stop with:    scripts/local.sh stop" ;;
  stop)
    found=0
    for pidfile in "$ROOT"/*/server.pid; do
      [ -f "$pidfile" ] || continue
      kill "$(cat "$pidfile")" 2>/dev/null || true; rm -f "$pidfile"; found=1
    done
    if [ $found = 1 ]; then echo stopped; else echo "not running"; fi ;;
  *) echo "usage: $0 start [base-port] [primaries] [replicas] | stop"; exit 2 ;;
esac
