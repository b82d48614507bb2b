#!/usr/bin/env bash
# The PostgreSQL driver comparison in BENCHMARKS.md: drydock's state transaction with
# tokio-postgres + deadpool and with sqlx, alternating, on a throwaway PostgreSQL with
# fsync on. bench/drivers is its own crate (not a workspace member), so sqlx is
# built only here.
set -euo pipefail
cd "$(dirname "$0")/.."
pg_dir=$(mktemp -d)
trap 'scripts/postgres.sh stop "$pg_dir"' EXIT
url=$(DRYDOCK_PG_FSYNC=on scripts/postgres.sh start "$pg_dir")
psql -X -q "$url" -c "CREATE DATABASE cmp"
cargo build --release --manifest-path bench/drivers/Cargo.toml
URL="${url%/postgres}/cmp" bench/drivers/target/release/drydock-driver-bench
