#!/usr/bin/env bash
# `make bench-dashboard`: the state dashboard for 1,700 local governments with 5 years of data —
# server time of every layer (page, JSON, CSV, API) and the county map drawn in Chromium — on
# SQLite (seeded database kept in var/bench/ between runs) and on a throwaway PostgreSQL cluster
# when its binaries are installed. The last line printed is one JSON object.
set -euo pipefail
cd "$(dirname "$0")/../.."
export COMMONGUARD_DEMO=1 COMMONGUARD_PLAIN_STATIC=1 DJANGO_SETTINGS_MODULE=commonguard.settings
export LOG_LEVEL=WARNING
PY=.venv/bin/python
DRIVER=bench/dashboard/bench_dashboard.py
OUT=var/bench
mkdir -p "$OUT"
rm -f "$OUT"/dashboard-*.json
started=$SECONDS
reports=()
skipped=()

echo "== SQLite ($OUT/dashboard.sqlite3; delete it to seed again)"
env -u DATABASE_URL COMMONGUARD_SQLITE_PATH="$PWD/$OUT/dashboard.sqlite3" \
  "$PY" "$DRIVER" measure --label sqlite --out "$OUT/dashboard-sqlite.json"
reports+=("$OUT/dashboard-sqlite.json")

echo
echo "== PostgreSQL (throwaway cluster, seeded afresh)"
source scripts/pg-throwaway.sh
if [[ "${BENCH_SKIP_POSTGRES:-}" != "1" ]] && pg_throwaway_start; then
  trap pg_throwaway_stop EXIT
  DATABASE_URL="$PG_THROWAWAY_URL" "$PY" "$DRIVER" measure --label postgresql --analyze --out "$OUT/dashboard-postgresql.json"
  reports+=("$OUT/dashboard-postgresql.json")
  pg_throwaway_stop
  trap - EXIT
else
  echo "!! PostgreSQL not run (binaries not found, or BENCH_SKIP_POSTGRES=1)."
  skipped=(--skipped postgresql "not run")
fi

echo
echo "== done in $((SECONDS - started)) s; reports in $OUT/dashboard-*.json"
"$PY" "$DRIVER" summary "${reports[@]}" "${skipped[@]}"
