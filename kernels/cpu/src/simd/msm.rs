//! The batch-affine flush of [`crate::msm`] for BN254 G1, eight additions at a time.
//!
//! Why it vectorises: the additions of one batch are independent once the shared inversion
//! is known, and the prefix products of Montgomery's trick can be split into eight
//! interleaved chains (lane `l` multiplies the differences of additions `l, l+8, ...`), so
//! every multiplication of the flush runs on eight lanes. The eight chain totals are
//! inverted together with one scalar inversion.
//!
//! Why `mul_ark`: point coordinates stay in ark's Montgomery form (radix 2^256) and none of
//! the multiplicands is a constant that could be pre-scaled, so one operand is scaled by 16
//! on the fly (a 4-bit shift, exact in five 52-bit limbs) to make the 2^260 radix of the
//! IFMA product cancel.

use std::arch::x86_64::*;

use ark_bn254::{Fq, G1Affine, G2Affine};
use ark_ff::{BigInt, One};

use super::field::{
    add, from_lanes, load8, mul, normalize, reduce2, reduce4, splat, store8, sub, to_radix52,
    Consts, Field52, MASK52, V8,
};

// The kernels read and write coordinates as four little-endian u64 Montgomery limbs in
// place; these pin down that `Fq` is exactly its `[u64; 4]`.
const _: () = {
    assert!(std::mem::size_of::<Fq>() == 32);
    assert!(std::mem::offset_of!(Fq, 0) == 0);
    assert!(std::mem::offset_of!(BigInt<4>, 0) == 0);
};

const C: Consts = <Fq as Field52>::C;

type Lanes = [[u64; 8]; 5];

/// Buffers reused across flushes (one per bucket accumulator).
#[derive(Default)]
pub(crate) struct FlushScratch {
    px: Vec<Lanes>,
    qx: Vec<Lanes>,
    dx: Vec<Lanes>,
    prefix: Vec<Lanes>,
    /// The G2 flush's rows, one per group of eight additions: `px.c0, px.c1, qx.c0, qx.c1,
    /// dx.c0, dx.c1, norm(dx), prefix`.
    g2_rows: Vec<[Lanes; 8]>,
}

/// Stand-ins for the lanes past the end of a partial batch: `px - qx = 1` keeps the
/// products invertible, and their results go to `sink`.
struct Dummy {
    px: [u64; 4],
    zero: [u64; 4],
    sink: [[u64; 4]; 8],
}

#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn store_lanes(v: V8, out: &mut Lanes) {
    for (row, x) in out.iter_mut().zip(v.0) {
        // SAFETY: each row is exactly 64 bytes; storeu has no alignment requirement.
        unsafe { _mm512_storeu_si512(row.as_mut_ptr().cast(), x) };
    }
}

/// The inverses of the eight lanes of `acc` for one scalar inversion (Montgomery's trick
/// across the lanes); `None` when a lane is zero.
#[target_feature(enable = "avx512f,avx512ifma")]
fn invert_lanes(acc: V8) -> Option<V8> {
    let mut totals_lanes = [[0u64; 8]; 5];
    store_lanes(acc, &mut totals_lanes);
    let totals = lane_values(&totals_lanes);
    let mut inv_lanes = [Fq::one(); 8];
    let mut running = Fq::one();
    for (l, t) in totals.iter().enumerate() {
        inv_lanes[l] = running;
        running *= t;
    }
    let mut inv_all = crate::inverse::inverse_fq(&running)?;
    for l in (0..8).rev() {
        inv_lanes[l] *= inv_all;
        inv_all *= totals[l];
    }
    Some(from_lanes(&values_lanes(&inv_lanes)))
}

#[target_feature(enable = "avx512f,avx512ifma")]
fn mul_ark(a: V8, b: V8) -> V8 {
    // 16 * b < 2^260: exact in five limbs once carried.
    let b16 = normalize(V8(b.0.map(|l| _mm512_slli_epi64::<4>(l))));
    mul::<Fq>(a, b16)
}

