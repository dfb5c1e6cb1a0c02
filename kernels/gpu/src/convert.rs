//! Moving arkworks values to and from the device's layout: 32-bit little-endian limbs of
//! the Montgomery representation, which is exactly what arkworks stores, so no arithmetic
//! happens in the conversion.

use ark_bn254::{Fq, Fq2, Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::short_weierstrass::{Affine, Projective, SWCurveConfig};
use ark_ec::AffineRepr;
use ark_ff::{BigInt, Field, PrimeField, Zero};
use std::borrow::Cow;

use crate::device::Device;
use crate::error::{GpuError, Result};

/// Words per field element.
pub const FIELD_WORDS: usize = crate::source::LIMBS;

/// Base fields the device computes with (Fq, Fq2) and the scalar field Fr, in words.
pub trait DeviceField: Field {
    const WORDS: usize;
    fn push_words(&self, out: &mut Vec<u32>);
    /// `None` for a value that is not reduced: the device keeps every value reduced, so
    /// the caller reports a corrupt result of its device.
    fn from_words(w: &[u32]) -> Option<Self>;
}

/// The device's words of `b`: 32-bit limbs, little endian.
pub(crate) fn bigint_words(b: &BigInt<4>) -> [u32; FIELD_WORDS] {
    let mut out = [0u32; FIELD_WORDS];
    for (k, limb) in b.0.iter().enumerate() {
        out[2 * k] = *limb as u32;
        out[2 * k + 1] = (*limb >> 32) as u32;
    }
    out
}

fn push_bigint(b: &BigInt<4>, out: &mut Vec<u32>) {
    out.extend_from_slice(&bigint_words(b));
}

pub(crate) fn bigint_from_words(w: &[u32]) -> BigInt<4> {
    let mut limbs = [0u64; 4];
    for (i, l) in limbs.iter_mut().enumerate() {
        let lo = w.get(2 * i).copied().unwrap_or(0) as u64;
        let hi = w.get(2 * i + 1).copied().unwrap_or(0) as u64;
        *l = lo | (hi << 32);
    }
    BigInt(limbs)
}

macro_rules! prime_device_field {
    ($t:ty) => {
        impl DeviceField for $t {
            const WORDS: usize = FIELD_WORDS;
            fn push_words(&self, out: &mut Vec<u32>) {
                push_bigint(&self.0, out);
            }
            fn from_words(w: &[u32]) -> Option<Self> {
                let b = bigint_from_words(w);
                (b < <$t as ark_ff::PrimeField>::MODULUS).then(|| <$t>::new_unchecked(b))
            }
        }
    };
}

prime_device_field!(Fq);
prime_device_field!(Fr);

impl DeviceField for Fq2 {
    const WORDS: usize = 2 * FIELD_WORDS;
    fn push_words(&self, out: &mut Vec<u32>) {
        self.c0.push_words(out);
        self.c1.push_words(out);
    }
    fn from_words(w: &[u32]) -> Option<Self> {
        let (a, b) = w.split_at(FIELD_WORDS.min(w.len()));
        Some(Fq2::new(Fq::from_words(a)?, Fq::from_words(b)?))
    }
}

/// Scalars (Montgomery form) as words, for the NTT.
fn fr_to_words(v: &[Fr]) -> Vec<u32> {
    let mut out = Vec::with_capacity(v.len() * FIELD_WORDS);
    for x in v {
        x.push_words(&mut out);
    }
    out
}

/// Words back into scalars; false if one is not reduced.
fn fr_from_words(w: &[u32], out: &mut [Fr]) -> bool {
    for (x, chunk) in out.iter_mut().zip(w.chunks_exact(FIELD_WORDS)) {
        match Fr::from_words(chunk) {
            Some(v) => *x = v,
            None => return false,
        }
    }
    true
}

// `Fr` is `Fp(BigInt([u64; 4]), PhantomData)`: 32 bytes, the limbs at offset 0 and nothing
// else. On a little-endian host those bytes are the device's eight 32-bit limbs, so a slice
// of scalars can be handed to the driver as it is. Why it matters: a 2^24 MSM or NTT
// otherwise first copies 512 MiB into a fresh vector, and touching fresh pages cost more
// than the whole GPU MSM on the lent H200 (bench/NOTES.md section 15).
const _: () = assert!(std::mem::size_of::<Fr>() == 4 * FIELD_WORDS);
const _: () = assert!(std::mem::offset_of!(Fr, 0) == 0);
const _: () = assert!(std::mem::align_of::<Fr>() >= std::mem::align_of::<u32>());

/// The words of `v` without a copy (little-endian hosts; a copy elsewhere).
pub fn fr_words(v: &[Fr]) -> Cow<'_, [u32]> {
    if cfg!(target_endian = "little") {
        // SAFETY: the asserts above: Fr is 32 bytes of [u64; 4] at offset 0, aligned for
        // u32; every bit pattern is a valid u32.
        Cow::Borrowed(unsafe {
            std::slice::from_raw_parts(v.as_ptr().cast::<u32>(), v.len() * FIELD_WORDS)
        })
    } else {
        Cow::Owned(fr_to_words(v))
    }
}

