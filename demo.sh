#!/bin/bash
# One command: install what is needed, build, and sync two throwaway local
# clusters with pgdts while pgbench keeps writing to the source; then show
# that the destination equals the source. Everything it starts, it stops.
set -euo pipefail
cd "$(dirname "$0")"
# PGDTS_BIN=/usr/bin/pgdts runs the demo on what is installed (the Debian
# packages): nothing is built or installed from this tree then.
if [ -z "${PGDTS_BIN:-}" ]; then
  ./deps.sh
  make
  make install
fi

PGBIN=$(pg_config --bindir)
PGDTS=${PGDTS_BIN:-$PWD/build/applier/pgdts}
echo "== $("$PGDTS" --version | tr '\n' ' ')($PGDTS), extension files of $(pg_config --pkglibdir)"
WORK=$(mktemp -d /tmp/pgdts-demo.XXXXXX)
chown postgres "$WORK"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

SRC_PORT=$(free_port); DST_PORT=$(free_port)
SRC="host=127.0.0.1 port=$SRC_PORT dbname=demo user=postgres"
DST="host=127.0.0.1 port=$DST_PORT dbname=demo user=postgres"
SYNC_PID=""; BENCH_PID=""

cleanup() {
  [ -n "$BENCH_PID" ] && kill "$BENCH_PID" 2>/dev/null || true
  [ -n "$SYNC_PID" ] && kill -TERM "$SYNC_PID" 2>/dev/null && wait "$SYNC_PID" 2>/dev/null || true
  for d in src dst; do
    [ -d "$WORK/$d" ] && as_pg "$PGBIN/pg_ctl" -D "$WORK/$d" -m fast stop >/dev/null 2>&1 || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

start_cluster() {  # name port extra-conf
  as_pg "$PGBIN/initdb" -D "$WORK/$1" -A trust -U postgres --no-sync >/dev/null
  cat >> "$WORK/$1/postgresql.conf" <<CONF
port = $2
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK'
$3
CONF
  as_pg "$PGBIN/pg_ctl" -D "$WORK/$1" -l "$WORK/$1.log" -w start >/dev/null
  "$PGBIN/createdb" -h 127.0.0.1 -p "$2" -U postgres demo
}

echo "== two throwaway clusters: source :$SRC_PORT, destination :$DST_PORT"
start_cluster src "$SRC_PORT" "wal_level = logical
output_plugin_libraries = 'pgoutput, test_decoding, pgdts'
session_preload_libraries = 'pgdts'"
start_cluster dst "$DST_PORT" ""
psql -q "$SRC" -c "CREATE EXTENSION pgdts"

# The source holds pgbench's tables; the destination starts empty. pgbench
# keeps writing while pgdts creates the schema, copies the rows from one
# snapshot and then streams every change made since.
"$PGBIN/pgbench" -q -i -s 5 "$SRC" 2>/dev/null

echo "== pgbench writes to the source for 30 s; pgdts sync (schema, full, incremental) starts 2 s in"
"$PGBIN/pgbench" -c 4 -j 2 -T 30 -P 5 "$SRC" 2>&1 | grep -E '^progress|^number of transactions actually' &
BENCH_PID=$!
sleep 2
# pgbench_history has no primary key: --replica-identity-full makes its
# UPDATEs and DELETEs replayable (pgbench only inserts into it).
"$PGDTS" sync --source "$SRC" --target "$DST" --task demo --jobs 2 --replica-identity-full \
  2> "$WORK/pgdts.log" &
SYNC_PID=$!
for _ in $(seq 1 120); do
  phase=$(psql -XAt "$DST" -c "SELECT phase FROM pgdts.task WHERE task = 'demo'" 2>/dev/null || true)
  [ "$phase" = incremental ] && break
  sleep 1
done
echo "== schema and full sync done; now streaming changes"
"$PGDTS" status --source "$SRC" --target "$DST" --task demo || true
wait "$BENCH_PID"; BENCH_PID=""

echo "== waiting for the destination to catch up"
END_LSN=$(psql -XAt "$SRC" -c "SELECT pg_current_wal_lsn()")
for _ in $(seq 1 120); do
  done_=$(psql -XAt "$SRC" -c "SELECT confirmed_flush_lsn >= '$END_LSN' FROM pg_replication_slots WHERE slot_name = 'dts_sync_demo'")
  [ "$done_" = t ] && break
  sleep 1
done

fingerprint() {
  psql -XAt "$1" -c "SELECT (SELECT count(*) FROM pgbench_history) || ' history rows, sum(abalance) ' ||
    (SELECT sum(abalance) FROM pgbench_accounts) || ', md5 ' ||
    (SELECT md5(string_agg(h::text, ',' ORDER BY h::text)) FROM pgbench_history h)"
}
S=$(fingerprint "$SRC"); D=$(fingerprint "$DST")
echo "source:      $S"
echo "destination: $D"
echo "== pgdts verify (rows by key-range hashes, and metadata), while sync runs"
VERIFY=0
"$PGDTS" verify --source "$SRC" --target "$DST" --task demo || VERIFY=$?
echo "== pgdts cutover: writes have stopped; wait for latency zero, move sequences"
"$PGDTS" cutover --source "$SRC" --target "$DST" --task demo --sequence-margin 1000
kill -TERM "$SYNC_PID"; wait "$SYNC_PID"; SYNC_PID=""
grep -E 'event=(snapshot_created|initial_sync_done|apply_started|shutdown|stopped)' "$WORK/pgdts.log" | tail -5 || true
"$PGDTS" release --source "$SRC" --target "$DST" --task demo
if [ "$S" = "$D" ] && [ "$VERIFY" = 0 ]; then echo "== demo OK: destination equals source"; else echo "== demo FAILED: destination differs"; exit 1; fi
