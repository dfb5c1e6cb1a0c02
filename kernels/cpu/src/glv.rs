//! Fast GLV scalar decomposition: `k = k1 + lambda * k2 (mod r)` with `|k1|, |k2|` about
//! half the bits of `r`. arkworks' `GLVConfig::scalar_decomposition` goes through heap
//! bignums and costs about a microsecond per scalar, which would be a sizeable part of an
//! MSM; this version uses fixed-width limbs and precomputed rounding constants (Babai's
//! rounding with `beta_i = (k * g_i) >> 256`).

use ark_ec::scalar_mul::glv::GLVConfig;
use ark_ff::{BigInteger, PrimeField};
use num_bigint::{BigInt, Sign};

/// Limbs of a two's-complement integer modulo 2^320: wide enough for every intermediate of
/// the decomposition of a 256-bit scalar.
type I320 = [u64; 5];

/// Magnitude of one half of a decomposed scalar (at most ~130 bits), and its sign.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HalfScalar {
    pub magnitude: [u64; 3],
    pub negative: bool,
}

impl HalfScalar {
    pub fn num_bits(&self) -> u32 {
        for i in (0..3).rev() {
            if self.magnitude[i] != 0 {
                return 64 * i as u32 + 64 - self.magnitude[i].leading_zeros();
            }
        }
        0
    }
}

/// Precomputed constants of one curve's decomposition.
#[derive(Clone, Debug)]
pub struct GlvDecomposer {
    /// `|round(n22 * 2^256 / r)|` and `|round(-n12 * 2^256 / r)|`, with their signs.
    g1: [u64; 3],
    g1_negative: bool,
    g2: [u64; 3],
    g2_negative: bool,
    n11: I320,
    n12: I320,
    n21: I320,
    n22: I320,
}

fn to_signed_bigint<B: BigInteger>(positive: bool, v: &B) -> BigInt {
    let bytes = v.to_bytes_le();
    BigInt::from_bytes_le(if positive { Sign::Plus } else { Sign::Minus }, &bytes)
}

fn to_i320(v: &BigInt) -> I320 {
    // Two's complement modulo 2^320.
    let modulus = BigInt::from(1u8) << 320;
    let reduced: BigInt = ((v % &modulus) + &modulus) % &modulus;
    let (_, digits) = reduced.to_u64_digits();
    let mut out = [0u64; 5];
    out[..digits.len()].copy_from_slice(&digits);
    out
}

fn magnitude3(v: &BigInt) -> ([u64; 3], bool) {
    let (sign, digits) = v.to_u64_digits();
    assert!(
        digits.len() <= 3,
        "GLV rounding constant wider than 192 bits"
    );
    let mut out = [0u64; 3];
    out[..digits.len()].copy_from_slice(&digits);
    (out, sign == Sign::Minus)
}

impl GlvDecomposer {
    pub fn new<P: GLVConfig>() -> Self {
        let [n11, n12, n21, n22] = P::SCALAR_DECOMP_COEFFS.map(|(s, v)| to_signed_bigint(s, &v));
        let r = to_signed_bigint(true, &<P::ScalarField as PrimeField>::MODULUS);
        let shift = BigInt::from(1u8) << 256;
        // floor division is enough: beta is then off by at most one from the rounded value,
        // which only widens k1/k2 by a bit; the decomposition stays exact.
        let g1 = (&n22 * &shift) / &r;
        let g2 = (-&n12 * &shift) / &r;
        let (g1, g1_negative) = magnitude3(&g1);
        let (g2, g2_negative) = magnitude3(&g2);
        Self {
            g1,
            g1_negative,
            g2,
            g2_negative,
            n11: to_i320(&n11),
            n12: to_i320(&n12),
            n21: to_i320(&n21),
            n22: to_i320(&n22),
        }
    }

    /// Splits a canonical scalar `k < r` (little-endian limbs).
    #[inline]
    pub fn decompose(&self, k: &[u64; 4]) -> (HalfScalar, HalfScalar) {
        let beta1 = signed(mul_shift_256(k, &self.g1), self.g1_negative);
        let beta2 = signed(mul_shift_256(k, &self.g2), self.g2_negative);
        let kk: I320 = [k[0], k[1], k[2], k[3], 0];
        let b1 = add(&mul(&beta1, &self.n11), &mul(&beta2, &self.n21));
        let b2 = add(&mul(&beta1, &self.n12), &mul(&beta2, &self.n22));
        let k1 = sub(&kk, &b1);
        let k2 = neg(&b2);
        (half(&k1), half(&k2))
    }
}

