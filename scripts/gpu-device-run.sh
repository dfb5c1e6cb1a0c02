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
# and, to compare with an earlier commit on the same card (MODE=ab), that commit's stripped
# binaries as .gpu/appliance-base and .gpu/gpu-resident-base (git worktree add /tmp/base
# COMMIT; the same builds there).
# The carry holds 64 MiB: two stripped binaries and the fixtures come to ~60 MiB, so gzip
# the binaries (`gzip -9 .gpu/appliance*`: 20 -> 7 MiB each); this script unpacks them.
# Then call the device tool with carry [".gpu"] and `bash scripts/gpu-device-run.sh`
# (`MODE=ab bash ...`: selftest, proofs, A/B runs against .gpu/*-base binaries, a window
# sweep, short bench tables and an Nsight Compute profile of the G1 bucket sums;
# `MODE=targets`: the issue's resident MSM and NTT targets alone; `MODE=windows`: an MSM
# window sweep; `MODE=ntt`: every .gpu/gpu-resident* binary's NTT side by side, per pass
# and under Nsight Compute; `MODE=products`: the field products of $PRODUCTS side by side
# in one binary; `MODE=bench`: the MSM and NTT bench tables 2^16..2^24; `MODE=first`: the
# NTT's variants (Montgomery, Shoup in the first pass, Shoup in every pass, and Shoup's
# radix-4 passes) side by side in one binary, then three times what `auto` picks and its
# times; `MODE=open`: what opening the backend costs `appliance prove`, every
# .gpu/appliance* binary with and without `auto`'s timing; all but `windows`, `ntt`,
# `products`, `bench`, `first` and `open` end with `oom_check`).
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

# Out of device memory on a real driver (issue 4, item 5; the tests reach those paths only
# through a device double): the device filled with ballast but for 768 MiB, then a G1 MSM
# (host scalars, then sorted once), an NTT and a Groth16 quotient with its H MSM at 2^22
# through the backend, which must split them or move them to the CPU and equal arkworks.
oom_check() {
  step "out of device memory: ballast, then MSM / NTT / quotient 2^22 with 768 MiB free"
  timeout 120 .gpu/gpu-resident --backend cuda --op oom --log-n 22 --headroom-mib 768 2>&1 | tail -12
  echo "oom exit ${PIPESTATUS[0]}"
}

# The MSM G1 and NTT bench tables (host data, transfers included, against arkworks /
# ark-poly in the same process): sizes $1 (log n list), $2 MSM runs, $3 NTT runs.
bench_tables() {
  timeout 150 $B bench msm --backend cuda --log-n "$1" --runs "$2" 2>&1 | grep -e "^op" -e "^msm"
  timeout 60 $B bench ntt --backend cuda --log-n "$1" --runs "$3" 2>&1 | grep -e "^op" -e "^ntt"
}

