#!/usr/bin/env bash
# The GPU checks of issue 4, run on a lent GPU machine (the `device` tool) in one call:
# selftest, fixture proofs (CUDA against CPU), the resident NTT, and the MSM/NTT/prove
# bench tables against the CPU references, each step under its own time limit so that a
# slow or failing step still leaves the others' results. Logs go to $OUT.
#
# Prepare here (x86-64 builds; the device image has no Rust toolchain):
#   cargo build --release && cargo build --release -p kernels-gpu --features cuda,opencl \
#       --example gpu-resident
#   mkdir -p .gpu/fx && strip -o .gpu/appliance target/release/appliance \
#       && strip -o .gpu/gpu-resident target/release/examples/gpu-resident
#   cp ../shared/fixtures/groth16/{poseidon_chain_32,range_check} ... (zkey, witness) to .gpu/fx/
# and, to compare with an earlier commit on the same card, that commit's stripped binary as
# .gpu/appliance-base (git worktree add /tmp/base COMMIT; cargo build --release there).
# The carry holds 64 MiB: two stripped binaries and the fixtures come to ~60 MiB, so gzip
# the binaries (`gzip -9 .gpu/appliance*`: 20 -> 7 MiB each); this script unpacks them.
# Then call the device tool with carry [".gpu"] and `bash scripts/gpu-device-run.sh`
# (`PROFILE=1 bash ...`: selftest, proofs, the resident NTT and Nsight Compute profiles of
# the hot kernels instead of the bench tables).
set -u
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
B=.gpu/appliance
step() { echo; echo "== $(date +%T) $*"; }
for z in .gpu/*.gz; do
  [ -e "$z" ] && gunzip -f "$z" && chmod +x "${z%.gz}"
done

step machine
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm,power.limit --format=csv
echo "cores: $(nproc)"
# cudarc looks for libnvrtc.so or libnvrtc.so.12; a CUDA 13 image has libnvrtc.so.13.
nvrtc=$(find /usr/local /usr/lib /opt -name 'libnvrtc.so*' 2>/dev/null | grep -v -e builtins -e alt -e stubs | sort -V | tail -1)
echo "libnvrtc: ${nvrtc:-none}"
mkdir -p /tmp/nvlib
[ -n "$nvrtc" ] && ln -sf "$nvrtc" /tmp/nvlib/libnvrtc.so
export LD_LIBRARY_PATH="/tmp/nvlib${nvrtc:+:$(dirname "$nvrtc")}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

selftest() {
  timeout 150 $B selftest --backend cuda --max-log 16 --seed 7 >"$OUT/selftest.txt" 2>/tmp/selftest.err
  local rc=$?
  tr '\r' '\n' </tmp/selftest.err | sed 's/\x1b\[2K//' | grep -v -e '^\s*\[[0-9]*\] ' -e '^\s*$' | tail -8
  tr '\r' '\n' </tmp/selftest.err | grep -i -e fail -e mismatch | head -20
  cat "$OUT/selftest.txt"; echo "selftest exit $rc"; return $rc
}
# NVRTC at run time, into an empty cache: the compile is part of the first step's time.
export APPLIANCE_CACHE_DIR=/tmp/appliance-cache
step "selftest --backend cuda (NVRTC compile included)"
selftest

# The CUDA proofs come back (at most 8 files return) for `snarkjs groth16 verify` there.
for c in poseidon_chain_32 range_check; do
  for b in cuda cpu; do
    dir=$OUT; [ $b = cpu ] && dir=/tmp
    step "prove $c --backend $b"
    timeout 60 $B prove --backend $b -v --zkey .gpu/fx/$c/circuit_final.zkey \
      --witness .gpu/fx/$c/witness.wtns --proof "$dir/${c}_$b.proof.json" \
      --public "$dir/${c}_$b.public.json" 2>&1 | tail -25
    echo "prove exit ${PIPESTATUS[0]}"
  done
done

if [ "${PROFILE:-0}" = 1 ]; then
  # Nsight Compute on the hot kernels (clocks left as they are): the bound of each.
  ncu=$(command -v ncu || find /usr/local /opt -name ncu -type f 2>/dev/null | head -1)
  sections="--section SpeedOfLight --section Occupancy --section WarpStateStats --section LaunchStats"
  step "ncu: NTT passes at 2^22"
  timeout 120 "$ncu" --clock-control none $sections -k regex:'Fr_ntt_first|Fr_ntt_strided' -c 2 \
    .gpu/gpu-resident --backend cuda --log-n 22 --runs 1 >"$OUT/ncu_ntt.txt" 2>&1
  grep -E "Fr_ntt|Duration|Memory Throughput|Compute \(SM\) Throughput|Registers Per|Achieved Occupancy|Theoretical Occupancy|Warp Cycles Per Issued|Stall|smsp__pcsamp" "$OUT/ncu_ntt.txt" | head -40
  step "ncu: MSM kernels at 2^20"
  timeout 150 "$ncu" --clock-control none $sections -k regex:'G1_sum_chunks|G1_sum_points|G1_reduce_buckets|msm_scatter|layout_segments|scan_blocks' -c 4 \
    $B bench msm --backend cuda --log-n 20 --runs 1 >"$OUT/ncu_msm.txt" 2>&1
  grep -E "G1_|msm_|Duration|Memory Throughput|Compute \(SM\) Throughput|Registers Per|Achieved Occupancy|Theoretical Occupancy|Warp Cycles Per Issued" "$OUT/ncu_msm.txt" | head -60
  step done
  exit 0
fi

# In order of what the open predictions need (a 600 s call may be cut short; every step's
# output is already in $OUT/run.log when the next starts).

# The carry-chain field product (NOTES 18): half the SASS of the G1 bucket sums, two thirds
# of the NTT passes'. Correct on the card first, then timed against the default in turns.
step "carry-chain field product: selftest, range_check proof, then resident MSM / NTT against the default"
APPLIANCE_GPU_FIELD_PRODUCT=chains timeout 150 $B selftest --backend cuda --max-log 16 --seed 11 2>/dev/null | tail -1
APPLIANCE_GPU_FIELD_PRODUCT=chains timeout 60 $B prove --backend cuda \
  --zkey .gpu/fx/range_check/circuit_final.zkey --witness .gpu/fx/range_check/witness.wtns \
  --proof "$OUT/range_check_chains.proof.json" --public "$OUT/range_check_chains.public.json" 2>&1 | tail -2
for product in chains cios chains cios; do
  echo "-- $product"
  APPLIANCE_GPU_FIELD_PRODUCT=$product timeout 90 .gpu/gpu-resident --backend cuda --op msm --log-n 20,24 --runs 5 2>&1 | grep "^msm"
  APPLIANCE_GPU_FIELD_PRODUCT=$product timeout 60 .gpu/gpu-resident --backend cuda --log-n 22,24 --runs 5 2>&1 | grep "^ntt"
done
for product in chains cios; do
  APPLIANCE_GPU_FIELD_PRODUCT=$product timeout 90 $B bench msm --backend cuda --group g2 --log-n 16,18 --runs 3 2>&1 | grep msm-g2
done
step "bench msm g1 --backend cuda (with the per-phase trace of every GPU MSM)"
APPLIANCE_GPU_TRACE=1 timeout 200 $B bench msm --backend cuda --log-n 16,18,20,22,24 --runs 3 2>&1

# A/B: a binary of an earlier commit carried as .gpu/appliance-base is timed on the same
# card in the same call (ratios between calls mix machines).
if [ -x .gpu/appliance-base ]; then
  step "bench msm g1 --backend cuda with .gpu/appliance-base (the earlier commit, for A/B)"
  APPLIANCE_GPU_TRACE=1 timeout 150 .gpu/appliance-base bench msm --backend cuda --log-n 16,20,24 --runs 3 2>&1
fi

step "G1 MSM with bases and scalars resident on the device (the kernels alone)"
APPLIANCE_GPU_TRACE=1 timeout 120 .gpu/gpu-resident --backend cuda --op msm --log-n 16,20,24 --runs 5 2>&1 | grep -v -e "trace.*n=65536 "

# Whole proofs at sizes the fixtures do not reach: random circuits proved by us (key
# resident) and by ark-groth16 on the host's cores, equal proofs required. The phases show
# the quotient beside the witness MSMs and the witness sorted once for A, B1, B2 and C.
step "bench prove --synthetic 18,20 --backend cuda, then cpu (our CPU backend, same machine)"
timeout 120 $B bench prove --synthetic 18,20 --backend cuda --runs 3 2>&1
timeout 120 $B bench prove --synthetic 20 --backend cpu --runs 2 2>&1


step "NTT with data resident on the device"
APPLIANCE_GPU_TRACE=1 timeout 90 .gpu/gpu-resident --backend cuda --log-n 16,18,20,22,24 --runs 10 2>&1 | grep -v -e "trace.*2^1[68]" -e "trace.*2^2[02]"

step "the same with APPLIANCE_CUDA_STAGING=0 (transfers from pageable memory, for the A/B of the staging buffers)"
APPLIANCE_CUDA_STAGING=0 timeout 60 .gpu/gpu-resident --backend cuda --log-n 20,24 --runs 3 2>&1 | grep "^ntt"

step "A/B of the field product: APPLIANCE_GPU_FIELD_PRODUCT=nocarry (4-8% fewer SASS instructions, more of them IMAD)"
APPLIANCE_GPU_FIELD_PRODUCT=nocarry timeout 60 .gpu/appliance selftest --backend cuda --max-log 12 --seed 3 2>/dev/null | tail -1
APPLIANCE_GPU_FIELD_PRODUCT=nocarry timeout 60 .gpu/gpu-resident --backend cuda --log-n 22,24 --runs 5 2>&1 | grep "^ntt"
APPLIANCE_GPU_FIELD_PRODUCT=nocarry timeout 90 .gpu/gpu-resident --backend cuda --op msm --log-n 20,24 --runs 3 2>&1 | grep "^msm"

step "bench ntt --backend cuda"
timeout 120 $B bench ntt --backend cuda --log-n 16,18,20,22,24 --runs 3 2>&1

step "bench prove --backend cuda"
timeout 60 $B bench prove --backend cuda --snarkjs none --runs 5 \
  --zkey .gpu/fx/poseidon_chain_32/circuit_final.zkey --witness .gpu/fx/poseidon_chain_32/witness.wtns 2>&1

# Window widths and precomputed copies around the defaults (window_bits: 16 at 2^20/2^22).
step "bench msm g1 --backend cuda: window and precompute sweep at 2^20 and 2^22"
for c in 14 18 20; do
  timeout 60 $B bench msm --backend cuda --log-n 20,22 --window $c --runs 2 2>&1 | grep msm-g1
done
for k in 2 4; do
  timeout 60 $B bench msm --backend cuda --log-n 20,22 --precompute $k --runs 2 2>&1 | grep msm-g1
done

step "bench msm g2 --backend cuda"
timeout 60 $B bench msm --backend cuda --group g2 --log-n 14,16 --runs 3 2>&1

step done
