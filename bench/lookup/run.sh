#!/usr/bin/env bash
# `make bench-lookup`: "Have we seen this?" — 1,000,000 log lines against 1,000,000 indicators,
# the engine in-process (build the matcher, then scan), plus loading the rows from SQLite.
# Extra arguments go to the driver (e.g. --lines 200000 --repeat 1). The last line is one JSON object.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p var/bench
exec .venv/bin/python bench/lookup/bench_lookup.py --db "$@"