fn lane_values(v: &Lanes) -> [Fq; 8] {
    std::array::from_fn(|l| {
        let limbs: [u64; 5] = std::array::from_fn(|k| v[k][l]);
        debug_assert!(limbs[..4].iter().all(|&x| x <= MASK52));
        let raw = [
            limbs[0] | (limbs[1] << 52),
            (limbs[1] >> 12) | (limbs[2] << 40),
            (limbs[2] >> 24) | (limbs[3] << 28),
            (limbs[3] >> 36) | (limbs[4] << 16),
        ];
        Fq::new_unchecked(BigInt(raw))
    })
}

fn values_lanes(v: &[Fq; 8]) -> Lanes {
    let mut out = [[0u64; 8]; 5];
    for (l, x) in v.iter().enumerate() {
        for (k, limb) in to_radix52(x.0 .0).into_iter().enumerate() {
            out[k][l] = limb;
        }
    }
    out
}

/// Adds `points[i]` into `buckets[bucket_of[i]]` for every `i` (affine, sharing inversions).
/// Returns `false`, having changed nothing, when the IFMA path cannot run (CPU without it,
/// or inputs breaking the caller's invariants); the caller then does the scalar flush.
///
/// Caller's invariants: bucket indices distinct and in range, every bucket and point
/// non-zero, `points[i].x != buckets[bucket_of[i]].x`.
pub(crate) fn flush_g1(
    buckets: &mut [G1Affine],
    bucket_of: &[u32],
    points: &[G1Affine],
    scratch: &mut FlushScratch,
) -> bool {
    if !super::available()
        || bucket_of.len() != points.len()
        || bucket_of.iter().any(|&b| b as usize >= buckets.len())
    {
        return false;
    }
    // SAFETY: avx512f and avx512ifma are present (checked above); indices are in range.
    unsafe { flush_inner(buckets, bucket_of, points, scratch) }
}

