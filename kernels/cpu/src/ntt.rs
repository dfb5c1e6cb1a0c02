//! Radix-4 NTT over any FFT-friendly prime field.
//!
//! Why it is shaped this way:
//! - Decimation in frequency, natural order in, bit-reversed out, then one bit-reversal
//!   pass: no scratch vector, and every sub-transform is a contiguous block.
//! - Depth first: above `BLOCK` elements a radix-4 pass splits the array into four
//!   independent quarters, which are then transformed separately (in parallel). Once a
//!   quarter fits in cache it is finished entirely there, so large transforms stream
//!   through memory only about `log4(n / BLOCK)` times instead of `log2(n)` times.
//! - Radix 4 does two radix-2 levels per pass over the data; in a prime field the `i`
//!   twiddle is a full multiplication, so the gain is memory traffic, not multiplications.
//! - Twiddles are computed once per size and cached by the backend (ark-poly recomputes
//!   them on every call); blocks that fit in cache read contiguous per-size tables.
//! - The inverse transform is the forward one with the outputs `1..n` reversed, so it needs
//!   no second twiddle table; the `1/n` scaling is fused with the coset scaling.
//! - For BN254 Fr on CPUs with AVX-512 IFMA, the butterflies and scalings run eight at a
//!   time in `crate::simd` (same structure, same results); everything else falls back here.

use std::any::{Any, TypeId};

use ark_bn254::Fr;
use ark_ff::FftField;
use rayon::prelude::*;

use crate::simd::NttTables;
use crate::sync_ptr::SyncPtr;

/// Sub-transforms up to this many elements are done entirely in cache.
pub(crate) const BLOCK: usize = 1 << 12;
/// Parallel grain of a radix-4 pass, in butterflies.
pub(crate) const PASS_GRAIN: usize = 1 << 10;

/// `data` as `&mut [Fr]` when `F` is Fr: the IFMA kernels exist for that field only.
fn as_fr_slice<F: FftField>(data: &mut [F]) -> Option<&mut [Fr]> {
    if TypeId::of::<F>() == TypeId::of::<Fr>() {
        // SAFETY: F and Fr are the same type (equal TypeIds), so the slice is reinterpreted
        // as itself.
        Some(unsafe { &mut *(data as *mut [F] as *mut [Fr]) })
    } else {
        None
    }
}

fn as_fr<F: FftField>(x: F) -> Option<Fr> {
    (&x as &dyn Any).downcast_ref::<Fr>().copied()
}

/// Twiddles for one transform size.
pub struct NttPlan<F: FftField> {
    log_n: u32,
    /// `w^j` for `j < n/2`, `w` the primitive n-th root (empty when `n <= BLOCK`).
    big: Vec<F>,
    /// `small[k][j] = w_{2^k}^j` for `j < 3 * 2^k / 4`, for every `2^k <= min(n, BLOCK)`.
    small: Vec<Vec<F>>,
    n_inv: F,
    /// IFMA twiddles when this plan runs on the vector path.
    simd: Option<NttTables>,
}

impl<F: FftField> NttPlan<F> {
    /// `n` must be a power of two within the field's two-adicity (checked by the caller).
    /// Uses the IFMA path when [`crate::simd::enabled`] says so.
    pub fn new(n: usize) -> Self {
        Self::with_simd(n, crate::simd::enabled())
    }

    /// Like [`NttPlan::new`], choosing the path explicitly (tests compare both). `simd` is
    /// only a wish: it is ignored for fields other than BN254 Fr, for sizes below 32 and on
    /// CPUs without IFMA.
    pub fn with_simd(n: usize, simd: bool) -> Self {
        let log_n = n.max(1).trailing_zeros();
        let simd = if simd && TypeId::of::<F>() == TypeId::of::<Fr>() {
            NttTables::new(n)
        } else {
            None
        };
        let root = |m: usize| F::get_root_of_unity(m as u64).unwrap_or(F::ONE);
        let big = if n > BLOCK && simd.is_none() {
            powers(root(n), n / 2)
        } else {
            Vec::new()
        };
        let small = (0..=log_n.min(BLOCK.trailing_zeros()))
            .map(|k| {
                let m = 1usize << k;
                powers(root(m), (3 * m / 4).max(1))
            })
            .collect();
        let n_inv = F::from(n.max(1) as u64).inverse().unwrap_or(F::ONE);
        Self {
            log_n,
            big,
            small,
            n_inv,
            simd,
        }
    }