/// Downloads `v.len()` scalars from `buf` straight into `v` (little-endian hosts; through
/// a copy elsewhere) and checks that each is reduced, as [`fr_from_words`] does.
pub fn download_fr<D: Device>(dev: &D, buf: &D::Buffer, v: &mut [Fr]) -> Result<()> {
    let reduced = if cfg!(target_endian = "little") {
        // SAFETY: as in `fr_words`; the check below rejects values that are not reduced
        // before anyone uses them as field elements.
        let words = unsafe {
            std::slice::from_raw_parts_mut(v.as_mut_ptr().cast::<u32>(), v.len() * FIELD_WORDS)
        };
        dev.download(buf, words)?;
        v.iter().all(|x| x.0 < Fr::MODULUS)
    } else {
        let mut words = vec![0u32; v.len() * FIELD_WORDS];
        dev.download(buf, &mut words)?;
        fr_from_words(&words, v)
    };
    if !reduced {
        return Err(corrupt(dev, "an unreduced Fr value"));
    }
    Ok(())
}

/// The error for a value from `dev` that no kernel makes.
pub(crate) fn corrupt<D: Device>(dev: &D, what: &'static str) -> GpuError {
    GpuError::CorruptResult {
        backend: dev.backend(),
        device: dev.device_name().to_string(),
        what,
    }
}

/// A curve group the MSM kernels are instantiated for.
pub trait DeviceCurve: SWCurveConfig<BaseField = Self::Coord, ScalarField = Fr> {
    type Coord: DeviceField;
    /// The kernels' name prefix (`G1`, `G2`).
    const PREFIX: &'static str;
}

impl DeviceCurve for ark_bn254::g1::Config {
    type Coord = Fq;
    const PREFIX: &'static str = "G1";
}

impl DeviceCurve for ark_bn254::g2::Config {
    type Coord = Fq2;
    const PREFIX: &'static str = "G2";
}

/// Affine bases as words: x then y; infinity as all zeros (never a curve point: b != 0).
pub fn affine_to_words<P: DeviceCurve>(points: &[Affine<P>]) -> Vec<u32> {
    let mut out = Vec::with_capacity(points.len() * 2 * P::Coord::WORDS);
    for p in points {
        match p.xy() {
            Some((x, y)) => {
                x.push_words(&mut out);
                y.push_words(&mut out);
            }
            None => out.resize(out.len() + 2 * P::Coord::WORDS, 0),
        }
    }
    out
}

/// Words per XYZZ point on the device.
pub fn xyzz_words<P: DeviceCurve>() -> usize {
    4 * P::Coord::WORDS
}

/// One XYZZ point (x = X/ZZ, y = Y/ZZZ; ZZ = 0 is infinity) to a projective arkworks point.
/// arkworks' Jacobian form has x = X/Z^2, y = Y/Z^3; with Z = ZZZ/ZZ... avoided by taking
/// Z = ZZ * ZZZ: then X' = X ZZ ZZZ^2 and Y' = Y ZZ^3 ZZZ^2 describe the same point.
/// `None` for a short point or an unreduced coordinate (a corrupt result of the device).
pub fn xyzz_to_projective<P: DeviceCurve>(w: &[u32]) -> Option<Projective<P>> {
    let n = P::Coord::WORDS;
    if w.len() < 4 * n {
        return None;
    }
    let x = P::Coord::from_words(&w[..n])?;
    let y = P::Coord::from_words(&w[n..2 * n])?;
    let zz = P::Coord::from_words(&w[2 * n..3 * n])?;
    let zzz = P::Coord::from_words(&w[3 * n..4 * n])?;
    if zz.is_zero() {
        return Some(Projective::zero());
    }
    let zzz2 = zzz.square();
    let z = zz * zzz;
    let x = x * zz * zzz2;
    let y = y * zz.square() * zz * zzz2;
    Some(Projective::new_unchecked(x, y, z))
}

/// Compile-time check that the G1/G2 aliases are the groups above.
#[allow(dead_code)]
fn _groups(a: G1Affine, b: G2Affine) -> (G1Projective, G2Projective) {
    (a.into_group(), b.into_group())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_the_device_cannot_have_made_are_refused() {
        let one = Fr::from(1u64);
        let words = fr_to_words(&[one]);
        assert_eq!(Fr::from_words(&words), Some(one));
        let unreduced = [u32::MAX; FIELD_WORDS];
        assert_eq!(Fr::from_words(&unreduced), None);
        assert_eq!(Fq::from_words(&unreduced), None);
        assert_eq!(
            Fq2::from_words(&[[0; FIELD_WORDS], unreduced].concat()),
            None
        );

        let g = G1Affine::generator();
        let (x, y) = g.xy().expect("not infinity");
        let mut w = Vec::new();
        for c in [x, y, Fq::from(1u64), Fq::from(1u64)] {
            c.push_words(&mut w);
        }
        let p = xyzz_to_projective::<ark_bn254::g1::Config>(&w);
        assert_eq!(p, Some(g.into_group()));
        assert_eq!(
            xyzz_to_projective::<ark_bn254::g1::Config>(&w[1..]),
            None,
            "short"
        );
        w[..FIELD_WORDS].copy_from_slice(&unreduced);
        assert_eq!(xyzz_to_projective::<ark_bn254::g1::Config>(&w), None);
    }
}
