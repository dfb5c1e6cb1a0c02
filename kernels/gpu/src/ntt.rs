//! NTT host logic over [`Device`]: data is uploaded once, transformed by the bit-reversal
//! permutation and log2(n) radix-2 butterfly rounds against a twiddle table that stays
//! resident per size and direction (from 2 GROUP elements on, in a few local-memory passes
//! of many rounds each: every round in its own launch cost ~1 ms at 2^24 on an H200),
//! scaled (1/n, coset powers) by one fused pass, and only then downloaded. [`run`] with
//! two passes keeps the data on the device between the inverse and the coset transform of
//! a Groth16 quotient.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ark_bn254::Fr;
use ark_ff::{FftField, Field, One};

use crate::convert::{download_fr, fr_words, FIELD_WORDS};
use crate::device::{count_u32, Arg, Device, Trace};
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
        let mut tables = self.tables.lock().map_err(|_| {
            GpuError::poisoned(
                dev.backend(),
                dev.device_name(),
                "twiddle cache lock (poisoned)",
            )
        })?;
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
        let buf = Arc::new(dev.upload(&fr_words(&powers))?);
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
    transforms(dev, twiddles, buf, log_n, &[(inverse, coset)])
}

/// The transforms `passes` ((inverse?, coset), as in [`transform`]) of `buf`, one after
/// the other, in place. The scaling that ends an inverse transform (1/n, coset^-i) and the
/// one that starts a coset transform (coset^i) are both a[i] *= c g^i, so where they meet,
/// as in a Groth16 quotient's inverse-then-coset pair, they run as one pass: each costs two
/// products per element, at 2^24 about four rounds' worth of a transform's products.
pub fn transforms<D: Device>(
    dev: &D,
    twiddles: &Twiddles<D>,
    buf: &D::Buffer,
    log_n: u32,
    passes: &[(bool, Option<Fr>)],
) -> Result<()> {
    if log_n == 0 {
        return Ok(());
    }
    let mut trace = Trace::start(|| {
        let names: Vec<&str> = passes
            .iter()
            .map(|&(inverse, coset)| match (inverse, coset.is_some()) {
                (false, false) => "forward",
                (false, true) => "coset forward",
                (true, false) => "inverse",
                (true, true) => "coset inverse",
            })
            .collect();
        format!("ntt 2^{log_n} {}", names.join(" + "))
    });
    // The scaling (c, g) not yet applied.
    let mut pending: Option<(Fr, Fr)> = None;
    for &(inverse, coset) in passes {
        // Checked before the data changes.
        let ends_with = if inverse {
            let n_inv = Fr::from(1u64 << log_n)
                .inverse()
                .ok_or_else(|| GpuError::InvalidInput("n has no inverse".into()))?;
            let g_inv = match coset {
                Some(g) => g
                    .inverse()
                    .ok_or_else(|| GpuError::InvalidInput("coset generator is zero".into()))?,
                None => Fr::one(),
            };
            Some((n_inv, g_inv))
        } else {
            None
        };
        if let (false, Some(g)) = (inverse, coset) {
            let (c0, g0) = pending.unwrap_or((Fr::one(), Fr::one()));
            pending = Some((c0, g0 * g));
        }
        if let Some((c, g)) = pending.take() {
            scale(dev, buf, log_n, c, g)?;
            Trace::mark(dev, &mut trace, "scale")?;
        }
        rounds(dev, twiddles, buf, log_n, inverse, &mut trace)?;
        pending = ends_with;
    }
    if let Some((c, g)) = pending {
        scale(dev, buf, log_n, c, g)?;
        Trace::mark(dev, &mut trace, "scale")?;
    }
    Ok(())
}

/// The unscaled transform of `buf` (`log_n >= 1`): the bit-reversal permutation and the
/// log_n butterfly rounds with omega (or omega^-1 for `inverse`).
fn rounds<D: Device>(
    dev: &D,
    twiddles: &Twiddles<D>,
    buf: &D::Buffer,
    log_n: u32,
    inverse: bool,
    trace: &mut Option<Trace>,
) -> Result<()> {
    let n = 1usize << log_n;
    let table = twiddles.get(dev, log_n, inverse)?;
    Trace::mark(dev, trace, "twiddles")?;
    let group = dev.group_size();
    let log_block = (2 * group).trailing_zeros();
    if n < 2 * group {
        // Small sizes: the permutation, then one launch per round.
        dev.launch("Fr_bit_reverse", n, &[Arg::Buf(buf), Arg::U32(log_n)])?;
        let mut m = 1usize;
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
        Trace::mark(dev, trace, "rounds")?;
    } else {
        // The permutation gathers from `buf` into a second vector, every pass but the last
        // works in place there, and the last writes back to `buf`. Exactly 2 GROUP elements
        // are one work-group, which may gather in place.
        let tmp = if n > 2 * group {
            Some(dev.alloc_zeroed(n * FIELD_WORDS)?)
        } else {
            None
        };
        let work = tmp.as_ref().unwrap_or(buf);
        dev.launch(
            "Fr_ntt_first",
            n / 2,
            &[
                Arg::Buf(buf),
                Arg::Buf(work),
                Arg::Buf(&table),
                Arg::U32(log_n),
            ],
        )?;
        Trace::mark(dev, trace, "first pass")?;
        let mut s = log_block;
        for k in strided_passes(log_n, log_block) {
            let dst = if s + k == log_n { buf } else { work };
            dev.launch(
                "Fr_ntt_strided",
                n / 2,
                &[
                    Arg::Buf(work),
                    Arg::Buf(dst),
                    Arg::Buf(&table),
                    Arg::U32(log_n),
                    Arg::U32(s),
                    Arg::U32(k),
                ],
            )?;
            s += k;
            Trace::mark(dev, trace, "strided pass")?;
        }
    }
    Ok(())
}

