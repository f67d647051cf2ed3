#!/usr/bin/env bash
# `make bench-taxii`: page the whole ATT&CK Enterprise collection (24,771 objects) with limit=1000
# through the real server (uvicorn, loopback, API token), on SQLite and on a throwaway PostgreSQL
# cluster; then the OASIS reference server medallion 3.0.0 on the ICS collection (1,826 objects:
# it cannot serve Enterprise, see README) for the ratio. Last line: one JSON object.
# Extra arguments go to `measure` (e.g. --repeat 3).
set -euo pipefail
cd "$(dirname "$0")/../.."
export COMMONGUARD_DEMO=1 COMMONGUARD_PLAIN_STATIC=1 DJANGO_SETTINGS_MODULE=commonguard.settings
PY=.venv/bin/python
DRIVER=bench/taxii/bench_taxii.py
OUT=var/bench
mkdir -p "$OUT"
rm -f "$OUT"/taxii-*.json "$OUT"/taxii.sqlite3*
started=$SECONDS
reports=()
skipped=""

echo "== SQLite ($OUT/taxii.sqlite3, loaded afresh)"
env -u DATABASE_URL COMMONGUARD_SQLITE_PATH="$PWD/$OUT/taxii.sqlite3" \
  "$PY" "$DRIVER" measure --label sqlite --out "$OUT/taxii-sqlite.json" "$@"
reports+=("$OUT/taxii-sqlite.json")

echo
echo "== PostgreSQL (throwaway cluster)"
source scripts/pg-throwaway.sh
if pg_throwaway_start; then
  trap pg_throwaway_stop EXIT
  DATABASE_URL="$PG_THROWAWAY_URL" "$PY" "$DRIVER" measure --label postgresql --out "$OUT/taxii-postgresql.json" "$@"
  reports+=("$OUT/taxii-postgresql.json")
  pg_throwaway_stop
  trap - EXIT
else
  echo "!! PostgreSQL binaries not found (Debian package 'postgresql'): the PostgreSQL run is SKIPPED."
  skipped="postgresql"
fi

echo
echo "== medallion 3.0.0 (memory backend, its own server), ICS collection"
"$PY" "$DRIVER" medallion --out "$OUT/taxii-medallion.json" ${MEDALLION_ENTERPRISE_TIMEOUT:+--enterprise-timeout "$MEDALLION_ENTERPRISE_TIMEOUT"}
reports+=("$OUT/taxii-medallion.json")

echo
echo "== done in $((SECONDS - started)) s; reports in $OUT/taxii-*.json"
"$PY" "$DRIVER" summary "${reports[@]}" --skipped "$skipped"
