#!/usr/bin/env bash
# Drives drydock with the real Cloudify CLI: installs PyPI cloudify==7.0.5 into a
# virtualenv (cached under target/), starts drydock on a free loopback port with a
# fresh data directory, runs tests/interop/test_cfy.py, then the same CLI over HTTPS
# (tests/interop/test_cfy_tls.py, a private CA made by scripts/test-cert.sh; the test
# makes a second, unrelated CA too and checks the CLI refuses the server with it), then
# test_cfy.py again against one of two hosts sharing a fresh PostgreSQL database (on
# the server in DRYDOCK_TEST_DATABASE_URL, which scripts/test.sh provides), and stops
# the servers.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/interop-venv
if [ ! -x "$venv/bin/cfy" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "cloudify==7.0.5"
fi

# The test command's own selection: `-p drydock` alone would compile another feature variant.
cargo build -q --workspace --all-targets
data=$(mktemp -d)
password="interop-$RANDOM-secret"
servers=()
cleanup() {
  for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$data"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start NAME PORT PROBE-URL [serve args...]: a server with its own data dir and log,
# waited for until PROBE-URL answers (curl args may precede the URL).
start() {
  local name=$1 port=$2 probe=$3; shift 3
  DRYDOCK_ADMIN_PASSWORD="$password" target/debug/drydock serve --listen "127.0.0.1:$port" \
    --data-dir "$data/$name-data" "$@" >/dev/null 2>"$data/$name.log" &
  local pid=$!
  servers+=("$pid")
  for _ in $(seq 1 600); do
    # shellcheck disable=SC2086 # the probe is curl arguments
    if curl -fs $probe >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then cat "$data/$name.log"; exit 1; fi
    sleep 0.1
  done
  echo "drydock ($name) did not answer within 60 s"; cat "$data/$name.log"; exit 1
}

# run NAME SCRIPT [env...]: a test script under the venv's python; the server log on failure.
status=0
run() {
  local name=$1 script=$2; shift 2
  local rc=0
  env "$@" DRYDOCK_ADMIN_PASSWORD="$password" CFY_VENV="$PWD/$venv" CFY_BIN="$PWD/$venv/bin/cfy" \
    "$venv/bin/python" "$script" || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "--- drydock server log ($name) ---"; tail -n 50 "$data/$name.log"
    status=$rc
  fi
}

port=$(free_port)
start plain "$port" "http://127.0.0.1:$port/api/v3.1/ok"
run plain tests/interop/test_cfy.py DRYDOCK_PORT="$port"

# The same CLI over HTTPS, with a certificate from a private CA made now.
scripts/test-cert.sh "$data/certs"
tls_port=$(free_port)
start tls "$tls_port" "--cacert $data/certs/ca.pem https://127.0.0.1:$tls_port/api/v3.1/ok" \
  --tls-cert "$data/certs/server.pem" --tls-key "$data/certs/server-key.pem"
run tls tests/interop/test_cfy_tls.py DRYDOCK_PORT="$tls_port" DRYDOCK_CA="$data/certs/ca.pem"

# The same CLI against a host that shares its PostgreSQL database with another.
if [ -n "${DRYDOCK_TEST_DATABASE_URL:-}" ]; then
  db="drydock_interop_$$_$RANDOM"
  psql -X -q -v ON_ERROR_STOP=1 "$DRYDOCK_TEST_DATABASE_URL" -c "CREATE DATABASE $db"
  base=${DRYDOCK_TEST_DATABASE_URL%%\?*}
  db_url="${base%/*}/$db"
  pg_port=$(free_port)
  other_port=$(free_port)
  start shared-a "$pg_port" "http://127.0.0.1:$pg_port/api/v3.1/ok" --database-url "$db_url"
  start shared-b "$other_port" "http://127.0.0.1:$other_port/api/v3.1/ok" --database-url "$db_url"
  run shared-a tests/interop/test_cfy.py DRYDOCK_PORT="$pg_port"
else
  echo "interop.sh: DRYDOCK_TEST_DATABASE_URL is not set; the run on PostgreSQL is skipped (scripts/test.sh sets it)" >&2
  status=1
fi
exit "$status"
