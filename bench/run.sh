#!/usr/bin/env bash
# The full benchmark: Banter and the Node.js baseline (bench/node-baseline,
# Express 4 + Socket.IO 4) driven by the same load generator (bench/src).
#
#   bench/run.sh [--quick] [--only banter|node] [--scenarios a,b,c,d,e,f]
#                [--backends sqlite,postgres,cluster] [--no-docs] [--no-build]
#
#   a  connect 10,000 clients in 100 rooms: connect rate, idle memory
#   b  connect 19,000 clients in 100 rooms: that many in one process
#   c  throughput ladders, 10 rooms x 50 and 100 rooms x 10, everyone sends
#   d  one room of 1,000 members, 10 senders
#   e  10 x 50 at 50k deliveries/s, with one stalled client and without
#   f  connect 5,000 clients into one room (a presence storm)
#   s  soak (not in the default set: SOAK_MINUTES, 30, per server): 10 x 50
#      at SOAK_DELIVERIES deliveries/s (25,000, half of what Banter sustains)
#      with SOAK_CHURNERS (50) connections coming and going beside it
#
# --backends: what Banter runs on, each measured in turn as a server of its
# own (default: sqlite):
#   sqlite    one node on its embedded SQLite database (a fresh data dir)
#   postgres  one node on PostgreSQL (POSTGRES_URL), in a schema of its own
#             made before the server starts and dropped after it stops
#   cluster   two nodes sharing that PostgreSQL schema and one Redis
#             (REDIS_URL) under a key prefix of their own (bench-<random>:,
#             its keys removed after); member k of each room connects to
#             node k % 2, so every message reaches some of its room through
#             the other node
#
# Each server runs pinned to CPU 0 (SERVER_CPU), the load generator to CPU 1
# (BENCH_CPU), and every single measurement gets a freshly started server.
# With postgres or cluster, every postgres and redis-server process (they
# run as services of the machine) is pinned to SERVER_CPU too for the whole
# run, so that the server side is on one core as with SQLite, and set back
# to every CPU at the end (also on failure or ^C); their CPU in the measured
# window (the postmaster and its backends, redis-server) is reported as
# service_cpu_* beside the nodes' own.
# Results: target/bench-results/<date>/{results.jsonl,meta.json,report.md,logs/};
# the report also replaces the generated section of docs/benchmarks.md
# unless --no-docs.
#
# Environment: RUNS (repeats of each step; 3, or 1 with --quick),
# BANTER_BIN and BENCH_BIN (use these binaries instead of building),
# OUT_DIR (instead of target/bench-results/<date>), SERVER_CPU, BENCH_CPU,
# BENCH_ADDRS (source addresses for the connect scenarios),
# CONNECT_CONCURRENCY (connections in flight, 64), SOAK_MINUTES,
# SOAK_DELIVERIES, SOAK_CHURNERS (scenario s), LADDER (the target
# deliveries/s of the ladders of c, e.g. "10000,25000"), POSTGRES_URL
# (postgres://postgres@127.0.0.1:5432/test), REDIS_URL
# (redis://127.0.0.1:6379).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

QUICK=0
ONLY=""
SCENARIOS="a,b,c,d,e,f"
BACKENDS=sqlite
DOCS=1
BUILD=1
INVOCATION="bench/run.sh${*:+ $*}"
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) QUICK=1 ;;
    --only) ONLY=${2:?--only needs banter or node}; shift ;;
    --only=*) ONLY=${1#*=} ;;
    --scenarios) SCENARIOS=${2:?--scenarios needs a list like a,c}; shift ;;
    --scenarios=*) SCENARIOS=${1#*=} ;;
    --backends) BACKENDS=${2:?--backends needs a list like sqlite,postgres}; shift ;;
    --backends=*) BACKENDS=${1#*=} ;;
    --no-docs) DOCS=0 ;;
    --no-build) BUILD=0 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

case $ONLY in
  "") KINDS=(banter node) ;;
  banter | node) KINDS=("$ONLY") ;;
  *) echo "run.sh: --only takes banter or node, not $ONLY" >&2; exit 2 ;;