    /// Whether this plan runs the IFMA kernels.
    pub fn uses_simd(&self) -> bool {
        self.simd.is_some()
    }

    fn dif_any(&self, data: &mut [F]) {
        if let Some(tables) = &self.simd {
            if let Some(data) = as_fr_slice(data) {
                tables.dif(data);
                return;
            }
        }
        self.dif(data);
    }

    /// `data[i] *= start * g^i`.
    fn scale(&self, data: &mut [F], start: F, g: F) {
        if let (Some(tables), Some(s), Some(g)) = (&self.simd, as_fr(start), as_fr(g)) {
            if let Some(data) = as_fr_slice(data) {
                tables.scale_by_powers(data, s, g);
                return;
            }
        }
        scale_by_powers(data, start, g);
    }

    pub fn len(&self) -> usize {
        1 << self.log_n
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// `w_m^e` for a sub-transform of size `m > BLOCK` (`e < 3m/4`).
    #[inline]
    fn big_twiddle(&self, m: usize, e: usize) -> F {
        let idx = e * (self.len() / m);
        let half = self.len() / 2;
        if idx < half {
            self.big[idx]
        } else {
            -self.big[idx - half]
        }
    }

    /// Forward transform, natural order in and out.
    pub fn forward(&self, data: &mut [F], coset: Option<F>) {
        debug_assert_eq!(data.len(), self.len());
        if let Some(g) = coset {
            self.scale(data, F::ONE, g);
        }
        if data.len() <= 1 {
            return;
        }
        self.dif_any(data);
        bit_reverse(data);
    }

    /// Inverse transform (scaled by `1/n`), natural order in and out.
    pub fn inverse(&self, data: &mut [F], coset: Option<F>) {
        debug_assert_eq!(data.len(), self.len());
        if data.len() > 1 {
            self.dif_any(data);
            bit_reverse(data);
            data[1..].reverse();
        }
        let g_inv = coset.and_then(|g| g.inverse()).unwrap_or(F::ONE);
        self.scale(data, self.n_inv, g_inv);
    }

    fn dif(&self, data: &mut [F]) {
        let m = data.len();
        if m <= BLOCK {
            self.dif_in_cache(data);
            return;
        }
        let w4 = self.big_twiddle(m, m / 4);
        for_each_quarter_chunk(data, |j0, [a, b, c, d]| {
            for i in 0..a.len() {
                let j = j0 + i;
                let tw = [
                    self.big_twiddle(m, j),
                    self.big_twiddle(m, 2 * j),
                    self.big_twiddle(m, 3 * j),
                ];
                radix4(&mut a[i], &mut b[i], &mut c[i], &mut d[i], w4, tw);
            }
        });
        data.par_chunks_mut(m / 4)
            .for_each(|quarter| self.dif(quarter));
    }

    /// Iterative DIF on a block that fits in cache, using the contiguous small tables.
    fn dif_in_cache(&self, data: &mut [F]) {
        let mut m = data.len();
        while m >= 4 {
            let table = &self.small[m.trailing_zeros() as usize];
            let q = m / 4;
            let w4 = table[q];
            for block in data.chunks_exact_mut(m) {
                let (a, rest) = block.split_at_mut(q);
                let (b, rest) = rest.split_at_mut(q);
                let (c, d) = rest.split_at_mut(q);
                for j in 0..q {
                    let tw = [table[j], table[2 * j], table[3 * j]];
                    radix4(&mut a[j], &mut b[j], &mut c[j], &mut d[j], w4, tw);
                }
            }
            m /= 4;
        }
        if m == 2 {
            radix2_pairs(data);
        }
    }
}

/// Runs `pass(j0, [a, b, c, d])` in parallel over matching `PASS_GRAIN`-sized chunks of
/// the four quarters of `data`, `j0` being the chunk's first butterfly: the shape of every
/// radix-4 pass above the cache block, shared by the scalar and SIMD paths.
pub(crate) fn for_each_quarter_chunk<T: Send>(
    data: &mut [T],
    pass: impl Fn(usize, [&mut [T]; 4]) + Sync + Send,
) {
    let q = data.len() / 4;
    let (a, rest) = data.split_at_mut(q);
    let (b, rest) = rest.split_at_mut(q);
    let (c, d) = rest.split_at_mut(q);
    a.par_chunks_mut(PASS_GRAIN)
        .zip(b.par_chunks_mut(PASS_GRAIN))
        .zip(c.par_chunks_mut(PASS_GRAIN))
        .zip(d.par_chunks_mut(PASS_GRAIN))
        .enumerate()
        .for_each(|(chunk, (((a, b), c), d))| pass(chunk * PASS_GRAIN, [a, b, c, d]));
}

/// The last radix-2 level of an odd-log transform: butterflies on adjacent pairs (the
/// twiddle is 1). Shared by the scalar and SIMD paths.
pub(crate) fn radix2_pairs<F: FftField>(data: &mut [F]) {
    for pair in data.chunks_exact_mut(2) {
        let (x, y) = (pair[0], pair[1]);
        pair[0] = x + y;
        pair[1] = x - y;
    }
}

/// One radix-4 DIF butterfly. Outputs go to the quarters in bit-reversed order of their
/// frequency residue (0, 2, 1, 3), so the whole transform ends exactly bit-reversed.
#[inline(always)]
fn radix4<F: FftField>(a: &mut F, b: &mut F, c: &mut F, d: &mut F, w4: F, tw: [F; 3]) {
    let t0 = *a + *c;
    let t1 = *a - *c;
    let t2 = *b + *d;
    let t3 = (*b - *d) * w4;
    *a = t0 + t2;
    *b = (t0 - t2) * tw[1];
    *c = (t1 + t3) * tw[0];
    *d = (t1 - t3) * tw[2];
}

/// `[start, start*g, start*g^2, ...]` of length `len`, computed in parallel chunks.
fn powers<F: FftField>(g: F, len: usize) -> Vec<F> {
    let mut out = vec![F::ONE; len];
    scale_by_powers(&mut out, F::ONE, g);
    out
}

/// `data[i] *= start * g^i`.
fn scale_by_powers<F: FftField>(data: &mut [F], start: F, g: F) {
    if start.is_one() && g.is_one() {
        return;
    }
    const GRAIN: usize = 1 << 12;
    data.par_chunks_mut(GRAIN)
        .enumerate()
        .for_each(|(chunk, values)| {
            let mut acc = start * g.pow([(chunk * GRAIN) as u64]);
            for v in values {
                *v *= acc;
                acc *= g;
            }
        });
}

/// In-place bit-reversal permutation.
fn bit_reverse<F: Send + Sync>(data: &mut [F]) {
    let n = data.len();
    if n <= 2 {
        return;
    }
    let shift = usize::BITS - n.trailing_zeros();
    let ptr = SyncPtr::new(data.as_mut_ptr());
    (0..n).into_par_iter().with_min_len(1 << 12).for_each(|i| {
        let r = i.reverse_bits() >> shift;
        if i < r {
            // SAFETY: the pairs (i, r) with i < r are disjoint, so each element is touched by
            // exactly one iteration; both indices are < n.
            unsafe { std::ptr::swap(ptr.get().add(i), ptr.get().add(r)) };
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_bn254::Fr;
    use ark_ff::{AdditiveGroup, Field, UniformRand};
    use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};

    /// Checks one size on one path against ark-poly: forward, inverse, coset both ways.
    fn check(log_n: u32, simd: bool) {
        let n = 1usize << log_n;
        let mut rng = ark_std::test_rng();
        let input: Vec<Fr> = (0..n).map(|_| Fr::rand(&mut rng)).collect();
        let plan = NttPlan::<Fr>::with_simd(n, simd);
        assert_eq!(
            plan.uses_simd(),
            simd && crate::simd::available() && n >= 32,
            "path of 2^{log_n}"
        );
        let domain = Radix2EvaluationDomain::<Fr>::new(n).unwrap();
        let path = if plan.uses_simd() { "ifma" } else { "scalar" };

        let mut ours = input.clone();
        plan.forward(&mut ours, None);
        assert_eq!(ours, domain.fft(&input), "forward 2^{log_n} {path}");

        let mut inv = input.clone();
        plan.inverse(&mut inv, None);
        assert_eq!(inv, domain.ifft(&input), "inverse 2^{log_n} {path}");

        let mut back = ours.clone();
        plan.inverse(&mut back, None);
        assert_eq!(back, input, "round trip 2^{log_n} {path}");

        let g = Fr::from(7u64);
        let coset = domain.get_coset(g).unwrap();
        let mut ours = input.clone();
        plan.forward(&mut ours, Some(g));
        assert_eq!(ours, coset.fft(&input), "coset forward 2^{log_n} {path}");
        let mut cinv = input.clone();
        plan.inverse(&mut cinv, Some(g));
        assert_eq!(cinv, coset.ifft(&input), "coset inverse 2^{log_n} {path}");
        plan.inverse(&mut ours, Some(g));
        assert_eq!(ours, input, "coset round trip 2^{log_n} {path}");
    }

    #[test]
    fn agrees_with_ark_poly_small_sizes() {
        for log_n in 0..=11 {
            check(log_n, false);
            check(log_n, true);
        }
    }

    #[test]
    fn agrees_with_ark_poly_across_the_block_boundary() {
        for log_n in [12, 13, 14, 15, 16] {
            check(log_n, false);
            check(log_n, true);
        }
    }

    /// Edge values in every position: all zeros, all p - 1, alternating 0 / p - 1.
    #[test]
    fn both_paths_agree_on_edge_values() {
        for log_n in [5, 6, 10, 13] {
            let n = 1usize << log_n;
            let m1 = -Fr::ONE;
            let inputs = [
                vec![Fr::ZERO; n],
                vec![m1; n],
                (0..n)
                    .map(|i| if i % 2 == 0 { Fr::ZERO } else { m1 })
                    .collect(),
            ];
            let scalar = NttPlan::<Fr>::with_simd(n, false);
            let simd = NttPlan::<Fr>::with_simd(n, true);
            for input in &inputs {
                for coset in [None, Some(m1)] {
                    let (mut a, mut b) = (input.clone(), input.clone());
                    scalar.forward(&mut a, coset);
                    simd.forward(&mut b, coset);
                    assert_eq!(a, b, "forward 2^{log_n}");
                    scalar.inverse(&mut a, coset);
                    simd.inverse(&mut b, coset);
                    assert_eq!(a, b, "inverse 2^{log_n}");
                    assert_eq!(&a, input);
                }
            }
        }
    }

    /// Other fields must keep working on the generic path even when IFMA is asked for.
    #[test]
    fn other_fields_take_the_scalar_path() {
        use ark_bn254::Fq;
        // BN254 Fq has two-adicity 1: size 2 is its only transform beyond 1.
        assert!(!NttPlan::<Fq>::with_simd(64, true).uses_simd());
        let n = 2;
        let plan = NttPlan::<Fq>::with_simd(n, true);
        let mut rng = ark_std::test_rng();
        let input: Vec<Fq> = (0..n).map(|_| Fq::rand(&mut rng)).collect();
        let domain = Radix2EvaluationDomain::<Fq>::new(n).unwrap();
        let mut ours = input.clone();
        plan.forward(&mut ours, None);
        assert_eq!(ours, domain.fft(&input));
    }
}
