//! Pippenger MSM for short Weierstrass curves with a GLV endomorphism.
//!
//! Why each step exists:
//! - GLV: `k*P = k1*P + k2*phi(P)` with ~128-bit halves, so every MSM has twice the points
//!   but half the windows, which halves the bucket-reduction work. `phi(P) = (beta x, y)` is
//!   made per MSM for the terms it uses, not kept resident (memory, see `CpuBases`).
//! - Signed digits: a window digit in `[-2^(c-1), 2^(c-1))` needs only `2^(c-1)` buckets,
//!   because negating an affine point is free.
//! - Batch-affine accumulation: buckets are kept affine and additions into them are queued
//!   in batches that share one field inversion (Montgomery's trick). An affine addition is
//!   then about 6 multiplications against about 10 for the XYZZ mixed addition arkworks uses.
//!   A point whose bucket already has an addition pending in the batch goes to a per-bucket
//!   XYZZ overflow bucket instead of waiting, so skewed inputs (circom's many 0/1 scalars)
//!   never serialise on one bucket.
//! - Terms with a zero scalar or a zero base are dropped and terms with scalar ±1 are summed
//!   directly before any of the above (see `split_scalars`), so circom's 0/1 signals and
//!   the zero points of sparse proving keys cost next to nothing.
//! - Bucket reduction (`sum (i+1) B_i`) runs as many short running sums side by side, whose
//!   steps are batched affine additions like the accumulation (see `reduce_buckets`).
//! - Windows and point chunks are independent tasks for rayon; the window size `c` and the
//!   chunk count come from a cost model of the input size, the scalar width actually present
//!   and the thread count.
//! - On CPUs with AVX-512 IFMA, the batch-affine flush of BN254 G1 and G2 runs eight
//!   additions at a time (`crate::simd`); the results are identical, so the choice is
//!   invisible to callers.

use std::any::TypeId;

use ark_bn254::{G1Affine, G2Affine};
use ark_ec::scalar_mul::glv::GLVConfig;
use ark_ec::short_weierstrass::{Affine, Bucket, Projective, SWCurveConfig};
use ark_ec::{AdditiveGroup, AffineRepr, CurveGroup};
use ark_ff::{Field, PrimeField, Zero};
use rayon::prelude::*;

use crate::sync_ptr::SyncPtr;

use crate::glv::{GlvDecomposer, HalfScalar};

/// Largest window: digits are stored as `i16`.
pub const MAX_WINDOW_BITS: u32 = 16;
/// Narrowest window: the recoding's digits lie in [-2^(c-1), 2^(c-1)), which at c = 1
/// cannot hold a digit 1 (every set bit would carry on forever).
pub const MIN_WINDOW_BITS: u32 = 2;

/// Bases resident in the CPU backend: the loaded points as they are.
///
/// Why no endomorphism images: keeping `phi(P)` resident would add half again to every
/// resident proving key (a third of a Groth16 prover's peak memory on the fixtures), while
/// making the images of the terms an MSM actually uses costs one product per term per MSM
/// (about 1% of a 2^16 MSM); see `msm_with`.
pub struct CpuBases<P: SWCurveConfig> {
    points: Vec<Affine<P>>,
    glv: GlvDecomposer,
}

impl<P: GLVConfig> CpuBases<P> {
    pub fn load(points: &[Affine<P>]) -> Self {
        Self {
            points: points.to_vec(),
            glv: GlvDecomposer::new::<P>(),
        }
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }
}

/// Chosen shape of one MSM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    pub window_bits: u32,
    pub windows: u32,
    pub chunks: usize,
    /// Buckets of the top window, whose digits hold only the scalars' last bits and the
    /// recoding's carry: often far fewer than the other windows' `2^(window_bits - 1)`.
    pub top_buckets: usize,
}

impl Plan {
    /// Buckets of window `w`: digit magnitudes there are at most this.
    pub fn buckets(&self, w: usize) -> usize {
        if w + 1 == self.windows as usize {
            self.top_buckets
        } else {
            1 << (self.window_bits - 1)
        }
    }
}

/// Buckets the top window needs: its digit is its `t` data bits plus the carry from below,
/// at most `2^t` (the two spare bits of [`windows_for`] keep it from carrying out).
fn top_buckets(bits: u32, c: u32, windows: u32) -> usize {
    let data_bits = bits.saturating_sub((windows - 1) * c);
    (1usize << data_bits).min(1 << (c - 1))
}

const BATCH_AFFINE_MIN_BUCKETS: usize = 256;

/// Additions per shared inversion. Why an eighth of the buckets: with collisions deferred
/// (see `BatchAffine::push`) larger batches only amortise the inversion better, until the
/// batch's scratch and the deferred points stop fitting in cache; forced sweeps at 2^16 and
/// 2^18 G1 points (c = 12..16) were best at K/8 and 5-40% slower at K/4 or K/32 (bench/NOTES.md).
fn batch_size(buckets: usize) -> usize {
    (buckets / 8).clamp(16, 1024)
}

fn windows_for(bits: u32, c: u32) -> u32 {
    // Two spare bits: the signed recoding's final carry then always fits in the top window.
    (bits + 2).div_ceil(c)
}

