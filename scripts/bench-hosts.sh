#!/usr/bin/env bash
# Several hosts on one PostgreSQL, measured: propagation of a change from one host to
# another, SQLite versus PostgreSQL write throughput, decisions on three hosts versus
# one. Starts a throwaway PostgreSQL unless DRYDOCK_BENCH_DATABASE_URL is set.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench-database.sh
. scripts/bench-database.sh
cargo bench -p drydock-server --bench hosts
