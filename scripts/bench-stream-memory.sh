#!/usr/bin/env bash
# Memory per stream entry, slotcache vs redis-server in the same run (issue 13's table).
# Two datasets, each loaded into a fresh server of each kind through redis-cli --pipe:
#   one:  one stream of N_ENTRIES (1M) entries of 3 small fields (XADD s * f1 v f2 v f3 v)
#   many: N_STREAMS (100k) streams of 10 entries each
# Reported: INFO used_memory and RSS growth over the empty server, per entry, and the ratio
# slotcache / redis (lower is better). Usage: scripts/bench-stream-memory.sh
NAME=stream-memory
source "$(dirname "$0")/bench-common.sh"
N_ENTRIES=${N_ENTRIES:-1000000}
N_STREAMS=${N_STREAMS:-100000}

gen() { # $1 = one|many: RESP XADDs on stdout
  python3 - "$1" "$N_ENTRIES" "$N_STREAMS" <<'PY'
import sys
mode, n_entries, n_streams = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = sys.stdout.buffer
def cmd(*a):
    b = [b"*%d\r\n" % len(a)]
    for x in a:
        x = x if isinstance(x, bytes) else str(x).encode()
        b.append(b"$%d\r\n%s\r\n" % (len(x), x))
    return b"".join(b)
buf = []
if mode == "one":
    for i in range(n_entries):
        buf.append(cmd("XADD", "s", "%d-1" % (i + 1), "name", "user%d" % (i % 1000), "score", i % 97, "tag", "t%d" % (i % 10)))
        if len(buf) >= 10000:
            out.write(b"".join(buf)); buf = []
else:
    for k in range(n_streams):
        for i in range(10):
            buf.append(cmd("XADD", "s:%d" % k, "%d-1" % (i + 1), "name", "user%d" % i, "score", i, "tag", "t%d" % i))
        if len(buf) >= 10000:
            out.write(b"".join(buf)); buf = []
out.write(b"".join(buf))
PY
}

measure() { # $1 = server binary, $2 = dataset: prints "used_bytes rss_bytes"
  local port; port=$(free_port)
  "$1" --port "$port" --save '' --appendonly no --dir "$WORK" >"$WORK/$port.log" 2>&1 &
  PIDS+=($!)
  local pid=$!
  for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  local u0 r0 u1 r1
  u0=$(redis-cli -p "$port" info memory | awk -F: '/^used_memory:/{print $2+0}')
  r0=$(awk '/VmRSS/{print $2*1024}' /proc/$pid/status)
  gen "$2" | redis-cli -p "$port" --pipe >/dev/null
  u1=$(redis-cli -p "$port" info memory | awk -F: '/^used_memory:/{print $2+0}')
  r1=$(awk '/VmRSS/{print $2*1024}' /proc/$pid/status)
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || kill -9 "$pid"
  echo "$((u1 - u0)) $((r1 - r0))"
}

printf "%-8s %14s %14s %8s %14s %14s %8s\n" dataset sc_used/entry redis_used/entry ratio sc_rss/entry redis_rss/entry ratio
for ds in one many; do
  entries=$([ "$ds" = one ] && echo "$N_ENTRIES" || echo $((N_STREAMS * 10)))
  read -r su sr < <(measure "$SC" "$ds")
  read -r ru rr < <(measure "$REDIS_SERVER" "$ds")
  python3 -c "
e=$entries; su,ru,sr,rr=$su,$ru,$sr,$rr
print('%-8s %14.1f %14.1f %8.2f %14.1f %14.1f %8.2f' % ('$ds', su/e, ru/e, su/ru, sr/e, rr/e, sr/rr))"
done
