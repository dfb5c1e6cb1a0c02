//! The radix-4 NTT of [`crate::ntt`] for BN254 Fr, eight butterflies at a time.
//!
//! Why the data keeps ark's layout between passes: converting a whole transform to a
//! limb-major layout would need a second buffer the size of the input; converting each
//! group of eight values on load and store costs a handful of shuffles per value, small next
//! to the multiplications, and keeps the depth-first, in-place structure unchanged. Only the
//! twiddle tables are stored limb-major (and pre-scaled by 16, see [`super::field`]).
//!
//! Passes whose butterflies are fewer than eight per sub-transform (quarter size 1, 2 or 4)
//! take their eight lanes from several consecutive sub-transforms, so every radix-4 pass is
//! vectorised; only the final radix-2 pass of odd sizes (additions only) stays scalar.

use ark_bn254::Fr;
use ark_ff::{BigInt, FftField, Field, One};
use rayon::prelude::*;

use super::field::{
    add, from_lanes, load8, mul, neg_where, normalize, reduce2, reduce4, splat, store8, sub,
    to_radix52, V8,
};
use crate::ntt::BLOCK;

// The kernels read and write `Fr` values as four little-endian u64 Montgomery limbs in
// place; these pin down that `Fr` is exactly its `[u64; 4]`.
const _: () = {
    assert!(std::mem::size_of::<Fr>() == 32);
    assert!(std::mem::offset_of!(Fr, 0) == 0);
    assert!(std::mem::offset_of!(BigInt<4>, 0) == 0);
};

/// Twiddles of one in-cache pass, eight butterflies per group.
struct Stage {
    /// `16 * w_m^(m/4)`, radix 2^52.
    w4: [u64; 5],
    /// Per group of eight butterflies, `16 * w_m^(e*j)` for `e = 1, 2, 3`, limb-major.
    groups: Vec<[[[u64; 8]; 5]; 3]>,
}

/// Pre-scaled, vector-friendly twiddles for one transform size.
pub(crate) struct NttTables {
    log_n: u32,
    /// Indexed by log2 of the sub-transform size; entries below 4 are unused.
    stages: Vec<Stage>,
    /// `16 * w^i` for `i < n/2` as raw ark limbs (empty when `n <= BLOCK`): passes over
    /// sub-transforms larger than `BLOCK` gather from it with strides.
    big16: Vec<[u64; 4]>,
}

fn sixteen() -> Fr {
    Fr::from(16u64)
}

/// Radix-2^52 limbs of `16 * x`: the multiplicand that keeps products in ark's form.
fn scaled(x: Fr) -> [u64; 5] {
    to_radix52((x * sixteen()).0 .0)
}

fn root(m: usize) -> Fr {
    Fr::get_root_of_unity(m as u64).unwrap_or(Fr::ONE)
}

/// Limb-major lanes of eight host values given by `f(lane)`.
fn lanes(f: impl Fn(usize) -> [u64; 5]) -> [[u64; 8]; 5] {
    let values: [[u64; 5]; 8] = std::array::from_fn(f);
    std::array::from_fn(|k| std::array::from_fn(|l| values[l][k]))
}

impl NttTables {
    /// `None` unless the CPU has IFMA and the size is at least 32 (smaller transforms have
    /// fewer than eight butterflies per pass).
    pub(crate) fn new(n: usize) -> Option<Self> {
        if !super::available() || n < 32 || !n.is_power_of_two() {
            return None;
        }
        let log_n = n.trailing_zeros();
        let stages = (0..=log_n.min(BLOCK.trailing_zeros()))
            .map(|k| {
                let m = 1usize << k;
                if m < 4 {
                    return Stage {
                        w4: [0; 5],
                        groups: Vec::new(),
                    };
                }
                let q = m / 4;
                let w = root(m);
                let table: Vec<Fr> = {
                    let mut t = Vec::with_capacity(3 * q);
                    let mut acc = sixteen();
                    for _ in 0..3 * q {
                        t.push(acc);
                        acc *= w;
                    }
                    t
                };
                let limbs = |e: usize| to_radix52(table[e].0 .0);
                let groups = (0..q.div_ceil(8))
                    .map(|g| {
                        // Quarters smaller than 8 spread one group over 8/q sub-transforms.
                        let j = |l: usize| if q >= 8 { 8 * g + l } else { l % q };
                        [
                            lanes(|l| limbs(j(l))),
                            lanes(|l| limbs(2 * j(l))),
                            lanes(|l| limbs(3 * j(l))),
                        ]
                    })
                    .collect();
                Stage {
                    w4: limbs(q),
                    groups,
                }
            })
            .collect();
        let big16 = if n > BLOCK {
            let half = n / 2;
            let g = root(n);
            let mut out = vec![[0u64; 4]; half];
            const GRAIN: usize = 1 << 12;
            out.par_chunks_mut(GRAIN)
                .enumerate()
                .for_each(|(chunk, values)| {
                    let mut acc = sixteen() * g.pow([(chunk * GRAIN) as u64]);
                    for v in values {
                        *v = acc.0 .0;
                        acc *= g;
                    }
                });
            out
        } else {
            Vec::new()
        };
        Some(Self {
            log_n,
            stages,
            big16,
        })
    }

