#!/usr/bin/env bash
# A busy manager, measured (host/server/benches/backlog.rs): costs with a backlog of
# unfinished executions, 1 against 8 writers, draining the backlog; on SQLite and on
# a throwaway PostgreSQL (fsync on, as SQLite's synchronous=FULL) unless
# DRYDOCK_BENCH_DATABASE_URL names one.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${DRYDOCK_BENCH_DATABASE_URL:-}" ]; then
  pg_dir=$(mktemp -d)
  trap 'scripts/postgres.sh stop "$pg_dir"' EXIT
  DRYDOCK_BENCH_DATABASE_URL=$(DRYDOCK_PG_FSYNC=on scripts/postgres.sh start "$pg_dir")
  export DRYDOCK_BENCH_DATABASE_URL
fi
cargo bench -q -p drydock-server --bench backlog
