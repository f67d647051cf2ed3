#!/usr/bin/env bash
# `make bench-reports`: 200 incident reports submitted at once to a real uvicorn server on PostgreSQL
# (throwaway cluster); every report must be stored with its statutory obligations, none lost, p99 < 1 s.
# The last line printed is one JSON object with the figures.
set -euo pipefail
cd "$(dirname "$0")/../.."
export COMMONGUARD_DEMO=1 COMMONGUARD_PLAIN_STATIC=1 LOG_LEVEL=WARNING
export DJANGO_SETTINGS_MODULE=commonguard.settings
ulimit -n 8192 2>/dev/null || ulimit -n 4096 2>/dev/null || true
mkdir -p var/bench
source scripts/pg-throwaway.sh
pg_throwaway_start || { echo "PostgreSQL binaries are needed (apt-get install postgresql)" >&2; exit 1; }
trap pg_throwaway_stop EXIT
export PG_THROWAWAY_DIR DATABASE_URL="$PG_THROWAWAY_URL" COMMONGUARD_DB_POOL=${COMMONGUARD_DB_POOL:-40}
.venv/bin/python bench/reports/reports.py --reports "${REPORTS:-200}" --workers "${WORKERS:-2}" --out var/bench/reports.json
