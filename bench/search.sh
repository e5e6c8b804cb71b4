#!/usr/bin/env bash
# Search latency over a room history of a million messages, on SQLite and on
# PostgreSQL (docs/benchmarks.md, "Search"). For each backend: a fresh
# database migrated by Banter itself, a guest to search as, MESSAGES
# messages bulk-inserted straight into the database (through the search
# index's triggers or generated column, as a send would be), Banter started
# on it, and `search-bench` measuring each query. Then, briefly, what the
# index costs an insert: INDEX_COST_MESSAGES messages inserted with and
# without it.
#
#   bench/search.sh                      # both backends, 1,000,000 messages
#   MESSAGES=100000 bench/search.sh sqlite
#
# Needs release builds of `banter` and `search-bench` (the script builds
# them; PROFILE=debug for a trial), sqlite3 and psql, and PostgreSQL at
# PG_URL (trust auth; databases `banter_search_bench` and
# `banter_search_bench_bare` are made and dropped).
set -euo pipefail

cd "$(dirname "$0")/.."
MESSAGES=${MESSAGES:-1000000}
INDEX_COST_MESSAGES=${INDEX_COST_MESSAGES:-200000}
REQUESTS=${REQUESTS:-200}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
PG_DB=banter_search_bench
TARGET=${CARGO_TARGET_DIR:-target}
BACKENDS=("${@:-sqlite postgres}")
read -r -a BACKENDS <<<"${BACKENDS[*]}"

PROFILE=${PROFILE:-release} # PROFILE=debug for a quick trial of the script
build=(cargo build --bin banter -p banter --bin search-bench -p banter-bench)
[ "$PROFILE" = release ] && build+=(--release)
"${build[@]}"
BANTER="$TARGET/$PROFILE/banter"
BENCH="$TARGET/$PROFILE/search-bench"

# Common words (hello: half the messages; c0..c19: 5 % each) and a long
# tail (t<a*b>, a and b uniform in 0..99: t0 in about 15 % of messages,
# t9801 in about 800 of a million).
QUERIES=(hello c7 '"hello c7"' t12 t9801 'c7 t9801' 'hello t9801' 't98*' 'he*' zzzz)

words_sqlite() {
  local w="(CASE WHEN abs(random()) % 2 = 0 THEN 'hello ' ELSE '' END) || 'c' || (abs(random()) % 20)"
  for _ in 1 2 3 4 5 6 7 8; do w="$w || ' t' || ((abs(random()) % 100) * (abs(random()) % 100))"; done
  echo "$w"
}

words_pg() {
  local w="(CASE WHEN random() < 0.5 THEN 'hello ' ELSE '' END) || 'c' || floor(random() * 20)::int"
  for _ in 1 2 3 4 5 6 7 8; do w="$w || ' t' || (floor(random() * 100)::int * floor(random() * 100)::int)"; done
  echo "$w"
}

server_pid=
start_server() { # start_server ARGS…; sets $addr
  local out
  out=$(mktemp)
  "$BANTER" --bind 127.0.0.1:0 --search-rate 1000000:1000000 --guest-grace-secs 86400 "$@" >"$out" 2>/dev/null &
  server_pid=$!
  for _ in $(seq 1 300); do
    addr=$(sed -n 's#^Banter listening on http://##p' "$out")
    [ -n "$addr" ] && break
    sleep 0.1
  done
  rm -f "$out"
  [ -n "$addr" ] || { echo "banter did not start" >&2; exit 1; }
}
stop_server() {
  [ -n "$server_pid" ] && kill "$server_pid" && wait "$server_pid" 2>/dev/null || true
  server_pid=
}
trap stop_server EXIT

guest_token() {
  curl -sf -X POST -H 'content-type: application/json' -d '{"name":"searcher"}' "http://$addr/api/auth/guest" |
    sed -n 's/.*"token":"\([^"]*\)".*/\1/p'
}

measure() { # measure LABEL TOKEN
  echo
  echo "### $1: $MESSAGES messages in one room, limit 20, $REQUESTS requests per query"
  echo
  local args=()
  for q in "${QUERIES[@]}"; do args+=(--query "$q"); done
  "$BENCH" --addr "$addr" --token "$2" --requests "$REQUESTS" "${args[@]}"
}

