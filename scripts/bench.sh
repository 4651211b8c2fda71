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
# The CLUSTER rows come from two 3-primary clusters (three redis-server nodes, three slotcache
# nodes, each with --cluster-enabled yes in its own temp dir, all pinned to SERVER_CPU), formed
# by `redis-cli --cluster create`, filled like the DATASET rows (CLUSTER_PREFILL) and benchmarked
# with `redis-benchmark --cluster` (SET, GET and the 80/20 mix, pipeline 1 and 16), alternately,
# ROUNDS times; req/CPU-s counts the CPU time of all three nodes.
# A cluster that cannot be formed, or a node that dies, ends up as a note, not as an abort.
#
# Environment:
#   ROUNDS=3                  rounds per test (the table shows medians)
#   REQUESTS                  -n for pipeline-1 runs; unset: calibrated against redis so a
#                             run takes about RUN_SECONDS=3
#   REQUESTS_PIPELINED        -n for pipeline-16 runs; unset: calibrated likewise
#   CLIENTS=50  DATA_SIZE=16  KEYSPACE=1000000 (-r)   MEMORY_KEYS=1000000
#   SERVER_CPU=0 CLIENT_CPU=1 REDIS_SERVER=redis-server
#   SKIP_BUILD=1              use the existing target/release/slotcache-server
#   SLOTCACHE_BIN=PATH        benchmark another slotcache-server build (before/after tables)
#   CLUSTER=0                 skip the cluster section;  CLUSTER_ONLY=1: run only that section
#   CLUSTER_REQUESTS, CLUSTER_REQUESTS_PIPELINED   -n for cluster runs; unset: calibrated
#                             against the redis cluster (RUN_SECONDS)
#   CLUSTER_PREFILL=1         fill both clusters with the KEYSPACE-key dataset (as the DATASET
#                             rows) before the CLUSTER rounds; 0: they start empty
#   CLUSTER_WAIT=30           seconds allowed for `--cluster create`, and again for every node
#                             to report cluster_state:ok
#   CLUSTER_RUN_TIMEOUT=120   seconds before a hung cluster redis-benchmark run is killed
#
# The DATASET rows measure a cache the way it is used: both servers are first filled with the
# same dataset (`redis-benchmark -t set -r DATASET_KEYS -d SIZE -P 16 -n 4*DATASET_KEYS`: about
# 98% of the DATASET_KEYS keys exist, DBSIZE is reported), then SET, GET and an 80% GET / 20%
# SET mix (two redis-benchmark processes at once, GET with 4/5 of the clients and requests, SET
# with the rest; req/s = all requests / wall time) run at pipeline 1 and 16 with the request
# counts of DATASET_RUNS, alternating A and B every round. One dataset per value size of
# DATASET_SIZES (the first size runs DATASET_RUNS, larger sizes DATASET_LARGE_RUNS). The rows
# above them (SET/GET/... without a "1M" prefix) run on a keyspace that starts empty: they are
# labelled "(unfilled)" and say little about a cache in service.
#   UNFILLED=0                      skip the "(unfilled)" rows
#   DATASET=1 / DATASET_ONLY=1      DATASET_KEYS=1000000   DATASET_SIZES="16 1024"
#   DATASET_RUNS="1:200000 1:2000000 16:200000 16:2000000"  (pipeline:requests)
#   DATASET_LARGE_RUNS="1:200000 16:2000000"
#
# Every row shows the median over the rounds with [min-max]; the ratio column is the ratio of
# the medians with [min-max of the per-round ratios].
#
# Profiling (how the hot-path work in src/server/conn.rs and src/store/db.rs was decided): start
# both servers as above, fill them, then while a GET or SET P16 row runs,
#   perf record -F 999 -g -p PID -- sleep 10 ; perf report --no-children --sort symbol
# for each server in turn, and compare the shares (e.g. the keyspace lookup, reply writes and
# the kernel's wake-up of the reader in sock_def_readable). Counted `perf stat -e
# context-switches,cycles -p PID` beside it gives wake-ups and cycles per request.
set -euo pipefail