/// Relative costs of the steps of one MSM, in scalar base-field (Fq) multiplications.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CostWeights {
    /// One batch-affine addition, excluding the shared inversion and its bookkeeping.
    pub affine_add: f64,
    /// One batch's inversion (shared by the batch).
    pub inversion: f64,
    /// One mixed XYZZ addition (small windows, overflow buckets).
    pub mixed_add: f64,
    /// Reducing one bucket: two XYZZ additions in the running sum.
    pub bucket: f64,
    /// Extra cost per addition once a window's affine buckets outgrow [`BUCKET_CACHE_BYTES`]:
    /// the random bucket reads then miss the core's cache. Matters only on the IFMA path,
    /// where additions are cheap enough for misses to show (forced-window runs at 2^16..2^20
    /// G1: c=13 beat the c=14..16 the model chose without it by 5-22%; bench/NOTES.md §6).
    pub cache_miss: f64,
    /// Bytes of one affine bucket.
    pub bucket_bytes: usize,
}

/// A window's bucket array beyond this no longer stays cached beside the streamed points,
/// digits and pending batch (tuned on a Zen 4 with 1 MiB L2 per core: 4096 G1 buckets of
/// 64 bytes were fine, 8192 were not).
pub const BUCKET_CACHE_BYTES: usize = 256 << 10;

impl CostWeights {
    /// Scalar G1 (and the model's original numbers).
    pub const G1: Self = Self {
        affine_add: 6.5,
        inversion: 300.0,
        mixed_add: 10.0,
        bucket: 25.0,
        cache_miss: 0.0,
        bucket_bytes: 72,
    };

    /// The weights for curve `P` on the chosen path.
    ///
    /// Why they differ: the IFMA flush makes affine additions about 3x cheaper while the
    /// bucket reduction stays scalar, so the best window shrinks; over Fq2 every product
    /// costs about 3.3 Fq products (Karatsuba plus additions) except the inversion, which
    /// goes through one Fq inversion. Fitted to forced-window sweeps at 2^13..2^15 points
    /// (bench/NOTES.md, section 5).
    pub fn for_curve<P: SWCurveConfig>(simd: bool) -> Self {
        let ext = P::BaseField::extension_degree() as f64;
        let scale = if ext > 1.0 { 3.3 } else { 1.0 };
        let affine_add = match (simd, ext > 1.0) {
            (false, _) => 6.5 * scale,
            (true, false) => 3.0,
            (true, true) => 7.0,
        };
        Self {
            affine_add,
            inversion: 300.0,
            mixed_add: 10.0 * scale,
            bucket: 25.0 * scale,
            cache_miss: if simd { 1.5 } else { 0.0 },
            bucket_bytes: std::mem::size_of::<Affine<P>>(),
        }
    }
}

/// Picks the window size and chunking by a cost model in field multiplications, with
/// scalar G1 weights.
pub fn plan(points: usize, bits: u32, threads: usize, forced_c: Option<u32>) -> Plan {
    plan_with(points, bits, threads, forced_c, &CostWeights::G1)
}

/// Cost of accumulating `points` digits into `buckets` buckets and reducing them.
///
/// Why the top window needs its own figure: with 127-bit GLV halves and c = 12 its digits
/// take 128 values, so nearly every addition of a batch collides and falls back to a scalar
/// XYZZ addition; such a window cost 3x a full one (forced sweeps, bench/NOTES.md), which is
/// why c = 13 (top window of 1024 buckets) and c = 16 (a top window holding only carries)
/// beat their neighbours.
fn window_cost(points: f64, buckets: usize, w: &CostWeights) -> f64 {
    let per_point = if buckets >= BATCH_AFFINE_MIN_BUCKETS {
        let spills = buckets * w.bucket_bytes > BUCKET_CACHE_BYTES;
        w.affine_add
            + w.inversion / batch_size(buckets) as f64
            + if spills { w.cache_miss } else { 0.0 }
    } else {
        w.mixed_add
    };
    points * per_point + buckets as f64 * reduce_cost_per_bucket(buckets, w)
}

/// Wall time of running tasks of the given costs on `threads` workers, each task going to
/// the least loaded worker, largest first (how rayon's stealing behaves closely enough).
fn makespan(mut tasks: Vec<f64>, threads: usize) -> f64 {
    tasks.sort_by(|a, b| b.total_cmp(a));
    let mut load = vec![0.0f64; threads.max(1)];
    for t in tasks {
        let min = load
            .iter_mut()
            .min_by(|a, b| a.total_cmp(b))
            .expect("at least one worker");
        *min += t;
    }
    load.into_iter().fold(0.0, f64::max)
}

