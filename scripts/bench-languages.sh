#!/usr/bin/env bash
# What a policy costs by the language it is written in: the same rules (Cloudify's
# default) as the embedded Rust component, and as `drydock policy new --lang python`
# and `--lang js` build them. For each: the component's size, the memory it holds at
# start and the budget an upload gives it, the time to compile it (first load, no
# cache) and to start a fresh instance, and the decision latency on the default
# case tables through the real engine (`drydock policy bench`, one thread). Release
# build; prints a Markdown table (README, BENCHMARKS.md).
#
#   scripts/bench-languages.sh
#
# Knobs: DRYDOCK_BENCH_ITERATIONS decisions per language (20000); DRYDOCK_TOOLS_DIR
# where componentize-py / componentize-js are kept (fetched once).
set -euo pipefail
cd "$(dirname "$0")/.."
iterations=${DRYDOCK_BENCH_ITERATIONS:-20000}
export DRYDOCK_TOOLS_DIR=${DRYDOCK_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/drydock/tools}
cargo build --release -q -p drydock
d=target/release/drydock
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$d" policy new bench-py --lang python --parent "$work" >/dev/null
"$d" policy new bench-js --lang js --parent "$work" >/dev/null
"$d" policy build "$work/bench-py" -o "$work/py.wasm" >/dev/null
"$d" policy build "$work/bench-js" -o "$work/js.wasm" >/dev/null
cases=(policy-wasm/default/cases/*.yaml)
echo "| language | component | memory at start | budget (memory, deadline) | compile (first load) | fresh instance | decision p50 | p99 | faults |"
echo "|---|---|---|---|---|---|---|---|---|"
for spec in "Rust|builtin:default" "Python|$work/py.wasm" "JavaScript|$work/js.wasm"; do
  lang=${spec%%|*} policy=${spec#*|}
  # One load: a compilation (the offline artifact cache emptied first), then one case table.
  rm -rf "$DRYDOCK_TOOLS_DIR/artifacts"
  start=$(date +%s.%N)
  "$d" policy test "$policy" policy-wasm/default/cases/deactivated.yaml >/dev/null
  compile=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f} s')" "$start" "$(date +%s.%N)")
  info=$("$d" policy inspect "$policy" --json)
  bench=$("$d" policy bench "$policy" "${cases[@]}" --iterations "$iterations" --warmup 2000 --json)
  python3 - "$lang" "$compile" "$info" "$bench" <<'PY'
import json, sys
lang, compile, info, bench = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
mib = lambda b: f"{b / 2**20:.1f} MiB"
print(f"| {lang} | {info['size'] / 1e6:.2f} MB | {mib(info['memory_at_start_bytes'])} | "
      f"{info['memory_budget_mib']} MiB, {info['deadline_ms']} ms | {compile} | {info['start_micros'] / 1000:.2f} ms | "
      f"{bench['p50_us']:.1f} µs | {bench['p99_us']:.1f} µs | {bench['faults']} of {bench['decisions']} |")
PY
done
