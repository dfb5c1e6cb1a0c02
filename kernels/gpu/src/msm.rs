//! MSM host logic, written once over [`Device`]: signed window digits and the counting
//! sort by bucket on the host (rayon), then on the device: bucket sums through a segment
//! tree (oversized buckets are cut into many segments), the bucket reduction, and the
//! per-window sums. The host combines the few window sums with doublings.

use std::marker::PhantomData;

use ark_bn254::Fr;
use ark_ec::short_weierstrass::{Affine, Projective};
use ark_ec::AdditiveGroup;
use ark_ff::{PrimeField, Zero};
use rayon::prelude::*;

use crate::convert::{affine_to_words, xyzz_to_projective, xyzz_words, DeviceCurve};
use crate::device::{count_u32, Arg, Device};
use crate::error::{GpuError, Result};

/// Scalar bits of BN254's Fr.
const SCALAR_BITS: u32 = 254;
/// Most entries one thread adds in the first round of bucket sums.
const FIRST_SEGMENT: usize = 64;
/// Most partial sums one thread adds in later rounds.
const LATER_SEGMENT: usize = 32;
/// Buckets per thread in the bucket reduction.
const REDUCE_SEGMENT: u32 = 32;

/// Bases resident on the device, as affine points (infinity as zeros). `P` keeps G1 bases
/// from being used as G2 ones.
pub struct ResidentBases<D: Device, P> {
    pub(crate) buf: D::Buffer,
    pub(crate) len: usize,
    _curve: PhantomData<fn() -> P>,
}

/// Uploads `points` once.
pub fn load_bases<D: Device, P: DeviceCurve>(
    dev: &D,
    points: &[Affine<P>],
) -> Result<ResidentBases<D, P>> {
    if points.len() >= 1 << 31 {
        return Err(GpuError::InvalidInput(format!(
            "{} bases exceed the GPU MSM's 2^31 limit",
            points.len()
        )));
    }
    let words = affine_to_words(points);
    let buf = if words.is_empty() {
        dev.alloc_zeroed(1)?
    } else {
        dev.upload(&words)?
    };
    Ok(ResidentBases {
        buf,
        len: points.len(),
        _curve: PhantomData,
    })
}

/// Window width for `n` points: about log2(n) - 3 bits, so that the bucket reduction
/// (2 * 2^(c-1) additions per window) stays well below the n additions per window.
pub fn window_bits(n: usize) -> u32 {
    let log_n = usize::BITS - n.max(1).leading_zeros();
    log_n.saturating_sub(3).clamp(3, 16)
}

/// Smallest chunk the MSM is split into when the device runs out of memory.
const MIN_CHUNK: usize = 1 << 10;

/// `sum scalars[i] * bases[i]` on the device. When the device runs out of memory for the
/// scratch buffers (sorted entries, buckets), the scalars are split in halves, each half's
/// MSM runs on its own and the results are added: big inputs degrade to chunks instead of
/// failing. Only a chunk below `MIN_CHUNK` that still does not fit reports the error.
pub fn msm<D: Device, P: DeviceCurve>(
    dev: &D,
    bases: &ResidentBases<D, P>,
    scalars: &[Fr],
    window: Option<u32>,
) -> Result<Projective<P>> {
    let n = scalars.len().min(bases.len);
    msm_chunk(dev, bases, &scalars[..n], 0, window)
}

fn msm_chunk<D: Device, P: DeviceCurve>(
    dev: &D,
    bases: &ResidentBases<D, P>,
    scalars: &[Fr],
    offset: usize,
    window: Option<u32>,
) -> Result<Projective<P>> {
    let split = |scalars: &[Fr]| -> Result<Projective<P>> {
        let mid = scalars.len() / 2;
        let (lo, hi) = scalars.split_at(mid);
        Ok(msm_chunk(dev, bases, lo, offset, window)?
            + msm_chunk(dev, bases, hi, offset + mid, window)?)
    };
    // Entry positions are u32 on the device: more (point, window) pairs than that are
    // split before anything is allocated.
    let c = window
        .unwrap_or_else(|| window_bits(scalars.len()))
        .clamp(2, 20);
    let pairs = scalars.len() as u64 * u64::from(SCALAR_BITS / c + 1);
    if pairs > u64::from(u32::MAX) && scalars.len() >= 2 {
        return split(scalars);
    }
    match msm_once(dev, bases, scalars, offset, window) {
        Err(GpuError::OutOfMemory { .. }) if scalars.len() >= 2 * MIN_CHUNK => split(scalars),
        other => other,
    }
}