esac
# The servers measured, by their name in the results: banter (on SQLite),
# banter-pg, banter-cluster, node.
SERVERS=()
IFS=, read -r -a BACKEND_LIST <<<"$BACKENDS"
for kind in "${KINDS[@]}"; do
  [[ $kind == node ]] && { SERVERS+=(node); continue; }
  for b in "${BACKEND_LIST[@]}"; do
    case $b in
      sqlite) SERVERS+=(banter) ;;
      postgres) SERVERS+=(banter-pg) ;;
      cluster) SERVERS+=(banter-cluster) ;;
      *) echo "run.sh: unknown backend $b (sqlite, postgres, cluster)" >&2; exit 2 ;;
    esac
  done
done
IFS=, read -r -a SELECTED <<<"$SCENARIOS"
for s in "${SELECTED[@]}"; do
  [[ $s =~ ^[a-fs]$ ]] || { echo "run.sh: unknown scenario $s (a-f, s)" >&2; exit 2; }
done
selected() { [[ ,$SCENARIOS, == *,$1,* ]]; }
# wants banter: any Banter server (on any backend); wants banter-pg: that one.
wants() { [[ " ${SERVERS[*]} " == *" $1 "* || " ${SERVERS[*]} " == *" $1-"* ]]; }

if ((QUICK)); then
  RUNS=${RUNS:-1}
  DURATION=3 WARMUP=1 DRAIN=2 HOLD=2
  CLIENTS_A=2000 CLIENTS_B=4000 CLIENTS_F=1000
else
  RUNS=${RUNS:-3}
  DURATION=10 WARMUP=2 DRAIN=5 HOLD=5
  CLIENTS_A=10000 CLIENTS_B=19000 CLIENTS_F=5000
