#!/usr/bin/env bash
# `make bench-live`: 1,000 signed-in browsers' worth of server-sent-event streams on one uvicorn
# process; one critical alert published; when does each stream get it? PostgreSQL (throwaway
# cluster), the real worker. The last line printed is one JSON object with the figures.
set -euo pipefail
cd "$(dirname "$0")/../.."
export COMMONGUARD_DEMO=1 COMMONGUARD_PLAIN_STATIC=1 DJANGO_SETTINGS_MODULE=commonguard.settings LOG_LEVEL=WARNING
ulimit -n 8192 2>/dev/null || ulimit -n 4096 2>/dev/null || true
mkdir -p var/bench var/static
source scripts/pg-throwaway.sh
pg_throwaway_start || { echo "PostgreSQL binaries are needed (apt-get install postgresql)" >&2; exit 1; }
trap pg_throwaway_stop EXIT
export DATABASE_URL="$PG_THROWAWAY_URL" COMMONGUARD_DB_POOL=${COMMONGUARD_DB_POOL:-20}
.venv/bin/python bench/live/live.py --clients "${CLIENTS:-1000}" --out var/bench/live.json