seconds() { date +%s.%N; }
elapsed() { echo "$(seconds) - $1" | bc; }

bench_sqlite() {
  local dir db token t0
  dir=$(mktemp -d)
  db="$dir/banter.db"
  start_server --data-dir "$dir"
  token=$(guest_token)
  stop_server
  # What the index costs an insert: the same rows into a copy without its triggers.
  cp "$db" "$dir/bare.db"
  sqlite3 "$dir/bare.db" "DROP TRIGGER messages_fts_insert; DROP TRIGGER messages_fts_delete; DROP TRIGGER messages_fts_update;"
  cp "$db" "$dir/indexed.db"
  for copy in bare indexed; do
    t0=$(seconds)
    sqlite3 "$dir/$copy.db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $INDEX_COST_MESSAGES)
      INSERT INTO messages (room_id, author_id, text, created_at) SELECT 1, 1, $(words_sqlite), i FROM n;"
    echo "sqlite insert of $INDEX_COST_MESSAGES messages, $copy: $(elapsed "$t0") s"
  done
  rm -f "$dir"/bare.db* "$dir"/indexed.db*
  t0=$(seconds)
  sqlite3 "$db" "PRAGMA journal_mode = WAL; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $MESSAGES)
    INSERT INTO messages (room_id, author_id, text, created_at)
    SELECT 1, (SELECT min(id) FROM users), $(words_sqlite), i FROM n;" >/dev/null
  echo "sqlite fill: $(elapsed "$t0") s, $(du -sh "$dir" | cut -f1) on disk"
  start_server --data-dir "$dir"
  measure "SQLite (FTS5)" "$token"
  stop_server
  rm -rf "$dir"
}

bench_postgres() {
  local dir token t0 url="$PG_URL/$PG_DB"
  psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $PG_DB" -c "CREATE DATABASE $PG_DB"
  psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS ${PG_DB}_bare" -c "CREATE DATABASE ${PG_DB}_bare"
  dir=$(mktemp -d)
  start_server --data-dir "$dir" --database-url "$PG_URL/${PG_DB}_bare"
  stop_server
  start_server --data-dir "$dir" --database-url "$url"
  token=$(guest_token)
  stop_server
  psql "$PG_URL/${PG_DB}_bare" -qc "DROP INDEX messages_search" -c "ALTER TABLE messages DROP COLUMN search" \
    -c "INSERT INTO users (name, name_key, created_at) VALUES ('a', 'a', 0)"
  for copy in bare indexed; do
    local target=$url
    [ "$copy" = bare ] && target="$PG_URL/${PG_DB}_bare"
    t0=$(seconds)
    psql "$target" -qc "INSERT INTO messages (room_id, author_id, text, created_at)
      SELECT 1, (SELECT min(id) FROM users), $(words_pg), i FROM generate_series(1, $INDEX_COST_MESSAGES) i"
    echo "postgres insert of $INDEX_COST_MESSAGES messages, $copy: $(elapsed "$t0") s"
  done
  psql "$url" -qc "DELETE FROM messages"
  psql "$PG_URL/postgres" -qc "DROP DATABASE ${PG_DB}_bare"
  t0=$(seconds)
  psql "$url" -qc "INSERT INTO messages (room_id, author_id, text, created_at)
      SELECT 1, (SELECT min(id) FROM users), $(words_pg), i FROM generate_series(1, $MESSAGES) i" \
    -c "UPDATE rooms SET last_message_id = (SELECT max(id) FROM messages) WHERE id = 1" \
    -c "VACUUM ANALYZE messages"
  echo "postgres fill: $(elapsed "$t0") s, $(psql "$url" -Atc "SELECT pg_size_pretty(pg_total_relation_size('messages'))") (messages and its indexes)"
  start_server --data-dir "$dir" --database-url "$url"
  measure "PostgreSQL (tsvector, GIN)" "$token"
  stop_server
  psql "$PG_URL/postgres" -qc "DROP DATABASE $PG_DB"
  rm -rf "$dir"
}

echo "search benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for backend in "${BACKENDS[@]}"; do
  "bench_$backend"
done
