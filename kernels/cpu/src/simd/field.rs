//! Eight-lane Montgomery arithmetic over a prime below 2^254, in radix 2^52 (five limbs per
//! lane, limb `k` of all eight lanes in one `__m512i`).
//!
//! Why radix 2^52: IFMA's `vpmadd52{lo,hi}uq` multiply 52-bit limbs into 104-bit products and
//! accumulate either half into 64-bit lanes, so eight independent products run per
//! instruction and the 12 spare bits of each lane absorb carries without a carry chain.
//!
//! Why the results stay in arkworks' Montgomery form: five 52-bit limbs give a Montgomery
//! radix of 2^260, ark uses 2^256. `mul(a, b)` computes `a * b / 2^260`, so when `a` is an ark
//! representation (`x * 2^256`) and `b` is a constant pre-scaled by 16 (`y * 2^260`, which is
//! ark's representation of `16 * y`), the result is ark's representation of `x * y`. Only
//! constant multiplicands (twiddles, coset powers) are ever scaled, so data never needs a
//! domain conversion, only a change of limb layout.
//!
//! Why values are not kept canonical between operations: with `p < 2^254`, any inputs below
//! `4p` give `a * b / 2^260 + p < 2p`, so sums and differences can be fed to `mul` unreduced
//! and one conditional subtraction after the multiplication restores `[0, p)`.

use std::arch::x86_64::*;

use ark_ff::PrimeField;

pub(crate) const MASK52: u64 = (1 << 52) - 1;

/// Radix-2^52 limbs of a 256-bit little-endian integer.
pub(crate) const fn to_radix52(x: [u64; 4]) -> [u64; 5] {
    [
        x[0] & MASK52,
        ((x[0] >> 52) | (x[1] << 12)) & MASK52,
        ((x[1] >> 40) | (x[2] << 24)) & MASK52,
        ((x[2] >> 28) | (x[3] << 36)) & MASK52,
        x[3] >> 16,
    ]
}

/// Inverse of [`to_radix52`] for normalised limbs of a value below 2^256.
#[cfg(test)]
pub(crate) const fn from_radix52(l: [u64; 5]) -> [u64; 4] {
    [
        l[0] | (l[1] << 52),
        (l[1] >> 12) | (l[2] << 40),
        (l[2] >> 24) | (l[3] << 28),
        (l[3] >> 36) | (l[4] << 16),
    ]
}

/// The constants of one modulus, derived from its value so nothing is typed by hand.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Consts {
    pub p: [u64; 5],
    pub p2: [u64; 5],
    /// `-p^-1 mod 2^52`.
    pub inv: u64,
}

impl Consts {
    pub(crate) const fn new(p: [u64; 4]) -> Self {
        // The lazy-reduction bounds (inputs below 4p, outputs below 2p) need p < 2^254.
        assert!(p[3] >> 62 == 0, "modulus must be below 2^254");
        assert!(p[0] & 1 == 1, "modulus must be odd");
        let p2 = [
            p[0] << 1,
            (p[1] << 1) | (p[0] >> 63),
            (p[2] << 1) | (p[1] >> 63),
            (p[3] << 1) | (p[2] >> 63),
        ];
        // Newton's iteration doubles the correct low bits each step: 1 -> 64 in six steps.
        let mut inv = 1u64;
        let mut i = 0;
        while i < 6 {
            inv = inv.wrapping_mul(2u64.wrapping_sub(p[0].wrapping_mul(inv)));
            i += 1;
        }
        Self {
            p: to_radix52(p),
            p2: to_radix52(p2),
            inv: inv.wrapping_neg() & MASK52,
        }
    }
}

/// A prime field this module can compute in.
pub(crate) trait Field52: PrimeField {
    const C: Consts;
}

impl Field52 for ark_bn254::Fr {
    const C: Consts = Consts::new(<ark_bn254::Fr as PrimeField>::MODULUS.0);
}

impl Field52 for ark_bn254::Fq {
    const C: Consts = Consts::new(<ark_bn254::Fq as PrimeField>::MODULUS.0);
}

