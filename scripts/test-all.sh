#!/usr/bin/env bash
# Runs every test of the appliance, installing what the tests need first.
# This is the README's test command; CI (.ci/run) calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain: $(cargo --version)"

step "test tools: snarkjs (npm, pinned in package.json) into node_modules/"
if ! command -v npm >/dev/null 2>&1; then
    echo "npm not found: installing Node.js from Debian" >&2
    apt-get update -qq && apt-get install -y -qq nodejs npm
fi
npm install --no-audit --no-fund --loglevel=error
export REQUIRE_SNARKJS=1

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

if [ -n "${FUZZ_SECONDS:-}" ]; then
    step "fuzz the readers and the attestation verifier for ${FUZZ_SECONDS}s each"
    command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz
    mkdir -p fuzz/corpus/zkey fuzz/corpus/wtns_r1cs fuzz/corpus/snarkjs_json fuzz/corpus/attestation
    cp ../shared/fixtures/groth16/*/circuit_final.zkey fuzz/corpus/zkey/ 2>/dev/null || true
    cp prover/attest/testdata/aws.bin fuzz/corpus/attestation/
    # cargo-fuzz needs nightly flags: use a nightly toolchain when rustup has one, else let
    # the stable compiler accept them.
    if rustup toolchain list 2>/dev/null | grep -q nightly; then fuzz=(cargo +nightly fuzz); else
        export RUSTC_BOOTSTRAP=1; fuzz=(cargo fuzz); fi
    for target in zkey wtns_r1cs snarkjs_json attestation; do
        (cd fuzz && "${fuzz[@]}" run "$target" "corpus/$target" -- \
            -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=4096)
    done
fi