    fn len(&self) -> usize {
        1 << self.log_n
    }

    /// Decimation-in-frequency passes, bit-reversed out; same structure as the scalar
    /// `NttPlan::dif`.
    pub(crate) fn dif(&self, data: &mut [Fr]) {
        let m = data.len();
        debug_assert!(m.is_power_of_two() && m <= self.len() && m >= 32);
        if m <= BLOCK {
            // SAFETY: tables exist only when `available()` saw avx512f and avx512ifma.
            unsafe { self.dif_in_cache(data) };
            return;
        }
        crate::ntt::for_each_quarter_chunk(data, |j0, quarters| {
            // SAFETY: as above; the four chunks have equal lengths, multiples of 8 (the
            // quarter size and PASS_GRAIN are powers of two of at least 8).
            unsafe { self.big_pass(m, j0, quarters) };
        });
        data.par_chunks_mut(m / 4)
            .for_each(|quarter| self.dif(quarter));
    }

    /// One radix-4 pass over matching chunks of the four quarters of a sub-transform of size
    /// `m > BLOCK`, starting at butterfly `j0`.
    ///
    /// # Safety
    /// Needs avx512f and avx512ifma; the four chunks must have the same length, a multiple
    /// of 8.
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn big_pass(&self, m: usize, j0: usize, quarters: [&mut [Fr]; 4]) {
        let n = self.len();
        let stride = n / m;
        let half = n / 2;
        let w4 = splat(to_radix52(self.big16[n / 4]));
        let len = quarters[0].len();
        let base = quarters.map(|s| s.as_mut_ptr().cast::<u64>());
        // Twiddle w_m^(e*j) for j = j0 + g + lane: index e*j*stride of w^i, and -w^(i - n/2)
        // past the half table.
        let twiddle = |g: usize, e: usize| {
            let mut negate = 0u8;
            let ptrs: [*const u64; 8] = std::array::from_fn(|l| {
                let mut idx = e * (j0 + g + l) * stride;
                if idx >= half {
                    idx -= half;
                    negate |= 1 << l;
                }
                self.big16[idx].as_ptr()
            });
            // SAFETY: each pointer is to an element of `big16` (indexing checked above).
            let v = unsafe { load8(ptrs) };
            if negate == 0 {
                v
            } else {
                neg_where::<Fr>(v, negate)
            }
        };
        for g in (0..len).step_by(8) {
            let tw = [twiddle(g, 1), twiddle(g, 2), twiddle(g, 3)];
            let ptrs = base.map(|b| std::array::from_fn(|l| b.wrapping_add(4 * (g + l))));
            // SAFETY: g + 7 < len, so every pointer is to an element of its chunk.
            unsafe { butterfly(ptrs, w4, Some(&tw)) };
        }
    }

    /// Every pass of a sub-transform of size `32..=BLOCK`, in cache.
    ///
    /// # Safety
    /// Needs avx512f and avx512ifma; `data.len()` must be a power of two in `32..=BLOCK`.
    #[target_feature(enable = "avx512f,avx512ifma")]
    unsafe fn dif_in_cache(&self, data: &mut [Fr]) {
        let len = data.len();
        let base = data.as_mut_ptr().cast::<u64>();
        let mut m = len;
        while m >= 4 {
            let stage = &self.stages[m.trailing_zeros() as usize];
            let q = m / 4;
            let w4 = splat(stage.w4);
            // Lane `l` of group `g` in the span starting at element `s`: with q >= 8 the lanes
            // are 8 consecutive butterflies of one sub-transform, otherwise butterfly l % q of
            // sub-transform l / q.
            let span = if q >= 8 { m } else { 32 };
            let lane = |s: usize, g: usize, l: usize| {
                if q >= 8 {
                    s + 8 * g + l
                } else {
                    s + (l / q) * m + l % q
                }
            };
            for s in (0..len).step_by(span) {
                for (g, group) in stage.groups.iter().enumerate() {
                    let ptrs: [[*mut u64; 8]; 4] = std::array::from_fn(|r| {
                        std::array::from_fn(|l| base.wrapping_add(4 * (lane(s, g, l) + r * q)))
                    });
                    if q == 1 {
                        // Every twiddle of a size-4 transform is 1.
                        // SAFETY: lane indices stay below s + span <= len.
                        unsafe { butterfly(ptrs, w4, None) };
                    } else {
                        let tw = [
                            from_lanes(&group[0]),
                            from_lanes(&group[1]),
                            from_lanes(&group[2]),
                        ];
                        // SAFETY: as above.
                        unsafe { butterfly(ptrs, w4, Some(&tw)) };
                    }
                }
            }
            m /= 4;
        }
        if m == 2 {
            crate::ntt::radix2_pairs(data);
        }
    }