/// Like [`plan`], with the given cost weights.
pub fn plan_with(
    points: usize,
    bits: u32,
    threads: usize,
    forced_c: Option<u32>,
    w: &CostWeights,
) -> Plan {
    let threads = threads.max(1);
    let mut best: Option<(f64, Plan)> = None;
    let candidates: Vec<u32> = match forced_c {
        Some(c) => vec![c.clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS)],
        None => (MIN_WINDOW_BITS..=MAX_WINDOW_BITS).collect(),
    };
    for c in candidates {
        let buckets = 1usize << (c - 1);
        let windows = windows_for(bits, c);
        let top = top_buckets(bits, c, windows);
        // A top window holding only carries has few non-zero digits.
        let top_points = if top == 1 {
            points as f64 / 64.0
        } else {
            points as f64
        };
        for chunks in [1usize, 2, 3, 4, 6, 8] {
            if chunks > 1 && points / chunks < buckets {
                break;
            }
            let full = window_cost(points as f64 / chunks as f64, buckets, w);
            let last = window_cost(top_points / chunks as f64, top, w);
            let mut tasks = vec![full; (windows as usize - 1) * chunks];
            tasks.extend(std::iter::repeat_n(last, chunks));
            let cost = makespan(tasks, threads) + (windows * c) as f64 * 9.0;
            if best.is_none_or(|(b, _)| cost < b) {
                best = Some((
                    cost,
                    Plan {
                        window_bits: c,
                        windows,
                        chunks,
                        top_buckets: top,
                    },
                ));
            }
        }
    }
    best.map(|(_, p)| p).unwrap_or(Plan {
        window_bits: MIN_WINDOW_BITS,
        windows: windows_for(bits, MIN_WINDOW_BITS),
        chunks: 1,
        top_buckets: 1 << (MIN_WINDOW_BITS - 1),
    })
}

/// `sum scalars[i] * bases[i]` over the first `scalars.len()` bases, on the IFMA path when
/// [`crate::simd::enabled`] says so.
pub fn msm<P: GLVConfig>(
    bases: &CpuBases<P>,
    scalars: &[P::ScalarField],
    forced_c: Option<u32>,
) -> Projective<P> {
    msm_with(bases, scalars, forced_c, crate::simd::enabled())
}

/// Like [`msm`], choosing the path explicitly (tests compare both). `simd` is only a wish:
/// it applies to BN254 G1 and G2 on CPUs with IFMA.
pub fn msm_with<P: GLVConfig>(
    bases: &CpuBases<P>,
    scalars: &[P::ScalarField],
    forced_c: Option<u32>,
    simd: bool,
) -> Projective<P> {
    let simd = simd && crate::simd::available() && has_simd_flush::<P>();
    let m = scalars.len().min(bases.len());
    if m == 0 {
        return Projective::zero();
    }
    let (general, units) = split_scalars(bases, &scalars[..m]);
    // The GLV halves are decomposed twice (here for their width, then into digits) rather
    // than kept: 64 bytes per scalar would be the MSM's largest allocation. The x of each
    // used base's endomorphism image is made here, once per MSM (`phi(x, y) = (beta x, y)`
    // on the curves arkworks gives a GLV endomorphism, `a = 0`).
    let decompose = |i: u32| bases.glv.decompose(&limbs4(&scalars[i as usize]));
    let (bits, phi_x): (Vec<u32>, Vec<P::BaseField>) = general
        .par_iter()
        .map(|&i| {
            let (a, b) = decompose(i);
            let image = P::endomorphism_affine(&bases.points[i as usize]);
            (a.num_bits().max(b.num_bits()), image.x)
        })
        .unzip();
    let bits = bits.into_iter().max().unwrap_or(0);
    if bits == 0 {
        return units.into();
    }
    // Columns: the general scalars' k1 halves, then their k2 halves.
    let m = general.len();
    let points = 2 * m;
    let weights = CostWeights::for_curve::<P>(simd);
    let plan = plan_with(
        points,
        bits,
        rayon::current_num_threads(),
        forced_c,
        &weights,
    );
    let digits = signed_digits(&general, decompose, plan.window_bits, plan.windows as usize);

    let chunk_len = points.div_ceil(plan.chunks);
    let tasks: Vec<(usize, usize)> = (0..plan.windows as usize)
        .flat_map(|w| (0..plan.chunks).map(move |k| (w, k)))
        .collect();
    let partials: Vec<(usize, Bucket<P>)> = tasks
        .into_par_iter()
        .map(|(w, k)| {
            let lo = k * chunk_len;
            let hi = ((k + 1) * chunk_len).min(points);
            let row = &digits[w * points..(w + 1) * points];
            let sum = window_sum(bases, &general, &phi_x, row, lo, hi, plan.buckets(w), simd);
            (w, sum)
        })
        .collect();

    let mut window_sums = vec![Bucket::<P>::ZERO; plan.windows as usize];
    for (w, s) in partials {
        window_sums[w] += &s;
    }
    let mut total = Projective::<P>::zero();
    for s in window_sums.iter().rev() {
        for _ in 0..plan.window_bits {
            total.double_in_place();
        }
        total += Projective::from(*s);
    }
    total + Projective::from(units)
}

