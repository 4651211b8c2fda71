#!/usr/bin/env bash
# Resharding with keys: slotcache next to redis-server 7.0, same redis-cli, same run.
#
#   bash scripts/bench-reshard.sh            (from anywhere)
#
# Each scenario starts a fresh two-primary cluster of one kind (node A: slots 0-8191, node B:
# 8192-16383), fills A, runs the operation, and alternates the kinds ROUNDS times (medians):
#   keys100k   100,000 small keys in slots 0-999 of A; `redis-cli --cluster reshard` moves those
#              1000 slots to B with --cluster-pipeline 100 while probe clients GET a key of
#              another slot on A and on B (one request at a time): the longest stall and the
#              p99.9 latency each node's other clients saw, and the reshard's duration.
#   zset1m     one sorted set of 1,000,000 members on A; SETSLOT IMPORTING/MIGRATING, then one
#              MIGRATE of it to B while the probes run.
#   reshard300k-p10 / reshard300k-p100
#              300,000 small keys in slots 0-999; end-to-end time of `redis-cli --cluster
#              reshard` of those 1000 slots with --cluster-pipeline 10 / 100.
# Servers are pinned to SERVER_CPU, redis-cli and the probe (target/release/slotcache-probe) to
# CLIENT_CPU. Server CPU seconds (utime+stime of both nodes) are reported beside the times, and
# the probe's requests per second on each node during the operation (what other clients got
# done meanwhile: redis-server serves none while MIGRATE holds it).
#
# PROBE_CLIENTS=0 runs keys100k and zset1m without the probe (the operation's own speed).
# Environment: ROUNDS=2 SERVER_CPU=0 CLIENT_CPU=1 REDIS_SERVER=redis-server SKIP_BUILD=1
#              SCENARIOS="keys100k zset1m reshard300k-p10 reshard300k-p100" PROBE_CLIENTS=4
SCENARIOS=${SCENARIOS:-"keys100k zset1m reshard300k-p10 reshard300k-p100"}
NAME=reshard
. "$(dirname "$0")/bench-common.sh"
PROBE="$ROOT/target/release/slotcache-probe"

cli() { taskset -c "$CLIENT_CPU" redis-cli "$@"; }
cpu_s() {  # utime+stime of the pids, in seconds
  local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat"))); done
  python3 -c "print($t/$(getconf CLK_TCK))"
}

start_node() {  # kind dir -> echoes "port pid"
  local kind=$1 dir=$2 bin=$SC port
  [ "$kind" = redis ] && bin=$REDIS_SERVER
  mkdir -p "$dir"; port=$(free_port)
  ( cd "$dir" && exec taskset -c "$SERVER_CPU" "$bin" --port "$port" --bind 127.0.0.1 --dir "$dir" \
      --save '' --appendonly no --cluster-enabled yes --cluster-config-file nodes.conf \
      --cluster-node-timeout 15000 --enable-debug-command yes ) >"$dir/server.log" 2>&1 &
  echo "$port $!"
}

wait_ping() { for _ in $(seq 1 3000); do [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ] && return 0; sleep 0.01; done; echo "no PONG on $1" >&2; exit 1; }

cluster() {  # kind -> A, B, PA, PB (ports, pids), IDA, IDB
  local kind=$1 d="$WORK/$kind-$RANDOM"
  read -r A PA < <(start_node "$kind" "$d/a"); PIDS+=("$PA")
  read -r B PB < <(start_node "$kind" "$d/b"); PIDS+=("$PB")
  wait_ping "$A"; wait_ping "$B"
  redis-cli -p "$A" cluster addslotsrange 0 8191 >/dev/null
  redis-cli -p "$B" cluster addslotsrange 8192 16383 >/dev/null
  redis-cli -p "$A" cluster meet 127.0.0.1 "$B" >/dev/null
  IDA=$(redis-cli -p "$A" cluster myid); IDB=$(redis-cli -p "$B" cluster myid)
  for _ in $(seq 1 3000); do
    if redis-cli --cluster check "127.0.0.1:$A" >/dev/null 2>&1 \
       && [ "$(redis-cli -p "$B" cluster info | tr -d '\r' | sed -n 's/^cluster_state://p')" = ok ]; then return 0; fi
    sleep 0.05
  done
  echo "cluster did not form ($kind)" >&2; exit 1
}
stop_cluster() { kill -9 "$PA" "$PB" 2>/dev/null || true; wait "$PA" "$PB" 2>/dev/null || true; }

