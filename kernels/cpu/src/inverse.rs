//! Inversion in BN254's base field by Bernstein-Yang divsteps (crypto-bigint's safegcd).
//!
//! Why: every batch-affine flush ends in one field inversion, and ark-ff's binary extended
//! Euclid takes a few microseconds on this class of CPU: 14% of a 2^16 G1 MSM once the
//! additions were vectorised (bench/NOTES.md §10). The divstep inverter works on the
//! Montgomery form directly (adjuster `R^2`), so no conversion is needed on either side.

use std::sync::LazyLock;

use ark_bn254::{Fq, Fq2, FqConfig};
use ark_ff::{BigInt, Field, MontConfig, PrimeField, Zero};
use crypto_bigint::{modular::SafeGcdInverter, Odd, U256};

/// 256-bit values in 64-bit limbs; 6 unsaturated 62-bit limbs as crypto-bigint requires.
type Inverter = SafeGcdInverter<4, 6>;

static FQ_INVERTER: LazyLock<Inverter> = LazyLock::new(|| {
    let modulus = Odd::new(U256::from_words(Fq::MODULUS.0));
    let modulus = Option::<Odd<U256>>::from(modulus).expect("the BN254 base field modulus is odd");
    Inverter::new(&modulus, &U256::from_words(FqConfig::R2.0))
});

/// `1 / a` in Fq, `None` for zero.
pub fn inverse_fq(a: &Fq) -> Option<Fq> {
    if a.is_zero() {
        return None;
    }
    // (aR)^-1 * R^2 = a^-1 R: Montgomery form in and out.
    let inv = Option::<U256>::from(FQ_INVERTER.inv_vartime(&U256::from_words(a.0 .0)))?;
    Some(Fq::new_unchecked(BigInt(inv.to_words())))
}

/// `1 / a` in Fq2 = Fq[u]/(u^2 + 1): `(c0 - c1 u) / (c0^2 + c1^2)`.
pub fn inverse_fq2(a: &Fq2) -> Option<Fq2> {
    let norm = inverse_fq(&(a.c0.square() + a.c1.square()))?;
    Some(Fq2::new(a.c0 * norm, -(a.c1 * norm)))
}

/// `1 / a`, through the fast paths for BN254's Fq and Fq2 and `Field::inverse` otherwise.
pub fn inverse<F: Field>(a: &F) -> Option<F> {
    let any: &dyn std::any::Any = a;
    if let Some(x) = any.downcast_ref::<Fq>() {
        return inverse_fq(x).and_then(|r| (&r as &dyn std::any::Any).downcast_ref::<F>().copied());
    }
    if let Some(x) = any.downcast_ref::<Fq2>() {
        return inverse_fq2(x)
            .and_then(|r| (&r as &dyn std::any::Any).downcast_ref::<F>().copied());
    }
    a.inverse()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::{One, UniformRand};

    #[test]
    fn agrees_with_ark_ff() {
        let mut rng = ark_std::test_rng();
        let edges = [
            Fq::one(),
            -Fq::one(),
            Fq::from(2u64),
            Fq::from(u64::MAX),
            -Fq::from(2u64),
        ];
        for a in edges
            .into_iter()
            .chain((0..2000).map(|_| Fq::rand(&mut rng)))
        {
            assert_eq!(inverse_fq(&a), a.inverse(), "{a}");
            assert_eq!(inverse(&a), a.inverse());
        }
        assert_eq!(inverse_fq(&Fq::zero()), None);
        for _ in 0..500 {
            let a = Fq2::rand(&mut rng);
            assert_eq!(inverse_fq2(&a), a.inverse());
            assert_eq!(inverse(&a), a.inverse());
        }
        assert_eq!(inverse_fq2(&Fq2::zero()), None);
        let fr = ark_bn254::Fr::rand(&mut rng);
        assert_eq!(inverse(&fr), fr.inverse());
    }
}
