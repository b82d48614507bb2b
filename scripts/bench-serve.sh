#!/usr/bin/env bash
# The real server, measured from outside: `drydock serve` (release build, fresh data
# dir, embedded SQLite, free loopback port) — its CPU time over a minute of doing
# nothing, and its resident memory idle, under load and after.
#
#   scripts/bench-serve.sh
#
# 1. start it, make one authenticated request so everything is warm;
# 2. idle CPU: its CPU time (utime + stime, /proc/PID/stat) over
#    DRYDOCK_IDLE_SECONDS (60) of no requests;
# 3. resident memory (VmRSS, /proc/PID/status): idle; peak, sampled every 100 ms,
#    while wrk loads `GET /api/v3.1/deployments` (gated: the policy decides or its
#    memo answers, then the handler reads the store) with DRYDOCK_BENCH_CONNECTIONS
#    (8) connections for DRYDOCK_BENCH_SECONDS (10); and a second after.
# Prints table rows for BENCHMARKS.md (lines starting with `|`).
set -euo pipefail
cd "$(dirname "$0")/.."
idle_seconds=${DRYDOCK_IDLE_SECONDS:-60}
load_seconds=${DRYDOCK_BENCH_SECONDS:-10}
connections=${DRYDOCK_BENCH_CONNECTIONS:-8}
if ! command -v wrk >/dev/null; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq wrk >/dev/null
fi
cargo build -q --release -p drydock --bin drydock
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
data=$(mktemp -d)
DRYDOCK_ADMIN_PASSWORD=bench-secret target/release/drydock serve --listen "127.0.0.1:$port" --data-dir "$data/d" \
  >/dev/null 2>"$data/log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 300); do curl -fs "http://127.0.0.1:$port/api/v3.1/ok" >/dev/null 2>&1 && break; sleep 0.1; done
url="http://127.0.0.1:$port/api/v3.1/deployments"
auth="Authorization: Basic $(printf admin:bench-secret | base64)"
curl -fs -H "$auth" -H "Tenant: default_tenant" "$url" >/dev/null || { echo "the server did not answer $url:" >&2; cat "$data/log" >&2; exit 1; }
sleep 1

hz=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$pid/status"; }
before=$(cpu)
sleep "$idle_seconds"
after=$(cpu)
idle_rss=$(rss)

peak=$idle_rss
wrk -t1 -c"$connections" -d"${load_seconds}s" -H "$auth" -H "Tenant: default_tenant" "$url" >"$data/wrk" &
wrk_pid=$!
while kill -0 "$wrk_pid" 2>/dev/null; do
  now=$(rss); [ "$now" -gt "$peak" ] && peak=$now
  sleep 0.1
done
wait "$wrk_pid"
sleep 1
after_rss=$(rss)
rate=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$data/wrk")
non2xx=$(awk '/Non-2xx/ {print $NF}' "$data/wrk"); non2xx=${non2xx:-0}

awk -v t=$((after - before)) -v hz="$hz" -v s="$idle_seconds" \
  'BEGIN { printf "| idle CPU of `drydock serve` over %d s | **%.3f %%** of a core (%d ticks of 1/%d s) | ≤ 0.1 %% | %s |\n", s, 100 * t / hz / s, t, hz, (100 * t / hz / s <= 0.1 ? "yes" : "**no**") }'
awk -v i="$idle_rss" -v p="$peak" -v a="$after_rss" -v r="$rate" -v n="$non2xx" -v c="$connections" -v s="$load_seconds" \
  'BEGIN { printf "| resident memory of `drydock serve` (VmRSS): idle / peak under load / after (wrk, %d connections, %d s of GET /api/v3.1/deployments as admin: %s req/s, %s non-2xx) | %.1f / **%.1f** / %.1f MiB | < 100 MiB under load | %s |\n", c, s, r, n, i / 1024, p / 1024, a / 1024, (p < 102400 ? "yes" : "**no**") }'
