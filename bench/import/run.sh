#!/usr/bin/env bash
# `make bench-import`: the 51,000 URLhaus + ThreatFox indicators imported as two plain feeds on a
# throwaway PostgreSQL cluster: objects/s for the first import and for a re-import (nothing to
# write). The last line printed is one JSON object with the figures.
set -euo pipefail
cd "$(dirname "$0")/../.."
export COMMONGUARD_DEMO=1 COMMONGUARD_PLAIN_STATIC=1 DJANGO_SETTINGS_MODULE=commonguard.settings LOG_LEVEL=WARNING
PY=.venv/bin/python
mkdir -p var/bench
source scripts/pg-throwaway.sh
pg_throwaway_start || { echo "PostgreSQL binaries are needed (apt-get install postgresql)" >&2; exit 1; }
trap pg_throwaway_stop EXIT
export DATABASE_URL="$PG_THROWAWAY_URL"
$PY bench/import/bench_import.py --out var/bench/import.json "$@"