/// # Safety
/// Needs avx512f and avx512ifma; every `bucket_of[i] < buckets.len()`, distinct.
#[target_feature(enable = "avx512f,avx512ifma")]
unsafe fn flush_inner(
    buckets: &mut [G1Affine],
    bucket_of: &[u32],
    points: &[G1Affine],
    scratch: &mut FlushScratch,
) -> bool {
    let count = points.len();
    if count == 0 {
        return true;
    }
    let groups = count.div_ceil(8);
    let mut dummy = Dummy {
        px: Fq::one().0 .0,
        zero: [0; 4],
        sink: [[0; 4]; 8],
    };
    let bucket_base = buckets.as_mut_ptr();
    // Coordinate pointers of lane `l` of group `g`, or the dummy's past the end.
    let point_ptr = |g: usize, l: usize, y: bool| -> *const u64 {
        let i = 8 * g + l;
        match points.get(i) {
            Some(p) if y => p.y.0 .0.as_ptr(),
            Some(p) => p.x.0 .0.as_ptr(),
            None if y => dummy.zero.as_ptr(),
            None => dummy.px.as_ptr(),
        }
    };
    let bucket_ptr = |g: usize, l: usize, y: bool| -> Option<*mut u64> {
        let b = *bucket_of.get(8 * g + l)? as usize;
        // SAFETY: b < buckets.len() (checked by the caller).
        let q = unsafe { bucket_base.add(b) };
        // SAFETY: q points to a live G1Affine; addr_of_mut! makes no reference.
        Some(unsafe {
            if y {
                std::ptr::addr_of_mut!((*q).y).cast::<u64>()
            } else {
                std::ptr::addr_of_mut!((*q).x).cast::<u64>()
            }
        })
    };
    let zero_ptr = dummy.zero.as_ptr();

    for v in [
        &mut scratch.px,
        &mut scratch.qx,
        &mut scratch.dx,
        &mut scratch.prefix,
    ] {
        v.clear();
        v.resize(groups, [[0; 8]; 5]);
    }
    let p = splat(C.p);
    let p2 = splat(C.p2);
    let zero = splat([0; 5]);

    // Forward: eight interleaved prefix-product chains of dx = px - qx.
    let mut acc = splat(to_radix52(Fq::one().0 .0));
    for g in 0..groups {
        let px_ptrs: [*const u64; 8] = std::array::from_fn(|l| point_ptr(g, l, false));
        let qx_ptrs: [*const u64; 8] =
            std::array::from_fn(|l| bucket_ptr(g, l, false).map_or(zero_ptr, |q| q.cast_const()));
        // SAFETY: every pointer is to a live Fq (a point, a bucket or the dummy).
        let (px, qx) = unsafe { (load8(px_ptrs), load8(qx_ptrs)) };
        let dx = reduce2::<Fq>(normalize(sub(px, qx, p)));
        store_lanes(px, &mut scratch.px[g]);
        store_lanes(qx, &mut scratch.qx[g]);
        store_lanes(dx, &mut scratch.dx[g]);
        store_lanes(acc, &mut scratch.prefix[g]);
        acc = reduce2::<Fq>(mul_ark(acc, dx));
    }

    // One scalar inversion for the eight chain totals (non-zero: every dx is, as the x
    // coordinates are distinct and dummies are 1).
    let Some(mut inv) = invert_lanes(acc) else {
        return false;
    };

    // Backward: each lane peels its chain, then the eight additions complete together.
    for g in (0..groups).rev() {
        let px = from_lanes(&scratch.px[g]);
        let qx = from_lanes(&scratch.qx[g]);
        let dx = from_lanes(&scratch.dx[g]);
        let inv_i = reduce2::<Fq>(mul_ark(inv, from_lanes(&scratch.prefix[g])));
        inv = reduce2::<Fq>(mul_ark(inv, dx));
        let py_ptrs: [*const u64; 8] = std::array::from_fn(|l| point_ptr(g, l, true));
        let qy_ptrs: [*const u64; 8] =
            std::array::from_fn(|l| bucket_ptr(g, l, true).map_or(zero_ptr, |q| q.cast_const()));
        // SAFETY: every pointer is to a live Fq.
        let (py, qy) = unsafe { (load8(py_ptrs), load8(qy_ptrs)) };
        let lambda = reduce2::<Fq>(mul_ark(normalize(sub(py, qy, p)), inv_i));
        let l2 = mul_ark(lambda, lambda);
        // l2 + 2p - qx - px is in (0, 4p).
        let x3 = reduce4::<Fq>(normalize(sub(sub(l2, qx, p2), px, zero)));
        let u = normalize(sub(qx, x3, p));
        // lambda * (qx - x3) + p - qy is in (0, 3p).
        let y3 = reduce4::<Fq>(normalize(sub(mul_ark(lambda, u), qy, p)));
        let sink = dummy.sink.as_mut_ptr().cast::<u64>();
        let x_out: [*mut u64; 8] =
            std::array::from_fn(|l| bucket_ptr(g, l, false).unwrap_or(sink.wrapping_add(4 * l)));
        let y_out: [*mut u64; 8] =
            std::array::from_fn(|l| bucket_ptr(g, l, true).unwrap_or(sink.wrapping_add(4 * l)));
        // SAFETY: bucket pointers are distinct live coordinates (distinct buckets), dummy
        // lanes write to distinct sink slots; no reference to either is live.
        unsafe {
            store8(x3, x_out);
            store8(y3, y_out);
        }
    }
    true
}

/// `a * b` for canonical Fq2 elements `a = a0 + a1 u`, `b = b0 + b1 u` (`u^2 = -1`), with
/// Karatsuba's three Fq products; the result is canonical.
///
/// Bounds: the three products have inputs below `2p` and so stay below `2p`; the sums fed
/// to the final reductions are below `2p` and `4p`.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn mul_fq2(a: (V8, V8), b: (V8, V8)) -> (V8, V8) {
    let p = splat(C.p);
    let p2 = splat(C.p2);
    let v0 = reduce2::<Fq>(mul_ark(a.0, b.0));
    let v1 = reduce2::<Fq>(mul_ark(a.1, b.1));
    let t = mul_ark(normalize(add(a.0, a.1)), normalize(add(b.0, b.1)));
    // a0 b0 - a1 b1 + p is in (0, 2p).
    let c0 = reduce2::<Fq>(normalize(sub(v0, v1, p)));
    // (a0 + a1)(b0 + b1) - a0 b0 - a1 b1 + 2p is in (0, 4p).
    let c1 = reduce4::<Fq>(normalize(sub(t, add(v0, v1), p2)));
    (c0, c1)
}