fi
SOAK_MINUTES=${SOAK_MINUTES:-30}
SOAK_SECS=$(awk -v m="$SOAK_MINUTES" 'BEGIN { printf "%d", m * 60 }')
SOAK_DELIVERIES=${SOAK_DELIVERIES:-25000}
SOAK_CHURNERS=${SOAK_CHURNERS:-50}
SERVER_CPU=${SERVER_CPU:-0}
BENCH_CPU=${BENCH_CPU:-1}
BENCH_ADDRS=${BENCH_ADDRS:-127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4}
CONNECT_CONCURRENCY=${CONNECT_CONCURRENCY:-64}
POSTGRES_URL=${POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
# Target deliveries/s of the ladders; a server's ladder ends after the first
# step that misses (p99 > 100 ms, loss, errors, or the load generator was
# the bottleneck).
# LADDER (environment, comma- or space-separated) replaces the steps.
if [[ -n ${LADDER:-} ]]; then
  IFS=', ' read -r -a LADDER <<<"$LADDER"
else
  LADDER=(10000 25000 50000 100000 150000 200000 300000 400000 500000 700000 1000000)
fi
# Rate limits out of the way: the benchmark measures the server, not them.
BANTER_LIMITS=(
  --send-rate 100000000:100000000 --join-rate 100000000:100000000
  --typing-rate 100000000:100000000 --auth-rate 100000000:100000000
  --login-rate 100000000:100000000 --handshake-rate 100000000:100000000
  --room-create-rate 100000000:100000000 --room-create-ip-rate 100000000:100000000
  --read-rate 100000000:100000000
  --max-connections-per-ip 1000000 --max-tcp-connections 1000000
  --max-tcp-connections-per-ip 1000000 --shutdown-grace-secs 2
)

OUT=${OUT_DIR:-$ROOT/target/bench-results/$(date -u +%Y-%m-%dT%H-%M-%SZ)}
RESULTS=$OUT/results.jsonl
mkdir -p "$OUT/logs"
: >"$RESULTS"
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# --- Build ------------------------------------------------------------------

TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
if wants banter && [[ -z ${BANTER_BIN:-} ]]; then
  ((BUILD)) && { log "building banter"; cargo build --release --bin banter -p banter; }
  BANTER_BIN=$TARGET_DIR/release/banter
fi
if [[ -z ${BENCH_BIN:-} ]]; then
  ((BUILD)) && { log "building banter-bench"; cargo build --release -p banter-bench; }
  BENCH_BIN=$TARGET_DIR/release/banter-bench
fi
if wants node && ((BUILD)); then
  log "npm ci in bench/node-baseline"
  (cd bench/node-baseline && npm ci --no-audit --no-fund --loglevel=error)
fi
for bin in "$BENCH_BIN" ${BANTER_BIN:+"$BANTER_BIN"}; do
  [[ -x $bin ]] || { echo "run.sh: $bin is missing; build it or drop --no-build" >&2; exit 1; }
done
command -v taskset >/dev/null || { echo "run.sh: taskset (util-linux) is needed" >&2; exit 1; }
(($(nproc) >= 2)) || log "warning: fewer than 2 CPUs; server and load share a core"

# Sockets are files: as many as we may.
hard=$(ulimit -Hn)
[[ $hard == unlimited ]] && hard=1048576
ulimit -n "$hard" 2>/dev/null || log "warning: cannot raise ulimit -n to $hard (at $(ulimit -n))"
log "ulimit -n $(ulimit -n); results in $OUT"
read -r load1 _ </proc/loadavg
if awk -v l="$load1" 'BEGIN { exit !(l > 0.5) }'; then
  log "warning: load average $load1: other work on this machine will skew the figures"
fi

# --- Services (PostgreSQL, Redis) ---------------------------------------------

POSTMASTER_PID="" REDIS_PID=""
if wants banter-pg || wants banter-cluster; then
  command -v psql >/dev/null || { echo "run.sh: psql is needed for --backends postgres/cluster" >&2; exit 1; }
  psql "$POSTGRES_URL" -qAtc 'select 1' >/dev/null ||
    { echo "run.sh: PostgreSQL at $POSTGRES_URL does not answer" >&2; exit 1; }
  pg_data=$(psql "$POSTGRES_URL" -qAtc 'show data_directory')
  POSTMASTER_PID=$(head -n 1 "$pg_data/postmaster.pid" 2>/dev/null || pgrep -o -x postgres || true)
  [[ $POSTMASTER_PID =~ ^[0-9]+$ ]] || { echo "run.sh: cannot find PostgreSQL's postmaster pid" >&2; exit 1; }
fi
if wants banter-cluster; then
  command -v redis-cli >/dev/null || { echo "run.sh: redis-cli is needed for --backends cluster" >&2; exit 1; }
  [[ $(redis-cli -u "$REDIS_URL" ping 2>/dev/null) == PONG ]] ||
    { echo "run.sh: Redis at $REDIS_URL does not answer" >&2; exit 1; }
  REDIS_PID=$(redis-cli -u "$REDIS_URL" info server | tr -d '\r' | sed -n 's/^process_id://p')
  [[ $REDIS_PID =~ ^[0-9]+$ ]] || { echo "run.sh: cannot find redis-server's pid" >&2; exit 1; }
fi

# The processes of the services in use, now (PostgreSQL forks a backend per
# connection: they inherit the postmaster's affinity, and any started by
# others meanwhile are caught when the affinity is set back).
service_processes() {
  [[ -n $POSTMASTER_PID ]] && pgrep -x postgres
  [[ -n $REDIS_PID ]] && pgrep -x redis-server
  return 0
}
# set_service_affinity CPULIST: every thread of every service process.
set_service_affinity() {
  local pid
  for pid in $(service_processes); do
    taskset -a -p -c "$1" "$pid" >/dev/null 2>&1 || true # it may have exited
  done
}
ALL_CPUS=0-$(($(nproc) - 1))
PINNED=0

python3 bench/render.py meta --out "$OUT/meta.json" --invocation "$INVOCATION" \
  --runs "$RUNS" --quick "$QUICK" --server-cpu "$SERVER_CPU" --bench-cpu "$BENCH_CPU" \
  ${BANTER_BIN:+--banter-bin "$BANTER_BIN"} --bench-bin "$BENCH_BIN" \
  ${POSTMASTER_PID:+--postgres-url "$POSTGRES_URL"} ${REDIS_PID:+--redis-url "$REDIS_URL"}

# --- Servers ----------------------------------------------------------------

SERVER_PIDS=()    # one per node
SERVER_URLS=()    # one per node
SERVICE_PIDS=()   # the services this server uses (for --service-pid)
SERVER_DATA=""
SERVER_SCHEMA=""  # PostgreSQL schema of this server (banter-pg, banter-cluster)
SERVER_PREFIX=""  # Redis key prefix of this server (banter-cluster)
SERVER_CMD=""
SEQ=0

random_hex() { od -An -N4 -tx1 /dev/urandom | tr -d ' \n'; }

# The database URL of schema $1: every connection's search_path, and its
# application_name, so that its backends can be told apart in pg_stat_activity.
schema_url() {
  local sep='?'
  [[ $POSTGRES_URL == *\?* ]] && sep='&'
  printf '%s%soptions=-c%%20search_path%%3D%s&application_name=%s' "$POSTGRES_URL" "$sep" "$1" "$1"
}

# start_node LOG ARGS...: one process pinned to SERVER_CPU; waits for its
# "listening" line and appends its pid and URL to SERVER_PIDS and SERVER_URLS.
start_node() {
  local out=$1.out err=$1.err pid i line
  shift
  taskset -c "$SERVER_CPU" "$@" >"$out" 2>"$err" &
  pid=$! # taskset execs the server: this is the server's own pid
  SERVER_PIDS+=("$pid")
  for ((i = 0; i < 600; i++)); do
    line=$(grep -m1 -o 'Banter listening on http://[^[:space:]]*' "$out" || true)
    if [[ -n $line ]]; then
      SERVER_URLS+=("${line#Banter listening on }")
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "run.sh: $* did not start; its log:" >&2
  tail -n 20 "$err" >&2 || true
  return 1
}

# start_server SERVER LOGPREFIX: sets SERVER_PIDS, SERVER_URLS, SERVICE_PIDS
# and SERVER_CMD.
start_server() {
  local server=$1 prefix=$2 nodes=1 n shown_db="" db=()
  SERVER_PIDS=() SERVER_URLS=() SERVICE_PIDS=() SERVER_SCHEMA="" SERVER_PREFIX=""
  SERVER_DATA=$(mktemp -d "${TMPDIR:-/tmp}/banter-bench.XXXXXX")
  case $server in
    banter-pg | banter-cluster)
      SERVER_SCHEMA=bench_$(random_hex)
      psql "$POSTGRES_URL" -qc "CREATE SCHEMA $SERVER_SCHEMA" >/dev/null || { stop_server; return 1; }
      db=(--database-url "$(schema_url "$SERVER_SCHEMA")")
      shown_db=" --database-url '$(schema_url '$SCHEMA')'"
      SERVICE_PIDS=("$POSTMASTER_PID")
      ;;&
    banter-cluster)
      nodes=2
      SERVER_PREFIX=bench-$(random_hex):
      db+=(--redis-url "$REDIS_URL" --redis-prefix "$SERVER_PREFIX")
      shown_db+=" --redis-url $REDIS_URL --redis-prefix bench-\$RANDOM:"
      SERVICE_PIDS+=("$REDIS_PID")
      ;;
  esac
  case $server in
    banter*)
      SERVER_CMD="taskset -c $SERVER_CPU ${BANTER_BIN#"$ROOT"/} --bind 127.0.0.1:0 --data-dir \$(mktemp -d)$shown_db ${BANTER_LIMITS[*]}"
      if ((nodes > 1)); then
        SERVER_CMD="# $nodes nodes, one after the other (the first migrates), each:"$'\n'"$SERVER_CMD"
      fi
      # The first node migrates the database; the others find it ready.
      for ((n = 1; n <= nodes; n++)); do
        mkdir -p "$SERVER_DATA/node$n"
        local log=$prefix.server
        if ((n > 1)); then log+=$n; fi
        start_node "$log" "$BANTER_BIN" --bind 127.0.0.1:0 \
          --data-dir "$SERVER_DATA/node$n" "${db[@]}" "${BANTER_LIMITS[@]}" || { stop_server; return 1; }
      done
      ;;
    node)
      SERVER_CMD="PORT=0 taskset -c $SERVER_CPU node bench/node-baseline/server.js"
      PORT=0 HOST=127.0.0.1 start_node "$prefix.server" node bench/node-baseline/server.js ||
        { stop_server; return 1; }
      ;;
  esac
}