# One NTT variant, named $1 and run as "${@:2}" (a gpu-resident binary; the caller may set
# APPLIANCE_GPU_FIELD_PRODUCT for it): its 2^24 passes one by one (the trace waits after each
# pass), and Nsight Compute on the three passes of one 2^24 NTT with the instructions each
# pipe executed (raw pages appended to $OUT/ncu_ntt.txt; ntt_ncu_summary prints the lines
# that decided NOTES 26 and 27).
ntt_passes() {
  local label=$1; shift
  APPLIANCE_GPU_TRACE=1 timeout 40 "$@" --backend cuda --log-n 24 --runs 3 2>&1 \
    | grep "trace ntt 2^24" | tail -1 | sed "s|^|$label |"
}
ntt_ncu() {
  local label=$1 ncu; shift
  ncu=$(command -v ncu || find /usr/local /opt -name ncu -type f 2>/dev/null | head -1)
  # A named product: `auto` would time 2^22 transforms first, and -c 3 would profile those.
  local tw=${APPLIANCE_GPU_NTT_TWIDDLES:-${NCU_TWIDDLES:-montgomery}}
  echo "=== $label ($tw)" >>"$OUT/ncu_ntt.txt"
  APPLIANCE_GPU_NTT_TWIDDLES=$tw timeout 60 "$ncu" --clock-control none --section SpeedOfLight --section MemoryWorkloadAnalysis \
    --section WarpStateStats --section ComputeWorkloadAnalysis --section LaunchStats \
    --section InstructionStats --page raw \
    --metrics sm__inst_executed_pipe_fmaheavy.sum,sm__inst_executed_pipe_fmalite.sum,sm__inst_executed_pipe_alu.sum,sm__inst_executed_pipe_fma.sum,sm__pipe_alu_cycles_active.avg.pct_of_peak_sustained_elapsed,l1tex__data_bank_conflicts_pipe_lsu_mem_shared_op_ld.sum,l1tex__data_bank_conflicts_pipe_lsu_mem_shared_op_st.sum,l1tex__data_pipe_lsu_wavefronts_mem_shared.sum \
    -k regex:Fr_ntt -c 3 "$@" --backend cuda --log-n 24 --runs 1 >>"$OUT/ncu_ntt.txt" 2>&1
  echo "ncu $label exit $?"
}
ntt_ncu_summary() {
  grep -E "^===|^  Fr_ntt|gpu__time_duration.sum |sm__pipe_(fmaheavy|alu)_cycles_active.avg.pct_of_peak_sustained_elapsed |sm__issue_active.avg.pct_of_peak_sustained_elapsed |lts__throughput.avg.pct_of_peak_sustained_elapsed |sm__inst_executed_pipe_(fmaheavy|fmalite|alu|fma).sum |smsp__inst_executed.sum |stalled_(barrier|dispatch_stall|long_scoreboard|short_scoreboard|mio_throttle|math_pipe_throttle|wait)_per_issue_active.ratio |sm__warps_active.avg.pct_of_peak_sustained_active |launch__registers_per_thread |l1tex__data_bank_conflicts_pipe_lsu_mem_shared_op_(ld|st).sum |l1tex__data_pipe_lsu_wavefronts_mem_shared.sum " "$OUT/ncu_ntt.txt"
}

if [ "${MODE:-tables}" = targets ]; then
  # The issue's targets alone (a short call, e.g. on another kind of card): resident G1 MSM
  # at 2^20 and 2^24 and resident NTT up to 2^24, each checked against arkworks / ark-poly.
  # Scatter ranges: 0 is one launch per window (before NOTES 23), the default 24 MiB.
  step "targets: resident G1 MSM 2^20, 2^24 (scatter ranges default, 0, 12, 48 MiB); resident NTT 2^20..2^24"
  APPLIANCE_GPU_TRACE=1 timeout 120 .gpu/gpu-resident --backend cuda --op msm --log-n 20,24 --runs 5 \
    --scatter-kib 0,12288,49152 2>&1 \
    | grep -e "^device" -e "^msm" -e "trace msm G1 n=16777216 c=20"
  timeout 40 .gpu/gpu-resident --backend cuda --log-n 20,22,24 --runs 10 2>&1 | grep "^ntt"
  oom_check
  step done
  exit 0
fi

if [ "${MODE:-tables}" = bench ]; then
  # The issue's bench table alone, after the selftest and the fixture proofs above: MSM G1
  # and NTT 2^16..2^24 against arkworks / ark-poly in the same process (host scalars and
  # transfers included), one run each for the MSM, two for the NTT.
  step "bench msm g1, ntt --backend cuda, 2^16..2^24"
  bench_tables 16,18,20,22,24 1 2
  step done
  exit 0
fi

if [ "${MODE:-tables}" = ntt ]; then
  # NTT variants side by side on one card: every .gpu/gpu-resident* binary (the current
  # build, .gpu/gpu-resident-base and any others), in two rounds so that drift shows, then
  # each one's passes timed one by one at 2^24 (the trace waits after each pass), then
  # Nsight Compute on the three passes of one 2^24 NTT of each (or of those in $NCU_BINS).
  # One twiddle product for every binary, so that builds are compared and not `auto`'s picks.
  export APPLIANCE_GPU_NTT_TWIDDLES=${APPLIANCE_GPU_NTT_TWIDDLES:-montgomery}
  bins=$(ls .gpu/gpu-resident* | grep -v '\.gz$')
  ntt_round() {
    step "NTT round $1: resident 2^20, 2^22, 2^24"
    for bin in $bins; do
      timeout 60 $bin --backend cuda --log-n 20,22,24 --runs 10 2>&1 | grep "^ntt" | sed "s|^|${bin#.gpu/} |"
    done
  }
  ntt_round 1
  step "NTT passes at 2^24, one by one"
  for bin in $bins; do ntt_passes "${bin#.gpu/}" "$bin"; done
  step "ncu: the passes of one 2^24 NTT"
  for bin in ${NCU_BINS:-$bins}; do ntt_ncu "$bin" "$bin"; done
  ntt_ncu_summary
  ntt_round 2
  step done
  exit 0