/// Eight field elements, limb-major. Normalised means every limb is in `[0, 2^52)`; the
/// functions say which inputs they need normalised and what range of values they accept.
#[derive(Clone, Copy)]
pub(crate) struct V8(pub [__m512i; 5]);

/// Eight lanes of the same host-side limbs (constants, tables).
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
pub(crate) fn splat(l: [u64; 5]) -> V8 {
    V8(l.map(|x| _mm512_set1_epi64(x as i64)))
}

/// Lanes from host-side limb-major data (`lanes[k][i]` is limb `k` of lane `i`).
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
pub(crate) fn from_lanes(lanes: &[[u64; 8]; 5]) -> V8 {
    // SAFETY: each row is exactly 64 bytes, and loadu has no alignment requirement.
    V8(lanes.map(|row| unsafe { _mm512_loadu_si512(row.as_ptr().cast()) }))
}

/// Host-side limb-major copy of the lanes.
#[cfg(test)]
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
pub(crate) fn to_lanes(v: V8) -> [[u64; 8]; 5] {
    let mut out = [[0u64; 8]; 5];
    for (row, x) in out.iter_mut().zip(v.0) {
        // SAFETY: each row is exactly 64 bytes, and storeu has no alignment requirement.
        unsafe { _mm512_storeu_si512(row.as_mut_ptr().cast(), x) };
    }
    out
}

/// Limbwise `a + b` (not normalised).
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
pub(crate) fn add(a: V8, b: V8) -> V8 {
    V8(std::array::from_fn(|k| _mm512_add_epi64(a.0[k], b.0[k])))
}

/// Limbwise `a - b + k` (not normalised; limbs may be negative). `k` is a multiple of `p`
/// at least as large as `b`, so that the value stays non-negative.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
pub(crate) fn sub(a: V8, b: V8, k: V8) -> V8 {
    V8(std::array::from_fn(|i| {
        _mm512_sub_epi64(_mm512_add_epi64(a.0[i], k.0[i]), b.0[i])
    }))
}

/// Propagates carries (and borrows: limbs are treated as signed) so every limb but the top
/// one is in `[0, 2^52)`. The value must be in `[0, 2^260)` for the top limb to end up in
/// range too.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
pub(crate) fn normalize(a: V8) -> V8 {
    let mask = _mm512_set1_epi64(MASK52 as i64);
    let mut l = a.0;
    for k in 0..4 {
        l[k + 1] = _mm512_add_epi64(l[k + 1], _mm512_srai_epi64::<52>(l[k]));
        l[k] = _mm512_and_si512(l[k], mask);
    }
    V8(l)
}

/// `a - m` in lanes where that is non-negative, `a` elsewhere. `a` must be normalised;
/// the result is.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
pub(crate) fn sub_if_ge(a: V8, m: V8) -> V8 {
    let d = normalize(V8(std::array::from_fn(|k| {
        _mm512_sub_epi64(a.0[k], m.0[k])
    })));
    let negative = _mm512_cmplt_epi64_mask(d.0[4], _mm512_setzero_si512());
    V8(std::array::from_fn(|k| {
        _mm512_mask_blend_epi64(negative, d.0[k], a.0[k])
    }))
}

/// Canonical form of a normalised value below `2p`.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
pub(crate) fn reduce2<F: Field52>(a: V8) -> V8 {
    sub_if_ge(a, splat(F::C.p))
}

/// Canonical form of a normalised value below `4p`.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
pub(crate) fn reduce4<F: Field52>(a: V8) -> V8 {
    reduce2::<F>(sub_if_ge(a, splat(F::C.p2)))
}

/// `-a` for canonical non-zero `a`, in lanes where `which` is set.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
pub(crate) fn neg_where<F: Field52>(a: V8, which: __mmask8) -> V8 {
    let p = splat(F::C.p);
    let n = normalize(V8(std::array::from_fn(|k| {
        _mm512_sub_epi64(p.0[k], a.0[k])
    })));
    V8(std::array::from_fn(|k| {
        _mm512_mask_blend_epi64(which, a.0[k], n.0[k])
    }))
}