/// One MSM of `scalars` against the bases starting at `offset`.
fn msm_once<D: Device, P: DeviceCurve>(
    dev: &D,
    bases: &ResidentBases<D, P>,
    scalars: &[Fr],
    offset: usize,
    window: Option<u32>,
) -> Result<Projective<P>> {
    let n = scalars.len();
    if n == 0 {
        return Ok(Projective::zero());
    }
    let c = window.unwrap_or_else(|| window_bits(n)).clamp(2, 20);
    let windows = (SCALAR_BITS / c + 1) as usize;
    let half = 1usize << (c - 1);

    let sorted = sort_by_bucket(scalars, offset as u32, c, windows);
    let bucket_count = windows * half;
    let points = xyzz_words::<P>();
    let buckets = dev.alloc_zeroed(bucket_count * points)?;
    if !sorted.entries.is_empty() {
        let entries = dev.upload(&sorted.entries)?;
        sum_runs::<D, P>(
            dev,
            Source::Bases(&bases.buf, &entries),
            &sorted.runs,
            &buckets,
        )?;
    }

    // Bucket reduction: per_window threads per window, each over REDUCE_SEGMENT buckets.
    let per_window = half.div_ceil(REDUCE_SEGMENT as usize);
    let threads = windows * per_window;
    let partial = dev.alloc_zeroed(threads * points)?;
    dev.launch(
        &format!("{}_reduce_buckets", P::PREFIX),
        threads,
        &[
            Arg::Buf(&buckets),
            Arg::Buf(&partial),
            Arg::U32(count_u32(half)?),
            Arg::U32(REDUCE_SEGMENT),
            Arg::U32(count_u32(per_window)?),
        ],
    )?;
    drop(buckets);

    // Window sums: one run of per_window partials per window.
    let runs: Vec<(u32, u32)> = (0..windows)
        .map(|w| Ok((count_u32(w)?, count_u32(per_window)?)))
        .collect::<Result<_>>()?;
    let window_sums = dev.alloc_zeroed(windows * points)?;
    sum_runs::<D, P>(dev, Source::Points(&partial), &runs, &window_sums)?;

    let mut words = vec![0u32; windows * points];
    dev.download(&window_sums, &mut words)?;
    let mut acc = Projective::<P>::zero();
    for w in (0..windows).rev() {
        for _ in 0..c {
            acc.double_in_place();
        }
        acc += xyzz_to_projective::<P>(&words[w * points..(w + 1) * points])?;
    }
    Ok(acc)
}

/// The (bucket, point) pairs sorted by bucket.
struct Sorted {
    /// `point << 1 | negate`, grouped by bucket in bucket order.
    entries: Vec<u32>,
    /// (bucket id, number of entries) for every non-empty bucket, in order; bucket id =
    /// window * half + (|digit| - 1).
    runs: Vec<(u32, u32)>,
}

