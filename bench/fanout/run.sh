#!/usr/bin/env bash
# `make bench-fanout`: publish one critical alert to 1,700 recipient organisations (state scale)
# and to 90,000 (national scale) on a throwaway PostgreSQL cluster, with a real SMTP server and a
# real HTTP receiver on loopback. The last line printed is one JSON object with the figures.
set -euo pipefail
cd "$(dirname "$0")/../.."
export COMMONGUARD_DEMO=1 COMMONGUARD_PLAIN_STATIC=1 DJANGO_SETTINGS_MODULE=commonguard.settings LOG_LEVEL=WARNING
PY=.venv/bin/python
OUT=var/bench
mkdir -p "$OUT"
source scripts/pg-throwaway.sh
pg_throwaway_start || { echo "PostgreSQL binaries are needed (apt-get install postgresql)" >&2; exit 1; }
trap pg_throwaway_stop EXIT
export DATABASE_URL="$PG_THROWAWAY_URL"
echo "== state scale: 1,700 organisations"
$PY bench/fanout/fanout.py --recipients "${STATE_RECIPIENTS:-1700}" --out "$OUT/fanout-state.json"
echo "== national scale: 90,000 recipients (curve: $OUT/fanout-national.png)"
$PY bench/fanout/fanout.py --recipients "${NATIONAL_RECIPIENTS:-90000}" --png "$OUT/fanout-national.png" \
  --out "$OUT/fanout-national.json"
$PY - "$OUT/fanout-state.json" "$OUT/fanout-national.json" <<'PY'
import json, sys
state, national = (json.load(open(p)) for p in sys.argv[1:3])
print(json.dumps({
    "recipients": state["recipients"], "last_delivery_s": state["last_delivery_s"],
    "median_delivery_s": state["median_delivery_s"], "target_last_s": 2.0, "target_median_s": 0.5,
    "national_recipients": national["recipients"], "national_last_delivery_s": national["last_delivery_s"],
    "national_target_s": 30.0, "national_curve_png": national.get("curve_png"),
    "national_smtp_floor_s": national.get("smtp_floor_s"), "publish_s": state["publish_s"],
    "last_from_click_s": state["last_from_click_s"], "median_from_click_s": state["median_from_click_s"],
    "pass": bool(state["last_delivery_s"] is not None and state["last_delivery_s"] <= 2.0
                 and state["median_delivery_s"] <= 0.5 and national["last_delivery_s"] is not None
                 and national["last_delivery_s"] <= 30.0
                 and state["delivered"] == state["deliveries"] and national["delivered"] == national["deliveries"]),
}))
PY
