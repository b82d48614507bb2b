#!/usr/bin/env bash
# Drives drydock with the real Cloudify CLI: installs PyPI cloudify==7.0.5 into a
# virtualenv (cached under target/), starts drydock on a free loopback port with a
# fresh data directory, runs tests/interop/test_cfy.py, then the same CLI over HTTPS
# (tests/interop/test_cfy_tls.py, a private CA made by scripts/test-cert.sh), and
# stops the servers.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/interop-venv
if [ ! -x "$venv/bin/cfy" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "cloudify==7.0.5"
fi

cargo build -q -p drydock --bin drydock
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
data=$(mktemp -d)
password="interop-$RANDOM-secret"
DRYDOCK_ADMIN_PASSWORD="$password" target/debug/drydock serve --listen "127.0.0.1:$port" --data-dir "$data/data" \
  >"$data/server.out" 2>"$data/server.log" &
server=$!
cleanup() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT

for _ in $(seq 1 600); do
  if curl -fs "http://127.0.0.1:$port/api/v3.1/ok" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$server" 2>/dev/null; then cat "$data/server.log"; exit 1; fi
  sleep 0.1
done

status=0
DRYDOCK_PORT="$port" DRYDOCK_ADMIN_PASSWORD="$password" CFY_VENV="$PWD/$venv" CFY_BIN="$PWD/$venv/bin/cfy" \
  "$venv/bin/python" tests/interop/test_cfy.py || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- drydock server log ---"; tail -n 50 "$data/server.log"
fi

# The same CLI over HTTPS, with a certificate from a private CA made now.
scripts/test-cert.sh "$data/certs"
tls_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
DRYDOCK_ADMIN_PASSWORD="$password" target/debug/drydock serve --listen "127.0.0.1:$tls_port" --data-dir "$data/tls-data" \
  --tls-cert "$data/certs/server.pem" --tls-key "$data/certs/server-key.pem" >/dev/null 2>"$data/tls-server.log" &
tls_server=$!
trap 'kill "$tls_server" 2>/dev/null || true; wait "$tls_server" 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 1 600); do
  if curl -fs --cacert "$data/certs/ca.pem" "https://127.0.0.1:$tls_port/api/v3.1/ok" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$tls_server" 2>/dev/null; then cat "$data/tls-server.log"; exit 1; fi
  sleep 0.1
done
tls_status=0
DRYDOCK_PORT="$tls_port" DRYDOCK_ADMIN_PASSWORD="$password" DRYDOCK_CA="$data/certs/ca.pem" CFY_BIN="$PWD/$venv/bin/cfy" \
  "$venv/bin/python" tests/interop/test_cfy_tls.py || tls_status=$?
if [ "$tls_status" -ne 0 ]; then
  echo "--- drydock TLS server log ---"; tail -n 50 "$data/tls-server.log"
  status=$tls_status
fi
exit "$status"