/// Montgomery product `a * b / 2^260 mod p`, normalised and below `2p` (not canonical).
/// Both inputs must be normalised (IFMA reads only the low 52 bits of each limb) and below
/// `4p`.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
pub(crate) fn mul<F: Field52>(a: V8, b: V8) -> V8 {
    let z = _mm512_setzero_si512();
    let mut t = [z; 10];
    // Schoolbook product: every multiply-add is independent, so they pipeline fully.
    for i in 0..5 {
        for j in 0..5 {
            t[i + j] = _mm512_madd52lo_epu64(t[i + j], a.0[i], b.0[j]);
            t[i + j + 1] = _mm512_madd52hi_epu64(t[i + j + 1], a.0[i], b.0[j]);
        }
    }
    // Word-by-word Montgomery reduction: clear the low 52 bits of t[i] with a multiple of p
    // and carry what is left into t[i + 1]. Lanes hold at most ~2^57, so nothing overflows.
    let inv = _mm512_set1_epi64(F::C.inv as i64);
    let p = splat(F::C.p);
    for i in 0..5 {
        // madd52lo reads only the low 52 bits of t[i]: exactly t[i] mod 2^52.
        let m = _mm512_madd52lo_epu64(z, t[i], inv);
        for j in 0..5 {
            t[i + j] = _mm512_madd52lo_epu64(t[i + j], m, p.0[j]);
            t[i + j + 1] = _mm512_madd52hi_epu64(t[i + j + 1], m, p.0[j]);
        }
        t[i + 1] = _mm512_add_epi64(t[i + 1], _mm512_srli_epi64::<52>(t[i]));
    }
    let mask = _mm512_set1_epi64(MASK52 as i64);
    for k in 5..9 {
        t[k + 1] = _mm512_add_epi64(t[k + 1], _mm512_srli_epi64::<52>(t[k]));
        t[k] = _mm512_and_si512(t[k], mask);
    }
    V8([t[5], t[6], t[7], t[8], t[9]])
}

/// Converts four 64-bit limb rows (row `k` = limb `k` of eight values) to radix 2^52.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn rows64_to_52(a: [__m512i; 4]) -> V8 {
    let mask = _mm512_set1_epi64(MASK52 as i64);
    V8([
        _mm512_and_si512(a[0], mask),
        _mm512_and_si512(
            _mm512_or_si512(_mm512_srli_epi64::<52>(a[0]), _mm512_slli_epi64::<12>(a[1])),
            mask,
        ),
        _mm512_and_si512(
            _mm512_or_si512(_mm512_srli_epi64::<40>(a[1]), _mm512_slli_epi64::<24>(a[2])),
            mask,
        ),
        _mm512_and_si512(
            _mm512_or_si512(_mm512_srli_epi64::<28>(a[2]), _mm512_slli_epi64::<36>(a[3])),
            mask,
        ),
        _mm512_srli_epi64::<16>(a[3]),
    ])
}

/// Inverse of [`rows64_to_52`] for normalised limbs of values below 2^256.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn rows52_to_64(l: V8) -> [__m512i; 4] {
    let l = l.0;
    [
        _mm512_or_si512(l[0], _mm512_slli_epi64::<52>(l[1])),
        _mm512_or_si512(_mm512_srli_epi64::<12>(l[1]), _mm512_slli_epi64::<40>(l[2])),
        _mm512_or_si512(_mm512_srli_epi64::<24>(l[2]), _mm512_slli_epi64::<28>(l[3])),
        _mm512_or_si512(_mm512_srli_epi64::<36>(l[3]), _mm512_slli_epi64::<16>(l[4])),
    ]
}

