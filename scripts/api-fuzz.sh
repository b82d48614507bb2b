#!/usr/bin/env bash
# schemathesis against a live `drydock serve` in every maintenance state, driven by
# the API's own OpenAPI document (tests/api/fuzz_api.py says what is checked).
#
#   scripts/api-fuzz.sh          the bounded run the test command makes: every phase
#                                of each pass once, to its end (8 examples per
#                                operation in the fuzzing phase), a fixed seed, no clock
#   scripts/api-fuzz.sh --long   a longer run with a new seed (200 examples, and
#                                fuzzing and stateful repeated for 10 min per pass);
#                                FUZZ_EXAMPLES / FUZZ_SECONDS / FUZZ_SEED /
#                                FUZZ_PASS_TIMEOUT override either
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--long" ]; then
  export FUZZ_EXAMPLES=${FUZZ_EXAMPLES:-200} FUZZ_SECONDS=${FUZZ_SECONDS:-600} FUZZ_SEED=${FUZZ_SEED:-random}
fi

venv=target/interop-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
if [ ! -x "$venv/bin/st" ]; then
  "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==4.32.5" "openapi-spec-validator==0.9.0"
fi
# The test command's own selection: `-p drydock` alone would compile another feature variant.
cargo build -q --workspace --all-targets
export FUZZ_REPORT_DIR=${FUZZ_REPORT_DIR:-$PWD/target/api-fuzz}
DRYDOCK_BIN="$PWD/target/debug/drydock" "$venv/bin/python" tests/api/fuzz_api.py