# The script rows: the release script of redis-py's Lock / Redlock (compare-and-delete), and a
# script making 10 redis.call()s (5 SET + 5 GET of its key).
UNLOCK_SCRIPT="if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"
TEN_CALLS_SCRIPT="for i = 1, 5 do redis.call('set', KEYS[1], ARGV[1]) redis.call('get', KEYS[1]) end return 1"

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
CLUSTER=${CLUSTER:-1}
CLUSTER_ONLY=${CLUSTER_ONLY:-0}
CLUSTER_REQUESTS=${CLUSTER_REQUESTS:-}
CLUSTER_REQUESTS_PIPELINED=${CLUSTER_REQUESTS_PIPELINED:-}
CLUSTER_WAIT=${CLUSTER_WAIT:-30}
CLUSTER_RUN_TIMEOUT=${CLUSTER_RUN_TIMEOUT:-120}
CLUSTER_PREFILL=${CLUSTER_PREFILL:-1}
DATASET=${DATASET:-1}
DATASET_ONLY=${DATASET_ONLY:-0}
UNFILLED=${UNFILLED:-1}
DATASET_KEYS=${DATASET_KEYS:-1000000}
DATASET_SIZES=${DATASET_SIZES:-16 1024}
DATASET_RUNS=${DATASET_RUNS:-1:200000 1:2000000 16:200000 16:2000000}
DATASET_LARGE_RUNS=${DATASET_LARGE_RUNS:-1:200000 16:2000000}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SLOTCACHE_BIN=${SLOTCACHE_BIN:-"$REPO/target/release/slotcache-server"}
CLK_TCK=$(getconf CLK_TCK)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/slotcache-bench.XXXXXX")
NAMES=(redis slotcache)
declare -A PID PORT
declare -A RESULT # "<row>|<server>" -> space-separated values, one per round
declare -A SEEN
ROWS=() # table rows, in first-recorded order
NOTES=()
declare -A BROKEN # "<server>|<test>|<pipeline>" -> 1 once a run has failed: later rounds skip it
declare -A CPIDS  # cluster kind -> every node pid started for it (cleanup kills them all)
declare -A CPORTS # cluster kind -> ports of its three nodes, once started
declare -A CNPIDS # cluster kind -> pids of those three nodes (CPU time is summed over them)
declare -A CLUSTER_UP # cluster kind -> 1 while its cluster is formed and alive
KEEP_WORK=0 # 1: keep $WORK (server logs) even on success, e.g. after a cluster failed to form

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

# stop_cluster KIND: every node started for KIND's cluster, plus a note per node log error.
stop_cluster() {
    local kind=$1 pid pids=${CPIDS[$1]:-} logf line
    [[ -n $pids ]] || return 0
    for pid in $pids; do kill "$pid" 2>/dev/null || true; done
    for pid in $pids; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    CPIDS[$kind]=""
    CLUSTER_UP[$kind]=""
    for logf in "$WORK/cluster-$kind-"*/server.log; do
        [[ -f $logf ]] || continue
        if line=$(grep -m1 -iE 'panick|fatal|\berror\b' "$logf"); then
            note "cluster $kind node log ($(basename "$(dirname "$logf")")): $line"
        fi
    done
}

