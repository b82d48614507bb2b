#!/usr/bin/env bash
# Runs every test drydock has: native policy rules, host unit tests, end-to-end tests
# against the real binary, every fuzz target's seeds and saved regressions, the
# shipped policy case tables through the real engine, the interop test with the real
# Cloudify CLI, and schemathesis from the OpenAPI document. Installs what it needs.
# Real (instrumented, coverage-guided) fuzzing is the separate scripts/fuzz.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain: the wasm target the policies build for"
rustup target add wasm32-unknown-unknown >/dev/null
step "packages: openssl (the TLS tests' certificates); chromium and its driver (the console test's browser); python3-venv and npm (Python and JavaScript policies)"
missing=()
command -v openssl >/dev/null || missing+=(openssl)
[ -x /usr/bin/chromium ] || missing+=(chromium)
{ [ -x /usr/bin/chromedriver ] || [ -x /usr/lib/chromium/chromedriver ]; } || missing+=(chromium-driver)
# Python and JavaScript policies: componentize-py comes from PyPI into a venv,
# componentize-js from npm (tests/tests/polyglot.rs, into target/drydock-tools).
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

step "build (host, embedded policies, tests)"
cargo build --workspace --all-targets
step "build the guest policies the tests build (drydock policy build; the tests' own runs are then no-ops)"
for p in default strict hostile; do
  target/debug/drydock policy build "policy-wasm/$p" -o "target/policy-build/$p.wasm" >/dev/null
done

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
