//! Field elements and points as circom/snarkjs lay them out in binary files: 32-byte
//! little-endian limbs; `.zkey` points and field elements in Montgomery form with
//! R = 2^256 (the same form arkworks keeps in memory, so they are taken as they are), the
//! point at infinity as all zeros; `.wtns`/`.r1cs` values in standard form.

use ark_bn254::{Fq, Fq2, Fr, G1Affine, G2Affine};
use ark_ff::{BigInt, BigInteger, PrimeField};

pub(crate) const N8: usize = 32;

fn limbs(bytes: &[u8]) -> [u64; 4] {
    let mut out = [0u64; 4];
    for (i, chunk) in bytes.chunks_exact(8).take(4).enumerate() {
        let mut a = [0u8; 8];
        a.copy_from_slice(chunk);
        out[i] = u64::from_le_bytes(a);
    }
    out
}

/// A Montgomery-form base-field element, if canonical (below the modulus).
pub(crate) fn fq_mont(bytes: &[u8]) -> Option<Fq> {
    let b = BigInt::<4>(limbs(bytes));
    (b < Fq::MODULUS).then(|| Fq::new_unchecked(b))
}

/// A Montgomery-form scalar-field element, if canonical.
pub(crate) fn fr_mont(bytes: &[u8]) -> Option<Fr> {
    let b = BigInt::<4>(limbs(bytes));
    (b < Fr::MODULUS).then(|| Fr::new_unchecked(b))
}

/// A standard-form scalar-field element, if canonical.
pub(crate) fn fr_standard(bytes: &[u8]) -> Option<Fr> {
    Fr::from_bigint(BigInt::<4>(limbs(bytes)))
}

/// Standard-form little-endian bytes of a scalar.
pub(crate) fn fr_to_standard(x: &Fr) -> Vec<u8> {
    x.into_bigint().to_bytes_le()
}

/// A G1 point (64 bytes); `None` if a coordinate is not canonical. Not checked on-curve.
pub(crate) fn g1_mont(bytes: &[u8]) -> Option<G1Affine> {
    let x = fq_mont(&bytes[..N8])?;
    let y = fq_mont(&bytes[N8..2 * N8])?;
    Some(if x.0.is_zero() && y.0.is_zero() {
        G1Affine::identity()
    } else {
        G1Affine::new_unchecked(x, y)
    })
}

/// A G2 point (128 bytes: x.c0, x.c1, y.c0, y.c1); `None` if not canonical.
pub(crate) fn g2_mont(bytes: &[u8]) -> Option<G2Affine> {
    let x = Fq2::new(fq_mont(&bytes[..N8])?, fq_mont(&bytes[N8..2 * N8])?);
    let y = Fq2::new(
        fq_mont(&bytes[2 * N8..3 * N8])?,
        fq_mont(&bytes[3 * N8..4 * N8])?,
    );
    let zero = |f: &Fq2| f.c0.0.is_zero() && f.c1.0.is_zero();
    Some(if zero(&x) && zero(&y) {
        G2Affine::identity()
    } else {
        G2Affine::new_unchecked(x, y)
    })
}

/// The modulus of a prime field as little-endian bytes (to compare with file headers).
pub(crate) fn modulus_bytes<F: PrimeField>() -> Vec<u8> {
    F::MODULUS.to_bytes_le()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ec::{AffineRepr, CurveGroup};
    use ark_ff::{One, UniformRand};

    #[test]
    fn montgomery_bytes_are_arkworks_memory_form() {
        let mut rng = ark_std::test_rng();
        let p = (G1Affine::generator() * Fr::rand(&mut rng)).into_affine();
        let mut bytes = p.x.0.to_bytes_le();
        bytes.extend(p.y.0.to_bytes_le());
        assert_eq!(g1_mont(&bytes), Some(p));
        assert_eq!(g1_mont(&[0u8; 64]), Some(G1Affine::identity()));
        assert_eq!(fq_mont(&modulus_bytes::<Fq>()), None);
        assert_eq!(fr_standard(&fr_to_standard(&Fr::one())), Some(Fr::one()));
        assert_eq!(fr_standard(&modulus_bytes::<Fr>()), None);
    }
}