/// `a^2` for a canonical Fq2 element, as `(a0 + a1)(a0 - a1) + 2 a0 a1 u`; canonical.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn square_fq2(a: (V8, V8)) -> (V8, V8) {
    let p = splat(C.p);
    let c0 = reduce2::<Fq>(mul_ark(
        normalize(add(a.0, a.1)),
        normalize(sub(a.0, a.1, p)),
    ));
    let m = reduce2::<Fq>(mul_ark(a.0, a.1));
    (c0, reduce2::<Fq>(normalize(add(m, m))))
}

/// Canonical `a - b` for canonical `a`, `b`.
#[inline]
#[target_feature(enable = "avx512f,avx512ifma")]
fn sub_fq(a: V8, b: V8) -> V8 {
    reduce2::<Fq>(normalize(sub(a, b, splat(C.p))))
}

/// The G2 counterpart of [`flush_g1`]: adds `points[i]` into `buckets[bucket_of[i]]` for
/// every `i`, with the same invariants and the same `false` (nothing changed) when the IFMA
/// path cannot run.
///
/// Why norms: `1 / dx = conj(dx) / N(dx)` with `N(dx) = dx0^2 + dx1^2` in Fq (non-zero for
/// non-zero `dx`, since -1 is not a square mod p). Montgomery's trick then runs on one Fq
/// chain instead of an Fq2 one: 7 Fq products per inversion instead of 9, and half the
/// prefix storage. An addition costs 15 Fq products on eight lanes.
pub(crate) fn flush_g2(
    buckets: &mut [G2Affine],
    bucket_of: &[u32],
    points: &[G2Affine],
    scratch: &mut FlushScratch,
) -> bool {
    if !super::available()
        || bucket_of.len() != points.len()
        || bucket_of.iter().any(|&b| b as usize >= buckets.len())
    {
        return false;
    }
    // SAFETY: avx512f and avx512ifma are present (checked above); indices are in range.
    unsafe { flush_g2_inner(buckets, bucket_of, points, scratch) }
}

/// Which Fq coordinate of a G2 point: `x.c0, x.c1, y.c0, y.c1`.
#[derive(Clone, Copy)]
enum G2Coord {
    X0,
    X1,
    Y0,
    Y1,
}

/// Pointer to one Fq coordinate of `*q`, made without creating a reference.
///
/// # Safety
/// `q` must point to a live `G2Affine`.
#[inline]
unsafe fn g2_coord(q: *mut G2Affine, c: G2Coord) -> *mut u64 {
    // SAFETY: the caller guarantees `q` is live; addr_of_mut! makes no reference, and field
    // projections do not depend on the struct layout of `Fq2`.
    unsafe {
        match c {
            G2Coord::X0 => std::ptr::addr_of_mut!((*q).x.c0).cast(),
            G2Coord::X1 => std::ptr::addr_of_mut!((*q).x.c1).cast(),
            G2Coord::Y0 => std::ptr::addr_of_mut!((*q).y.c0).cast(),
            G2Coord::Y1 => std::ptr::addr_of_mut!((*q).y.c1).cast(),
        }
    }
}

