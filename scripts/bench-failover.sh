#!/usr/bin/env bash
# Failover time, slotcache vs redis-server in the same run: 3 primaries + 3 replicas
# (cluster-node-timeout 2000, formed by redis-cli --cluster create --cluster-replicas 1), kill -9
# the primary of a slot, and time until a write to that slot succeeds on its replica (the
# first successful write in the failed slots). Kinds alternate per round; medians at the end.
#   ROUNDS=5 scripts/bench-failover.sh
NAME=failover
source "$(dirname "$0")/bench-common.sh"
ROUNDS=${ROUNDS:-3}
TAG=bench

now_ms() { date +%s%3N; }

one_run() { # kind -> prints milliseconds
  local kind=$1 bin ports=() i p dir
  if [ "$kind" = redis ]; then bin=$REDIS_SERVER; else bin=$SC; fi
  for i in 0 1 2 3 4 5; do
    p=$(free_port); dir="$WORK/$kind-$p"; mkdir -p "$dir"
    (cd "$dir" && exec "$bin" --port "$p" --bind 127.0.0.1 --dir "$dir" --cluster-enabled yes \
      --cluster-node-timeout 2000 --save '' --appendonly no --repl-diskless-sync-delay 0 \
      --logfile "$dir/log") >/dev/null 2>&1 &
    PIDS+=($!); ports+=("$p")
  done
  for p in "${ports[@]}"; do
    for _ in $(seq 1 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.05; done
  done
  local addrs=()
  for p in "${ports[@]}"; do addrs+=("127.0.0.1:$p"); done
  redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes >/dev/null
  local slot primary replica pid
  slot=$(redis-cli -p "${ports[0]}" cluster keyslot "{$TAG}")
  # Wait until every replica is linked, then find the slot's primary and its replica.
  for _ in $(seq 1 200); do
    local linked=0
    for p in "${ports[@]}"; do
      redis-cli -p "$p" info replication | grep -q "master_link_status:up" && linked=$((linked + 1))
    done
    [ "$linked" = 3 ] && break; sleep 0.1
  done
  primary=$(redis-cli -p "${ports[0]}" cluster nodes | awk -v s="$slot" '$3 ~ /master/ {
      for (i = 9; i <= NF; i++) { split($i, r, "-"); if (r[2] == "") r[2] = r[1];
        if (s >= r[1] && s <= r[2]) { split($2, a, "[:@]"); print a[2] } } }')
  local pid_of=""
  for i in "${!ports[@]}"; do [ "${ports[$i]}" = "$primary" ] && pid_of=${PIDS[$((${#PIDS[@]} - 6 + i))]}; done
  local pid_id; pid_id=$(redis-cli -p "$primary" cluster myid)
  replica=""
  for _ in $(seq 1 200); do
    replica=$(redis-cli -p "$primary" cluster nodes | awk -v id="$pid_id" '$4 == id { split($2, a, "[:@]"); print a[2] }' | head -1)
    [ -n "$replica" ] && break; sleep 0.1
  done
  [ -n "$replica" ] || { echo "no replica found for $primary" >&2; return 1; }
  redis-cli -p "$primary" set "{$TAG}:before" 1 >/dev/null
  local t0 t1
  t0=$(now_ms)
  kill -9 "$pid_of"
  while [ $(( $(now_ms) - t0 )) -lt 60000 ]; do
    [ "$(redis-cli -p "$replica" set "{$TAG}:after" 1 2>/dev/null)" = OK ] && break
    sleep 0.02
  done
  t1=$(now_ms)
  echo $((t1 - t0))
  for p in "${ports[@]}"; do redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true; done
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2] + a[NR/2+1]) / 2)}'; }

declare -A times
for r in $(seq 1 "$ROUNDS"); do
  for kind in redis slotcache; do
    ms=$(one_run "$kind")
    echo "round $r $kind: ${ms} ms (kill -9 -> first write served by the promoted replica)"
    times[$kind]+="$ms "
  done
done
echo
printf "%-10s %8s %s\n" kind median runs
for kind in redis slotcache; do
  m=$(echo "${times[$kind]}" | tr ' ' '\n' | grep -v '^$' | median)
  printf "%-10s %8s %s\n" "$kind" "${m} ms" "${times[$kind]}"
done
