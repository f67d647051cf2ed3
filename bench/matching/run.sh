#!/usr/bin/env bash
# `make bench-matching`: rank 10,000 responders and 500 team packages for an assistance request,
# in-process (the SQL reads included), on SQLite and on a throwaway PostgreSQL cluster.
# Extra arguments go to `measure` (e.g. --queries 500). The last line is one JSON object.
set -euo pipefail
cd "$(dirname "$0")/../.."
export COMMONGUARD_DEMO=1 COMMONGUARD_PLAIN_STATIC=1 DJANGO_SETTINGS_MODULE=commonguard.settings
PY=.venv/bin/python
DRIVER=bench/matching/bench_matching.py
OUT=var/bench
mkdir -p "$OUT"
rm -f "$OUT"/matching-*.json "$OUT"/matching.sqlite3*
reports=()
skipped=""

echo "== SQLite ($OUT/matching.sqlite3, built afresh)"
env -u DATABASE_URL COMMONGUARD_SQLITE_PATH="$PWD/$OUT/matching.sqlite3" \
  "$PY" "$DRIVER" measure --label sqlite --out "$OUT/matching-sqlite.json" "$@"
reports+=("$OUT/matching-sqlite.json")

echo
echo "== PostgreSQL (throwaway cluster)"
source scripts/pg-throwaway.sh
if pg_throwaway_start; then
  trap pg_throwaway_stop EXIT
  DATABASE_URL="$PG_THROWAWAY_URL" "$PY" "$DRIVER" measure --label postgresql --out "$OUT/matching-postgresql.json" "$@"
  reports+=("$OUT/matching-postgresql.json")
  pg_throwaway_stop
  trap - EXIT
else
  echo "!! PostgreSQL binaries not found (Debian package 'postgresql'): the PostgreSQL run is SKIPPED."
  skipped="postgresql"
fi

echo
"$PY" "$DRIVER" summary "${reports[@]}" --skipped "$skipped"
