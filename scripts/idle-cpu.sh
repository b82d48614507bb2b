#!/usr/bin/env bash
# Idle CPU of `drydock serve`: start it (release build, fresh data dir, free loopback
# port), make one request so everything is warm, then read its CPU time over
# DRYDOCK_IDLE_SECONDS (60) of doing nothing, from /proc/PID/stat.
#
#   scripts/idle-cpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${DRYDOCK_IDLE_SECONDS:-60}
cargo build -q --release -p drydock --bin drydock
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
data=$(mktemp -d)
DRYDOCK_ADMIN_PASSWORD=idle-secret target/release/drydock serve --listen "127.0.0.1:$port" --data-dir "$data/d" \
  >/dev/null 2>"$data/log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 300); do curl -fs "http://127.0.0.1:$port/api/v3.1/ok" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs -u admin:idle-secret "http://127.0.0.1:$port/api/v3.1/status" >/dev/null
sleep 1
hz=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
before=$(cpu)
sleep "$seconds"
after=$(cpu)
awk -v t=$((after - before)) -v hz="$hz" -v s="$seconds" \
  'BEGIN { printf "| idle CPU of drydock serve over %d s | %.3f %% of a core (%d ticks of 1/%d s) |\n", s, 100 * t / hz / s, t, hz }'
