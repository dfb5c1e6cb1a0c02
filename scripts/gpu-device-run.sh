#!/usr/bin/env bash
# The GPU checks of issue 4, run on a lent GPU machine (the `device` tool) in one call:
# selftest, fixture proofs (CUDA against CPU), the resident NTT, and the MSM/NTT/prove
# bench tables against the CPU references, each step under its own time limit so that a
# slow or failing step still leaves the others' results. Logs go to $OUT.
#
# Prepare here (x86-64 builds; the device image has no Rust toolchain):
#   cargo build --release && cargo build --release -p kernels-gpu --features cuda,opencl \
#       --example gpu-ntt-resident
#   mkdir -p .gpu/fx && strip -o .gpu/appliance target/release/appliance \
#       && strip -o .gpu/gpu-ntt-resident target/release/examples/gpu-ntt-resident
#   cp ../shared/fixtures/groth16/{poseidon_chain_32,range_check} ... (zkey, witness) to .gpu/fx/
# and call the device tool with carry [".gpu"] and `bash scripts/gpu-device-run.sh`.
set -u
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
B=.gpu/appliance
step() { echo; echo "== $(date +%T) $*"; }

step machine
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm,power.limit --format=csv
echo "cores: $(nproc)"
# cudarc looks for libnvrtc.so or libnvrtc.so.12; a CUDA 13 image has libnvrtc.so.13.
nvrtc=$(find /usr/local /usr/lib /opt -name 'libnvrtc.so*' 2>/dev/null | grep -v -e builtins -e alt | sort -V | tail -1)
cuda=$(find /usr/local /usr/lib /usr/lib64 -name 'libcuda.so.1' 2>/dev/null | head -1)
echo "libnvrtc: ${nvrtc:-none}  libcuda: ${cuda:-none}"
mkdir -p /tmp/nvlib
[ -n "$nvrtc" ] && ln -sf "$nvrtc" /tmp/nvlib/libnvrtc.so
export LD_LIBRARY_PATH="/tmp/nvlib${nvrtc:+:$(dirname "$nvrtc")}${cuda:+:$(dirname "$cuda")}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

selftest() {
  timeout 150 $B selftest --backend cuda --max-log 16 --seed 7 >"$OUT/selftest.txt" 2>"$OUT/selftest.err"
  local rc=$?
  tr '\r' '\n' <"$OUT/selftest.err" | sed 's/\x1b\[2K//' | grep -v -e '^\s*\[[0-9]*\] ' -e '^\s*$' | tail -8
  tr '\r' '\n' <"$OUT/selftest.err" | grep -i -e fail -e mismatch | head -20
  cat "$OUT/selftest.txt"; echo "selftest exit $rc"; return $rc
}
# First with NVRTC at run time into an empty cache; should NVRTC itself fail, again with the
# PTX that NVRTC 12.9 made on the build machine (.gpu/cache, named by the same cache key).
export APPLIANCE_CACHE_DIR=/tmp/appliance-cache
step "selftest --backend cuda (NVRTC compile included)"
if ! selftest && grep -qi -e nvrtc -e compile "$OUT/selftest.err" "$OUT/selftest.txt"; then
  export APPLIANCE_CACHE_DIR=$PWD/.gpu/cache
  step "selftest --backend cuda with the carried PTX"
  selftest
fi

for c in poseidon_chain_32 range_check; do
  for b in cuda cpu; do
    step "prove $c --backend $b"
    timeout 60 $B prove --backend $b -v --zkey .gpu/fx/$c/circuit_final.zkey \
      --witness .gpu/fx/$c/witness.wtns --proof "$OUT/${c}_$b.proof.json" \
      --public "$OUT/${c}_$b.public.json" 2>&1 | tail -25
    echo "prove exit ${PIPESTATUS[0]}"
  done
done

step "NTT with data resident on the device"
timeout 90 .gpu/gpu-ntt-resident --backend cuda --log-n 16,18,20,22,24 --runs 10 2>&1 | tee "$OUT/ntt_resident.txt"

step "bench msm g1 --backend cuda"
timeout 200 $B bench msm --backend cuda --log-n 16,18,20,22,24 --runs 3 2>&1 | tee "$OUT/bench_msm.txt"

step "bench ntt --backend cuda"
timeout 120 $B bench ntt --backend cuda --log-n 16,18,20,22,24 --runs 3 2>&1 | tee "$OUT/bench_ntt.txt"

step "bench prove --backend cuda / cpu"
for b in cuda cpu; do
  timeout 60 $B bench prove --backend $b --snarkjs none --runs 5 \
    --zkey .gpu/fx/poseidon_chain_32/circuit_final.zkey --witness .gpu/fx/poseidon_chain_32/witness.wtns 2>&1 | tee "$OUT/bench_prove_$b.txt"
done

step "bench msm g2 --backend cuda"
timeout 60 $B bench msm --backend cuda --group g2 --log-n 14,16 --runs 3 2>&1 | tee "$OUT/bench_msm_g2.txt"
step done