fi

# The values $2 of the setting $1 side by side in one binary: a selftest (--max-log $3) with
# each, the resident NTT (and, with $4 = msm, the G1 MSM) in two alternating rounds, then each
# one's 2^24 passes and Nsight Compute (ntt_passes, ntt_ncu).
compare_settings() {
  local var=$1 values=$2 max_log=$3 msm=${4:-} v round
  for v in $values; do
    step "selftest --backend cuda with $var=$v"
    (export "$var=$v"; timeout 100 $B selftest --backend cuda --max-log "$max_log" --seed 5 2>/dev/null | tail -1)
  done
  for round in 1 2; do
    for v in $values; do
      step "round $round, $var=$v: resident NTT 2^20..2^24${msm:+, G1 MSM 2^20, 2^24}"
      (export "$var=$v"
       timeout 60 .gpu/gpu-resident --backend cuda --log-n 20,22,24 --runs 10 2>&1 | grep "^ntt" | sed "s|^|$v |"
       if [ -n "$msm" ]; then
         timeout 100 .gpu/gpu-resident --backend cuda --op msm --log-n 20,24 --runs 5 2>&1 | grep "^msm" | sed "s|^|$v |"
       fi)
    done
  done
  step "NTT passes at 2^24, one by one"
  for v in $values; do (export "$var=$v"; ntt_passes "$v" .gpu/gpu-resident); done
  step "ncu: the passes of one 2^24 NTT"
  for v in $values; do (export "$var=$v"; ntt_ncu "$v" .gpu/gpu-resident); done
  ntt_ncu_summary
}

if [ "${MODE:-tables}" = first ]; then
  # The NTT's variants (APPLIANCE_GPU_NTT_TWIDDLES, NOTES 29-30, 36).
  compare_settings APPLIANCE_GPU_NTT_TWIDDLES "${TWIDDLES:-montgomery shoup-first shoup shoup-radix4}" 16
  # Unset, the backend times the four at 2^22 as it opens and takes the fastest.
  step "auto: the product timed at open, then its resident NTT"
  (unset APPLIANCE_GPU_NTT_TWIDDLES
   for round in 1 2 3; do
     timeout 60 .gpu/gpu-resident --backend cuda --log-n 22,24 --runs 10 2>&1 | grep -e "^NTT twiddle" -e "^ntt"
   done)
  step done
  exit 0
fi

if [ "${MODE:-tables}" = open ]; then
  # What opening the CUDA backend costs a one-shot `appliance prove` (NOTES 32): every
  # .gpu/appliance* binary (the current build, .gpu/appliance-base and any others) with
  # `auto`, which times the twiddle products as the backend opens, and with a pinned
  # product, which does not, alternating, three rounds; then `auto`'s line and the
  # resident NTT of every .gpu/gpu-resident* binary, to check that each build's timing
  # ranks the products as the pinned transforms do.
  step "open: prove -v poseidon_chain_32, auto and pinned, every binary"
  for round in 1 2 3; do
    for bin in $(ls .gpu/appliance* | grep -v '\.gz$'); do
      for tw in auto shoup; do
        line=$(APPLIANCE_GPU_NTT_TWIDDLES=$tw timeout 60 $bin prove --backend cuda -v \
          --zkey .gpu/fx/poseidon_chain_32/circuit_final.zkey \
          --witness .gpu/fx/poseidon_chain_32/witness.wtns --proof /tmp/open.proof.json \
          --public /tmp/open.public.json 2>&1 | grep -E "^  (open backend|total) " | tr -s ' ')
        echo "round $round ${bin#.gpu/} $tw:" $line
      done
    done
  done
  step "open: auto's timing line and the resident NTT, every gpu-resident binary"
  for bin in $(ls .gpu/gpu-resident* | grep -v '\.gz$'); do
    for tw in auto shoup montgomery; do
      APPLIANCE_GPU_NTT_TWIDDLES=$tw timeout 60 $bin --backend cuda --log-n 22,24 --runs 10 2>&1 \
        | grep -e "^NTT twiddle" -e "^ntt" | sed "s|^|${bin#.gpu/} $tw |"
    done
  done
  step done
  exit 0
