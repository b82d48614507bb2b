#!/usr/bin/env bash
# What the decision log costs the gated route: `drydock serve` (release) under wrk
# on `GET /api/v3.1/deployments` (gated: the policy decides, or its memo) with the
# log off, at its default 1 % of allows, and keeping every allow; pairs alternated
# so drift hits each equally.
#
#   scripts/bench-decisions.sh
#
# Knobs: DRYDOCK_BENCH_SECONDS per run (5), DRYDOCK_BENCH_PAIRS (3),
# DRYDOCK_BENCH_CONNECTIONS (8). Server on CPU 0, wrk on CPU 1.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${DRYDOCK_BENCH_SECONDS:-5} pairs=${DRYDOCK_BENCH_PAIRS:-3} connections=${DRYDOCK_BENCH_CONNECTIONS:-8}
if ! command -v wrk >/dev/null; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq wrk >/dev/null
fi
cargo build --release -q -p drydock
auth="Authorization: Basic $(printf admin:bench-secret | base64)"
run() { # $1: label, rest: serve flags; prints req/s
  local dir port pid rate
  dir=$(mktemp -d)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  DRYDOCK_ADMIN_PASSWORD=bench-secret taskset -c 0 target/release/drydock serve --listen 127.0.0.1:$port --data-dir "$dir/data" "${@:2}" 2>"$dir/log" &
  pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/api/v3.1/ok" >/dev/null && break; sleep 0.1; done
  taskset -c 1 wrk -t1 -c"$connections" -d1s -H "$auth" -H "Tenant: default_tenant" "http://127.0.0.1:$port/api/v3.1/deployments" >/dev/null
  rate=$(taskset -c 1 wrk -t1 -c"$connections" -d"${seconds}s" -H "$auth" -H "Tenant: default_tenant" "http://127.0.0.1:$port/api/v3.1/deployments" | awk '/^Requests\/sec:/ {printf "%.0f", $2}')
  kept=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^drydock_decisions_kept_total/ {print $2}')
  kill $pid; wait $pid 2>/dev/null || true
  rm -rf "$dir"
  echo "$1 $rate ${kept:-0}"
}
for _ in $(seq "$pairs"); do
  run off --decision-log off
  run sampled --decision-log-sample 1%
  run all --decision-log-sample all
done | awk '
  { n[$1]++; sum[$1] += $2; kept[$1] += $3 }
  END {
    printf "| decision log | GET /api/v3.1/deployments, req/s (mean of %d runs) | vs off | records kept per run |\n|---|---|---|---|\n", n["off"]
    split("off sampled all", order, " ")
    for (i = 1; i <= 3; i++) { k = order[i]; m = sum[k] / n[k]; if (k == "off") base = m
      printf "| %s | %.0f | %+.1f %% | %.0f |\n", k, m, (m / base - 1) * 100, kept[k] / n[k] }
  }'
