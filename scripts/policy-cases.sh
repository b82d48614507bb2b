#!/usr/bin/env bash
# Runs the shipped case tables through the built policy components (the very bytes
# embedded in the binary), with `drydock policy test`.
set -euo pipefail
cd "$(dirname "$0")/.."
# The test command's own selection: `-p drydock` alone would compile another feature variant.
cargo build -q --workspace --all-targets
target/debug/drydock policy test builtin:default policy-wasm/default/cases/*.yaml
target/debug/drydock policy test builtin:strict policy-wasm/strict/cases/*.yaml