fi

if [ "${MODE:-tables}" = products ]; then
  # The field products (APPLIANCE_GPU_FIELD_PRODUCT), the G1 MSM timed too.
  # One twiddle product for both, so that `auto` cannot pick differently per field product.
  export APPLIANCE_GPU_NTT_TWIDDLES=${APPLIANCE_GPU_NTT_TWIDDLES:-montgomery}
  compare_settings APPLIANCE_GPU_FIELD_PRODUCT "${PRODUCTS:-chains nocarry}" 14 msm
  step done
  exit 0
fi

if [ "${MODE:-tables}" = windows ]; then
  # Resident G1 MSMs at the default window width and at ${WINDOWS} (the GPU takes 2..=20).
  step "resident G1 MSM 2^22, 2^24: default window and ${WINDOWS:=16,18,19}"
  APPLIANCE_GPU_TRACE=1 timeout 120 .gpu/gpu-resident --backend cuda --op msm --log-n 22,24 --runs 5 \
    --window "$WINDOWS" 2>&1 | grep -v -e "trace.*n=4194304" -e "trace.*sorted"
  step done
  exit 0
fi

if [ "${MODE:-tables}" = ab ]; then
  # A/B against an earlier commit's binaries on the same card (.gpu/*-base; times from
  # different calls mix machines), the MSM window widths around the default, the bench
  # tables, then Nsight Compute on the G1 bucket sums (clocks left as they are; the raw page
  # in $OUT/ncu_msm.txt). The products are named: the base may predate the chains default.
  export APPLIANCE_GPU_FIELD_PRODUCT=chains
  for bin in gpu-resident gpu-resident-base; do
    [ -x .gpu/$bin ] || continue
    step "A/B: resident G1 MSM 2^20, 2^24 and NTT 2^16..2^24 with .gpu/$bin"
    windows=""; [ $bin = gpu-resident ] && windows="--window ${WINDOWS:-18,19} --scatter-kib 0,12288,49152"
    APPLIANCE_GPU_TRACE=1 timeout 100 .gpu/$bin --backend cuda --op msm --log-n 20,24 --runs 5 \
      $windows 2>&1 | grep -e "^msm" -e "trace msm G1 n=16777216 c=20"
    timeout 60 .gpu/$bin --backend cuda --log-n 16,18,20,22,24 --runs 10 2>&1 | grep "^ntt"
  done
  step "bench msm g1, ntt --backend cuda"
  bench_tables 16,20,22,24 2 3
  step "bench prove --backend cuda: poseidon_chain_32, synthetic 2^20"
  timeout 40 $B bench prove --backend cuda --snarkjs none --runs 5 \
    --zkey .gpu/fx/poseidon_chain_32/circuit_final.zkey --witness .gpu/fx/poseidon_chain_32/witness.wtns 2>&1 | tail -16
  timeout 90 $B bench prove --synthetic 20 --backend cuda --runs 2 2>&1 | tail -14
  ncu=$(command -v ncu || find /usr/local /opt -name ncu -type f 2>/dev/null | head -1)
  step "ncu G1_sum_chunks at 2^22"
  timeout 90 "$ncu" --clock-control none --section SpeedOfLight --section Occupancy \
    --section WarpStateStats --section ComputeWorkloadAnalysis --section LaunchStats --page raw \
    -k regex:G1_sum_chunks -c 1 .gpu/gpu-resident --backend cuda --op msm --log-n 22 --runs 1 \
    >"$OUT/ncu_msm.txt" 2>&1
  echo "ncu exit $?"
  grep -E "gpu__time_duration.sum |sm__throughput.avg.pct_of_peak_sustained_elapsed |sm__pipe_fmaheavy_cycles_active.avg.pct_of_peak_sustained_elapsed |sm__pipe_alu_cycles_active.avg.pct_of_peak_sustained_active |sm__issue_active.avg.pct_of_peak_sustained_elapsed |sm__warps_active.avg.pct_of_peak_sustained_active |launch__registers_per_thread |lts__throughput.avg.pct_of_peak_sustained_elapsed |dram__throughput.avg.pct_of_peak_sustained_elapsed " "$OUT/ncu_msm.txt"
  oom_check
  step done
  exit 0
