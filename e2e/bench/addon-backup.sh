#!/usr/bin/env bash
# PostgreSQL add-on backups against plain pg_dump / pg_restore, side by side in one run (#22):
#   capture  libs/platform captureBackup (pg_dump -Fc streamed into a content store)
#            vs  pg_dump -Fc -f FILE
#   restore  libs/platform restoreBackup (blob checked, streamed into pg_restore)
#            vs  pg_restore --clean --if-exists --no-owner --single-transaction FILE
# on a ~BENCH_MB (default 100) MB database of a PostgreSQL this script starts (initdb into a temp
# dir, 127.0.0.1 on a free port, stopped and removed at the end). Timed in one node process
# (e2e/bench/addon-backup-bench.ts): both sides spawn the same binaries, ours and plain alternate,
# each restore goes into a database created afresh. Prints a markdown table of the medians of RUNS
# (default 3) and the ratios ours / plain. Needs root (the server runs as postgres). BENCH_DIR
# (default /var/tmp) holds the cluster, the store and the dump file.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bin/pg_ctl" ] || { echo "PostgreSQL is missing (apt-get install postgresql)" >&2; exit 1; }
runs=${RUNS:-3}
mb=${BENCH_MB:-100}
work=$(mktemp -d "${BENCH_DIR:-/var/tmp}/paas-bench-backup.XXXXXX")
chown postgres:postgres "$work"
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
as_pg() { runuser -u postgres -- "$@"; }
stop() {
  as_pg "$bin/pg_ctl" -D "$work/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap stop EXIT

echo "# PostgreSQL ($bin) on 127.0.0.1:$port in $work" >&2
as_pg "$bin/initdb" -D "$work/data" -U postgres -A trust -E UTF8 --no-sync --no-instructions >/dev/null
as_pg "$bin/pg_ctl" -D "$work/data" -l "$work/server.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $work -c fsync=off -c synchronous_commit=off" start >/dev/null
psql() { "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -X -q -v ON_ERROR_STOP=1 "$@"; }

echo "# making a ~$mb MB database" >&2
psql -d postgres -c 'CREATE DATABASE bench'
# ~250 bytes a row, half of it incompressible (md5 of random), plus a primary key and an index
rows=$((mb * 1000000 / 330))
psql -d bench -c "CREATE TABLE items AS SELECT g AS id, md5(random()::text) || md5(random()::text) AS token,
  repeat('paas ', 20) || g AS label, now() - g * interval '1 second' AS at, (random() * 1000)::int AS n
  FROM generate_series(1, $rows) g"
psql -d bench -c 'ALTER TABLE items ADD PRIMARY KEY (id)' -c 'CREATE INDEX ON items (token)' -c 'VACUUM ANALYZE items'
size=$(psql -d bench -At -c "SELECT pg_database_size('bench')")
echo "# database: $((size / 1000000)) MB" >&2

echo "# $runs rounds, ours and plain alternating" >&2
node --import tsx e2e/bench/addon-backup-bench.ts "$port" bench "$work" "$runs"
restored=$(psql -d restored -At -c 'SELECT count(*) FROM items')
[ "$restored" = "$rows" ] || { echo "restored $restored rows of $rows" >&2; exit 1; }
