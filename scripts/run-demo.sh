#!/usr/bin/env bash
# `make run`: migrate the embedded SQLite database, seed the demo once, start the worker and the
# web server, and print where to go. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
export COMMONGUARD_DEMO=1
export DJANGO_SETTINGS_MODULE=commonguard.settings
export DJANGO_EMAIL_BACKEND=${DJANGO_EMAIL_BACKEND:-django.core.mail.backends.console.EmailBackend}
PY=.venv/bin/python
PORT=${PORT:-8000}
HOST=${HOST:-127.0.0.1}
mkdir -p var

$PY manage.py collectstatic --noinput -v0
$PY manage.py migrate --noinput -v0
if [ ! -f var/.demo-seeded ]; then
  echo "Seeding the demo state (first run only)..."
  $PY manage.py demo
  touch var/.demo-seeded
fi
# MITRE ATT&CK into the TAXII reference collections (once; idempotent), when the shared data is here.
if [ ! -f var/.attack-loaded ] && [ -d ../shared/data/attack ]; then
  echo "Loading MITRE ATT&CK into the TAXII reference collections (first run only)..."
  $PY manage.py stix_load_attack && touch var/.attack-loaded
fi

# Two workers: one never takes bulk work (imports), so a flash alert never waits behind an import
# that is already running; the other takes everything, highest priority first, at a lower CPU
# priority (nice), so that an import's CPU goes to the web server and the first worker first (ADR 6).
$PY manage.py db_worker --queue-name '*' --exclude-queues bulk --interval 0.1 --no-reload >var/worker.log 2>&1 &
WORKER=$!
nice -n 10 $PY manage.py db_worker --queue-name '*' --interval 0.2 --no-reload >var/worker-bulk.log 2>&1 &
BULK_WORKER=$!
# Re-enqueues alert deliveries a stopped worker left behind, and retries failed ones.
$PY manage.py deliveries_resume --every 30 >>var/worker.log 2>&1 &
RESUMER=$!
# Queues again the STIX imports a stopped worker left running (its lease ran out).
$PY manage.py stix_imports_resume --every 60 >>var/worker.log 2>&1 &
STIX_RESUMER=$!
# Imports the CISA KEV catalogue now (the whole of it: the demo seeding took only the newest
# entries) and then daily; old entries are recorded without being e-mailed (ADR 15).
$PY manage.py kev_import --every 86400 >var/kev-import.log 2>&1 &
KEV=$!
# Queues, every minute, the pulls of the feeds whose interval has passed (the worker's bulk queue).
$PY manage.py feed_pull --due --queue --every 60 >var/feed-pull.log 2>&1 &
FEEDS=$!
# Reporting deadlines: reminders at half-time and two hours before, OVERDUE after (every minute).
$PY manage.py obligations_tick --every 60 >var/obligations.log 2>&1 &
CLOCKS=$!
# E-mails event reminders the day before (partnerships), every 15 minutes.
$PY manage.py event_reminders --every 900 >var/event-reminders.log 2>&1 &
REMINDERS=$!
# Federation with peer hubs (none configured in the demo): pulls due peers, pushes what is pending.
$PY manage.py federation_run --every 2 >var/federation.log 2>&1 &
FEDERATION=$!
# Mutual aid: credential expiry reminders (30 days ahead) and lapses, daily.
$PY manage.py mutualaid_reminders --every 86400 >var/mutualaid-reminders.log 2>&1 &
CREDENTIALS=$!
trap 'kill $WORKER $BULK_WORKER $RESUMER $STIX_RESUMER $KEV $FEEDS $CLOCKS $REMINDERS $FEDERATION $CREDENTIALS 2>/dev/null || true' EXIT INT TERM

cat <<MSG

  CommonGuard is running at http://$HOST:$PORT/

  Demo sign-ins (password: commonguard-demo):
    it.ingham@demo.test        member of Ingham County (no second factor needed)
    admin.ingham@demo.test     org admin of Ingham County           *
    liaison@demo.test          state liaison                        *
    analyst@demo.test          state SOC analyst                    *
    coordinator@demo.test      Guard cyber unit coordinator         *
    responder@demo.test        volunteer corps responder
    official.ingham@demo.test  read-only county commissioner
    pending@demo.test          a join request awaiting approval
    newcomer@demo.test         asked the state to add a new organisation
    operator@demo.test         hub operator (admin site at /admin/) *

  * needs a two-step code: run  .venv/bin/commonguard demo_totp EMAIL  in another terminal.
  API: http://$HOST:$PORT/api/docs/   Stop: Ctrl-C
  Worker logs (alert e-mails are printed there in the demo): var/worker.log, var/worker-bulk.log
  CISA KEV import (daily): var/kev-import.log

MSG
exec .venv/bin/uvicorn commonguard.asgi:application --host "$HOST" --port "$PORT" --no-server-header --log-level warning
