#!/usr/bin/env bash
# Runs every benchmark drydock has and prints the results table (see BENCHMARKS.md).
#
#   scripts/bench.sh
#
# 1. one decision through the real default policy component: p50/p99/p99.9 on a
#    reused instance, the fresh-instance-per-decision figure beside it, and the
#    whole gate in-process (host/gate/benches/decision_latency.rs), plus criterion's
#    estimate of the mean (host/engine/benches/decision.rs);
# 0. the peers: drydock's component, Cedar, Rego (regorus) and the same rules in
#    plain Rust deciding the same 960-request mix in one process (bench/peers, its
#    own workspace: the test build never compiles Cedar or regorus);
# 2-4. HTTP: the same route with and without the gate, with the gate during
#    continuous policy swaps, and resident memory idle and under load, loaded by
#    Debian's `wrk` on 127.0.0.1 (host/gate/benches/http_load.rs);
# 5. `drydock serve` itself: idle CPU over a minute, resident memory idle and under
#    load (scripts/bench-serve.sh).
# 6. a busy manager: costs with 0 / 1,000 / 10,000 unfinished executions, 1 against 8
#    writers, draining 10,000, on SQLite and a throwaway PostgreSQL
#    (scripts/bench-backlog.sh, host/server/benches/backlog.rs).
#
# Takes about 7 minutes after the release build (a first release build takes
# 5–15 minutes on a 2-core machine: wasmtime; Cedar and regorus add about 2).
# Installs what it needs: the wasm target the policies build for, and wrk.
# Knobs: DRYDOCK_BENCH_SECONDS per HTTP run (2), DRYDOCK_BENCH_PAIRS (7),
# DRYDOCK_BENCH_CONNECTIONS (8), DRYDOCK_BENCH_SWAP_MS (2), DRYDOCK_BENCH_PIN (1:
# server on CPU 0, wrk on CPU 1), DRYDOCK_BENCH_SCALE for
# the decision iteration counts (1.0). Raw outputs land in target/bench/.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

step "toolchain and load generator"
rustup target add wasm32-unknown-unknown >/dev/null
if ! command -v wrk >/dev/null; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq wrk >/dev/null
fi

step "release build (host, benches, example, the peers' bench, the server)"
cargo build --release -p drydock-engine -p drydock-gate --benches --examples
cargo build --release --manifest-path bench/peers/Cargo.toml --target-dir target
cargo build --release -p drydock --bin drydock

out=target/bench
mkdir -p "$out"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

step "0. the peers on the 960-request mix (bench/peers)"
target/release/drydock-peer-bench | tee "$out/peers.txt"

step "1. one decision: percentiles (decision_latency)"
cargo bench -q -p drydock-gate --bench decision_latency | tee "$out/decision_latency.txt"

step "1. one decision: criterion (decision)"
cargo bench -q -p drydock-engine --bench decision -- --warm-up-time 1 --measurement-time 3 | tee "$out/decision.txt"

step "2-4. HTTP with and without the gate, swaps, memory (http_load, wrk)"
cargo bench -q -p drydock-gate --bench http_load | tee "$out/http_load.txt"

step "5. drydock serve: idle CPU, resident memory idle and under load (bench-serve.sh)"
scripts/bench-serve.sh | tee "$out/serve.txt"

step "6. a busy manager: a backlog, 1 against 8 writers, draining (bench-backlog.sh)"
scripts/bench-backlog.sh | tee "$out/backlog.txt"

load_after=$(cut -d' ' -f1-3 /proc/loadavg)

criterion() { # name -> middle estimate, e.g. "412.3 ns"
  grep -A1 "^$1" "$out/decision.txt" | grep -o 'time: *\[[^]]*\]' | awk '{print $4, $5}'
}

{
  echo
  echo "## Results"
  echo
  echo "- machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores, $(free -g | awk '/^Mem:/{print $2}') GiB, $(uname -sr)"
  echo "- date: $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- host policy-wasm || echo ' (with local changes)')"
  echo "- command: \`scripts/bench.sh\`"
  echo "- load average (1/5/15 min) before / after: $load_before / $load_after (anything else running on the machine shows up in the tails)"
  echo
  grep '^|' "$out/peers.txt"
  echo
  grep '^|' "$out/decision_latency.txt"
  echo "| criterion mean estimate, reused / fresh instance (deny case) | $(criterion decide/reused-instance) / $(criterion decide/fresh-instance) | — | — |"
  echo
  grep '^|' "$out/http_load.txt"
  echo
  echo "| \`drydock serve\` | result | target | met |"
  echo "|---|---|---|---|"
  grep '^|' "$out/serve.txt"
  echo
  grep -E '^(\||###)' "$out/backlog.txt"
} | tee "$out/table.md"
