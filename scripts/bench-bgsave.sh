#!/usr/bin/env bash
# BGSAVE under load: slotcache (fork-less point-in-time snapshot) next to redis-server 7.0 (fork).
#
#   bash scripts/bench-bgsave.sh            (from anywhere)
#
# Scenarios, each run against both servers alternately ROUNDS times (the table shows medians):
#   keys       1,000,000 string keys (DEBUG POPULATE, 16-byte values); 50 clients SET/GET random
#              keys (pipeline 1) while BGSAVE runs.
#   zset       one sorted set of 1,000,000 members plus 100,000 string keys; the same load on the
#              string keys while BGSAVE writes the sorted set.
#   overwrite  1,000,000 keys; 50 clients SET every key in sequence while a save slowed by
#              rdb-key-save-delay (both servers: one 1 us sleep per 5 keys, as Redis's negative
#              delay) is written, so every key is overwritten during the save.
# Servers are pinned to SERVER_CPU, the load generator (target/release/slotcache-loadgen) to
# CLIENT_CPU. The load generator triggers BGSAVE and polls INFO until the save ends; it reports
# requests/s inside the save window and outside it, and the longest request latency (the
# longest stall a client saw) inside and outside. Extra memory: the server's peak RSS during the
# save (VmHWM after resetting it through /proc/PID/clear_refs) less its RSS before, plus, for
# redis-server, the fork child's copy-on-write (INFO rdb_last_cow_size). Load time: a restart
# on the saved file until the server answers PING with PONG.
#
# Environment: ROUNDS=2 SERVER_CPU=0 CLIENT_CPU=1 REDIS_SERVER=redis-server SKIP_BUILD=1
#              SCENARIOS="keys zset overwrite"
SCENARIOS=${SCENARIOS:-"keys zset overwrite"}
NAME=bgsave
. "$(dirname "$0")/bench-common.sh"
LG="$ROOT/target/release/slotcache-loadgen"

cli() { redis-cli -p "$PORT" "$@"; }
field() { cli info "$1" | tr -d '\r' | sed -n "s/^$2://p"; }
rss_kb() { sed -n "s/^$1:\s*\([0-9]*\) kB/\1/p" "/proc/$PID/status"; }

start() {  # kind dir -> PORT, PID
  local kind=$1 dir=$2 bin=$SC
  [ "$kind" = redis ] && bin=$REDIS_SERVER
  PORT=$(free_port)
  ( cd "$dir" && exec taskset -c "$SERVER_CPU" "$bin" --port "$PORT" --bind 127.0.0.1 --dir "$dir" \
      --save '' --appendonly no --enable-debug-command yes ) >"$dir/server.log" 2>&1 &
  PID=$!; PIDS+=("$PID")
  for _ in $(seq 1 3000); do [ "$(cli ping 2>/dev/null)" = PONG ] && return 0; sleep 0.01; done
  echo "server did not start: $kind" >&2; exit 1
}
stop() { cli shutdown nosave >/dev/null 2>&1 || true; wait "$PID" 2>/dev/null || true; }

zset_input() {  # RESP for one 1M-member zset, 1000 members per ZADD
  python3 - "$WORK/zset.resp" <<'PY'
import sys
with open(sys.argv[1], "wb") as f:
    for c in range(1000):
        args = [b"ZADD", b"bigz"]
        for i in range(c * 1000, c * 1000 + 1000):
            args += [str(i * 0.5).encode(), b"member:%d" % i]
        f.write(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
PY
}

populate() {  # scenario
  case $1 in
    keys|overwrite) cli debug populate 1000000 key 16 >/dev/null ;;
    zset) cli debug populate 100000 key 16 >/dev/null
          redis-cli -p "$PORT" --pipe < "$WORK/zset.resp" >/dev/null ;;
  esac
}

