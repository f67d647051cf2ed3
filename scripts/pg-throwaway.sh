#!/usr/bin/env bash
# Start and stop a throwaway PostgreSQL cluster on loopback, in a temporary directory.
# Sourced by run-tests.sh and bench scripts: pg_throwaway_start sets PG_THROWAWAY_URL.
# PG_THROWAWAY_OPTS adds server options, e.g. "-c shared_preload_libraries=pg_stat_statements".

pg_throwaway_bin() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
  done
  return 1
}

pg_throwaway_start() {
  local bin port
  bin=$(pg_throwaway_bin) || return 1
  PG_THROWAWAY_DIR=$(mktemp -d /tmp/commonguard-pg.XXXXXX)
  port=${PG_THROWAWAY_PORT:-$(( 20000 + RANDOM % 20000 ))}
  local run=()
  if [ "$(id -u)" = "0" ]; then
    chown postgres "$PG_THROWAWAY_DIR"
    run=(runuser -u postgres --)
  fi
  "${run[@]}" "$bin/initdb" -D "$PG_THROWAWAY_DIR/data" -U commonguard --auth=trust -E UTF8 >/dev/null
  "${run[@]}" "$bin/pg_ctl" -D "$PG_THROWAWAY_DIR/data" -l "$PG_THROWAWAY_DIR/log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_THROWAWAY_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off ${PG_THROWAWAY_OPTS:-}" \
    start >/dev/null
  PG_THROWAWAY_URL="postgres://commonguard@127.0.0.1:$port/postgres"
  PG_THROWAWAY_BIN=$bin
  PG_THROWAWAY_RUN=("${run[@]}")
  export PG_THROWAWAY_URL
  echo "throwaway PostgreSQL on 127.0.0.1:$port"
}

pg_throwaway_stop() {
  [ -n "${PG_THROWAWAY_DIR:-}" ] || return 0
  "${PG_THROWAWAY_RUN[@]}" "$PG_THROWAWAY_BIN/pg_ctl" -D "$PG_THROWAWAY_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_THROWAWAY_DIR"
}