/// Rounds per `Fr_ntt_strided` pass for the rounds after the first `log_block`: as few
/// passes as allow at most `log_block - 1` rounds each (so every work-group reads runs of at
/// least two neighbours), with the rounds spread evenly over them.
fn strided_passes(log_n: u32, log_block: u32) -> Vec<u32> {
    let rounds = log_n.saturating_sub(log_block);
    let max_k = log_block.saturating_sub(1).max(1);
    let passes = rounds.div_ceil(max_k);
    (0..passes)
        .map(|p| rounds / passes + u32::from(p < rounds % passes))
        .collect()
}

/// a[i] *= c * g^i, through the tables of [`scale_tables`].
fn scale<D: Device>(dev: &D, buf: &D::Buffer, log_n: u32, c: Fr, g: Fr) -> Result<()> {
    let (k, lo, hi) = scale_tables(log_n, c, g);
    let lo = dev.upload(&fr_words(&lo))?;
    let hi = dev.upload(&fr_words(&hi))?;
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
        let buf = dev.upload(&fr_words(v))?;
        transforms(dev, twiddles, &buf, log_n, passes)?;
        download_in_place(dev, &buf, v)?;
    }
    Ok(())
}

/// A Groth16 quotient's numerator on the coset (`Ntt::coset_quotient_unchecked`) with the
/// three vectors on the device: `a` and `b` go up, `c = a ∘ b` is made there, all three
/// take the inverse and coset transforms, and only `a · b - c` comes back, into `a`. `b`
/// is not touched. Vectors of fewer than 2 elements are the caller's.
pub fn coset_quotient<D: Device>(
    dev: &D,
    twiddles: &Twiddles<D>,
    a: &mut [Fr],
    b: &[Fr],
    coset: Fr,
) -> Result<()> {
    let h = quotient_on_device(dev, twiddles, a, b, coset)?;
    download_in_place(dev, &h, a)
}

/// [`coset_quotient`] without the download: the quotient stays in the returned device
/// buffer (for the H MSM, `GpuBackend::quotient_msm_unchecked`).
pub fn quotient_on_device<D: Device>(
    dev: &D,
    twiddles: &Twiddles<D>,
    a: &[Fr],
    b: &[Fr],
    coset: Fr,
) -> Result<D::Buffer> {
    let n = a.len();
    if n < 2 || b.len() != n {
        return Err(GpuError::InvalidInput(format!(
            "quotient of vectors of {n} and {} elements",
            b.len()
        )));
    }
    let log_n = n.trailing_zeros();
    let buf_a = dev.upload(&fr_words(a))?;
    let buf_b = dev.upload(&fr_words(b))?;
    let buf_c = dev.alloc_zeroed(n * FIELD_WORDS)?;
    dev.launch(
        "Fr_product",
        n,
        &[Arg::Buf(&buf_c), Arg::Buf(&buf_a), Arg::Buf(&buf_b)],
    )?;
    for buf in [&buf_a, &buf_b, &buf_c] {
        transforms(
            dev,
            twiddles,
            buf,
            log_n,
            &[(true, None), (false, Some(coset))],
        )?;
    }
    dev.launch(
        "Fr_product_sub",
        n,
        &[Arg::Buf(&buf_a), Arg::Buf(&buf_b), Arg::Buf(&buf_c)],
    )?;
    Ok(buf_a)
}

/// Downloads `buf` over `v`. A failure there must not look like "out of memory", which
/// sends the (now partly overwritten) vector to the CPU fallback.
fn download_in_place<D: Device>(dev: &D, buf: &D::Buffer, v: &mut [Fr]) -> Result<()> {
    download_fr(dev, buf, v).map_err(|e| match e {
        GpuError::OutOfMemory {
            backend,
            device,
            call,
            code,
            ..
        } => GpuError::Driver {
            backend,
            device,
            call,
            code,
        },
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::UniformRand;

    #[test]
    fn strided_passes_cover_every_round_in_few_even_passes() {
        assert_eq!(strided_passes(24, 9), vec![8, 7]);
        assert_eq!(strided_passes(9, 9), Vec::<u32>::new());
        assert_eq!(strided_passes(10, 9), vec![1]);
        assert_eq!(strided_passes(20, 7), vec![5, 4, 4]);
        for log_block in 2..10 {
            for log_n in log_block..=28 {
                let ks = strided_passes(log_n, log_block);
                assert_eq!(ks.iter().sum::<u32>(), log_n - log_block);
                assert!(ks.iter().all(|&k| k >= 1 && k < log_block));
                let lo = ks.iter().min().copied().unwrap_or(0);
                assert!(ks.iter().all(|&k| k - lo <= 1), "{ks:?}");
            }
        }
    }

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