/// # Safety
/// Needs avx512f and avx512ifma; every `bucket_of[i] < buckets.len()`, distinct.
#[target_feature(enable = "avx512f,avx512ifma")]
unsafe fn flush_g2_inner(
    buckets: &mut [G2Affine],
    bucket_of: &[u32],
    points: &[G2Affine],
    scratch: &mut FlushScratch,
) -> bool {
    let count = points.len();
    if count == 0 {
        return true;
    }
    let groups = count.div_ceil(8);
    // Dummy lanes past the end: px = 1, qx = 0 (so dx = 1), y = 0; results go to `sink`.
    let one = Fq::one().0 .0;
    let zero4 = [0u64; 4];
    let mut sink = [[0u64; 4]; 8];
    let bucket_base = buckets.as_mut_ptr();
    let point_ptr = |g: usize, l: usize, c: G2Coord| -> *const u64 {
        match points.get(8 * g + l) {
            // SAFETY: p is a live point; the pointer is only read.
            Some(p) => unsafe { g2_coord((p as *const G2Affine).cast_mut(), c).cast_const() },
            None => match c {
                G2Coord::X0 => one.as_ptr(),
                _ => zero4.as_ptr(),
            },
        }
    };
    let bucket_ptr = |g: usize, l: usize, c: G2Coord| -> Option<*mut u64> {
        let b = *bucket_of.get(8 * g + l)? as usize;
        // SAFETY: b < buckets.len() (checked by the caller), so the bucket is live.
        Some(unsafe { g2_coord(bucket_base.add(b), c) })
    };
    let load_points = |g: usize, c: G2Coord| {
        let ptrs: [*const u64; 8] = std::array::from_fn(|l| point_ptr(g, l, c));
        // SAFETY: every pointer is to a live Fq (a point coordinate or a dummy).
        unsafe { load8(ptrs) }
    };
    let load_buckets = |g: usize, c: G2Coord| {
        let ptrs: [*const u64; 8] =
            std::array::from_fn(|l| bucket_ptr(g, l, c).map_or(zero4.as_ptr(), |q| q.cast_const()));
        // SAFETY: every pointer is to a live Fq (a bucket coordinate or the zero dummy).
        unsafe { load8(ptrs) }
    };

    scratch.g2_rows.clear();
    scratch.g2_rows.resize(groups, [[[0; 8]; 5]; 8]);

    // Forward: eight interleaved prefix-product chains of the norms of dx = px - qx.
    let mut acc = splat(to_radix52(one));
    for (g, row) in scratch.g2_rows.iter_mut().enumerate() {
        let px0 = load_points(g, G2Coord::X0);
        let px1 = load_points(g, G2Coord::X1);
        let qx0 = load_buckets(g, G2Coord::X0);
        let qx1 = load_buckets(g, G2Coord::X1);
        let dx0 = sub_fq(px0, qx0);
        let dx1 = sub_fq(px1, qx1);
        // Two products below 2p each: the sum is below 4p.
        let norm = reduce4::<Fq>(normalize(add(mul_ark(dx0, dx0), mul_ark(dx1, dx1))));
        for (i, v) in [px0, px1, qx0, qx1, dx0, dx1, norm, acc]
            .into_iter()
            .enumerate()
        {
            store_lanes(v, &mut row[i]);
        }
        acc = reduce2::<Fq>(mul_ark(acc, norm));
    }

    // One scalar inversion for the eight chain totals (non-zero: every norm is, as the x
    // coordinates are distinct and dummies are 1).
    let Some(mut inv) = invert_lanes(acc) else {
        return false;
    };

    let p = splat(C.p);
    let p2 = splat(C.p2);
    let zero = splat([0; 5]);
    let sink_ptr = sink.as_mut_ptr().cast::<u64>();
    // Backward: each lane peels its chain, then the eight additions complete together.
    for (g, row) in scratch.g2_rows.iter().enumerate().rev() {
        let [px0, px1, qx0, qx1, dx0, dx1, norm, prefix] = row.each_ref().map(|r| from_lanes(r));
        let ninv = reduce2::<Fq>(mul_ark(inv, prefix));
        inv = reduce2::<Fq>(mul_ark(inv, norm));
        // 1 / dx = (dx0 - dx1 u) / N(dx); p - dx1 is in (0, p].
        let i0 = reduce2::<Fq>(mul_ark(dx0, ninv));
        let i1 = reduce2::<Fq>(mul_ark(normalize(sub(zero, dx1, p)), ninv));
        let py = (load_points(g, G2Coord::Y0), load_points(g, G2Coord::Y1));
        let qy = (load_buckets(g, G2Coord::Y0), load_buckets(g, G2Coord::Y1));
        let lambda = mul_fq2((sub_fq(py.0, qy.0), sub_fq(py.1, qy.1)), (i0, i1));
        let l2 = square_fq2(lambda);
        // l2 + 2p - qx - px is in (0, 3p).
        let x3_0 = reduce4::<Fq>(normalize(sub(sub(l2.0, qx0, p2), px0, zero)));
        let x3_1 = reduce4::<Fq>(normalize(sub(sub(l2.1, qx1, p2), px1, zero)));
        let t = mul_fq2(lambda, (sub_fq(qx0, x3_0), sub_fq(qx1, x3_1)));
        let y3_0 = sub_fq(t.0, qy.0);
        let y3_1 = sub_fq(t.1, qy.1);
        for (v, c) in [
            (x3_0, G2Coord::X0),
            (x3_1, G2Coord::X1),
            (y3_0, G2Coord::Y0),
            (y3_1, G2Coord::Y1),
        ] {
            let out: [*mut u64; 8] = std::array::from_fn(|l| {
                bucket_ptr(g, l, c).unwrap_or(sink_ptr.wrapping_add(4 * l))
            });
            // SAFETY: bucket pointers are distinct live coordinates (distinct buckets),
            // dummy lanes write to distinct sink slots; no reference to either is live.
            unsafe { store8(v, out) };
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ec::{AffineRepr, CurveGroup};
    use ark_ff::UniformRand;

    type Flush<A> = fn(&mut [A], &[u32], &[A], &mut FlushScratch) -> bool;

    /// An IFMA flush against ark's affine addition, for batch sizes around the lane count,
    /// with scattered bucket indices and one point that is a multiple of its bucket.
    fn flush_matches<P: ark_ec::short_weierstrass::SWCurveConfig>(
        flush: Flush<ark_ec::short_weierstrass::Affine<P>>,
    ) {
        use ark_ec::short_weierstrass::{Affine, Projective};
        if !crate::simd::available() {
            eprintln!("no avx512ifma on this CPU: skipping");
            return;
        }
        let mut rng = ark_std::test_rng();
        let mut scratch = FlushScratch::default();
        let mut random = |k: usize| -> Vec<Affine<P>> {
            (0..k)
                .map(|_| Projective::<P>::rand(&mut rng).into_affine())
                .collect()
        };
        for count in [1usize, 2, 7, 8, 9, 31, 64, 100] {
            let buckets = random(count + 5);
            let mut points = random(count);
            // Reverse order, so indices are scattered.
            let bucket_of: Vec<u32> = (0..count).map(|i| (count + 4 - i) as u32).collect();
            if count > 2 {
                let b = bucket_of[1] as usize;
                points[1] = (buckets[b] + buckets[b]).into_affine();
            }
            let mut ours = buckets.clone();
            assert!(flush(&mut ours, &bucket_of, &points, &mut scratch));
            let mut want = buckets.clone();
            for (p, &b) in points.iter().zip(&bucket_of) {
                want[b as usize] = (want[b as usize] + p).into_affine();
            }
            assert_eq!(ours, want, "batch of {count}");
            assert!(ours.iter().all(|p| !p.is_zero()));
        }
    }

    #[test]
    fn flush_g1_matches_affine_addition() {
        flush_matches::<ark_bn254::g1::Config>(flush_g1);
    }

    #[test]
    fn flush_g2_matches_affine_addition() {
        flush_matches::<ark_bn254::g2::Config>(flush_g2);
    }

    #[test]
    fn flush_rejects_out_of_range_buckets() {
        let mut buckets = vec![G1Affine::generator(); 2];
        let mut scratch = FlushScratch::default();
        let points = [G1Affine::generator()];
        assert!(!flush_g1(&mut buckets, &[5], &points, &mut scratch));
        assert_eq!(buckets, vec![G1Affine::generator(); 2]);
    }
}