/// Splits an MSM's terms: returns the indices of the terms that need Pippenger, and the sum
/// of the terms whose scalar is 1 or -1 (the rest have a zero scalar or a zero base and are
/// dropped).
///
/// Why: circom witnesses are mostly 0/1 for some circuits (range checks, bit decompositions)
/// and many proving-key points are zero (signals absent from A or B). Left in, they make the
/// cost model plan for two or three times the columns that carry work, and every 1 lands in
/// one bucket of the lowest window, where the batch-affine accumulator degrades to serial
/// XYZZ additions. A plain sum costs one mixed addition per point, in parallel.
fn split_scalars<P: GLVConfig>(
    bases: &CpuBases<P>,
    scalars: &[P::ScalarField],
) -> (Vec<u32>, Bucket<P>) {
    let one = P::ScalarField::ONE;
    let minus_one = -one;
    let live = |i: usize| !scalars[i].is_zero() && !bases.points[i].is_zero();
    let general: Vec<u32> = (0..scalars.len())
        .into_par_iter()
        .filter(|&i| live(i) && scalars[i] != one && scalars[i] != minus_one)
        .map(|i| i as u32)
        .collect();
    let units = (0..scalars.len())
        .into_par_iter()
        .filter(|&i| live(i) && (scalars[i] == one || scalars[i] == minus_one))
        .fold(
            || Bucket::<P>::ZERO,
            |mut acc, i| {
                if scalars[i] == one {
                    acc += &bases.points[i];
                } else {
                    acc -= &bases.points[i];
                }
                acc
            },
        )
        .reduce(
            || Bucket::<P>::ZERO,
            |mut a, b| {
                a += &b;
                a
            },
        );
    (general, units)
}

fn limbs4<F: PrimeField>(s: &F) -> [u64; 4] {
    let b = s.into_bigint();
    let limbs = b.as_ref();
    let mut out = [0u64; 4];
    let n = limbs.len().min(4);
    out[..n].copy_from_slice(&limbs[..n]);
    out
}

/// Window-major signed digits: row `w` holds digit `w` of every GLV half, first the `k1`
/// halves (for the points) then the `k2` halves (for their endomorphism images). A half's
/// sign is folded into its digits.
fn signed_digits(
    general: &[u32],
    decompose: impl Fn(u32) -> (HalfScalar, HalfScalar) + Sync,
    c: u32,
    windows: usize,
) -> Vec<i16> {
    let m = general.len();
    let points = 2 * m;
    let mut digits = vec![0i16; windows * points];
    let out = SyncPtr::new(digits.as_mut_ptr());
    general.par_iter().enumerate().for_each(|(i, &scalar)| {
        let (k1, k2) = decompose(scalar);
        for (col, half) in [(i, k1), (m + i, k2)] {
            let mut carry = 0i64;
            // Digits of a positive half lie in [-2^(c-1), 2^(c-1)), those of a negative
            // half in (-2^(c-1), 2^(c-1)] before negation: after it both fit an i16 even at
            // c = 16, where negating -2^15 would overflow.
            let half_range = (1i64 << (c - 1)) + i64::from(half.negative);
            for w in 0..windows {
                let raw = window_bits(&half.magnitude, w as u32 * c, c) as i64 + carry;
                let d = if raw >= half_range {
                    carry = 1;
                    raw - (1i64 << c)
                } else {
                    carry = 0;
                    raw
                };
                let d = if half.negative { -d } else { d };
                // SAFETY: each (w, col) cell is written by exactly one iteration (col is
                // unique to this i), and `digits` outlives the parallel loop.
                unsafe { *out.get().add(w * points + col) = d as i16 };
            }
            debug_assert_eq!(carry, 0, "signed recoding overflowed the top window");
        }
    });
    digits
}

#[inline]
fn window_bits(m: &[u64; 3], start: u32, c: u32) -> u64 {
    let limb = (start / 64) as usize;
    if limb >= 3 {
        return 0;
    }
    let shift = start % 64;
    let mut v = m[limb] >> shift;
    if shift + c > 64 && limb + 1 < 3 {
        v |= m[limb + 1] << (64 - shift);
    }
    v & ((1u64 << c) - 1)
}

/// The bucket sum of one window over digit columns `lo..hi`; `general[j]` is the base of
/// column `j`, and its endomorphism image, `(phi_x[j], y)`, that of column `general.len() + j`.
#[allow(clippy::too_many_arguments)]
fn window_sum<P: GLVConfig>(
    bases: &CpuBases<P>,
    general: &[u32],
    phi_x: &[P::BaseField],
    row: &[i16],
    lo: usize,
    hi: usize,
    buckets: usize,
    simd: bool,
) -> Bucket<P> {
    // Column j < m is point general[j]; column m + j its endomorphism image. `general` holds
    // no zero bases (see `split_scalars`).
    let m = general.len();
    let columns = (lo..hi).filter_map(|j| {
        let d = row[j];
        if d == 0 {
            return None;
        }
        let p = if j < m {
            bases.points[general[j] as usize]
        } else {
            let y = bases.points[general[j - m] as usize].y;
            Affine::new_unchecked(phi_x[j - m], y)
        };
        Some(((d.unsigned_abs() - 1) as usize, p, d < 0))
    });
    if buckets >= BATCH_AFFINE_MIN_BUCKETS {
        let mut acc = BatchAffine::<P>::new(buckets, simd);
        for (b, p, neg) in columns {
            acc.add(b, if neg { -p } else { p });
        }
        acc.finish()
    } else {
        let mut acc = vec![Bucket::<P>::ZERO; buckets];
        for (b, p, neg) in columns {
            if neg {
                acc[b] -= &p;
            } else {
                acc[b] += &p;
            }
        }
        running_sum(buckets, |running, i| *running += &acc[i])
    }
}