run_one() {  # kind scenario -> appends a result line
  local kind=$1 sc=$2 dir="$WORK/$1-$2-$RANDOM"; mkdir -p "$dir"
  start "$kind" "$dir"; populate "$sc"
  local keys=1000000 mode=mixed secs=6 after=1500
  [ "$sc" = zset ] && keys=100000
  if [ "$sc" = overwrite ]; then mode=set-seq; secs=28; after=500; cli config set rdb-key-save-delay -5 >/dev/null; fi
  local rss0 used0; rss0=$(rss_kb VmRSS); used0=$(field memory used_memory)
  echo 5 > "/proc/$PID/clear_refs" 2>/dev/null || true
  local out; out=$(taskset -c "$CLIENT_CPU" "$LG" --port "$PORT" --clients 50 --keys "$keys" \
      --seconds "$secs" --bgsave-after-ms "$after" --mode "$mode")
  local hwm cow=0; hwm=$(rss_kb VmHWM)
  [ "$kind" = redis ] && cow=$(field persistence rdb_last_cow_size)
  local extra_kb=$(( hwm - rss0 + cow / 1024 ))
  local file_b; file_b=$(stat -c %s "$dir/dump.rdb" 2>/dev/null || echo 0)
  stop
  local t0 t1; t0=$(date +%s%N); start "$kind" "$dir"; t1=$(date +%s%N); stop
  echo "$kind $sc $out rss_kb=$rss0 used=$used0 extra_kb=$extra_kb file_bytes=$file_b load_ms=$(( (t1 - t0) / 1000000 ))" \
    | tee -a "$WORK/results.txt" >&2
  rm -f "$dir/dump.rdb"
}

case " $SCENARIOS " in *" zset "*) zset_input ;; esac
for r in $(seq 1 "$ROUNDS"); do
  for sc in $SCENARIOS; do
    if [ $((r % 2)) = 1 ]; then run_one redis "$sc"; run_one slotcache "$sc"
    else run_one slotcache "$sc"; run_one redis "$sc"; fi
  done
done

python3 - "$WORK/results.txt" <<'PY'
import sys, statistics
rows = {}
for line in open(sys.argv[1]):
    parts = line.split()
    kind, sc = parts[0], parts[1]
    kv = dict(p.split("=", 1) for p in parts[2:] if "=" in p)
    rows.setdefault((sc, kind), []).append({k: float(v) for k, v in kv.items() if v.replace(".", "").isdigit()})
def med(sc, kind, f):
    return statistics.median(r[f] for r in rows[(sc, kind)]) if (sc, kind) in rows else float("nan")
print(f"{'scenario / metric (median)':44} {'redis':>10} {'slotcache':>10}")
for sc in ["keys", "zset", "overwrite"]:
    if (sc, "redis") not in rows: continue
    def line(name, fn, fmt="{:10.1f}"):
        a, b = fn("redis"), fn("slotcache")
        print(f"{sc + ': ' + name:44} " + fmt.format(a) + " " + fmt.format(b))
    line("save time (ms)", lambda k: med(sc, k, "save_ms"), "{:10.0f}")
    line("max stall during save (ms)", lambda k: med(sc, k, "save_max_ms"), "{:10.2f}")
    line("max stall outside save (ms)", lambda k: med(sc, k, "idle_max_ms"), "{:10.2f}")
    line("req/s outside save", lambda k: med(sc, k, "idle_rps"), "{:10.0f}")
    line("req/s during save", lambda k: med(sc, k, "save_rps"), "{:10.0f}")
    line("throughput during save (% of idle)",
         lambda k: 100 * statistics.median(r["save_rps"] / r["idle_rps"] for r in rows[(sc, k)]))
    line("dataset RSS before save (MB)", lambda k: med(sc, k, "rss_kb") / 1024)
    line("extra memory for the save (MB)", lambda k: med(sc, k, "extra_kb") / 1024)
    line("extra memory (% of dataset RSS)",
         lambda k: 100 * statistics.median(r["extra_kb"] / r["rss_kb"] for r in rows[(sc, k)]))
    line("file size (MB)", lambda k: med(sc, k, "file_bytes") / 1e6, "{:10.2f}")
    line("load time at restart (ms)", lambda k: med(sc, k, "load_ms"), "{:10.0f}")
PY
