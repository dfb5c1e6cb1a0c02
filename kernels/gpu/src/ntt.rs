//! NTT host logic over [`Device`]: data is uploaded once, transformed in place by a
//! bit-reversal pass and log2(n) radix-2 butterfly rounds against a twiddle table that
//! stays resident per size and direction, scaled (1/n, coset powers) by one fused pass,
//! and only then downloaded. `intt_then_coset` keeps the data on the device between the
//! inverse and the coset transform of a Groth16 quotient.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ark_bn254::Fr;
use ark_ff::{FftField, Field, One};

use crate::convert::{fr_from_words, fr_to_words, FIELD_WORDS};
use crate::device::{count_u32, Arg, Device};
use crate::error::{GpuError, Result};

/// Resident tables keyed by (log n, inverse).
type Tables<B> = HashMap<(u32, bool), Arc<B>>;

/// Twiddle tables (omega^k for k < n/2) resident on the device, per (log n, inverse).
pub struct Twiddles<D: Device> {
    tables: Mutex<Tables<D::Buffer>>,
}

impl<D: Device> Default for Twiddles<D> {
    fn default() -> Self {
        Self {
            tables: Mutex::new(HashMap::new()),
        }
    }
}

impl<D: Device> Twiddles<D> {
    fn get(&self, dev: &D, log_n: u32, inverse: bool) -> Result<Arc<D::Buffer>> {
        let mut tables = self
            .tables
            .lock()
            .map_err(|_| GpuError::InvalidInput("twiddle cache poisoned".into()))?;
        if let Some(t) = tables.get(&(log_n, inverse)) {
            return Ok(Arc::clone(t));
        }
        let n = 1u64 << log_n;
        let omega = Fr::get_root_of_unity(n)
            .ok_or_else(|| GpuError::InvalidInput(format!("no root of unity of order {n}")))?;
        let omega = if inverse {
            omega.inverse().unwrap_or(omega)
        } else {
            omega
        };
        let mut powers = Vec::with_capacity((n / 2) as usize);
        let mut w = Fr::one();
        for _ in 0..n / 2 {
            powers.push(w);
            w *= omega;
        }
        let buf = Arc::new(dev.upload(&fr_to_words(&powers))?);
        tables.insert((log_n, inverse), Arc::clone(&buf));
        Ok(buf)
    }
}

/// One transform of the `n = 2^log_n` scalars in `buf`, in place on the device.
/// Forward: evaluations on `coset * <omega>` (coset 1: the subgroup). Inverse: the
/// coefficients, scaled by 1/n and by coset^-i.
pub fn transform<D: Device>(
    dev: &D,
    twiddles: &Twiddles<D>,
    buf: &D::Buffer,
    log_n: u32,
    inverse: bool,
    coset: Option<Fr>,
) -> Result<()> {
    if log_n == 0 {
        return Ok(());
    }
    let n = 1usize << log_n;
    if !inverse {
        if let Some(g) = coset {
            scale(dev, buf, log_n, Fr::one(), g)?;
        }
    }
    dev.launch("Fr_bit_reverse", n, &[Arg::Buf(buf), Arg::U32(log_n)])?;
    let table = twiddles.get(dev, log_n, inverse)?;
    let mut m = 1usize;
    let group = dev.group_size();
    if n >= 2 * group {
        // Rounds m = 1 .. group in one local-memory pass.
        dev.launch(
            "Fr_butterfly_local",
            n / 2,
            &[Arg::Buf(buf), Arg::Buf(&table), Arg::U32(log_n)],
        )?;
        m = 2 * group;
    }
    while m < n {
        dev.launch(
            "Fr_butterfly",
            n / 2,
            &[
                Arg::Buf(buf),
                Arg::Buf(&table),
                Arg::U32(count_u32(m)?),
                Arg::U32(count_u32(n / (2 * m))?),
            ],
        )?;
        m *= 2;
    }
    if inverse {
        let n_inv = Fr::from(n as u64)
            .inverse()
            .ok_or_else(|| GpuError::InvalidInput("n has no inverse".into()))?;
        let g_inv = match coset {
            Some(g) => g
                .inverse()
                .ok_or_else(|| GpuError::InvalidInput("coset generator is zero".into()))?,
            None => Fr::one(),
        };
        scale(dev, buf, log_n, n_inv, g_inv)?;
    }
    Ok(())
}

/// a[i] *= c * g^i, through the tables of [`scale_tables`].
fn scale<D: Device>(dev: &D, buf: &D::Buffer, log_n: u32, c: Fr, g: Fr) -> Result<()> {
    let (k, lo, hi) = scale_tables(log_n, c, g);
    let lo = dev.upload(&fr_to_words(&lo))?;
    let hi = dev.upload(&fr_to_words(&hi))?;
    dev.launch(
        "Fr_scale",
        1 << log_n,
        &[Arg::Buf(buf), Arg::Buf(&lo), Arg::Buf(&hi), Arg::U32(k)],
    )
}

/// `(k, lo, hi)` with `lo[j] = g^j` for `j < 2^k` and `hi[j] = c * g^(j 2^k)` for
/// `j < 2^(log_n - k)`, so that `c * g^i = lo[i mod 2^k] * hi[i >> k]`: about 2 sqrt(n)
/// host products and uploads instead of a power per element on the device.
fn scale_tables(log_n: u32, c: Fr, g: Fr) -> (u32, Vec<Fr>, Vec<Fr>) {
    let k = log_n.div_ceil(2);
    let powers = |start: Fr, step: Fr, len: usize| {
        std::iter::successors(Some(start), move |x| Some(*x * step))
            .take(len)
            .collect::<Vec<_>>()
    };
    let lo = powers(Fr::one(), g, 1 << k);
    let g_k = g.pow([1u64 << k]);
    let hi = powers(c, g_k, 1 << (log_n - k));
    (k, lo, hi)
}

/// Uploads each vector, applies `passes` (inverse?, coset) in order on the device, and
/// downloads the result.
pub fn run<D: Device>(
    dev: &D,
    twiddles: &Twiddles<D>,
    data: &mut [&mut [Fr]],
    passes: &[(bool, Option<Fr>)],
) -> Result<()> {
    for v in data.iter_mut() {
        let n = v.len();
        if n <= 1 {
            continue;
        }
        let log_n = n.trailing_zeros();
        let buf = dev.upload(&fr_to_words(v))?;
        for &(inverse, coset) in passes {
            transform(dev, twiddles, &buf, log_n, inverse, coset)?;
        }
        let mut words = vec![0u32; n * FIELD_WORDS];
        dev.download(&buf, &mut words)?;
        fr_from_words(&words, v)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::UniformRand;

    #[test]
    fn scale_tables_give_c_times_g_to_the_i() {
        let mut rng = ark_std::test_rng();
        let (c, g) = (Fr::rand(&mut rng), Fr::rand(&mut rng));
        for log_n in 0..8u32 {
            let (k, lo, hi) = scale_tables(log_n, c, g);
            for i in 0..1usize << log_n {
                let want = c * g.pow([i as u64]);
                assert_eq!(
                    lo[i & ((1 << k) - 1)] * hi[i >> k],
                    want,
                    "2^{log_n}, i = {i}"
                );
            }
        }
    }
}
