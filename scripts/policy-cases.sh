#!/usr/bin/env bash
# Runs the shipped case tables through the built policy components (the very bytes
# embedded in the binary), with `drydock policy test`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q -p drydock --bin drydock
target/debug/drydock policy test builtin:default policy-wasm/default/cases/*.yaml
target/debug/drydock policy test builtin:strict policy-wasm/strict/cases/*.yaml
