#!/usr/bin/env bash
# Runs every test drydock has: native policy rules, host unit tests, end-to-end tests
# against the real binary, the shipped policy case tables through the real engine,
# and the interop test with the real Cloudify CLI. Installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain: the wasm target the policies build for; openssl for the TLS tests' certificates"
rustup target add wasm32-unknown-unknown >/dev/null
if ! command -v openssl >/dev/null; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq openssl >/dev/null
fi

step "build (host, embedded policies, tests)"
cargo build --workspace --all-targets

step "cargo test: policy rules, host units, end-to-end over HTTP"
cargo test --workspace

if [ -x scripts/policy-cases.sh ]; then
  step "policy case tables through the built components"
  scripts/policy-cases.sh
fi

step "interop: the real Cloudify CLI (PyPI cloudify==7.0.5) against drydock"
scripts/interop.sh
