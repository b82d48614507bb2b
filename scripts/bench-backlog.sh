#!/usr/bin/env bash
# A busy manager, measured (host/server/benches/backlog.rs): costs with a backlog of
# unfinished executions, 1 against 8 writers, draining the backlog; on SQLite and on
# a throwaway PostgreSQL (fsync on, as SQLite's synchronous=FULL) unless
# DRYDOCK_BENCH_DATABASE_URL names one.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench-database.sh
. scripts/bench-database.sh
cargo bench -q -p drydock-server --bench backlog
