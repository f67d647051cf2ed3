#!/usr/bin/env bash
# `make bench-federation`: two CommonGuard hubs on loopback, each its own database on one throwaway
# PostgreSQL cluster (SQLite files with --sqlite, or when PostgreSQL is not installed), each served
# by uvicorn. An alert published on hub A: how long until hub B's REST API serves it to a reader of
# B, by pull (every 2 s) and by push (A's worker). The last line printed is one JSON object.
set -euo pipefail
cd "$(dirname "$0")/../.."
export COMMONGUARD_DEMO=1 COMMONGUARD_PLAIN_STATIC=1 DJANGO_SETTINGS_MODULE=commonguard.settings
PY=.venv/bin/python
mkdir -p var/bench/federation
if [ "${1:-}" != "--sqlite" ]; then
  source scripts/pg-throwaway.sh
  if pg_throwaway_start; then
    trap pg_throwaway_stop EXIT
    export BENCH_PG_URL="$PG_THROWAWAY_URL"
  else
    echo "PostgreSQL binaries not found: measuring on SQLite" >&2
  fi
fi
$PY bench/federation/bench_federation.py --out var/bench/federation/result.json
