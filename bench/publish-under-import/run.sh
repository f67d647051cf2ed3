#!/usr/bin/env bash
# `make bench-publish-import`: is publishing slowed by a 100,000-indicator import running at the same
# time? On a throwaway PostgreSQL cluster: alert_publish (GREEN, 300 recipient organisations) timed
# alone and while another process pulls a 100,000-indicator feed again and again. Last line: JSON.
set -euo pipefail
cd "$(dirname "$0")/../.."
export COMMONGUARD_DEMO=1 COMMONGUARD_PLAIN_STATIC=1 DJANGO_SETTINGS_MODULE=commonguard.settings LOG_LEVEL=WARNING
PY=.venv/bin/python
mkdir -p var/bench
source scripts/pg-throwaway.sh
pg_throwaway_start || { echo "PostgreSQL binaries are needed (apt-get install postgresql)" >&2; exit 1; }
trap pg_throwaway_stop EXIT
export DATABASE_URL="$PG_THROWAWAY_URL"
$PY bench/publish-under-import/bench_publish_import.py "$@"