fi

# Sized for the 15 minutes of device time a session has, machine start included (~5 min
# of commands), in order of what the open predictions need; every step's output is in
# $OUT/run.log when the next starts.

# The carry-chain field product (NOTES 18; the CUDA default since 21) against CIOS: correct
# on the card first, then resident MSM and NTT timed in turns; the faster one at MSM 2^24 is
# used for every later step (exported), and the summary at the end says which.
step "carry-chain field product: selftest, range_check proof"
APPLIANCE_GPU_FIELD_PRODUCT=chains timeout 120 $B selftest --backend cuda --max-log 16 --seed 11 2>/dev/null | tail -1
APPLIANCE_GPU_FIELD_PRODUCT=chains timeout 60 $B prove --backend cuda \
  --zkey .gpu/fx/range_check/circuit_final.zkey --witness .gpu/fx/range_check/witness.wtns \
  --proof "$OUT/range_check_chains.proof.json" --public "$OUT/range_check_chains.public.json" 2>&1 | tail -2
step "resident MSM (2^20, 2^24) and NTT (2^22, 2^24): chains against cios"
for product in chains cios; do
  echo "-- $product"
  APPLIANCE_GPU_FIELD_PRODUCT=$product APPLIANCE_GPU_TRACE=1 timeout 100 .gpu/gpu-resident --backend cuda \
    --op msm --log-n 20,24 --runs 5 2>&1 | grep -e "^msm" -e "trace.*16777216" | tee /tmp/msm_$product.txt
done
for product in chains cios chains cios; do
  APPLIANCE_GPU_FIELD_PRODUCT=$product timeout 40 .gpu/gpu-resident --backend cuda --log-n 22,24 --runs 5 2>&1 \
    | grep "^ntt" | sed "s/^/$product /"
done
ms() { grep "^msm g1 2^24 *resident" "$1" | head -1 | awk '{print $5}'; }
c=$(ms /tmp/msm_chains.txt); d=$(ms /tmp/msm_cios.txt)
export APPLIANCE_GPU_FIELD_PRODUCT=cios
if [ -n "$c" ] && [ -n "$d" ] && awk -v c="$c" -v d="$d" 'BEGIN{exit !(c < d)}'; then
  export APPLIANCE_GPU_FIELD_PRODUCT=chains
fi
echo "field product for the tables: $APPLIANCE_GPU_FIELD_PRODUCT (MSM 2^24 resident: chains ${c:-?} ms, cios ${d:-?} ms)"

step "bench msm g1 --backend cuda (per-phase trace of every GPU MSM)"
APPLIANCE_GPU_TRACE=1 timeout 150 $B bench msm --backend cuda --log-n 16,18,20,22,24 --runs 2 2>&1 | tee /tmp/msm_table.txt

step "NTT with data resident on the device"
timeout 60 .gpu/gpu-resident --backend cuda --log-n 16,18,20,22,24 --runs 10 2>&1 | grep "^ntt" | tee /tmp/ntt_resident.txt

step "bench ntt --backend cuda"
timeout 60 $B bench ntt --backend cuda --log-n 16,18,20,22,24 --runs 3 2>&1 | tee /tmp/ntt_table.txt

step "bench prove --backend cuda (poseidon_chain_32, key resident), then synthetic 2^18, 2^20"
timeout 40 $B bench prove --backend cuda --snarkjs none --runs 5 \
  --zkey .gpu/fx/poseidon_chain_32/circuit_final.zkey --witness .gpu/fx/poseidon_chain_32/witness.wtns 2>&1
timeout 90 $B bench prove --synthetic 18,20 --backend cuda --runs 2 2>&1

step "bench msm g2 --backend cuda"
timeout 40 $B bench msm --backend cuda --group g2 --log-n 14,16 --runs 3 2>&1

oom_check

step "summary"
echo "field product: $APPLIANCE_GPU_FIELD_PRODUCT"
grep -h -e "^msm g1 2^2[04] *resident" /tmp/msm_chains.txt /tmp/msm_cios.txt
grep -v -e trace /tmp/msm_table.txt | tail -8
cat /tmp/ntt_resident.txt
tail -7 /tmp/ntt_table.txt
step done