# Keys tagged into slots 0..999: "{tag}:i" with tag chosen per slot.
python3 - "$WORK" <<'PY'
import sys, os
def crc16(b):
    c = 0
    for x in b:
        c ^= x << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x1021) & 0xffff if c & 0x8000 else (c << 1) & 0xffff
    return c
tags, n = {}, 0
while len(tags) < 1002 or "a" not in tags or "b" not in tags:
    t = f"t{n}"; s = crc16(t.encode()) % 16384; n += 1
    if s < 1000: tags.setdefault(s, t)
    elif 4000 <= s < 8192: tags.setdefault("a", t)
    elif s >= 12000: tags.setdefault("b", t)
w = sys.argv[1]
open(f"{w}/probe-keys", "w").write(f"probe{{{tags['a']}}},probe{{{tags['b']}}}\n")
open(f"{w}/zset-key", "w").write(f"zset{{{tags['a']}}}\n")
def resp(*args):
    out = [f"*{len(args)}\r\n".encode()]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)
for count in (100_000, 300_000):
    with open(f"{w}/keys{count}.resp", "wb") as f:
        for i in range(count):
            f.write(resp("SET", f"{{{tags[i % 1000]}}}:{i}", "v" * 16))
with open(f"{w}/zset.resp", "wb") as f:
    key = f"zset{{{tags['a']}}}"
    for base in range(0, 1_000_000, 1000):
        args = ["ZADD", key]
        for i in range(base, base + 1000):
            args += [i, f"member:{i}"]
        f.write(resp(*args))
PY
PROBE_KEYS=$(cat "$WORK/probe-keys")
ZKEY=$(cat "$WORK/zset-key")

fill() { cli -p "$A" --pipe <"$1" >/dev/null; }

probe_start() {
  [ "${PROBE_CLIENTS:-4}" = 0 ] && return 0
  rm -f "$WORK/stop"
  taskset -c "$CLIENT_CPU" "$PROBE" --ports "$A,$B" --keys "$PROBE_KEYS" --stop-file "$WORK/stop" \
    --clients "${PROBE_CLIENTS:-4}" \
    >"$WORK/probe.out" &
  PROBE_PID=$!
  sleep 0.3
}
probe_stop() {  # -> PROBE_A, PROBE_B: "max_ms p999_ms rps"
  if [ "${PROBE_CLIENTS:-4}" = 0 ]; then PROBE_A="- - -"; PROBE_B="- - -"; return 0; fi
  touch "$WORK/stop"; wait "$PROBE_PID"
  PROBE_A=$(sed -n "s/^port=$A .*rps=\([0-9]*\) max_ms=\([0-9.]*\) p999_ms=\([0-9.]*\)/\2 \3 \1/p" "$WORK/probe.out")
  PROBE_B=$(sed -n "s/^port=$B .*rps=\([0-9]*\) max_ms=\([0-9.]*\) p999_ms=\([0-9.]*\)/\2 \3 \1/p" "$WORK/probe.out")
}

reshard() {  # pipeline -> seconds
  local t0 t1
  t0=$(date +%s.%N)
  cli --cluster reshard "127.0.0.1:$A" --cluster-from "$IDA" --cluster-to "$IDB" \
    --cluster-slots 1000 --cluster-yes --cluster-pipeline "$1" >"$WORK/reshard.log" 2>&1 \
    || { tail -5 "$WORK/reshard.log" >&2; exit 1; }
  t1=$(date +%s.%N)
  python3 -c "print(round($t1-$t0, 3))"
}