stop_server() {
  local pid i
  for pid in "${SERVER_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${SERVER_PIDS[@]}"; do
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  SERVER_PIDS=()
  [[ -n $SERVER_DATA ]] && rm -rf "$SERVER_DATA"
  if [[ -n $SERVER_SCHEMA ]]; then
    psql "$POSTGRES_URL" -qc "DROP SCHEMA IF EXISTS $SERVER_SCHEMA CASCADE" >/dev/null 2>&1 ||
      log "warning: could not drop schema $SERVER_SCHEMA"
  fi
  if [[ -n $SERVER_PREFIX ]]; then
    redis-cli -u "$REDIS_URL" --scan --pattern "$SERVER_PREFIX*" | xargs -r -n 500 redis-cli -u "$REDIS_URL" del >/dev/null ||
      log "warning: could not remove the Redis keys under $SERVER_PREFIX"
  fi
  SERVER_DATA="" SERVER_SCHEMA="" SERVER_PREFIX=""
}

cleanup() {
  stop_server
  if ((PINNED)); then
    set_service_affinity "$ALL_CPUS"
    log "postgres and redis-server set back to CPUs $ALL_CPUS"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -n $POSTMASTER_PID$REDIS_PID ]]; then
  PINNED=1
  set_service_affinity "$SERVER_CPU"
  log "postgres and redis-server pinned to CPU $SERVER_CPU for the run"