/// Gathers eight 4x64-bit values and transposes them to limb-major radix 2^52.
///
/// # Safety
/// Every pointer must be valid for reading 32 bytes.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
pub(crate) unsafe fn load8(ptrs: [*const u64; 8]) -> V8 {
    // SAFETY: the caller guarantees 32 readable bytes behind each pointer; loadu has no
    // alignment requirement.
    let ld = |i: usize| unsafe { _mm256_loadu_si256(ptrs[i].cast()) };
    let pair = |i: usize| _mm512_inserti64x4::<1>(_mm512_castsi256_si512(ld(i)), ld(i + 1));
    let (z01, z23, z45, z67) = (pair(0), pair(2), pair(4), pair(6));
    // From pairs [x_i | x_{i+1}] to [limb k of 4 values | limb k+1 of 4 values].
    let lo = _mm512_set_epi64(13, 9, 5, 1, 12, 8, 4, 0);
    let hi = _mm512_set_epi64(15, 11, 7, 3, 14, 10, 6, 2);
    let t0 = _mm512_permutex2var_epi64(z01, lo, z23);
    let t1 = _mm512_permutex2var_epi64(z01, hi, z23);
    let t2 = _mm512_permutex2var_epi64(z45, lo, z67);
    let t3 = _mm512_permutex2var_epi64(z45, hi, z67);
    rows64_to_52([
        _mm512_shuffle_i64x2::<0x44>(t0, t2),
        _mm512_shuffle_i64x2::<0xEE>(t0, t2),
        _mm512_shuffle_i64x2::<0x44>(t1, t3),
        _mm512_shuffle_i64x2::<0xEE>(t1, t3),
    ])
}