cleanup() {
    local rc=$?
    for n in "${NAMES[@]}"; do stop_server "$n"; stop_cluster "$n"; done
    if [[ $rc -ne 0 ]]; then
        log "bench.sh failed (exit $rc); server logs kept in $WORK"
    elif [[ $KEEP_WORK == 1 ]]; then
        log "server logs kept in $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in "$REDIS_SERVER" redis-cli redis-benchmark taskset getconf; do
    command -v "$tool" >/dev/null || die "$tool not found"
done
[[ $CLUSTER_ONLY == 1 && $CLUSTER == 0 ]] && die "CLUSTER_ONLY=1 with CLUSTER=0 leaves nothing to run"
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

csv_rps() { # csv_rps FILE|- TEST: the rps column of TEST's row in redis-benchmark --csv output
    awk -F'","' -v t="${2^^}" '$1 == "\"" t { gsub(/"/, "", $2); print $2; exit }' "$1"
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
    # Scripts (loaded by SCRIPT LOAD below): a lock release and a 10-call script, by EVALSHA.
    [[ $test == evalsha_unlock ]] && what=(EVALSHA "$SHA_UNLOCK" 1 lock:__rand_int__ token)
    [[ $test == evalsha_10calls ]] && what=(EVALSHA "$SHA_TEN" 1 key:__rand_int__ value)
    # Streams: appends capped near 100k entries, and reads of 10 entries from a stream kept
    # at 1000 (both prefilled below).
    [[ $test == xadd ]] && what=(XADD bench:stream MAXLEN '~' 100000 '*' field __rand_int__)
    [[ $test == xrange ]] && what=(XRANGE bench:stream:read - + COUNT 10)
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
    local csv_name="${test^^}"
    [[ $test == evalsha_* ]] && csv_name=EVALSHA
    rps=$(awk -F'","' -v t="$csv_name" 'index($1, "\"" t) == 1 { gsub(/"/, "", $2); print $2; exit }' "$out")
    [[ -n $rps ]] || { log "  no $test row in redis-benchmark output:"; cat "$out" >&2; return 0; }
    cpu_s=$(awk -v a="$after" -v b="$before" -v hz="$CLK_TCK" 'BEGIN { printf "%.3f", (a - b) / hz }')
    local row="${test^^} P$pipeline (unfilled)"
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

median() { tr ' ' '\n' | awk 'NF' | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.0f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

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

# ---------------------------------------------------------------------------------- cluster helpers
port_pair_free() { # port_pair_free P: nothing answers on P nor on its cluster bus port P+10000
    local p
    for p in "$1" $(($1 + 10000)); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then return 1; fi
    done
}

no_color() { sed 's/\x1b\[[0-9;]*m//g'; }

# start_cluster_node KIND: one cluster node on a free port pair, pinned to SERVER_CPU, appended
# to CPORTS/CNPIDS. Retries on another port when the node does not come up as itself (a port
# taken between the check and the bind); returns 1 with a note when it cannot start at all.
start_cluster_node() {
    local kind=$1 bin port dir pid reply try
    case $kind in
        redis) bin=$REDIS_SERVER ;;
        slotcache) bin=$SLOTCACHE_BIN ;;
    esac
    for try in 1 2 3 4 5; do
        # Ports and bus ports (port + 10000) both stay below the usual ephemeral range (32768).
        port=$((10000 + RANDOM % 12700))
        port_pair_free "$port" || continue
        dir="$WORK/cluster-$kind-$port"
        mkdir -p "$dir"
        taskset -c "$SERVER_CPU" "$bin" --cluster-enabled yes --cluster-config-file nodes.conf \
            --cluster-node-timeout 5000 --save '' --appendonly no --port "$port" --dir "$dir" \
            >"$dir/server.log" 2>&1 &
        pid=$!
        CPIDS[$kind]="${CPIDS[$kind]:-} $pid"
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            # The node must answer as itself: another process may hold the port.
            reply=$(redis-cli -p "$port" INFO server 2>/dev/null | tr -d '\r' | awk -F: '$1 == "process_id" { print $2 }')
            if [[ $reply == "$pid" ]]; then
                CPORTS[$kind]="${CPORTS[$kind]:-} $port"
                CNPIDS[$kind]="${CNPIDS[$kind]:-} $pid"
                return 0
            fi
            sleep 0.1
        done
        kill "$pid" 2>/dev/null || true
        if ! grep -qi 'address already in use' "$dir/server.log"; then
            note "CLUSTER: $kind node did not start (try $try, port $port): $(grep -v '^\s*$' "$dir/server.log" | tail -n1)"
        fi
    done
    note "CLUSTER: could not start a $kind cluster node; logs in $WORK/cluster-$kind-*"
    KEEP_WORK=1
    return 1
}

cluster_info_field() { # cluster_info_field PORT FIELD
    redis-cli -p "$1" CLUSTER INFO 2>/dev/null | tr -d '\r' | awk -F: -v f="$2" '$1 == f { print $2 }'
}

# start_cluster KIND: three nodes, `redis-cli --cluster create`, then every node reporting
# cluster_state:ok within CLUSTER_WAIT seconds. Sets CLUSTER_UP[KIND]=1, or notes why not.
start_cluster() {
    local kind=$1 port addrs=() create="$WORK/cluster-create-$1.log" rc=0 deadline bad state why
    for _ in 1 2 3; do start_cluster_node "$kind" || return 1; done
    for port in ${CPORTS[$kind]}; do addrs+=("127.0.0.1:$port"); done
    log "cluster $kind: nodes ${addrs[*]} (pids${CNPIDS[$kind]}); redis-cli --cluster create ..."
    timeout "$CLUSTER_WAIT" redis-cli --cluster create "${addrs[@]}" --cluster-replicas 0 --cluster-yes \
        </dev/null 2>&1 | no_color >"$create" || rc=$?
    if [[ $rc -ne 0 ]]; then
        # "Node ... replied with error:" has the error itself on the next line.
        why=$(grep -m1 -A1 -E 'ERR|[Ee]rror|[Ff]ail' "$create" | tr -s ' \n' ' ' || tail -n1 "$create")
        [[ $rc == 124 ]] && why="timed out after ${CLUSTER_WAIT}s: $(grep -v '^\s*$' "$create" | tail -n1)"
        note "CLUSTER: $kind cluster not formed, redis-cli --cluster create failed (exit $rc): $why"
        log "  --cluster create against $kind failed:"; sed 's/^/    /' "$create" | tail -n 20 >&2
        KEEP_WORK=1
        return 1
    fi
    deadline=$((SECONDS + CLUSTER_WAIT))
    while :; do
        bad=""
        for port in ${CPORTS[$kind]}; do
            state=$(cluster_info_field "$port" cluster_state)
            [[ $state == ok ]] || bad+=" $port:${state:-no-reply}"
        done
        [[ -n $bad ]] || break
        if ((SECONDS >= deadline)); then
            note "CLUSTER: $kind cluster not formed: cluster_state after ${CLUSTER_WAIT}s:$bad"
            KEEP_WORK=1
            return 1
        fi
        sleep 0.2
    done
    for port in ${CPORTS[$kind]}; do
        state="$(cluster_info_field "$port" cluster_known_nodes)/$(cluster_info_field "$port" cluster_slots_assigned)"
        [[ $state == 3/16384 ]] || note "CLUSTER: $kind node $port reports known_nodes/slots_assigned $state, not 3/16384"
    done
    log "cluster $kind: cluster_state:ok on all three nodes"
    CLUSTER_UP[$kind]=1
}

cluster_alive() { # cluster_alive KIND: all three nodes still run; otherwise note it, mark it down
    local kind=$1 pid
    for pid in ${CNPIDS[$kind]}; do
        if ! kill -0 "$pid" 2>/dev/null; then
            note "CLUSTER: $kind node pid $pid died, later $kind cluster runs skipped; logs in $WORK/cluster-$kind-*"
            KEEP_WORK=1
            CLUSTER_UP[$kind]=""
            return 1
        fi
    done
}

cluster_cpu_ticks() { # the three nodes' utime + stime, summed
    local kind=$1 pid total=0 t
    for pid in ${CNPIDS[$kind]}; do
        t=$(cpu_ticks "$pid")
        total=$((total + t))
    done
    echo "$total"
}

cluster_port() { awk '{ print $1 }' <<<"${CPORTS[$1]}"; } # the node redis-benchmark enters at

# run_cluster_bench KIND TEST PIPELINE N: one `redis-benchmark --cluster` run against KIND's
# cluster (entered at its first node), recording req/s and req/CPU-s over all three nodes.
run_cluster_bench() {
    local kind=$1 test=$2 pipeline=$3 n=$4 port
    local out="$WORK/cluster-run-$kind-$test-P$pipeline.$RANDOM.log" before after t0 t1 rps cpu_s rc=0
    [[ -n ${CLUSTER_UP[$kind]:-} && -z ${BROKEN[cluster|$kind|$test|$pipeline]:-} ]] || return 0
    port=$(cluster_port "$kind")
    before=$(cluster_cpu_ticks "$kind")
    t0=$(date +%s.%N)
    local common=(--cluster -h 127.0.0.1 -p "$port" -r "$KEYSPACE" -d "$DATA_SIZE" -P "$pipeline" --csv)
    if [[ $test == mix ]]; then # 80% GET / 20% SET, as the DATASET rows
        local gc=$((CLIENTS * 4 / 5)) gn=$((n * 4 / 5)) p1 p2
        timeout "$CLUSTER_RUN_TIMEOUT" taskset -c "$CLIENT_CPU" redis-benchmark "${common[@]}" -c "$gc" -n "$gn" \
            -t get </dev/null >"$out.get" 2>&1 &
        p1=$!
        timeout "$CLUSTER_RUN_TIMEOUT" taskset -c "$CLIENT_CPU" redis-benchmark "${common[@]}" -c $((CLIENTS - gc)) \
            -n $((n - gn)) -t set </dev/null >"$out.set" 2>&1 &
        p2=$!
        wait "$p1" || rc=$?
        wait "$p2" || rc=$?
        t1=$(date +%s.%N)
        cat "$out.get" "$out.set" >"$out"
        rps=$(awk -v n="$n" -v a="$t1" -v b="$t0" 'BEGIN { printf "%.0f", n / (a - b) }')
        [[ -n $(csv_rps "$out.get" get) && -n $(csv_rps "$out.set" set) ]] || rps=""
    else
        timeout "$CLUSTER_RUN_TIMEOUT" taskset -c "$CLIENT_CPU" redis-benchmark "${common[@]}" -c "$CLIENTS" -n "$n" \
            -t "$test" </dev/null >"$out" 2>&1 || rc=$?
        t1=$(date +%s.%N)
        rps=$(csv_rps "$out" "$test")
    fi
    cluster_alive "$kind" || return 0
    after=$(cluster_cpu_ticks "$kind")
    if [[ $rc -ne 0 || -z $rps ]]; then
        log "  redis-benchmark --cluster failed against $kind (exit $rc, $test P$pipeline):"; sed 's/^/    /' "$out" | tail -n 20 >&2
        local why
        why=$(grep -m1 -iE 'error|fail|moved|ask' "$out" || grep -v '^\s*$' "$out" | tail -n1 || true)
        [[ $rc == 124 ]] && why="timed out after ${CLUSTER_RUN_TIMEOUT}s; ${why}"
        note "CLUSTER ${test^^} P$pipeline failed against $kind (exit $rc), skipped in later rounds: $why"
        BROKEN[cluster|$kind|$test|$pipeline]=1
        KEEP_WORK=1
        return 0
    fi
    if grep -qi 'error' "$out"; then
        note "cluster $kind $test P$pipeline: $(grep -i -m1 'error' "$out")"
    fi
    cpu_s=$(awk -v a="$after" -v b="$before" -v hz="$CLK_TCK" 'BEGIN { printf "%.3f", (a - b) / hz }')
    local row="CLUSTER ${test^^} P$pipeline"
    record "$row req/s" "$kind" "$(printf '%.0f' "$rps")"
    record "$row req/CPU-s" "$kind" "$(awk -v n="$n" -v c="$cpu_s" 'BEGIN { printf "%.0f", (c > 0 ? n / c : 0) }')"
    log "$(printf '  cluster %-10s %-4s P%-2s %10.0f req/s  %6.2f s wall  %6.2f s server CPU (3 nodes)' \
        "$kind" "$test" "$pipeline" "$rps" "$(awk -v a="$t1" -v b="$t0" 'BEGIN{print a-b}')" "$cpu_s")"
}

# calibrate_cluster PIPELINE: like calibrate, against the redis cluster; empty on failure.
calibrate_cluster() {
    local pipeline=$1 probe=$((20000 * $1)) rps
    rps=$(timeout "$CLUSTER_RUN_TIMEOUT" taskset -c "$CLIENT_CPU" redis-benchmark --cluster -h 127.0.0.1 \
        -p "$(cluster_port redis)" -c "$CLIENTS" -n "$probe" -r "$KEYSPACE" -d "$DATA_SIZE" -P "$pipeline" \
        -t set --csv </dev/null 2>/dev/null | csv_rps - set) || true
    [[ -n $rps ]] || return 0
    awk -v r="$rps" -v s="$RUN_SECONDS" 'BEGIN { n = int(r * s / 10000 + 0.5) * 10000; print (n < 10000 ? 10000 : n) }'
}

# cluster_keys KIND: DBSIZE summed over the nodes after the runs (the SET runs wrote about the same
# random keys into both clusters), and a note if a node holds none (the load did not spread).
cluster_keys() { # cluster_keys KIND [ROW]
    local kind=$1 row=${2:-"CLUSTER keys (DBSIZE sum)"} port k total=0 per=""
    [[ -n ${CLUSTER_UP[$kind]:-} ]] || return 0
    for port in ${CPORTS[$kind]}; do
        k=$(redis-cli -p "$port" DBSIZE 2>&1)
        [[ $k =~ ^[0-9]+$ ]] || { note "CLUSTER: $kind node $port DBSIZE: $k"; return 0; }
        total=$((total + k))
        per+=" $k"
        ((k > 0)) || note "CLUSTER: $kind node $port holds no keys after the runs"
    done
    log "cluster $kind: DBSIZE per node:$per"
    record "$row" "$kind" "$total"
}

# Replies through the cluster (redis-cli -c, entering at the second node so some commands are
# redirected) that must match between the two clusters.
cluster_sanity_check() {
    local cmds=(
        "SET bench:sanity xxxxxxxxxxxxxxxx" "GET bench:sanity" "INCR {bench}:counter" "INCR {bench}:counter"
        "MGET {bench}:counter {bench}:missing" "MSET bench:a 1 bench:b 2" "CLUSTER KEYSLOT bench:sanity"
        "DEL bench:sanity {bench}:counter"
    )
    local c a b pr ps
    pr=$(awk '{ print $2 }' <<<"${CPORTS[redis]}")
    ps=$(awk '{ print $2 }' <<<"${CPORTS[slotcache]}")
    for c in "${cmds[@]}"; do
        # shellcheck disable=SC2086 # word splitting is the point
        a=$(redis-cli -c -p "$pr" $c 2>&1)
        # shellcheck disable=SC2086
        b=$(timeout 10 redis-cli -c -p "$ps" $c 2>&1)
        [[ $a == "$b" ]] || note "cluster reply mismatch for '$c': redis='$a' slotcache='$b'"
    done
}

# ---------------------------------------------------------------------------------- dataset helpers
# prefill NAME SIZE: the dataset of the DATASET rows; records DBSIZE.
prefill() {
    local name=$1 size=$2 out="$WORK/prefill-$1-$2.log" keys
    taskset -c "$CLIENT_CPU" redis-benchmark -h 127.0.0.1 -p "${PORT[$name]}" -c "$CLIENTS" \
        -n $((4 * DATASET_KEYS)) -r "$DATASET_KEYS" -d "$size" -P 16 -t set --csv >"$out" 2>&1 ||
        { note "$name: prefill -d $size failed: $(tail -n1 "$out")"; }
    check_alive "$name"
    keys=$(redis-cli -p "${PORT[$name]}" DBSIZE)
    log "  $name: prefilled, DBSIZE $keys (-d $size)"
    record "$(ds_label "$size") keys (DBSIZE)" "$name" "$keys"
}

ds_label() { # the row prefix of a dataset: "1M x16B"
    awk -v k="$DATASET_KEYS" -v s="$1" 'BEGIN {
        if (k % 1000000 == 0) l = k / 1000000 "M"; else if (k % 1000 == 0) l = k / 1000 "k"; else l = k
        printf "%s x%dB", l, s }'
}