    /// `data[i] *= start * g^i`, eight lanes at a time (coset shifts and `1/n` scaling).
    pub(crate) fn scale_by_powers(&self, data: &mut [Fr], start: Fr, g: Fr) {
        if start.is_one() && g.is_one() {
            return;
        }
        const GRAIN: usize = 1 << 12;
        let step = scaled(g.pow([8u64]));
        data.par_chunks_mut(GRAIN)
            .enumerate()
            .for_each(|(chunk, values)| {
                let first = start * g.pow([(chunk * GRAIN) as u64]);
                let mut acc = [first; 8];
                for l in 1..8 {
                    acc[l] = acc[l - 1] * g;
                }
                let acc = lanes(|l| scaled(acc[l]));
                // SAFETY: tables exist only when `available()` saw avx512f and avx512ifma;
                // chunk lengths are multiples of 8 because `data.len()` is a power of two of
                // at least 32.
                unsafe { scale_chunk(values, &acc, step) };
            });
    }
}

/// # Safety
/// Needs avx512f and avx512ifma; `values.len()` must be a multiple of 8.
#[target_feature(enable = "avx512f,avx512ifma")]
unsafe fn scale_chunk(values: &mut [Fr], acc: &[[u64; 8]; 5], step: [u64; 5]) {
    let base = values.as_mut_ptr().cast::<u64>();
    let step = splat(step);
    let mut acc = from_lanes(acc);
    for i in (0..values.len()).step_by(8) {
        let ptrs: [*mut u64; 8] = std::array::from_fn(|l| base.wrapping_add(4 * (i + l)));
        // SAFETY: i + 7 < values.len().
        let x = unsafe { load8(ptrs.map(|p| p.cast_const())) };
        let y = reduce2::<Fr>(mul::<Fr>(x, acc));
        // SAFETY: as above.
        unsafe { store8(y, ptrs) };
        acc = reduce2::<Fr>(mul::<Fr>(acc, step));
    }
}

/// The radix-4 butterfly of `crate::ntt::radix4` on eight lanes, in place. `tw` is `None`
/// when every twiddle is 1.
///
/// Ranges (p < 2^254, see `super::field`): inputs are canonical, so `t0, t2 < 2p`,
/// `t1` in `(0, 2p)`, `t3 < 2p`; every multiplication input stays below `4p`, every output
/// is reduced back to `[0, p)`.
///
/// # Safety
/// Needs avx512f and avx512ifma; every pointer must be to a distinct `Fr`, valid for reads
/// and writes.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
unsafe fn butterfly(ptrs: [[*mut u64; 8]; 4], w4: V8, tw: Option<&[V8; 3]>) {
    // SAFETY: the caller guarantees valid pointers.
    let [a, b, c, d] = ptrs.map(|p| unsafe { load8(p.map(|x| x.cast_const())) });
    let p = splat(<Fr as super::field::Field52>::C.p);
    let p2 = splat(<Fr as super::field::Field52>::C.p2);
    let t0 = add(a, c);
    let t1 = sub(a, c, p);
    let t2 = add(b, d);
    let t3 = mul::<Fr>(normalize(sub(b, d, p)), w4);
    let a_out = reduce4::<Fr>(normalize(add(t0, t2)));
    let b_in = normalize(sub(t0, t2, p2));
    let c_in = normalize(add(t1, t3));
    let d_in = normalize(sub(t1, t3, p2));
    let (b_out, c_out, d_out) = match tw {
        Some(tw) => (
            reduce2::<Fr>(mul::<Fr>(b_in, tw[1])),
            reduce2::<Fr>(mul::<Fr>(c_in, tw[0])),
            reduce2::<Fr>(mul::<Fr>(d_in, tw[2])),
        ),
        None => (
            reduce4::<Fr>(b_in),
            reduce4::<Fr>(c_in),
            reduce4::<Fr>(d_in),
        ),
    };
    for (v, p) in [a_out, b_out, c_out, d_out].into_iter().zip(ptrs) {
        // SAFETY: the caller guarantees valid pointers.
        unsafe { store8(v, p) };
    }
}
