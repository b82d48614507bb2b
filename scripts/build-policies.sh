#!/usr/bin/env bash
# Rebuilds the embedded policies (policy-wasm/builtin/*.wasm) from their sources with
# `drydock policy build`, the one recipe for every policy. Run it after changing
# policy-wasm/default, policy-wasm/strict or the SDK; tests/tests/builtin.rs fails
# until the committed bytes are what the sources build to.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q -p drydock --bin drydock
target/debug/drydock policy build policy-wasm/default -o policy-wasm/builtin/cloudify-default.wasm
target/debug/drydock policy build policy-wasm/strict -o policy-wasm/builtin/cloudify-strict.wasm
