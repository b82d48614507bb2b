#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo fuzz, libFuzzer) of what takes untrusted bytes:
#   component     the component loader and validator (seeds: the shipped policies)
#   case_table    the case-table parser of `drydock policy test` (seeds: the shipped tables)
#   request       the request descriptor from arbitrary method, path and headers
#   cli_response  the command line's reading of server answers and event streams
#
#   scripts/fuzz.sh                 a smoke run: 30 s per target (what the test command runs)
#   scripts/fuzz.sh --long [SECS]   longer: 600 s per target by default
#   scripts/fuzz.sh TARGET...       only these targets (with either of the above)
#
# Corpora grow in target/fuzz-corpus/TARGET; a crash is saved in
# target/fuzz-artifacts/TARGET/ and fails the run. Every crash found is kept in
# fuzz/regressions/TARGET/ and replayed first on every run. Built with
# `-s none` (no sanitizer) so it builds on the stable toolchain; with a nightly
# one, FUZZ_SANITIZER=address adds AddressSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=30
if [ "${1:-}" = "--long" ]; then
  shift
  secs=600
  if [[ "${1:-}" =~ ^[0-9]+$ ]]; then secs=$1; shift; fi
fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(component case_table request cli_response)
sanitizer=${FUZZ_SANITIZER:-none}

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: installing cargo-fuzz (cargo install cargo-fuzz --locked)"
  cargo install -q cargo-fuzz --locked
fi
cargo fuzz build -s "$sanitizer" -O

seeds() {
  case $1 in
    component) echo policy-wasm/builtin ;;
    case_table) echo policy-wasm/default/cases policy-wasm/strict/cases ;;
    *) [ -d "fuzz/seeds/$1" ] && echo "fuzz/seeds/$1" ;;
  esac
}

for t in "${targets[@]}"; do
  corpus=target/fuzz-corpus/$t
  artifacts=target/fuzz-artifacts/$t
  mkdir -p "$corpus" "$artifacts"
  if compgen -G "fuzz/regressions/$t/*" >/dev/null; then
    echo "==> fuzz $t: replaying fuzz/regressions/$t"
    cargo fuzz run -s "$sanitizer" -O "$t" fuzz/regressions/"$t"/* -- -runs=1 -close_fd_mask=1
  fi
  echo "==> fuzz $t: $secs s"
  log=$artifacts/last-run.log
  rc=0
  # shellcheck disable=SC2046 # seed directories are words
  cargo fuzz run -s "$sanitizer" -O "$t" "$corpus" $(seeds "$t") -- \
    -max_total_time="$secs" -close_fd_mask=1 -rss_limit_mb=4096 -timeout=20 \
    -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1 || rc=$?
  grep -E "^#[0-9]+ +DONE|^stat::(number_of_executed_units|peak_rss_mb)|^SUMMARY|Test unit written|panicked at" "$log" || true
  if [ "$rc" -ne 0 ]; then
    tail -n 40 "$log" >&2
    echo "fuzz.sh: $t failed (exit $rc); the input is in $artifacts/, the whole log in $log" >&2
    echo "  reproduce: cargo fuzz run -s $sanitizer -O $t $artifacts/<file>" >&2
    exit 1
  fi
done
echo "fuzz.sh: ${targets[*]}: no crash in $secs s each"