human_n() { awk -v n="$1" 'BEGIN { if (n % 1000000 == 0) print n / 1000000 "M"; else if (n % 1000 == 0) print n / 1000 "k"; else print n }'; }

# run_ds NAME SIZE TEST PIPELINE N: one DATASET run (TEST set, get or mix).
run_ds() {
    local name=$1 size=$2 test=$3 pipeline=$4 n=$5 pid=${PID[$1]} port=${PORT[$1]}
    local out="$WORK/ds-$name-$test-P$pipeline-$n.$RANDOM" before after t0 t1 rps cpu_s rc=0
    local common=(-h 127.0.0.1 -p "$port" -r "$DATASET_KEYS" -d "$size" -P "$pipeline" --csv)
    [[ -z ${BROKEN[ds|$name|$test|$pipeline|$n]:-} ]] || return 0
    before=$(cpu_ticks "$pid")
    t0=$(date +%s.%N)
    if [[ $test == mix ]]; then
        local gc=$((CLIENTS * 4 / 5)) gn=$((n * 4 / 5)) p1 p2
        taskset -c "$CLIENT_CPU" redis-benchmark "${common[@]}" -c "$gc" -n "$gn" -t get >"$out.get" 2>&1 &
        p1=$!
        taskset -c "$CLIENT_CPU" redis-benchmark "${common[@]}" -c $((CLIENTS - gc)) -n $((n - gn)) -t set \
            >"$out.set" 2>&1 &
        p2=$!
        wait "$p1" || rc=$?
        wait "$p2" || rc=$?
        t1=$(date +%s.%N)
        rps=$(awk -v n="$n" -v a="$t1" -v b="$t0" 'BEGIN { printf "%.0f", n / (a - b) }')
        cat "$out.get" "$out.set" >"$out"
    else
        taskset -c "$CLIENT_CPU" redis-benchmark "${common[@]}" -c "$CLIENTS" -n "$n" -t "$test" >"$out" 2>&1 || rc=$?
        t1=$(date +%s.%N)
        rps=$(csv_rps "$out" "$test")
    fi
    after=$(cpu_ticks "$pid")
    check_alive "$name"
    if [[ $rc -ne 0 || -z $rps ]]; then
        note "$(ds_label "$size") ${test^^} P$pipeline failed against $name, skipped later: $(grep -v -m1 '^"' "$out" | tr -s ' ')"
        BROKEN[ds|$name|$test|$pipeline|$n]=1
        return 0
    fi
    grep -qi 'error' "$out" && note "$name $test P$pipeline: $(grep -i -m1 'error' "$out")"
    cpu_s=$(awk -v a="$after" -v b="$before" -v hz="$CLK_TCK" 'BEGIN { printf "%.3f", (a - b) / hz }')
    local row
    row="$(ds_label "$size") ${test^^} P$pipeline $(human_n "$n")"
    record "$row req/s" "$name" "$(printf '%.0f' "$rps")"
    record "$row req/CPU-s" "$name" "$(awk -v n="$n" -v c="$cpu_s" 'BEGIN { printf "%.0f", (c > 0 ? n / c : 0) }')"
    log "$(printf '  %-10s %-4s P%-2s -n %-8s %10.0f req/s  %6.2f s wall  %6.2f s server CPU' \
        "$name" "$test" "$pipeline" "$n" "$rps" "$(awk -v a="$t1" -v b="$t0" 'BEGIN{print a-b}')" "$cpu_s")"
}