/// Signed c-bit digits of every scalar (point indices start at `offset`) (digits in [-(2^(c-1) - 1), 2^(c-1)], so bucket
/// |digit| - 1 < half; `windows * c >= 255` absorbs the last carry), then a counting sort by
/// bucket, one window per rayon task.
fn sort_by_bucket(scalars: &[Fr], offset: u32, c: u32, windows: usize) -> Sorted {
    let half = 1u32 << (c - 1);
    let n = scalars.len();
    // digits[i * windows + w] = |d| << 1 | (d < 0), 0 for a zero digit.
    let mut digits = vec![0u32; n * windows];
    digits
        .par_chunks_mut(windows)
        .zip(scalars.par_iter())
        .for_each(|(out, s)| {
            let limbs = s.into_bigint().0;
            let mut carry = 0u32;
            for (w, d) in out.iter_mut().enumerate() {
                let raw = bits(&limbs, w as u32 * c, c) + carry;
                if raw > half {
                    // raw - 2^c in [-(half - 1), 0]; raw = 2^c leaves a zero digit.
                    carry = 1;
                    let magnitude = (1u32 << c) - raw;
                    *d = if magnitude == 0 {
                        0
                    } else {
                        (magnitude << 1) | 1
                    };
                } else {
                    carry = 0;
                    *d = raw << 1;
                }
            }
        });
    let per_window: Vec<(Vec<u32>, Vec<u32>)> = (0..windows)
        .into_par_iter()
        .map(|w| {
            let mut counts = vec![0u32; half as usize];
            for i in 0..n {
                let d = digits[i * windows + w];
                if d != 0 {
                    counts[((d >> 1) - 1) as usize] += 1;
                }
            }
            let mut offsets = Vec::with_capacity(counts.len());
            let mut total = 0u32;
            for &k in &counts {
                offsets.push(total);
                total += k;
            }
            let mut entries = vec![0u32; total as usize];
            for i in 0..n {
                let d = digits[i * windows + w];
                if d != 0 {
                    let slot = &mut offsets[((d >> 1) - 1) as usize];
                    entries[*slot as usize] = ((offset + i as u32) << 1) | (d & 1);
                    *slot += 1;
                }
            }
            (entries, counts)
        })
        .collect();
    let mut entries = Vec::with_capacity(per_window.iter().map(|(e, _)| e.len()).sum());
    let mut runs = Vec::new();
    for (w, (e, counts)) in per_window.into_iter().enumerate() {
        entries.extend_from_slice(&e);
        for (b, &k) in counts.iter().enumerate() {
            if k > 0 {
                runs.push((w as u32 * half + b as u32, k));
            }
        }
    }
    Sorted { entries, runs }
}

/// Bits [start, start + len) of a little-endian 256-bit integer (len <= 32).
fn bits(limbs: &[u64; 4], start: u32, len: u32) -> u32 {
    let limb = (start / 64) as usize;
    let shift = start % 64;
    if limb >= 4 {
        return 0;
    }
    let mut v = limbs[limb] >> shift;
    if shift + len > 64 && limb + 1 < 4 {
        v |= limbs[limb + 1] << (64 - shift);
    }
    (v & ((1u64 << len) - 1)) as u32
}

/// What the first round of a segment tree adds up.
enum Source<'a, B> {
    /// Affine bases selected by sorted entries.
    Bases(&'a B, &'a B),
    /// XYZZ points, consecutive.
    Points(&'a B),
}

