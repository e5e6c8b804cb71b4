#!/usr/bin/env bash
# The full benchmark: Banter and the Node.js baseline (bench/node-baseline,
# Express 4 + Socket.IO 4) driven by the same load generator (bench/src).
#
#   bench/run.sh [--quick] [--only banter|node] [--scenarios a,b,c,d,e,f]
#                [--no-docs] [--no-build]
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
# Each server runs pinned to CPU 0 (SERVER_CPU), the load generator to CPU 1
# (BENCH_CPU), and every single measurement gets a freshly started server.
# Results: target/bench-results/<date>/{results.jsonl,meta.json,report.md,logs/};
# the report also replaces the generated section of docs/benchmarks.md
# unless --no-docs.
#
# Environment: RUNS (repeats of each step; 3, or 1 with --quick),
# BANTER_BIN and BENCH_BIN (use these binaries instead of building),
# OUT_DIR (instead of target/bench-results/<date>), SERVER_CPU, BENCH_CPU,
# BENCH_ADDRS (source addresses for the connect scenarios),
# CONNECT_CONCURRENCY (connections in flight, 64), SOAK_MINUTES,
# SOAK_DELIVERIES, SOAK_CHURNERS (scenario s).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

QUICK=0
ONLY=""
SCENARIOS="a,b,c,d,e,f"
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
    --no-docs) DOCS=0 ;;
    --no-build) BUILD=0 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

case $ONLY in
  "") SERVERS=(banter node) ;;
  banter | node) SERVERS=("$ONLY") ;;
  *) echo "run.sh: --only takes banter or node, not $ONLY" >&2; exit 2 ;;
esac
IFS=, read -r -a SELECTED <<<"$SCENARIOS"
for s in "${SELECTED[@]}"; do
  [[ $s =~ ^[a-fs]$ ]] || { echo "run.sh: unknown scenario $s (a-f, s)" >&2; exit 2; }
done
selected() { [[ ,$SCENARIOS, == *,$1,* ]]; }
wants() { [[ " ${SERVERS[*]} " == *" $1 "* ]]; }

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
# Target deliveries/s of the ladders; a server's ladder ends after the first
# step that misses (p99 > 100 ms, loss, errors, or the load generator was
# the bottleneck).
LADDER=(10000 25000 50000 100000 150000 200000 300000 400000 500000 700000 1000000)
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

python3 bench/render.py meta --out "$OUT/meta.json" --invocation "$INVOCATION" \
  --runs "$RUNS" --quick "$QUICK" --server-cpu "$SERVER_CPU" --bench-cpu "$BENCH_CPU" \
  ${BANTER_BIN:+--banter-bin "$BANTER_BIN"} --bench-bin "$BENCH_BIN"

# --- Servers ----------------------------------------------------------------

SERVER_PID=""
SERVER_URL=""
SERVER_DATA=""
SERVER_CMD=""
SEQ=0

# start_server banter|node LOGPREFIX: sets SERVER_PID, SERVER_URL, SERVER_CMD.
start_server() {
  local out=$2.server.out err=$2.server.err
  case $1 in
    banter)
      SERVER_DATA=$(mktemp -d "${TMPDIR:-/tmp}/banter-bench.XXXXXX")
      SERVER_CMD="taskset -c $SERVER_CPU ${BANTER_BIN#"$ROOT"/} --bind 127.0.0.1:0 --data-dir \$(mktemp -d) ${BANTER_LIMITS[*]}"
      taskset -c "$SERVER_CPU" "$BANTER_BIN" --bind 127.0.0.1:0 --data-dir "$SERVER_DATA" \
        "${BANTER_LIMITS[@]}" >"$out" 2>"$err" &
      ;;
    node)
      SERVER_DATA=""
      SERVER_CMD="PORT=0 taskset -c $SERVER_CPU node bench/node-baseline/server.js"
      PORT=0 HOST=127.0.0.1 taskset -c "$SERVER_CPU" node bench/node-baseline/server.js \
        >"$out" 2>"$err" &
      ;;
  esac
  SERVER_PID=$! # taskset execs the server: this is the server's own pid
  SERVER_URL=""
  local i line
  for ((i = 0; i < 600; i++)); do
    line=$(grep -m1 -o 'Banter listening on http://[^[:space:]]*' "$out" || true)
    if [[ -n $line ]]; then
      SERVER_URL=${line#Banter listening on }
      return 0
    fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "run.sh: $1 did not start; its log:" >&2
  tail -n 20 "$err" >&2 || true
  stop_server
  return 1
}

stop_server() {
  [[ -n $SERVER_PID ]] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  local i
  for ((i = 0; i < 100; i++)); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  [[ -n $SERVER_DATA ]] && rm -rf "$SERVER_DATA"
  SERVER_PID="" SERVER_DATA=""
}
trap stop_server EXIT
trap 'exit 130' INT TERM

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
  local cmd=(taskset -c "$BENCH_CPU" "$BENCH_BIN" "$@" --url "$SERVER_URL" --server-pid "$SERVER_PID" --json)
  local shown="taskset -c $BENCH_CPU ${BENCH_BIN#"$ROOT"/} $* --url \$URL --server-pid \$PID --json"
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