# ---------------------------------------------------------------------------------- build
if [[ ${SKIP_BUILD:-} != 1 ]]; then
    log "building slotcache-server (cargo build --release) ..."
    (cd "$REPO" && cargo build --release --bin slotcache-server) >&2
fi
[[ -x $SLOTCACHE_BIN ]] || die "$SLOTCACHE_BIN missing (build failed?)"
log "redis:     $("$REDIS_SERVER" --version)"
log "slotcache: $SLOTCACHE_BIN ($(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo '?'))"

# ---------------------------------------------------------------------------------- dataset rows
if [[ $DATASET != 0 && $CLUSTER_ONLY != 1 ]]; then
    first=1
    for size in $DATASET_SIZES; do
        runs=$DATASET_RUNS
        [[ $first == 1 ]] || runs=$DATASET_LARGE_RUNS
        first=0
        log "dataset: $(ds_label "$size"), fresh servers ..."
        for n in "${NAMES[@]}"; do start_server "$n"; prefill "$n" "$size"; done
        for round in $(seq "$ROUNDS"); do
            log "dataset $(ds_label "$size") round $round/$ROUNDS"
            for spec in $runs; do
                for test in set get mix; do
                    order=("${NAMES[@]}")
                    ((round % 2 == 0)) && order=(slotcache redis)
                    for name in "${order[@]}"; do run_ds "$name" "$size" "$test" "${spec%%:*}" "${spec##*:}"; done
                done
            done
        done
        for n in "${NAMES[@]}"; do stop_server "$n"; done
    done