/// Inverse of [`load8`]; `v` must be normalised and below 2^256.
///
/// # Safety
/// Every pointer must be valid for writing 32 bytes.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
pub(crate) unsafe fn store8(v: V8, ptrs: [*mut u64; 8]) {
    let a = rows52_to_64(v);
    let t0 = _mm512_shuffle_i64x2::<0x44>(a[0], a[1]);
    let t2 = _mm512_shuffle_i64x2::<0xEE>(a[0], a[1]);
    let t1 = _mm512_shuffle_i64x2::<0x44>(a[2], a[3]);
    let t3 = _mm512_shuffle_i64x2::<0xEE>(a[2], a[3]);
    let lo = _mm512_set_epi64(13, 9, 5, 1, 12, 8, 4, 0);
    let hi = _mm512_set_epi64(15, 11, 7, 3, 14, 10, 6, 2);
    let pairs = [
        _mm512_permutex2var_epi64(t0, lo, t1),
        _mm512_permutex2var_epi64(t0, hi, t1),
        _mm512_permutex2var_epi64(t2, lo, t3),
        _mm512_permutex2var_epi64(t2, hi, t3),
    ];
    for (i, z) in pairs.into_iter().enumerate() {
        // SAFETY: the caller guarantees 32 writable bytes behind each pointer; storeu has no
        // alignment requirement.
        unsafe {
            _mm256_storeu_si256(ptrs[2 * i].cast(), _mm512_castsi512_si256(z));
            _mm256_storeu_si256(ptrs[2 * i + 1].cast(), _mm512_extracti64x4_epi64::<1>(z));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::BigInt;
    use ark_std::rand::Rng;

    /// 4-limb integers as 8 lanes.
    fn pack(vals: &[[u64; 4]; 8]) -> [[u64; 8]; 5] {
        let mut out = [[0u64; 8]; 5];
        for (l, v) in vals.iter().enumerate() {
            for (k, limb) in to_radix52(*v).into_iter().enumerate() {
                out[k][l] = limb;
            }
        }
        out
    }

    fn unpack(lanes: &[[u64; 8]; 5]) -> [[u64; 4]; 8] {
        std::array::from_fn(|l| {
            let limbs: [u64; 5] = std::array::from_fn(|k| lanes[k][l]);
            assert!(limbs[..4].iter().all(|&x| x <= MASK52), "not normalised");
            from_radix52(limbs)
        })
    }

    fn raw<F: PrimeField<BigInt = BigInt<4>>>(x: F) -> [u64; 4] {
        // Reads the Montgomery limbs through the same layout the kernels rely on.
        let mut out = [0u64; 4];
        // SAFETY: F is an ark `Fp<_, 4>` (size 32, a `[u64; 4]` at offset 0; asserted for Fr
        // in simd::ntt, and both BN254 fields share the type constructor).
        unsafe {
            std::ptr::copy_nonoverlapping((&x as *const F).cast::<u64>(), out.as_mut_ptr(), 4)
        };
        out
    }

    fn add_int(a: [u64; 4], b: [u64; 4]) -> [u64; 4] {
        let mut out = [0u64; 4];
        let mut carry = 0u128;
        for i in 0..4 {
            let s = a[i] as u128 + b[i] as u128 + carry;
            out[i] = s as u64;
            carry = s >> 64;
        }
        assert_eq!(carry, 0);
        out
    }

    /// Values to test a field with: edges first, then random ones.
    fn samples<F: Field52 + PrimeField<BigInt = BigInt<4>>>(count: usize) -> Vec<F> {
        let mut rng = ark_std::test_rng();
        let mut v = vec![
            F::zero(),
            F::one(),
            -F::one(),
            F::from(2u64),
            -F::from(2u64),
        ];
        // The field element whose Montgomery representation is p - 1 (largest canonical raw).
        let mut p_minus_1 = F::MODULUS;
        p_minus_1.0[0] -= 1;
        v.push(F::from_bigint(p_minus_1).unwrap_or(F::zero()));
        while v.len() < count {
            v.push(F::rand(&mut rng));
        }
        v
    }

    fn skip() -> bool {
        if !crate::simd::available() {
            eprintln!("no avx512ifma on this CPU: skipping IFMA unit tests");
            return true;
        }
        false
    }

    fn consts_match_the_modulus<F: Field52 + PrimeField<BigInt = BigInt<4>>>() {
        assert_eq!(from_radix52(F::C.p), F::MODULUS.0);
        assert_eq!(
            F::C.p[0].wrapping_mul(F::C.inv) & MASK52,
            MASK52,
            "p * inv == -1"
        );
        assert_eq!(from_radix52(F::C.p2), add_int(F::MODULUS.0, F::MODULUS.0));
    }

    #[test]
    fn constants_come_from_the_modulus() {
        consts_match_the_modulus::<ark_bn254::Fr>();
        consts_match_the_modulus::<ark_bn254::Fq>();
    }

    #[test]
    fn radix52_round_trips() {
        let mut rng = ark_std::test_rng();
        for _ in 0..100 {
            let x: [u64; 4] = rng.gen();
            assert_eq!(from_radix52(to_radix52(x)), x);
        }
        assert_eq!(from_radix52(to_radix52([u64::MAX; 4])), [u64::MAX; 4]);
    }

    /// Runs `check` on every group of 8 from the samples, and on rotations so that every
    /// edge value meets every other in some lane.
    fn groups<F: Field52 + PrimeField<BigInt = BigInt<4>>>(mut check: impl FnMut([F; 8], [F; 8])) {
        let v = samples::<F>(64);
        for shift in 0..v.len() {
            for start in (0..v.len()).step_by(8) {
                let a: [F; 8] = std::array::from_fn(|l| v[(start + l) % v.len()]);
                let b: [F; 8] = std::array::from_fn(|l| v[(start + l + shift) % v.len()]);
                check(a, b);
            }
        }
    }

    #[target_feature(enable = "avx512f,avx512ifma")]
    fn field_ops_agree_with_ark<F: Field52 + PrimeField<BigInt = BigInt<4>>>() {
        let sixteen = F::from(16u64);
        let p = F::MODULUS.0;
        let p2 = add_int(p, p);
        let p3 = add_int(p2, p);
        groups::<F>(|a, b| {
            let ra = a.map(raw);
            let rb = b.map(raw);
            let va = from_lanes(&pack(&ra));
            let vb = from_lanes(&pack(&rb));
            let vb16 = from_lanes(&pack(&b.map(|x| raw(x * sixteen))));
            let want = |f: &dyn Fn(F, F) -> F| -> [[u64; 4]; 8] {
                std::array::from_fn(|l| raw(f(a[l], b[l])))
            };

            let prod = want(&|x, y| x * y);
            assert_eq!(
                unpack(&to_lanes(reduce2::<F>(mul::<F>(va, vb16)))),
                prod,
                "mul"
            );
            // Unreduced inputs up to 4p are allowed and give the same product.
            for (ka, kb) in [(p, p2), (p3, p3), (p2, [0; 4])] {
                let ua = from_lanes(&pack(&ra.map(|x| add_int(x, ka))));
                let ub = from_lanes(&pack(&b.map(|x| add_int(raw(x * sixteen), kb))));
                let r = mul::<F>(ua, ub);
                let r_raw = unpack(&to_lanes(r));
                assert!(
                    r_raw.iter().all(|r| BigInt(*r) < BigInt(p2)),
                    "mul output must stay below 2p"
                );
                assert_eq!(unpack(&to_lanes(reduce2::<F>(r))), prod, "mul of unreduced");
            }

            let sum = want(&|x, y| x + y);
            assert_eq!(
                unpack(&to_lanes(reduce4::<F>(normalize(add(va, vb))))),
                sum,
                "add"
            );
            let diff = want(&|x, y| x - y);
            let vp = splat(F::C.p);
            assert_eq!(
                unpack(&to_lanes(reduce4::<F>(normalize(sub(va, vb, vp))))),
                diff,
                "sub"
            );
            let vp2 = splat(F::C.p2);
            assert_eq!(
                unpack(&to_lanes(reduce4::<F>(normalize(sub(va, vb, vp2))))),
                diff,
                "sub 2p"
            );

            let nz: [F; 8] = a.map(|x| if x.is_zero() { F::one() } else { x });
            let vn = from_lanes(&pack(&nz.map(raw)));
            let which = 0b1010_0110u8;
            let got = unpack(&to_lanes(neg_where::<F>(vn, which)));
            for l in 0..8 {
                let want = if which >> l & 1 == 1 { -nz[l] } else { nz[l] };
                assert_eq!(got[l], raw(want), "neg_where lane {l}");
            }
        });
    }

    #[test]
    fn fr_ops_agree_with_ark() {
        if skip() {
            return;
        }
        // SAFETY: available() confirmed avx512f and avx512ifma.
        unsafe { field_ops_agree_with_ark::<ark_bn254::Fr>() };
    }

    #[test]
    fn fq_ops_agree_with_ark() {
        if skip() {
            return;
        }
        // SAFETY: available() confirmed avx512f and avx512ifma.
        unsafe { field_ops_agree_with_ark::<ark_bn254::Fq>() };
    }

    #[target_feature(enable = "avx512f,avx512ifma")]
    fn load_store_round_trip() {
        let mut rng = ark_std::test_rng();
        let src: Vec<[u64; 4]> = (0..40)
            .map(|_| {
                let mut x: [u64; 4] = rng.gen();
                x[3] >>= 1; // below 2^255, like every value the kernels store
                x
            })
            .collect();
        // Scattered, out-of-order indices: the loaders take one pointer per lane.
        let idx = [3usize, 17, 0, 39, 8, 9, 22, 5];
        let ptrs = idx.map(|i| src[i].as_ptr());
        // SAFETY: every pointer is to a [u64; 4] of `src`.
        let v = unsafe { load8(ptrs) };
        assert_eq!(unpack(&to_lanes(v)), idx.map(|i| src[i]));
        let mut dst = vec![[0u64; 4]; 40];
        let out = idx.map(|i| dst[i].as_mut_ptr());
        // SAFETY: distinct indices, every pointer is to a [u64; 4] of `dst`.
        unsafe { store8(v, out) };
        for i in idx {
            assert_eq!(dst[i], src[i]);
        }
    }

    #[test]
    fn loads_and_stores_transpose_exactly() {
        if skip() {
            return;
        }
        // SAFETY: available() confirmed avx512f and avx512ifma.
        unsafe { load_store_round_trip() };
    }
}
