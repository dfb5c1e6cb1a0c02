#!/usr/bin/env bash
# Runs every test of the appliance, installing what the tests need first.
# This is the README's test command; CI (.ci/run) calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step says how long the script has run so far, so a slow CI run shows which step grew.
step() { printf '\n==> [%dm%02ds] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }

step "toolchain: $(cargo --version)"

step "test tools: snarkjs (npm, pinned in package.json) into node_modules/"
if ! command -v npm >/dev/null 2>&1; then
    echo "npm not found: installing Node.js from Debian" >&2
    apt-get update -qq && apt-get install -y -qq nodejs npm
fi
npm install --no-audit --no-fund --loglevel=error
export REQUIRE_SNARKJS=1

step "test tools: PoCL (OpenCL on the CPU: the GPU kernels run on it) and NVRTC/ptxas wheels"
# The OpenCL backend loads libOpenCL at run time; PoCL gives it a CPU device, so the same
# kernel source that runs on GPUs is executed here and compared with the CPU backend.
if [ ! -e /etc/OpenCL/vendors/pocl.icd ] || ! ldconfig -p | grep -q 'libOpenCL.so.1'; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pocl-opencl-icd ocl-icd-opencl-dev
fi
# The CUDA flavour of the source is compiled (not run: no GPU here) with NVRTC and ptxas from
# NVIDIA's PyPI wheels, which need no GPU and no driver.
CUDA_WHEELS="${CUDA_WHEELS:-$HOME/.cache/appliance/cuda-wheels-12.9.86}"
if [ ! -x "$CUDA_WHEELS/nvidia/cuda_nvcc/bin/ptxas" ] || [ ! -e "$CUDA_WHEELS/nvidia/cuda_nvrtc/lib/libnvrtc.so.12" ]; then
    python3 -m pip install --quiet --disable-pip-version-check --target "$CUDA_WHEELS" \
        nvidia-cuda-nvrtc-cu12==12.9.86 nvidia-cuda-nvcc-cu12==12.9.86
fi

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

step "appliance selftest on the OpenCL backend (PoCL CPU device)"
cargo run --release --quiet -- selftest --backend opencl --max-log 12

step "the same kernels through a second OpenCL compiler: Mesa's rusticl on llvmpipe"
# PoCL is one compiler; real AMD and Intel GPUs run others. rusticl (Mesa's OpenCL, Debian's
# mesa-opencl-icd) builds the source through SPIR-V and NIR instead, and once computed wrong
# Fq2 differences where PoCL did not (fq2.h). Its llvmpipe device is a CPU one, offered only
# with RUSTICL_ENABLE, so the other steps do not see it (the package also registers Clover,
# which offers AMD GPUs only: none on CI machines); OCL_ICD_VENDORS makes it the only device
# here. The field arithmetic (Fq, Fr, Fq2) and the NTT (each twiddle product) run; the MSM
# kernels do not: llvmpipe spends minutes compiling each of them (12 min for the G1 ones on
# 2 cores).
if [ ! -e /etc/OpenCL/vendors/rusticl.icd ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mesa-opencl-icd
fi
mkdir -p target/rusticl-only && cp /etc/OpenCL/vendors/rusticl.icd target/rusticl-only/
OCL_ICD_VENDORS="$PWD/target/rusticl-only" OCL_ICD_FILENAMES= RUSTICL_ENABLE=llvmpipe GPU_SUITE_MSM=0 GPU_SUITE_MAX_LOG=16 \
    cargo test --release --workspace --test opencl -- --test-threads 1 \
    field_arithmetic the_kernels_build_and_agree_as_opencl_c_1_1 twiddle_product \
    ntt_passes device_prefix_sums opencl_backend_passes_the_conformance_suite

step "CUDA kernels: NVRTC + ptxas for sm_80 and sm_90 (fails on errors, on G1 MSM / NTT spills and on a wrong interpreted field product, sum or difference)"
LD_LIBRARY_PATH="$CUDA_WHEELS/nvidia/cuda_nvrtc/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    cargo run --release --quiet -p kernels-gpu --features cuda --example gpu-compile-check -- \
    --ptxas "$CUDA_WHEELS/nvidia/cuda_nvcc/bin/ptxas" --arch sm_80,sm_90 --out target/gpu-compile-check
# The default CUDA product is the carry-chain one (PTX assembly, run nowhere else here); the
# portable ones, kept for A/B runs on a card, must compile without spills and give arkworks'
# products too.
for product in cios nocarry; do
    APPLIANCE_GPU_FIELD_PRODUCT=$product \
    LD_LIBRARY_PATH="$CUDA_WHEELS/nvidia/cuda_nvrtc/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
        cargo run --release --quiet -p kernels-gpu --features cuda --example gpu-compile-check -- \
        --ptxas "$CUDA_WHEELS/nvidia/cuda_nvcc/bin/ptxas" --arch sm_80,sm_90 \
        --out "target/gpu-compile-check-$product"
done

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

step "all passed"