fi

# ---------------------------------------------------------------------------------- throughput
if [[ $CLUSTER_ONLY != 1 && $DATASET_ONLY != 1 && $UNFILLED != 0 ]]; then
    for n in "${NAMES[@]}"; do
        start_server "$n"
        # ZRANGE reads a fixed 100-member sorted set.
        # shellcheck disable=SC2046 # the member list is meant to split
        redis-cli -p "${PORT[$n]}" ZADD bench:zset $(seq 1 100 | awk '{ print $1, "member:" $1 }') >/dev/null
        SHA_UNLOCK=$(redis-cli -p "${PORT[$n]}" SCRIPT LOAD "$UNLOCK_SCRIPT")
        SHA_TEN=$(redis-cli -p "${PORT[$n]}" SCRIPT LOAD "$TEN_CALLS_SCRIPT")
        for i in $(seq 1 1000); do echo "XADD bench:stream:read $i-1 name user$i score $i"; done |
            redis-cli -p "${PORT[$n]}" >/dev/null
    done
    log "redis pid ${PID[redis]} port ${PORT[redis]}; slotcache pid ${PID[slotcache]} port ${PORT[slotcache]}"

    [[ -n $REQUESTS ]] || REQUESTS=$(calibrate 1)
    [[ -n $REQUESTS_PIPELINED ]] || REQUESTS_PIPELINED=$(calibrate 16)
    log "requests per run: $REQUESTS (pipeline 1), $REQUESTS_PIPELINED (pipeline 16)"

    TESTS=("set 1" "get 1" "set 16" "get 16" "incr 1")
    TESTS+=("evalsha_unlock 1" "evalsha_10calls 1" "evalsha_unlock 16")
    TESTS+=("xadd 1" "xadd 16" "xrange 1")
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
fi

