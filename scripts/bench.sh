#!/usr/bin/env bash
# Throughput, CPU efficiency and memory of slotcache-server next to redis-server 7.0.
#
#   bash scripts/bench.sh            (from the repo root, or from anywhere)
#
# Both servers run with the same settings (--save '' --appendonly no, loopback, a fresh temp
# dir), pinned to core 0; redis-benchmark is pinned to core 1. Each test runs against the two
# servers alternately, ROUNDS times, so drift on a shared machine hits both alike. For every
# run the script records req/s (redis-benchmark --csv) and the server's CPU time over the run
# (utime+stime of /proc/PID/stat, all threads), giving requests per CPU-second. The memory rows
# come from fresh servers loaded with the same 1,000,000 `SET key:<i> <16 bytes>` over
# `redis-cli --pipe`: (after - empty) / keys for INFO used_memory and for VmRSS.
#
# Environment:
#   ROUNDS=3                  rounds per test (the table shows medians)
#   REQUESTS                  -n for pipeline-1 runs; unset: calibrated against redis so a
#                             run takes about RUN_SECONDS=3
#   REQUESTS_PIPELINED        -n for pipeline-16 runs; unset: calibrated likewise
#   CLIENTS=50  DATA_SIZE=16  KEYSPACE=1000000 (-r)   MEMORY_KEYS=1000000
#   SERVER_CPU=0 CLIENT_CPU=1 REDIS_SERVER=redis-server
#   SKIP_BUILD=1              use the existing target/release/slotcache-server
set -euo pipefail

ROUNDS=${ROUNDS:-3}
REQUESTS=${REQUESTS:-}
REQUESTS_PIPELINED=${REQUESTS_PIPELINED:-}
RUN_SECONDS=${RUN_SECONDS:-3}
CLIENTS=${CLIENTS:-50}
DATA_SIZE=${DATA_SIZE:-16}
KEYSPACE=${KEYSPACE:-1000000}
MEMORY_KEYS=${MEMORY_KEYS:-1000000}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
REDIS_SERVER=${REDIS_SERVER:-redis-server}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SLOTCACHE_BIN="$REPO/target/release/slotcache-server"
CLK_TCK=$(getconf CLK_TCK)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/slotcache-bench.XXXXXX")
NAMES=(redis slotcache)
declare -A PID PORT
declare -A RESULT # "<row>|<server>" -> space-separated values, one per round
declare -A SEEN
ROWS=() # table rows, in first-recorded order
NOTES=()
declare -A BROKEN # "<server>|<test>|<pipeline>" -> 1 once a run has failed: later rounds skip it

log() { printf '%s\n' "$*" >&2; }
note() { # a note for the end of the report, once
    local n
    for n in "${NOTES[@]}"; do [[ $n == "$*" ]] && return 0; done
    NOTES+=("$*")
}
die() { log "error: $*"; exit 1; }

stop_server() {
    local name=$1 pid=${PID[$1]:-}
    [[ -n $pid ]] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    PID[$name]=""
    local logf="$WORK/$name-${PORT[$name]}/server.log" line
    if line=$(grep -m1 -iE 'panick|fatal|\berror\b' "$logf" 2>/dev/null); then
        note "$name log: $line"
    fi
}

cleanup() {
    local rc=$?
    for n in "${NAMES[@]}"; do stop_server "$n"; done
    if [[ $rc -ne 0 ]]; then
        log "bench.sh failed (exit $rc); server logs kept in $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in "$REDIS_SERVER" redis-cli redis-benchmark taskset getconf; do
    command -v "$tool" >/dev/null || die "$tool not found"
done
[[ $(nproc --all) -gt $((SERVER_CPU > CLIENT_CPU ? SERVER_CPU : CLIENT_CPU)) ]] ||
    die "need cpus $SERVER_CPU and $CLIENT_CPU"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null && return
    local p
    while :; do # no python: pick one nobody answers on
        p=$((20000 + RANDOM % 30000))
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
}

