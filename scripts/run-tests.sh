#!/usr/bin/env bash
# The test suite, twice: on the embedded SQLite database (with the browser tests), then on a real
# PostgreSQL server. DATABASE_URL, if set, names the server; otherwise a throwaway cluster is
# started on loopback from the PostgreSQL binaries on this machine (Debian's postgresql package).
# In CI (CI=true) a missing Chromium or PostgreSQL fails the run instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
export COMMONGUARD_DEMO=1 DJANGO_SETTINGS_MODULE=commonguard.settings COMMONGUARD_PLAIN_STATIC=1
PYTEST=(.venv/bin/pytest -p no:cacheprovider)
WORKERS=${PYTEST_WORKERS:-2}

echo "== migrations are complete"
.venv/bin/python manage.py makemigrations --check --dry-run >/dev/null

echo "== test suite on SQLite"
env -u DATABASE_URL "${PYTEST[@]}" -n "$WORKERS" "$@"

echo "== test suite on PostgreSQL"
if [ -n "${DATABASE_URL:-}" ]; then
  "${PYTEST[@]}" -n "$WORKERS" -m "not browser" "$@"
else
  source scripts/pg-throwaway.sh
  if pg_throwaway_start; then
    trap pg_throwaway_stop EXIT
    DATABASE_URL="$PG_THROWAWAY_URL" "${PYTEST[@]}" -n "$WORKERS" -m "not browser" "$@"
  elif [ "${CI:-}" = "true" ]; then
    echo "PostgreSQL is not installed: .ci/run installs it (apt-get install postgresql)." >&2
    exit 1
  else
    echo "!! PostgreSQL binaries not found: the PostgreSQL half of the suite did NOT run." >&2
    echo "!! Install Debian's 'postgresql' package (as .ci/run does) to run it." >&2
  fi
fi