# ---------------------------------------------------------------------------------- memory
if [[ $CLUSTER_ONLY != 1 && $DATASET_ONLY != 1 ]]; then
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
fi # CLUSTER_ONLY != 1

# ---------------------------------------------------------------------------------- cluster
if [[ $CLUSTER != 0 && $DATASET_ONLY != 1 ]]; then
    log "cluster: three nodes per server, all on cpu $SERVER_CPU ..."
    for kind in "${NAMES[@]}"; do
        # A cluster that did not form is noted and stopped; its logs stay in $WORK.
        start_cluster "$kind" || stop_cluster "$kind"
    done
    if [[ -z ${CLUSTER_UP[redis]:-} ]]; then
        note "CLUSTER rows missing: the redis cluster did not form (see the notes above)"
    else
        [[ -n $CLUSTER_REQUESTS ]] || CLUSTER_REQUESTS=$(calibrate_cluster 1)
        [[ -n $CLUSTER_REQUESTS_PIPELINED ]] || CLUSTER_REQUESTS_PIPELINED=$(calibrate_cluster 16)
        if [[ -z $CLUSTER_REQUESTS || -z $CLUSTER_REQUESTS_PIPELINED ]]; then
            note "CLUSTER rows missing: the calibration run against the redis cluster failed"
        else
            log "cluster requests per run: $CLUSTER_REQUESTS (pipeline 1), $CLUSTER_REQUESTS_PIPELINED (pipeline 16)"
            # Calibration wrote into the redis cluster only: both start the rounds empty, then
            # (CLUSTER_PREFILL=1) both get the dataset of the DATASET rows (KEYSPACE keys).
            for port in ${CPORTS[redis]}; do redis-cli -p "$port" FLUSHALL >/dev/null; done
            if [[ $CLUSTER_PREFILL == 1 ]]; then
                for kind in "${NAMES[@]}"; do
                    [[ -n ${CLUSTER_UP[$kind]:-} ]] || continue
                    timeout $((CLUSTER_RUN_TIMEOUT * 3)) taskset -c "$CLIENT_CPU" redis-benchmark --cluster -h 127.0.0.1 \
                        -p "$(cluster_port "$kind")" -c "$CLIENTS" -n $((4 * KEYSPACE)) -r "$KEYSPACE" -d "$DATA_SIZE" \
                        -P 16 -t set --csv </dev/null >"$WORK/cluster-prefill-$kind.log" 2>&1 ||
                        note "CLUSTER: prefill of the $kind cluster failed: $(tail -n1 "$WORK/cluster-prefill-$kind.log")"
                    cluster_keys "$kind" "CLUSTER keys after prefill"
                done
            fi
            [[ -n ${CLUSTER_UP[slotcache]:-} ]] ||
                note "CLUSTER: no slotcache cluster, so the CLUSTER rows show redis only"
            for round in $(seq "$ROUNDS"); do
                log "cluster round $round/$ROUNDS"
                for spec in "set 1" "get 1" "mix 1" "set 16" "get 16" "mix 16"; do
                    read -r test pipeline <<<"$spec"
                    n=$CLUSTER_REQUESTS
                    [[ $pipeline -gt 1 ]] && n=$CLUSTER_REQUESTS_PIPELINED
                    order=("${NAMES[@]}")
                    ((round % 2 == 0)) && order=(slotcache redis)
                    for kind in "${order[@]}"; do run_cluster_bench "$kind" "$test" "$pipeline" "$n"; done
                done
            done
            for kind in "${NAMES[@]}"; do cluster_keys "$kind"; done
            if [[ -n ${CLUSTER_UP[redis]:-} && -n ${CLUSTER_UP[slotcache]:-} ]]; then cluster_sanity_check; fi
        fi
    fi
    for kind in "${NAMES[@]}"; do stop_cluster "$kind"; done