# start_server NAME: a fresh server on a free port in its own temp dir, pinned to SERVER_CPU.
start_server() {
    local name=$1 dir port bin
    port=$(free_port)
    dir="$WORK/$name-$port"
    mkdir -p "$dir"
    case $name in
        redis) bin=$REDIS_SERVER ;;
        slotcache) bin=$SLOTCACHE_BIN ;;
    esac
    # taskset execs the server, so $! is the server's own pid.
    taskset -c "$SERVER_CPU" "$bin" --save '' --appendonly no --port "$port" --dir "$dir" \
        >"$dir/server.log" 2>&1 &
    PID[$name]=$!
    PORT[$name]=$port
    for _ in $(seq 100); do
        if [[ $(redis-cli -p "$port" ping 2>/dev/null) == PONG ]]; then return 0; fi
        kill -0 "${PID[$name]}" 2>/dev/null || { cat "$dir/server.log" >&2; die "$name exited at start"; }
        sleep 0.1
    done
    die "$name did not answer PING on port $port"
}

check_alive() {
    local name=$1
    kill -0 "${PID[$name]}" 2>/dev/null || die "$name (pid ${PID[$name]}) died; see $WORK/$name-${PORT[$name]}/server.log"
}

cpu_ticks() { # utime + stime of every thread of the process, in clock ticks
    local stat
    stat=$(<"/proc/$1/stat")
    stat=${stat##*) } # comm may hold spaces; fields restart at 3 (state) after ") "
    awk '{ print $12 + $13 }' <<<"$stat"
}

record() { # record ROW SERVER VALUE
    local key="$1|$2"
    [[ -n ${SEEN[$1]:-} ]] || { SEEN[$1]=1; ROWS+=("$1"); }
    RESULT[$key]="${RESULT[$key]:-} $3"
}

# run_bench NAME TEST PIPELINE N: one redis-benchmark run, recording req/s and req/CPU-s.
run_bench() {
    local name=$1 test=$2 pipeline=$3 n=$4 pid=${PID[$1]} port=${PORT[$1]}
    local out="$WORK/run-$name-$test-P$pipeline.$RANDOM.log" before after t0 t1 rps cpu_s
    if [[ -n ${BROKEN[$name|$test|$pipeline]:-} ]]; then return 0; fi
    before=$(cpu_ticks "$pid")
    t0=$(date +%s.%N)
    # Tests redis-benchmark has no -t name for run as an explicit command line.
    local what=(-t "$test")
    [[ $test == zrange ]] && what=(ZRANGE bench:zset 0 9 WITHSCORES)
    if ! taskset -c "$CLIENT_CPU" redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -n "$n" \
        -r "$KEYSPACE" -d "$DATA_SIZE" -P "$pipeline" --csv "${what[@]}" >"$out" 2>&1; then
        log "  redis-benchmark failed against $name ($test P$pipeline):"; sed 's/^/    /' "$out" >&2
        note "${test^^} P$pipeline failed against $name, skipped in later rounds: $(grep -v -m1 '^"' "$out" | tr -s ' ')"
        BROKEN[$name|$test|$pipeline]=1
        check_alive "$name"
        return 0
    fi
    t1=$(date +%s.%N)
    after=$(cpu_ticks "$pid")
    check_alive "$name"
    if grep -qi 'error' "$out"; then
        note "$name $test P$pipeline: $(grep -i -m1 'error' "$out")"
    fi
    rps=$(awk -F'","' -v t="${test^^}" 'index($1, "\"" t) == 1 { gsub(/"/, "", $2); print $2; exit }' "$out")
    [[ -n $rps ]] || { log "  no $test row in redis-benchmark output:"; cat "$out" >&2; return 0; }
    cpu_s=$(awk -v a="$after" -v b="$before" -v hz="$CLK_TCK" 'BEGIN { printf "%.3f", (a - b) / hz }')
    local row="${test^^} P$pipeline"
    record "$row req/s" "$name" "$(printf '%.0f' "$rps")"
    record "$row req/CPU-s" "$name" "$(awk -v n="$n" -v c="$cpu_s" 'BEGIN { printf "%.0f", (c > 0 ? n / c : 0) }')"
    log "$(printf '  %-10s %-6s P%-2s %10.0f req/s  %6.2f s wall  %6.2f s server CPU' \
        "$name" "$test" "$pipeline" "$rps" "$(awk -v a="$t1" -v b="$t0" 'BEGIN{print a-b}')" "$cpu_s")"
}

# calibrate PIPELINE: an -n that keeps a SET run against redis near RUN_SECONDS on this machine.
calibrate() {
    local pipeline=$1 probe=$((20000 * $1)) rps
    rps=$(taskset -c "$CLIENT_CPU" redis-benchmark -h 127.0.0.1 -p "${PORT[redis]}" -c "$CLIENTS" -n "$probe" \
        -r "$KEYSPACE" -d "$DATA_SIZE" -P "$pipeline" -t set --csv 2>/dev/null |
        awk -F'","' 'index($1, "\"SET") == 1 { gsub(/"/, "", $2); print $2; exit }')
    [[ -n $rps ]] || die "calibration run against redis failed"
    awk -v r="$rps" -v s="$RUN_SECONDS" 'BEGIN { n = int(r * s / 10000 + 0.5) * 10000; print (n < 10000 ? 10000 : n) }'
}

has_command() { # has_command NAME CMD: true if COMMAND INFO knows CMD
    local reply
    reply=$(redis-cli -p "${PORT[$1]}" --no-raw COMMAND INFO "$2" 2>&1)
    [[ -n $reply && $reply != *"(nil)"* && $reply != *ERR* ]]
}

info_field() { # info_field NAME FIELD
    redis-cli -p "${PORT[$1]}" INFO memory | tr -d '\r' | awk -F: -v f="$2" '$1 == f { print $2 }'
}

rss_bytes() { awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$1/status"; }

median() { tr ' ' '\n' | awk 'NF' | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Replies that must match between the two servers: a cheap guard against benchmarking a server
# that answers wrongly fast.
sanity_check() {
    local cmds=(
        "SET bench:sanity xxxxxxxxxxxxxxxx" "GET bench:sanity" "INCR bench:counter" "INCR bench:counter"
        "GET bench:missing" "STRLEN bench:sanity" "TYPE bench:sanity" "DEL bench:sanity bench:counter"
    )
    local c a b
    for c in "${cmds[@]}"; do
        # shellcheck disable=SC2086 # word splitting is the point
        a=$(redis-cli -p "${PORT[redis]}" $c 2>&1)
        # shellcheck disable=SC2086
        b=$(redis-cli -p "${PORT[slotcache]}" $c 2>&1)
        [[ $a == "$b" ]] || note "reply mismatch for '$c': redis='$a' slotcache='$b'"
    done
}

# ---------------------------------------------------------------------------------- build
if [[ ${SKIP_BUILD:-} != 1 ]]; then
    log "building slotcache-server (cargo build --release) ..."
    (cd "$REPO" && cargo build --release --bin slotcache-server) >&2
fi
[[ -x $SLOTCACHE_BIN ]] || die "$SLOTCACHE_BIN missing (build failed?)"
log "redis:     $("$REDIS_SERVER" --version)"
log "slotcache: $SLOTCACHE_BIN ($(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo '?'))"

# ---------------------------------------------------------------------------------- throughput
for n in "${NAMES[@]}"; do
    start_server "$n"
    # ZRANGE reads a fixed 100-member sorted set.
    # shellcheck disable=SC2046 # the member list is meant to split
    redis-cli -p "${PORT[$n]}" ZADD bench:zset $(seq 1 100 | awk '{ print $1, "member:" $1 }') >/dev/null
done
log "redis pid ${PID[redis]} port ${PORT[redis]}; slotcache pid ${PID[slotcache]} port ${PORT[slotcache]}"

[[ -n $REQUESTS ]] || REQUESTS=$(calibrate 1)
[[ -n $REQUESTS_PIPELINED ]] || REQUESTS_PIPELINED=$(calibrate 16)
log "requests per run: $REQUESTS (pipeline 1), $REQUESTS_PIPELINED (pipeline 16)"

TESTS=("set 1" "get 1" "set 16" "get 16" "incr 1")
for t in lpush lpop sadd hset zadd zrange; do
    if has_command slotcache "$t"; then
        TESTS+=("$t 1")
    else
        note "${t^^} skipped: slotcache COMMAND INFO $t is nil (not implemented)"
    fi
done

for round in $(seq "$ROUNDS"); do
    log "round $round/$ROUNDS"
    for spec in "${TESTS[@]}"; do
        read -r test pipeline <<<"$spec"
        n=$REQUESTS
        [[ $pipeline -gt 1 ]] && n=$REQUESTS_PIPELINED
        # Alternate which server goes first, so neither always runs on the warmer machine.
        order=("${NAMES[@]}")
        ((round % 2 == 0)) && order=(slotcache redis)
        for name in "${order[@]}"; do run_bench "$name" "$test" "$pipeline" "$n"; done
    done
done
sanity_check
for n in "${NAMES[@]}"; do stop_server "$n"; done

# ---------------------------------------------------------------------------------- memory
log "memory: loading $MEMORY_KEYS keys into fresh servers ..."
PIPE_FILE="$WORK/load.resp"
value=$(head -c "$DATA_SIZE" /dev/zero | tr '\0' v)
awk -v n="$MEMORY_KEYS" -v v="$value" 'BEGIN {
    for (i = 0; i < n; i++) { k = "key:" i; printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(k), k, length(v), v }
}' >"$PIPE_FILE"
for name in "${NAMES[@]}"; do
    start_server "$name"
    sleep 0.5
    used0=$(info_field "$name" used_memory)
    rss0=$(rss_bytes "${PID[$name]}")
    if ! redis-cli -p "${PORT[$name]}" --pipe <"$PIPE_FILE" >"$WORK/pipe-$name.log" 2>&1; then
        note "$name: redis-cli --pipe failed: $(tail -n2 "$WORK/pipe-$name.log" | tr '\n' ' ')"
    fi
    grep -q 'errors: 0,' "$WORK/pipe-$name.log" ||
        note "$name: --pipe reported: $(grep -m1 'errors:' "$WORK/pipe-$name.log")"
    check_alive "$name"
    sleep 0.5
    keys=$(redis-cli -p "${PORT[$name]}" DBSIZE)
    [[ $keys == "$MEMORY_KEYS" ]] || note "$name: DBSIZE $keys after loading $MEMORY_KEYS keys"
    used1=$(info_field "$name" used_memory)
    rss1=$(rss_bytes "${PID[$name]}")
    log "  $name: used_memory $used0 -> $used1, RSS $rss0 -> $rss1, DBSIZE $keys"
    record "used_memory MB (1M keys)" "$name" "$(awk -v u="$used1" 'BEGIN { printf "%.1f", u / 1048576 }')"
    record "RSS MB (1M keys)" "$name" "$(awk -v u="$rss1" 'BEGIN { printf "%.1f", u / 1048576 }')"
    record "used_memory bytes/key" "$name" "$(awk -v a="$used1" -v b="$used0" -v k="$keys" 'BEGIN { printf "%.1f", (a - b) / k }')"
    record "RSS bytes/key" "$name" "$(awk -v a="$rss1" -v b="$rss0" -v k="$keys" 'BEGIN { printf "%.1f", (a - b) / k }')"
    stop_server "$name"
done

# ---------------------------------------------------------------------------------- report
printf '\nslotcache vs redis %s: %s round(s), %s clients, -d %s, -r %s, -n %s (P1) / %s (P16), %s on cpu %s, redis-benchmark on cpu %s\n' \
    "$("$REDIS_SERVER" --version | grep -o 'v=[0-9.]*' | cut -c3-)" "$ROUNDS" "$CLIENTS" "$DATA_SIZE" "$KEYSPACE" \
    "$REQUESTS" "$REQUESTS_PIPELINED" servers "$SERVER_CPU" "$CLIENT_CPU"
printf '%-28s %14s %14s %10s\n' "row (median)" redis slotcache "sc/redis"
printf '%-28s %14s %14s %10s\n' "----------------------------" "--------------" "--------------" "----------"
for row in "${ROWS[@]}"; do
    r=$(median <<<"${RESULT[$row|redis]:-}")
    s=$(median <<<"${RESULT[$row|slotcache]:-}")
    ratio=$(awk -v r="$r" -v s="$s" 'BEGIN { if (r > 0 && s != "") printf "%.2f", s / r; else print "-" }')
    printf '%-28s %14s %14s %10s\n' "$row" "${r:--}" "${s:--}" "$ratio"
done
if [[ ${#NOTES[@]} -gt 0 ]]; then
    printf '\nnotes:\n'
    printf '  - %s\n' "${NOTES[@]}"
fi