/// Sums consecutive runs of inputs: run k has `runs[k].1` inputs and its sum is written to
/// `out[runs[k].0]`. Runs longer than a segment are cut into segments whose partial sums
/// are summed again, round after round, so no thread adds more than a segment's worth.
fn sum_runs<D: Device, P: DeviceCurve>(
    dev: &D,
    source: Source<'_, D::Buffer>,
    runs: &[(u32, u32)],
    out: &D::Buffer,
) -> Result<()> {
    let points = xyzz_words::<P>();
    let mut runs: Vec<(u32, u32)> = runs.to_vec();
    let mut current: Option<D::Buffer> = None;
    let mut segment = match source {
        Source::Bases(..) => FIRST_SEGMENT,
        Source::Points(_) => LATER_SEGMENT,
    };
    loop {
        let last = runs.iter().all(|&(_, k)| k as usize <= segment);
        let mut starts = Vec::new();
        let mut owners = Vec::new();
        let mut pos = 0u32;
        for &(owner, k) in &runs {
            let mut left = k;
            while left > 0 {
                let take = left.min(segment as u32);
                starts.push(pos);
                owners.push(owner);
                pos += take;
                left -= take;
            }
        }
        starts.push(pos);
        let segs = owners.len();
        if segs == 0 {
            return Ok(());
        }
        let dest: Vec<u32> = if last {
            owners.clone()
        } else {
            (0..count_u32(segs)?).collect()
        };
        let starts_buf = dev.upload(&starts)?;
        let dest_buf = dev.upload(&dest)?;
        let next = if last {
            None
        } else {
            Some(dev.alloc_zeroed(segs * points)?)
        };
        let target = next.as_ref().unwrap_or(out);
        match (&current, &source) {
            (None, Source::Bases(bases, entries)) => dev.launch(
                &format!("{}_sum_bases", P::PREFIX),
                segs,
                &[
                    Arg::Buf(*bases),
                    Arg::Buf(*entries),
                    Arg::Buf(&starts_buf),
                    Arg::Buf(&dest_buf),
                    Arg::Buf(target),
                ],
            )?,
            (None, Source::Points(input)) => {
                launch_sum_points::<D, P>(dev, input, &starts_buf, &dest_buf, target, segs)?
            }
            (Some(input), _) => {
                launch_sum_points::<D, P>(dev, input, &starts_buf, &dest_buf, target, segs)?
            }
        }
        if last {
            return Ok(());
        }
        // The next round's runs: consecutive segments with the same owner.
        let mut next_runs: Vec<(u32, u32)> = Vec::new();
        for &o in &owners {
            match next_runs.last_mut() {
                Some((owner, k)) if *owner == o => *k += 1,
                _ => next_runs.push((o, 1)),
            }
        }
        runs = next_runs;
        current = next;
        segment = LATER_SEGMENT;
    }
}

fn launch_sum_points<D: Device, P: DeviceCurve>(
    dev: &D,
    input: &D::Buffer,
    starts: &D::Buffer,
    dest: &D::Buffer,
    out: &D::Buffer,
    segs: usize,
) -> Result<()> {
    dev.launch(
        &format!("{}_sum_points", P::PREFIX),
        segs,
        &[
            Arg::Buf(input),
            Arg::Buf(starts),
            Arg::Buf(dest),
            Arg::Buf(out),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::{BigInt, Field};

    #[test]
    fn signed_digits_recompose_to_the_scalar() {
        use ark_std::UniformRand;
        let mut rng = ark_std::test_rng();
        let mut scalars: Vec<Fr> = (0..50).map(|_| Fr::rand(&mut rng)).collect();
        scalars.extend([Fr::zero(), Fr::from(1u64), -Fr::from(1u64), Fr::from(2u64)]);
        for c in [3u32, 7, 13, 16] {
            let windows = (SCALAR_BITS / c + 1) as usize;
            let sorted = sort_by_bucket(&scalars, 0, c, windows);
            let half = 1u32 << (c - 1);
            let mut sums = vec![Fr::zero(); scalars.len()];
            let mut pos = 0usize;
            for &(bucket, k) in &sorted.runs {
                let w = bucket / half;
                let mag = Fr::from(bucket % half + 1) * Fr::from(2u64).pow([u64::from(w * c)]);
                for &e in &sorted.entries[pos..pos + k as usize] {
                    let i = (e >> 1) as usize;
                    if e & 1 == 1 {
                        sums[i] -= mag;
                    } else {
                        sums[i] += mag;
                    }
                }
                pos += k as usize;
            }
            assert_eq!(sums, scalars, "window {c}");
        }
    }

    #[test]
    fn bit_extraction_crosses_limbs() {
        let limbs = BigInt::<4>([u64::MAX, 0x1234, 0, 1 << 60]).0;
        assert_eq!(bits(&limbs, 60, 8), 0x4f);
        assert_eq!(bits(&limbs, 252, 4), 1);
        assert_eq!(bits(&limbs, 256, 4), 0);
    }
}