fi

# --- One measurement ----------------------------------------------------------

VERDICT=""

# measure SERVER GROUP CASE STEP RUN TARGET -- BENCH ARGS...: starts a fresh
# server, runs the load generator once, appends its RESULT lines to
# results.jsonl and sets VERDICT ("ok" or why the step missed).
measure() {
  local server=$1 group=$2 case=$3 step=$4 run=$5 target=$6
  shift 7
  SEQ=$((SEQ + 1))
  local prefix
  prefix=$OUT/logs/$(printf '%03d' "$SEQ")-$server-$group-$case-$step-run$run
  if ! start_server "$server" "$prefix"; then
    VERDICT="error: server did not start"
    log "  -> $VERDICT"
    python3 bench/render.py record --results "$RESULTS" --server "$server" --group "$group" \
      --case "$case" --step "$step" --run "$run" --target "$target" --exit-code -1 \
      --server-command "$SERVER_CMD" --command "" --stdout /dev/null >/dev/null
    return 0
  fi
  local limit=900
  [[ $1 == rate ]] && limit=$((DURATION + WARMUP + DRAIN + 120))
  [[ $1 == soak ]] && limit=$((SOAK_SECS + WARMUP + DRAIN + 300))
  local targets=() shown_targets="" i
  for ((i = 0; i < ${#SERVER_URLS[@]}; i++)); do
    targets+=(--url "${SERVER_URLS[i]}" --server-pid "${SERVER_PIDS[i]}")
  done
  for i in "${SERVICE_PIDS[@]}"; do targets+=(--service-pid "$i"); done
  if ((${#SERVER_URLS[@]} == 1)); then
    shown_targets="--url \$URL --server-pid \$PID"
  else
    for ((i = 1; i <= ${#SERVER_URLS[@]}; i++)); do shown_targets+="--url \$URL$i --server-pid \$PID$i "; done
    shown_targets=${shown_targets% }
  fi
  [[ -n $POSTMASTER_PID && " ${SERVICE_PIDS[*]} " == *" $POSTMASTER_PID "* ]] && shown_targets+=" --service-pid \$POSTMASTER"
  [[ -n $REDIS_PID && " ${SERVICE_PIDS[*]} " == *" $REDIS_PID "* ]] && shown_targets+=" --service-pid \$REDIS"
  local cmd=(taskset -c "$BENCH_CPU" "$BENCH_BIN" "$@" "${targets[@]}" --json)
  local shown="taskset -c $BENCH_CPU ${BENCH_BIN#"$ROOT"/} $* $shown_targets --json"
  log "$server $group/$case step $step run $run/$RUNS: $*"
  local rc=0
  timeout --foreground -k 10 "$limit" "${cmd[@]}" >"$prefix.bench.out" 2>"$prefix.bench.err" || rc=$?
  stop_server
  VERDICT=$(python3 bench/render.py record --results "$RESULTS" --server "$server" \
    --group "$group" --case "$case" --step "$step" --run "$run" --target "$target" \
    --exit-code "$rc" --server-command "$SERVER_CMD" --command "$shown" \
    --stdout "$prefix.bench.out")
  log "  -> $VERDICT"
}

# connect_scenario GROUP CASE CLIENTS ROOMS
connect_scenario() {
  local group=$1 case=$2 clients=$3 rooms=$4 server run
  for server in "${SERVERS[@]}"; do
    for ((run = 1; run <= RUNS; run++)); do
      measure "$server" "$group" "$case" "$clients" "$run" 0 -- connect \
        --clients "$clients" --rooms "$rooms" --concurrency "$CONNECT_CONCURRENCY" \
        --hold "$HOLD" --addrs "$BENCH_ADDRS"
    done
  done
}

# ladder GROUP CASE CLIENTS ROOMS SENDERS TARGET... : one server after the
# other, steps of target deliveries/s (senders x rate x room size) until the
# first step that misses in any run.
ladder() {
  local group=$1 case=$2 clients=$3 rooms=$4 senders=$5
  shift 5
  local size=$((clients / rooms)) server target rate run missed
  for server in "${SERVERS[@]}"; do
    for target in "$@"; do
      rate=$(awk -v t="$target" -v s="$senders" -v n="$size" 'BEGIN { printf "%.6g", t / (s * n) }')
      missed=0
      for ((run = 1; run <= RUNS; run++)); do
        measure "$server" "$group" "$case" "$target" "$run" "$target" -- rate \
          --clients "$clients" --rooms "$rooms" --senders "$senders" --rate "$rate" \
          --duration "$DURATION" --warmup "$WARMUP" --stall 0 --drain "$DRAIN"
        [[ $VERDICT == ok ]] || missed=1
      done
      if ((missed)); then
        log "$server $group/$case: ladder ends at $target deliveries/s"
        break
      fi
    done
  done
}

# --- Scenarios ----------------------------------------------------------------

selected a && connect_scenario a 100rooms "$CLIENTS_A" 100
selected b && connect_scenario b 100rooms "$CLIENTS_B" 100
selected f && connect_scenario f 1room "$CLIENTS_F" 1
if selected c; then
  ladder c 10x50 500 10 500 "${LADDER[@]}"
  ladder c 100x10 1000 100 1000 "${LADDER[@]}"
fi
# 1000 members, 10 senders: 5, 10, 20 msgs/s each = 50k, 100k, 200k deliveries/s.
selected d && ladder d 1x1000 1000 1 10 50000 100000 200000
if selected e; then
  for server in "${SERVERS[@]}"; do
    for ((run = 1; run <= RUNS; run++)); do
      for stall in 0 1; do
        measure "$server" e "stall$stall" 50000 "$run" 50000 -- rate \
          --clients 500 --rooms 10 --senders 500 --rate 2 \
          --duration "$DURATION" --warmup "$WARMUP" --stall "$stall" --drain "$DRAIN"
      done
    done
  done
fi

if selected s; then
  # 500 senders, 50 members a room: deliveries/s = 500 x rate x 50.
  soak_rate=$(awk -v t="$SOAK_DELIVERIES" 'BEGIN { printf "%.6g", t / (500 * 50) }')
  for server in "${SERVERS[@]}"; do
    measure "$server" s 10x50 "$SOAK_DELIVERIES" 1 "$SOAK_DELIVERIES" -- soak \
      --clients 500 --rooms 10 --senders 500 --rate "$soak_rate" \
      --duration "$SOAK_SECS" --warmup "$WARMUP" --drain "$DRAIN" \
      --churners "$SOAK_CHURNERS" --stay-min 2 --stay-max 20 --sample-every 10
  done
fi

# --- Report -------------------------------------------------------------------

render=(python3 bench/render.py render --results "$RESULTS" --meta "$OUT/meta.json" --out "$OUT/report.md")
((DOCS)) && render+=(--docs docs/benchmarks.md)
"${render[@]}"
log "report: $OUT/report.md"