fi

# ---------------------------------------------------------------------------------- report
printf '\nslotcache vs redis %s: %s round(s), %s clients, -d %s, -r %s, servers on cpu %s, redis-benchmark on cpu %s\n' \
    "$("$REDIS_SERVER" --version | grep -o 'v=[0-9.]*' | cut -c3-)" "$ROUNDS" "$CLIENTS" "$DATA_SIZE" "$KEYSPACE" \
    "$SERVER_CPU" "$CLIENT_CPU"
[[ -z $REQUESTS ]] || printf 'single server: -n %s (P1) / %s (P16)\n' "$REQUESTS" "$REQUESTS_PIPELINED"
[[ -z $CLUSTER_REQUESTS ]] ||
    printf 'CLUSTER rows: 3 primaries per server, redis-benchmark --cluster, -n %s (P1) / %s (P16), req/CPU-s over all 3 nodes\n' \
        "$CLUSTER_REQUESTS" "$CLUSTER_REQUESTS_PIPELINED"
# cell VALUES: "median [min-max]" of a space-separated list ("-" when empty).
cell() {
    local m
    m=$(median <<<"$1")
    [[ -n $m ]] || { echo -; return; }
    tr ' ' '\n' <<<"$1" | awk -v m="$m" 'NF { v = $1 + 0; if (n++ == 0 || v < lo) lo = v; if (v > hi) hi = v }
        END { if (n > 1 && lo != hi) printf "%s [%s-%s]\n", m, lo, hi; else print m }'
}
# ratio_cell REDIS_VALUES SLOTCACHE_VALUES: ratio of the medians [min-max of the per-round ratios,
# when both servers have a value for every round].
ratio_cell() {
    local r s
    r=$(median <<<"$1")
    s=$(median <<<"$2")
    awk -v r="$r" -v s="$s" -v ra="$1" -v sa="$2" 'BEGIN {
        if (!(r > 0) || s == "") { print "-"; exit }
        out = sprintf("%.2f", s / r)
        n = split(ra, a, " "); k = split(sa, b, " ")
        if (n == k && n > 1) {
            for (i = 1; i <= n; i++) { if (!(a[i] > 0)) { print out; exit }
                q = b[i] / a[i]; if (i == 1 || q < lo) lo = q; if (i == 1 || q > hi) hi = q }
            out = out sprintf(" [%.2f-%.2f]", lo, hi)
        }
        print out }'
}
printf '%-40s %26s %26s %18s\n' "row: median [min-max]" redis slotcache "sc/redis"
printf '%-40s %26s %26s %18s\n' "----------------------------------------" "--------------------------" \
    "--------------------------" "------------------"
for row in "${ROWS[@]}"; do
    printf '%-40s %26s %26s %18s\n' "$row" "$(cell "${RESULT[$row|redis]:-}")" \
        "$(cell "${RESULT[$row|slotcache]:-}")" "$(ratio_cell "${RESULT[$row|redis]:-}" "${RESULT[$row|slotcache]:-}")"
done
if [[ ${#NOTES[@]} -gt 0 ]]; then
    printf '\nnotes:\n'
    printf '  - %s\n' "${NOTES[@]}"
fi