/// `sum (i+1) * bucket[i]` over `buckets` buckets; `add(acc, i)` adds bucket `i` to `acc`.
fn running_sum<P: SWCurveConfig>(
    buckets: usize,
    mut add: impl FnMut(&mut Bucket<P>, usize),
) -> Bucket<P> {
    let mut running = Bucket::<P>::ZERO;
    let mut total = Bucket::<P>::ZERO;
    for i in (0..buckets).rev() {
        add(&mut running, i);
        if !running.is_zero() {
            total += &running;
        }
    }
    total
}

/// Affine buckets with batched additions sharing one inversion.
struct BatchAffine<P: SWCurveConfig> {
    buckets: Vec<Affine<P>>,
    /// XYZZ buckets for points whose affine bucket was busy in the current batch, made only
    /// for the buckets that need one: `overflow_slot[b]` is 1 + the index of bucket `b`'s.
    overflow: Vec<Bucket<P>>,
    overflow_slot: Vec<u32>,
    /// `stamp[b] == epoch` when bucket `b` has an addition pending in the current batch.
    stamp: Vec<u32>,
    /// Points whose bucket was busy in the current batch, retried in the next one (at most
    /// `batch` of them; beyond that they go to the XYZZ overflow buckets). `requeue` is the
    /// second buffer the retry drains, kept to reuse its allocation.
    deferred: Vec<(u32, Affine<P>)>,
    requeue: Vec<(u32, Affine<P>)>,
    epoch: u32,
    pending_bucket: Vec<u32>,
    pending_point: Vec<Affine<P>>,
    prefix: Vec<P::BaseField>,
    batch: usize,
    /// Scratch of the IFMA flush; `Some` only for BN254 G1 and G2 on the IFMA path.
    simd: Option<crate::simd::FlushScratch>,
}

fn is_bn254_g1<P: SWCurveConfig>() -> bool {
    TypeId::of::<P>() == TypeId::of::<ark_bn254::g1::Config>()
}

fn is_bn254_g2<P: SWCurveConfig>() -> bool {
    TypeId::of::<P>() == TypeId::of::<ark_bn254::g2::Config>()
}

/// Whether `crate::simd` has a batch-affine flush for this curve.
fn has_simd_flush<P: SWCurveConfig>() -> bool {
    is_bn254_g1::<P>() || is_bn254_g2::<P>()
}

/// The slice as BN254 G1 points, when `P` is that curve.
fn as_g1<P: SWCurveConfig>(points: &[Affine<P>]) -> Option<&[G1Affine]> {
    // SAFETY: P is g1::Config (equal TypeIds), so the slice is reinterpreted as itself.
    is_bn254_g1::<P>().then(|| unsafe { &*(points as *const [Affine<P>] as *const [G1Affine]) })
}

fn as_g1_mut<P: SWCurveConfig>(points: &mut [Affine<P>]) -> Option<&mut [G1Affine]> {
    // SAFETY: as in `as_g1`.
    is_bn254_g1::<P>().then(|| unsafe { &mut *(points as *mut [Affine<P>] as *mut [G1Affine]) })
}

/// The slice as BN254 G2 points, when `P` is that curve.
fn as_g2<P: SWCurveConfig>(points: &[Affine<P>]) -> Option<&[G2Affine]> {
    // SAFETY: P is g2::Config (equal TypeIds), so the slice is reinterpreted as itself.
    is_bn254_g2::<P>().then(|| unsafe { &*(points as *const [Affine<P>] as *const [G2Affine]) })
}

fn as_g2_mut<P: SWCurveConfig>(points: &mut [Affine<P>]) -> Option<&mut [G2Affine]> {
    // SAFETY: as in `as_g2`.
    is_bn254_g2::<P>().then(|| unsafe { &mut *(points as *mut [Affine<P>] as *mut [G2Affine]) })
}

impl<P: SWCurveConfig> BatchAffine<P> {
    fn new(buckets: usize, simd: bool) -> Self {
        Self::with_batch(buckets, batch_size(buckets), simd)
    }

    fn with_batch(buckets: usize, batch: usize, simd: bool) -> Self {
        let simd = (simd && has_simd_flush::<P>()).then(crate::simd::FlushScratch::default);
        Self {
            buckets: vec![Affine::identity(); buckets],
            overflow: Vec::new(),
            overflow_slot: Vec::new(),
            stamp: vec![0; buckets],
            deferred: Vec::new(),
            requeue: Vec::new(),
            epoch: 1,
            pending_bucket: Vec::with_capacity(batch),
            pending_point: Vec::with_capacity(batch),
            prefix: Vec::with_capacity(batch),
            batch,
            simd,
        }
    }

    /// Adds `p` to bucket `b`, processing the batch when it is full.
    #[inline]
    fn add(&mut self, b: usize, p: Affine<P>) {
        self.push(b, p);
        while self.pending_point.len() >= self.batch {
            self.process_batch();
            self.retry_deferred();
        }
    }

