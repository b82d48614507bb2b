# Sourced by the benchmarks that use PostgreSQL: unless DRYDOCK_BENCH_DATABASE_URL
# names a server, start a throwaway one (fsync on, as SQLite's synchronous=FULL: a
# commit is on disk on both sides), export its URL, and stop it when the script exits.
if [ -z "${DRYDOCK_BENCH_DATABASE_URL:-}" ]; then
  pg_dir=$(mktemp -d)
  trap 'scripts/postgres.sh stop "$pg_dir"' EXIT
  DRYDOCK_BENCH_DATABASE_URL=$(DRYDOCK_PG_FSYNC=on scripts/postgres.sh start "$pg_dir")
  export DRYDOCK_BENCH_DATABASE_URL
fi
