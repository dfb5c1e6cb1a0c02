#!/usr/bin/env bash
# Runs every test of the appliance, installing what the tests need first.
# This is the README's test command; CI (.ci/run) calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain: $(cargo --version)"

step "format and lint"
cargo fmt --all --check
cargo clippy --release --workspace --all-targets -- -D warnings

step "tests (release: the heavy math needs it)"
cargo test --release --workspace

step "criterion benches compile and run once per size (smoke, not timing)"
BENCH_LOG_SIZES=8 cargo bench -p bench --bench msm -- --test
BENCH_LOG_SIZES=8 cargo bench -p bench --bench ntt -- --test

step "appliance selftest on the CPU backend"
cargo run --release --quiet -- selftest --backend cpu --max-log 14