check_moved() {  # keys expected on B
  local na nb
  na=$(redis-cli -p "$A" dbsize); nb=$(redis-cli -p "$B" dbsize)
  [ "$na" = 0 ] && [ "$nb" = "$1" ] || { echo "after the move: A=$na B=$nb keys, wanted 0/$1" >&2; exit 1; }
}

run() {  # scenario kind -> one result line
  local sc=$1 kind=$2 secs c0 c1
  cluster "$kind"
  case $sc in
    keys100k)
      fill "$WORK/keys100000.resp"; probe_start; c0=$(cpu_s "$PA" "$PB")
      secs=$(reshard 100); c1=$(cpu_s "$PA" "$PB"); probe_stop; check_moved 100000 ;;
    zset1m)
      fill "$WORK/zset.resp"
      local slot; slot=$(redis-cli -p "$A" cluster keyslot "$ZKEY")
      redis-cli -p "$B" cluster setslot "$slot" importing "$IDA" >/dev/null
      redis-cli -p "$A" cluster setslot "$slot" migrating "$IDB" >/dev/null
      probe_start; c0=$(cpu_s "$PA" "$PB")
      local t0 t1 r
      t0=$(date +%s.%N)
      r=$(cli -p "$A" migrate 127.0.0.1 "$B" "" 0 60000 keys "$ZKEY")
      t1=$(date +%s.%N); c1=$(cpu_s "$PA" "$PB"); probe_stop
      [ "$r" = OK ] || { echo "MIGRATE: $r" >&2; exit 1; }
      redis-cli -p "$B" cluster setslot "$slot" node "$IDB" >/dev/null
      redis-cli -p "$A" cluster setslot "$slot" node "$IDB" >/dev/null
      [ "$(redis-cli -p "$B" zcard "$ZKEY")" = 1000000 ] || { echo "zset not on B" >&2; exit 1; }
      secs=$(python3 -c "print(round($t1-$t0, 3))") ;;
    reshard300k-p10|reshard300k-p100)
      # No probe: the end-to-end time alone.
      fill "$WORK/keys300000.resp"; c0=$(cpu_s "$PA" "$PB"); PROBE_A="- - -"; PROBE_B="- - -"
      secs=$(reshard "${sc#reshard300k-p}"); c1=$(cpu_s "$PA" "$PB"); check_moved 300000 ;;
  esac
  stop_cluster
  echo "$sc $kind $secs $(python3 -c "print(round($c1-$c0, 2))") $PROBE_A $PROBE_B"
}

median() { sort -n | awk '{a[NR]=$1} END {if (a[1]=="-") {print "-"; exit}; print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

: >"$WORK/results"
for sc in $SCENARIOS; do
  for r in $(seq 1 "$ROUNDS"); do
    for kind in redis slotcache; do run "$sc" "$kind" | tee -a "$WORK/results" >&2; done
  done
done

echo
printf '%-18s %-10s %8s %7s %9s %9s %8s %9s %9s %8s\n' scenario server seconds cpu_s A_max_ms A_p999_ms A_rps B_max_ms B_p999_ms B_rps
for sc in $SCENARIOS; do
  for kind in redis slotcache; do
    rows=$(awk -v s="$sc" -v k="$kind" '$1==s && $2==k' "$WORK/results")
    col() { echo "$rows" | awk -v c="$1" '{print $c}' | median; }
    printf '%-18s %-10s %8s %7s %9s %9s %8s %9s %9s %8s\n' "$sc" "$kind" "$(col 3)" "$(col 4)" "$(col 5)" "$(col 6)" "$(col 7)" "$(col 8)" "$(col 9)" "$(col 10)"
  done
  r=$(awk -v s="$sc" '$1==s && $2=="redis" {print $3}' "$WORK/results" | median)
  c=$(awk -v s="$sc" '$1==s && $2=="slotcache" {print $3}' "$WORK/results" | median)
  echo "  $sc: slotcache is $(python3 -c "print(round($r/$c, 2))")x as fast as redis-server (end-to-end time)"
done
