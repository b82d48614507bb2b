#!/usr/bin/env bash
# Runs every test drydock has: native policy rules, host unit tests, end-to-end tests
# against the real binary, the shipped policy case tables through the real engine,
# and the interop test with the real Cloudify CLI. Installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain: the wasm target the policies build for"
rustup target add wasm32-unknown-unknown >/dev/null
step "packages: openssl (the TLS tests' certificates); chromium and its driver (the console test's browser)"
missing=()
command -v openssl >/dev/null || missing+=(openssl)
[ -x /usr/bin/chromium ] || missing+=(chromium)
{ [ -x /usr/bin/chromedriver ] || [ -x /usr/lib/chromium/chromedriver ]; } || missing+=(chromium-driver)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

step "build (host, embedded policies, tests)"
cargo build --workspace --all-targets

if [ -n "${DRYDOCK_TEST_DATABASE_URL:-}" ]; then
  step "database: the PostgreSQL server in DRYDOCK_TEST_DATABASE_URL"
else
  pg_dir=$(mktemp -d)
  # Registered before starting, so a half-started server is cleaned up too.
  trap 'scripts/postgres.sh stop "$pg_dir"' EXIT
  step "database: a throwaway PostgreSQL server in $pg_dir (scripts/postgres.sh; set DRYDOCK_TEST_DATABASE_URL to use your own)"
  DRYDOCK_TEST_DATABASE_URL=$(scripts/postgres.sh start "$pg_dir")
  export DRYDOCK_TEST_DATABASE_URL
  echo "DRYDOCK_TEST_DATABASE_URL=$DRYDOCK_TEST_DATABASE_URL"
fi

step "cargo test: policy rules, host units, end-to-end over HTTP"
cargo test --workspace

if [ -x scripts/policy-cases.sh ]; then
  step "policy case tables through the built components"
  scripts/policy-cases.sh
fi

step "interop: the real Cloudify CLI (PyPI cloudify==7.0.5) against drydock"
scripts/interop.sh

step "API fuzzing: schemathesis from the OpenAPI document, in every maintenance state (scripts/api-fuzz.sh --long runs longer)"
scripts/api-fuzz.sh

step "cargo fuzz: a smoke run of each fuzz target (scripts/fuzz.sh --long runs longer)"
scripts/fuzz.sh
