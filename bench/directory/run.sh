#!/usr/bin/env bash
# `make bench-directory`: directory search latency over 30,000 organisations, on SQLite (the
# seeded database is kept in var/bench/ between runs) and on a throwaway PostgreSQL cluster when
# its binaries are installed. The last line printed is one JSON object with the headline figures.
set -euo pipefail
cd "$(dirname "$0")/../.."
export COMMONGUARD_DEMO=1 COMMONGUARD_PLAIN_STATIC=1 DJANGO_SETTINGS_MODULE=commonguard.settings
export LOG_LEVEL=WARNING
PY=.venv/bin/python
DRIVER=bench/directory/bench_directory.py
OUT=var/bench
mkdir -p "$OUT"
rm -f "$OUT"/directory-*.json
started=$SECONDS
reports=()
skipped=()

echo "== SQLite ($OUT/directory.sqlite3; delete it to seed again)"
env -u DATABASE_URL COMMONGUARD_SQLITE_PATH="$PWD/$OUT/directory.sqlite3" \
  "$PY" "$DRIVER" measure --label sqlite --out "$OUT/directory-sqlite.json" "$@"
reports+=("$OUT/directory-sqlite.json")

echo
echo "== PostgreSQL (throwaway cluster, seeded afresh)"
source scripts/pg-throwaway.sh
if pg_throwaway_start; then
  trap pg_throwaway_stop EXIT
  # --analyze: VACUUM ANALYZE after the bulk load, as autovacuum would do within a minute or two.
  DATABASE_URL="$PG_THROWAWAY_URL" "$PY" "$DRIVER" measure --label postgresql --analyze \
    --db-pidfile "$PG_THROWAWAY_DIR/data/postmaster.pid" --out "$OUT/directory-postgresql.json" "$@"
  reports+=("$OUT/directory-postgresql.json")
  pg_throwaway_stop
  trap - EXIT
else
  echo "!! PostgreSQL binaries not found (Debian package 'postgresql'): the PostgreSQL run is SKIPPED."
  skipped=(--skipped postgresql "PostgreSQL binaries not found")
fi

echo
echo "== done in $((SECONDS - started)) s; reports in $OUT/directory-*.json"
"$PY" "$DRIVER" summary "${reports[@]}" "${skipped[@]}"