    /// Queues `p` for bucket `b` in the current batch, or defers it when the bucket already
    /// has an addition pending.
    ///
    /// Why defer rather than add into an XYZZ bucket at once: a deferred point costs one
    /// batched affine addition later (about 3 products on the IFMA path) instead of a scalar
    /// mixed addition now (about 10 slower products), so batches can be large relative to the
    /// bucket count, which amortises the shared inversion (gnark-crypto does the same).
    #[inline]
    fn push(&mut self, b: usize, p: Affine<P>) {
        if self.stamp[b] == self.epoch {
            if self.deferred.len() < self.batch {
                self.deferred.push((b as u32, p));
            } else {
                self.add_overflow(b, &p);
            }
            return;
        }
        let bucket = &mut self.buckets[b];
        if bucket.is_zero() {
            *bucket = p;
            return;
        }
        if bucket.x == p.x {
            // Doubling or cancellation: rare, so no batching.
            *bucket = if bucket.y == p.y {
                Projective::from(*bucket).double().into_affine()
            } else {
                Affine::identity()
            };
            return;
        }
        self.stamp[b] = self.epoch;
        self.pending_bucket.push(b as u32);
        self.pending_point.push(p);
    }

    fn add_overflow(&mut self, b: usize, p: &Affine<P>) {
        if self.overflow_slot.is_empty() {
            self.overflow_slot = vec![0; self.buckets.len()];
        }
        let slot = &mut self.overflow_slot[b];
        if *slot == 0 {
            self.overflow.push(Bucket::ZERO);
            *slot = self.overflow.len() as u32;
        }
        self.overflow[*slot as usize - 1] += p;
    }

    /// Moves the deferred points into the (new, empty) batch; those colliding again stay
    /// deferred. At most `batch` points, so the batch cannot overfill.
    fn retry_deferred(&mut self) {
        std::mem::swap(&mut self.deferred, &mut self.requeue);
        let mut retry = std::mem::take(&mut self.requeue);
        for (b, p) in retry.drain(..) {
            self.push(b as usize, p);
        }
        self.requeue = retry;
    }

    /// Applies every queued addition: the batch, one retry of the deferred points, and the
    /// few that collide again through the overflow buckets.
    fn flush(&mut self) {
        self.process_batch();
        if self.deferred.is_empty() {
            return;
        }
        self.retry_deferred();
        self.process_batch();
        while let Some((b, p)) = self.deferred.pop() {
            self.add_overflow(b as usize, &p);
        }
    }

    /// Performs the pending batch's additions with one shared inversion.
    fn process_batch(&mut self) {
        if self.pending_point.is_empty() {
            return;
        }
        if !self.flush_simd() {
            self.flush_scalar();
        }
        self.pending_bucket.clear();
        self.pending_point.clear();
        self.epoch = self.epoch.wrapping_add(1).max(1);
        if self.epoch == 1 {
            self.stamp.fill(0);
        }
    }

    /// The IFMA flush; `false` when it does not apply (and nothing was changed).
    fn flush_simd(&mut self) -> bool {
        let Some(scratch) = self.simd.as_mut() else {
            return false;
        };
        if let (Some(buckets), Some(points)) =
            (as_g1_mut(&mut self.buckets), as_g1(&self.pending_point))
        {
            return crate::simd::flush_g1(buckets, &self.pending_bucket, points, scratch);
        }
        if let (Some(buckets), Some(points)) =
            (as_g2_mut(&mut self.buckets), as_g2(&self.pending_point))
        {
            return crate::simd::flush_g2(buckets, &self.pending_bucket, points, scratch);
        }
        false
    }

    fn flush_scalar(&mut self) {
        self.prefix.clear();
        let mut acc = P::BaseField::ONE;
        for (&b, p) in self.pending_bucket.iter().zip(&self.pending_point) {
            self.prefix.push(acc);
            acc *= p.x - self.buckets[b as usize].x;
        }
        // Non-zero: every pending pair has distinct x coordinates.
        let mut inv = crate::inverse::inverse(&acc).unwrap_or(P::BaseField::ZERO);
        for i in (0..self.pending_point.len()).rev() {
            let b = self.pending_bucket[i] as usize;
            let p = &self.pending_point[i];
            let q = &mut self.buckets[b];
            let dx = p.x - q.x;
            let inv_i = inv * self.prefix[i];
            inv *= dx;
            let lambda = (p.y - q.y) * inv_i;
            let x3 = lambda.square() - q.x - p.x;
            let y3 = lambda * (q.x - x3) - q.y;
            *q = Affine::new_unchecked(x3, y3);
        }
    }

    fn finish(mut self) -> Bucket<P> {
        self.flush();
        self.fold_overflow();
        reduce_buckets(&self.buckets, self.simd.is_some())
    }

    /// Adds each non-empty XYZZ overflow bucket into its affine bucket, so that the
    /// reduction sees one affine point per bucket. One shared inversion normalises them all.
    fn fold_overflow(&mut self) {
        let overflow = std::mem::take(&mut self.overflow);
        let slots = std::mem::take(&mut self.overflow_slot);
        let (index, sums): (Vec<usize>, Vec<Projective<P>>) = slots
            .iter()
            .enumerate()
            .filter(|(_, &slot)| slot != 0)
            .map(|(b, &slot)| (b, overflow[slot as usize - 1]))
            .filter(|(_, o)| !o.is_zero())
            .map(|(b, o)| (b, Projective::from(o)))
            .unzip();
        if index.is_empty() {
            return;
        }
        // Each bucket gets at most one addition, so none can land in an overflow bucket.
        for (b, p) in index.into_iter().zip(Projective::normalize_batch(&sums)) {
            self.add(b, p);
        }
        self.flush();
    }
}

/// Buckets per segment of the segmented reduction.
const SEGMENT_LEN: usize = 16;

