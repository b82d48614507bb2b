#!/usr/bin/env bash
# Several hosts on one PostgreSQL, measured: propagation of a change from one host to
# another, SQLite versus PostgreSQL write throughput, decisions on three hosts versus
# one. Starts a throwaway PostgreSQL unless DRYDOCK_BENCH_DATABASE_URL is set.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${DRYDOCK_BENCH_DATABASE_URL:-}" ]; then
  pg_dir=$(mktemp -d)
  trap 'scripts/postgres.sh stop "$pg_dir"' EXIT
  # fsync on, as SQLite's synchronous=FULL: a commit is on disk on both sides.
  DRYDOCK_BENCH_DATABASE_URL=$(DRYDOCK_PG_FSYNC=on scripts/postgres.sh start "$pg_dir")
  export DRYDOCK_BENCH_DATABASE_URL
fi
cargo bench -p drydock-server --bench hosts