/// `(k * g) >> 256` for a 256-bit `k` and 192-bit `g`, as a non-negative I320.
#[inline]
fn mul_shift_256(k: &[u64; 4], g: &[u64; 3]) -> [u64; 3] {
    let mut t = [0u64; 7];
    for (i, &ki) in k.iter().enumerate() {
        let mut carry = 0u128;
        for (j, &gj) in g.iter().enumerate() {
            let v = t[i + j] as u128 + (ki as u128) * (gj as u128) + carry;
            t[i + j] = v as u64;
            carry = v >> 64;
        }
        t[i + 3] = carry as u64;
    }
    [t[4], t[5], t[6]]
}

#[inline]
fn signed(m: [u64; 3], negative: bool) -> I320 {
    let v = [m[0], m[1], m[2], 0, 0];
    if negative {
        neg(&v)
    } else {
        v
    }
}

#[inline]
fn add(a: &I320, b: &I320) -> I320 {
    let mut out = [0u64; 5];
    let mut carry = false;
    for i in 0..5 {
        let (s1, c1) = a[i].overflowing_add(b[i]);
        let (s2, c2) = s1.overflowing_add(carry as u64);
        out[i] = s2;
        carry = c1 || c2;
    }
    out
}

#[inline]
fn neg(a: &I320) -> I320 {
    let inverted = a.map(|l| !l);
    add(&inverted, &[1, 0, 0, 0, 0])
}

#[inline]
fn sub(a: &I320, b: &I320) -> I320 {
    add(a, &neg(b))
}

/// Product modulo 2^320 (two's complement makes this right for signed operands).
#[inline]
fn mul(a: &I320, b: &I320) -> I320 {
    let mut out = [0u64; 5];
    for i in 0..5 {
        if a[i] == 0 {
            continue;
        }
        let mut carry = 0u128;
        for j in 0..5 - i {
            let v = out[i + j] as u128 + (a[i] as u128) * (b[j] as u128) + carry;
            out[i + j] = v as u64;
            carry = v >> 64;
        }
    }
    out
}

#[inline]
fn half(v: &I320) -> HalfScalar {
    let negative = v[4] >> 63 == 1;
    let m = if negative { neg(v) } else { *v };
    debug_assert!(m[3] == 0 && m[4] == 0, "GLV half wider than 192 bits");
    HalfScalar {
        magnitude: [m[0], m[1], m[2]],
        negative,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_bn254::{Fr, G1Projective, G2Projective};
    use ark_ec::CurveGroup;
    use ark_ff::{One, UniformRand, Zero};

    fn recompose<P: GLVConfig>(h: &HalfScalar) -> P::ScalarField {
        let mut limbs = [0u64; 4];
        limbs[..3].copy_from_slice(&h.magnitude);
        let f = P::ScalarField::from_le_bytes_mod_order(
            &limbs
                .iter()
                .flat_map(|l| l.to_le_bytes())
                .collect::<Vec<_>>(),
        );
        if h.negative {
            -f
        } else {
            f
        }
    }

    fn check_curve<P: GLVConfig<ScalarField = Fr>>() {
        let d = GlvDecomposer::new::<P>();
        let mut rng = ark_std::test_rng();
        let mut cases: Vec<Fr> = vec![Fr::zero(), Fr::one(), -Fr::one(), P::LAMBDA, -P::LAMBDA];
        cases.extend((0..2000).map(|_| Fr::rand(&mut rng)));
        for k in cases {
            let (k1, k2) = d.decompose(&k.into_bigint().0);
            assert!(
                k1.num_bits() <= 130 && k2.num_bits() <= 130,
                "halves too wide for {k}"
            );
            let back = recompose::<P>(&k1) + P::LAMBDA * recompose::<P>(&k2);
            assert_eq!(back, k, "decomposition of {k} does not recompose");
        }
    }

    // Also checks that lambda is the endomorphism's eigenvalue on each curve, which the
    // MSM relies on when it uses phi(P) for lambda * P.
    #[test]
    fn bn254_g1_decomposition_recomposes() {
        check_curve::<ark_bn254::g1::Config>();
        let p = G1Projective::rand(&mut ark_std::test_rng()).into_affine();
        let phi = ark_bn254::g1::Config::endomorphism_affine(&p);
        assert_eq!(phi, (p * ark_bn254::g1::Config::LAMBDA).into_affine());
    }

    #[test]
    fn bn254_g2_decomposition_recomposes() {
        check_curve::<ark_bn254::g2::Config>();
        let p = G2Projective::rand(&mut ark_std::test_rng()).into_affine();
        let phi = ark_bn254::g2::Config::endomorphism_affine(&p);
        assert_eq!(phi, (p * ark_bn254::g2::Config::LAMBDA).into_affine());
    }
}