/// Fewer buckets than this reduce with the plain running sum: the segmented reduction's
/// batches would be too small to amortise their inversions.
const SEGMENTED_MIN_BUCKETS: usize = 1024;

const _: () = assert!(SEGMENT_LEN.is_power_of_two());

/// Cost of reducing one bucket (see [`reduce_buckets`]): two batched affine additions plus
/// their share of the inversion, and the running sum over the segments.
fn reduce_cost_per_bucket(buckets: usize, w: &CostWeights) -> f64 {
    if buckets < SEGMENTED_MIN_BUCKETS {
        return w.bucket;
    }
    let segments = (buckets / SEGMENT_LEN) as f64;
    2.0 * (w.affine_add + w.inversion / segments) + w.bucket / SEGMENT_LEN as f64
}

/// `sum (i+1) * buckets[i]`.
///
/// Why segmented: the plain running sum is two dependent XYZZ additions per bucket (about
/// 20 products each), a fifth of a 2^16 MSM once the accumulation is vectorised. Cutting the
/// buckets into segments of `SEGMENT_LEN` gives `K / SEGMENT_LEN` independent running sums;
/// their steps are batched as affine additions sharing one inversion (and, on the IFMA path,
/// eight at a time), about 4 products each. Segment `g` yields its running sum `R_g` and its
/// weighted sum `T_g`; the total is `sum T_g + SEGMENT_LEN * sum g * R_g`, the last sum
/// being a plain running sum over the segments.
fn reduce_buckets<P: SWCurveConfig>(buckets: &[Affine<P>], simd: bool) -> Bucket<P> {
    let k = buckets.len();
    if k < SEGMENTED_MIN_BUCKETS {
        return running_sum(k, |running, i| *running += &buckets[i]);
    }
    let segments = k.div_ceil(SEGMENT_LEN);
    // Accumulator g is segment g's running sum; accumulator segments + g its weighted sum.
    let mut acc = BatchAffine::<P>::with_batch(2 * segments, segments, simd);
    for j in (0..SEGMENT_LEN).rev() {
        for g in 0..segments {
            if let Some(p) = buckets.get(g * SEGMENT_LEN + j) {
                if !p.is_zero() {
                    acc.add(g, *p);
                }
            }
        }
        acc.flush();
        for g in 0..segments {
            let running = acc.buckets[g];
            if !running.is_zero() {
                acc.add(segments + g, running);
            }
        }
        acc.flush();
    }
    let (running, weighted) = acc.buckets.split_at(segments);
    let mut total = running_sum(segments - 1, |r, g| *r += &running[g + 1]);
    for _ in 0..SEGMENT_LEN.trailing_zeros() {
        total.double_in_place();
    }
    for t in weighted {
        total += t;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::One;

    #[test]
    fn plan_prefers_wide_windows_for_large_inputs() {
        let small = plan(64, 128, 2, None);
        let large = plan(1 << 21, 128, 2, None);
        assert!(large.window_bits > small.window_bits);
        assert!(large.buckets(0) >= BATCH_AFFINE_MIN_BUCKETS);
        assert!(windows_for(128, large.window_bits) * large.window_bits >= 130);
    }

    /// With 127-bit GLV halves, c = 12 leaves a top window of 128 buckets where additions
    /// serialise; the planner must see that and take c = 13 (bench/NOTES.md, section 13).
    #[test]
    fn plan_avoids_a_crowded_top_window() {
        for (points, weights) in [
            (
                1 << 15,
                CostWeights::for_curve::<ark_bn254::g2::Config>(true),
            ),
            (
                1 << 17,
                CostWeights::for_curve::<ark_bn254::g1::Config>(true),
            ),
        ] {
            let p = plan_with(points, 127, 2, None, &weights);
            let top = p.buckets(p.windows as usize - 1);
            assert!(top == 1 || top >= BATCH_AFFINE_MIN_BUCKETS, "{p:?}");
            assert_eq!(top, top_buckets(127, p.window_bits, p.windows));
        }
    }

    /// Random scalars with edge values mixed in: 0, 1, -1, 2, -2, small ones (circom's 0/1
    /// signals), the GLV eigenvalue and its neighbours, and repeated scalars.
    fn edge_scalars(n: usize) -> Vec<ark_bn254::Fr> {
        use ark_bn254::Fr;
        use ark_ff::UniformRand;
        let mut rng = ark_std::test_rng();
        let lambda = <ark_bn254::g1::Config as GLVConfig>::LAMBDA;
        let edges = [
            Fr::zero(),
            Fr::one(),
            -Fr::one(),
            Fr::from(2u64),
            -Fr::from(2u64),
            Fr::from(u64::MAX),
            lambda,
            lambda + Fr::one(),
            -lambda,
        ];
        (0..n)
            .map(|i| match i % 7 {
                0 => edges[(i / 7) % edges.len()],
                1 | 2 => Fr::from((i % 5) as u64),
                _ => Fr::rand(&mut rng),
            })
            .collect()
    }

    /// Both paths against arkworks, across sizes, forced windows (small ones skip batch
    /// affine, large ones use it) and skewed scalars that hit the overflow buckets.
    fn both_paths_agree<P: GLVConfig<ScalarField = ark_bn254::Fr>>()
    where
        Projective<P>: ark_ec::VariableBaseMSM<MulBase = Affine<P>, ScalarField = ark_bn254::Fr>,
    {
        use ark_ec::VariableBaseMSM;
        use ark_ff::UniformRand;
        let mut rng = ark_std::test_rng();
        let n = 1 << 12;
        let mut points: Vec<Affine<P>> = (0..n)
            .map(|_| Projective::<P>::rand(&mut rng).into_affine())
            .collect();
        // Repeated points and the identity among the bases.
        points[5] = points[3];
        points[6] = -points[3];
        points[9] = Affine::identity();
        let bases = CpuBases::load(&points);
        let scalars = edge_scalars(n);
        for (len, c) in [
            (1, None),
            (2, None),
            (31, None),
            (1024, None),
            (1025, None),
            (n, None),
            (n, Some(10)),
            (n, Some(4)),
            (777, Some(12)),
        ] {
            let want = Projective::<P>::msm_unchecked(&points[..len], &scalars[..len]);
            assert_eq!(
                msm_with(&bases, &scalars[..len], c, false),
                want,
                "scalar {len} {c:?}"
            );
            assert_eq!(
                msm_with(&bases, &scalars[..len], c, true),
                want,
                "ifma {len} {c:?}"
            );
        }
        // All-zero and all-one scalar vectors.
        let zeros = vec![ark_bn254::Fr::zero(); 100];
        let ones = vec![ark_bn254::Fr::one(); 100];
        // One bucket for every term: all but one per batch are deferred, then overflow.
        let threes = vec![ark_bn254::Fr::from(3u64); n];
        for simd in [false, true] {
            assert!(msm_with(&bases, &zeros, None, simd).is_zero());
            assert_eq!(
                msm_with(&bases, &ones, None, simd),
                Projective::<P>::msm_unchecked(&points[..100], &ones)
            );
            assert_eq!(
                msm_with(&bases, &threes, Some(12), simd),
                Projective::<P>::msm_unchecked(&points, &threes)
            );
        }
    }

    #[test]
    fn both_paths_agree_with_arkworks_g1() {
        both_paths_agree::<ark_bn254::g1::Config>();
    }

    #[test]
    fn both_paths_agree_with_arkworks_g2() {
        both_paths_agree::<ark_bn254::g2::Config>();
    }

    /// `msm_with` makes only `beta * x` of each image: that is right only while the
    /// endomorphism leaves y alone.
    fn endomorphism_keeps_y<P: GLVConfig>() {
        use ark_ff::UniformRand;
        let mut rng = ark_std::test_rng();
        for p in (0..64)
            .map(|_| Projective::<P>::rand(&mut rng).into_affine())
            .chain([Affine::<P>::generator()])
        {
            assert_eq!(P::endomorphism_affine(&p).y, p.y);
        }
    }

    #[test]
    fn endomorphism_images_share_y() {
        endomorphism_keeps_y::<ark_bn254::g1::Config>();
        endomorphism_keeps_y::<ark_bn254::g2::Config>();
    }

    /// Digits recombine to the signed half at every window size, including the digit
    /// 2^15 of a negative half at c = 16 (once negated into an i16 with the wrong sign).
    #[test]
    fn signed_digits_recombine_at_every_window() {
        let halves = [
            HalfScalar {
                magnitude: [0x8000, 0, 0],
                negative: true,
            },
            HalfScalar {
                magnitude: [0x8000, 0, 0],
                negative: false,
            },
            HalfScalar {
                magnitude: [u64::MAX, u64::MAX, 0],
                negative: true,
            },
            HalfScalar {
                magnitude: [0x7fff_8000_8000_7fff, 0x8000_0000_0000_8000, 0],
                negative: true,
            },
            HalfScalar {
                magnitude: [0x7fff_8000_8000_7fff, 0x8000_0000_0000_8000, 0],
                negative: false,
            },
        ];
        for half in halves {
            let zero = HalfScalar {
                magnitude: [0; 3],
                negative: false,
            };
            for c in MIN_WINDOW_BITS..=MAX_WINDOW_BITS {
                let windows = windows_for(half.num_bits(), c) as usize;
                let digits = signed_digits(&[0], |_| (half, zero), c, windows);
                let mut value = ark_bn254::Fr::zero();
                for w in (0..windows).rev() {
                    value *= ark_bn254::Fr::from(1u64 << c);
                    value += ark_bn254::Fr::from(i64::from(digits[w * 2]));
                    assert!(digits[w * 2 + 1] == 0 && digits[w * 2].unsigned_abs() <= 1 << (c - 1));
                }
                let mut want = ark_bn254::Fr::from(ark_ff::BigInt::new([
                    half.magnitude[0],
                    half.magnitude[1],
                    half.magnitude[2],
                    0,
                ]));
                if half.negative {
                    want = -want;
                }
                assert_eq!(value, want, "{half:?} c={c}");
            }
        }
    }

    #[test]
    fn window_bits_crosses_limbs() {
        let m = [u64::MAX << 60, 0b1011, 0];
        assert_eq!(window_bits(&m, 60, 8), 0b1011_1111);
        assert_eq!(window_bits(&m, 190, 8), 0);
        assert_eq!(window_bits(&m, 200, 8), 0);
    }
}
