//! MSM host logic, written once over [`Device`]. On the device: signed window digits and a
//! counting sort of (bucket, point) pairs (atomic counts, a prefix sum over the bucket
//! counts, atomic scatter in bucket ranges sized for the L2 cache), bucket sums through a
//! segment tree (oversized buckets are cut into many segments, laid out on the device), the
//! bucket reduction, and the per-window sums. The host combines the few window sums with
//! doublings.

use std::marker::PhantomData;

use ark_bn254::Fr;
use ark_ec::short_weierstrass::{Affine, Projective};
use ark_ec::AdditiveGroup;
use ark_ff::Zero;

use crate::convert::{
    affine_to_words, corrupt, fr_words, xyzz_to_projective, xyzz_words, DeviceCurve,
};
use crate::device::{count_u32, Arg, Device, Trace};
use crate::error::{GpuError, Result};
use crate::segments::{self, exclusive_scan, Runs};

/// Scalar bits of BN254's Fr.
const SCALAR_BITS: u32 = 254;
/// Most sorted entries one thread adds in the bucket sums (`POINT_sum_chunks`): fewer when
/// that leaves too few threads to fill the device.
const MAX_PER_THREAD: usize = 64;
/// Threads per compute unit the bucket sums aim for (a few waves of resident threads).
const THREADS_PER_UNIT: usize = 1024;
/// Most partial sums one thread adds in a round of the segment tree.
const SEGMENT: u32 = 32;
/// Most (point, window) pairs one MSM sorts: entry positions are u32 on the device, with
/// headroom for the chunk arithmetic. Larger MSMs are split.
const MAX_PAIRS: u64 = 1 << 31;
/// Threads per compute unit the bucket reduction aims for: one wave at the ~200 registers
/// its XYZZ running sums take (one 256-thread block per SM).
const REDUCE_THREADS_PER_UNIT: usize = 256;
/// Fewest and most buckets one thread of the reduction takes. Below 8 the `lo` weight's
/// double-and-add (up to c - 1 doublings per thread) outweighs the 2 additions per bucket.
const REDUCE_SEGMENT: std::ops::RangeInclusive<usize> = 8..=32;
/// Points each thread adds per level of the window sums.
const WINDOW_GROUP: usize = 8;
/// Most bytes of entries one scatter launch writes into, by default (KiB; 24 MiB): the part
/// of the L2 cache (50 MB on an H100) its random 4-byte writes may fill before their sectors
/// are complete. Overridden by [`SCATTER_KIB_ENV`].
const SCATTER_KIB: usize = 24 << 10;
/// Environment variable: [`SCATTER_KIB`] for A/B runs on a card; 0 scatters each window in
/// one launch.
pub const SCATTER_KIB_ENV: &str = "APPLIANCE_GPU_SCATTER_KIB";

/// Bases resident on the device, as affine points (infinity as zeros), followed by
/// `copies - 1` shifted copies when precomputation was asked for. `P` keeps G1 bases from
/// being used as G2 ones.
pub struct ResidentBases<D: Device, P> {
    pub(crate) buf: D::Buffer,
    pub(crate) len: usize,
    /// Copies of the bases on the device (1: no precomputation).
    copies: usize,
    /// The window width the shifted copies were made for (`None` without copies).
    window: Option<u32>,
    _curve: PhantomData<fn() -> P>,
}

/// Uploads `points` once. With `precompute > 1`, also makes `precompute - 1` copies on the
/// device, copy j being 2^(j c wk) times the bases (c the window width, wk the windows each
/// copy serves): an MSM then reduces ceil(windows / precompute) windows instead of all of
/// them, for `precompute` times the resident memory.
pub fn load_bases<D: Device, P: DeviceCurve>(
    dev: &D,
    points: &[Affine<P>],
    window: Option<u32>,
    precompute: Option<u32>,
) -> Result<ResidentBases<D, P>> {
    let n = points.len();
    let c = checked_window(window)?.unwrap_or_else(|| window_bits(n));
    let windows = windows_of(c);
    let copies = (precompute.unwrap_or(1).max(1) as usize).min(windows);
    let copies = if n == 0 { 1 } else { copies };
    if n.saturating_mul(copies) >= 1 << 31 {
        return Err(GpuError::InvalidInput(format!(
            "{n} bases x {copies} copies exceed the GPU MSM's 2^31 limit"
        )));
    }
    let mut words = affine_to_words(points);
    if words.is_empty() {
        words.push(0);
    }
    words.resize(words.len() * copies, 0);
    let buf = dev.upload(&words)?;
    drop(words);
    let wk = windows.div_ceil(copies);
    for j in 1..copies {
        dev.launch(
            &format!("{}_shift_bases", P::PREFIX),
            n,
            &[
                Arg::Buf(&buf),
                Arg::U32(count_u32((j - 1) * n)?),
                Arg::U32(count_u32(j * n)?),
                Arg::U32(c * wk as u32),
            ],
        )?;
    }
    // Loading is once per key: a fault in the shifts is reported here, not by a later MSM.
    dev.finish()?;
    Ok(ResidentBases {
        buf,
        len: n,
        copies,
        window: (copies > 1).then_some(c),
        _curve: PhantomData,
    })
}

/// Windows of `c` bits that hold a scalar's signed digits: one more than the bits need
/// takes the last digit's carry.
fn windows_of(c: u32) -> usize {
    (SCALAR_BITS / c + 1) as usize
}

/// True when `n` scalars in windows of `c` bits make more (point, window) pairs than one
/// sort takes.
fn too_many_pairs(n: usize, c: u32) -> bool {
    n as u64 * windows_of(c) as u64 > MAX_PAIRS
}

/// The window width an MSM of `n` scalars runs at: the width shifted copies of the bases
/// were made for (`copies_window`), which they fix, else the caller's, else the default
/// for `n`. Every size limit is checked at this width: a limit checked at the caller's
/// width lets copies made for narrow windows overflow the device's 32-bit entry positions.
fn msm_window(copies_window: Option<u32>, window: Option<u32>, n: usize) -> u32 {
    copies_window.unwrap_or_else(|| window.unwrap_or_else(|| window_bits(n)))
}

/// Window widths the GPU MSM takes: its digit encoding needs c >= 2, and c = 20 already
/// makes 2^19 buckets per window.
pub const WINDOW_BITS: std::ops::RangeInclusive<u32> = 2..=20;

/// `window` when it is a width the MSM takes: a clear error instead of a silently different
/// width.
fn checked_window(window: Option<u32>) -> Result<Option<u32>> {
    match window {
        Some(c) if !WINDOW_BITS.contains(&c) => Err(GpuError::InvalidInput(format!(
            "window_bits {c} outside {}..={}",
            WINDOW_BITS.start(),
            WINDOW_BITS.end()
        ))),
        w => Ok(w),
    }
}

/// Window width for `n` points: about log2(n) - 3 bits, so that the bucket reduction
/// (2 * 2^(c-1) additions per window) stays well below the n additions per window. Where
/// that reaches 16 (from 2^18 points), the widths 16..=20 are weighed by their work,
/// windows(c) * (n + 4 * 2^(c-1)): an entry is one mixed addition, a bucket two full
/// additions (1.4 mixed ones each) in a kernel with fewer threads, hence the 4. That picks
/// 17 bits from 2^21 points and 20 at 2^24 (13 windows instead of 16: 9% less work).
pub fn window_bits(n: usize) -> u32 {
    let log_n = usize::BITS - n.max(1).leading_zeros();
    let c = log_n.saturating_sub(3).clamp(3, 16);
    if c < 16 {
        return c;
    }
    let work = |c: u32| windows_of(c) as u64 * (n as u64 + (4u64 << (c - 1)));
    (16..=*WINDOW_BITS.end())
        .min_by_key(|&c| work(c))
        .unwrap_or(c)
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
    let window = checked_window(window)?;
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
    // Too many (point, window) pairs are split before anything is allocated.
    if !bases.fits_one_sort(scalars.len(), window) && scalars.len() >= 2 {
        return split(scalars);
    }
    match msm_once(dev, bases, Scalars::Host(scalars), offset, window) {
        Err(GpuError::OutOfMemory { .. }) if scalars.len() >= 2 * MIN_CHUNK => split(scalars),
        other => other,
    }
}

/// Scalars already on the device, uploaded once by [`upload_scalars`]: MSMs against them
/// skip the transfer (`gpu-resident --op msm` times the kernels alone this way).
pub struct DeviceScalars<B> {
    buf: B,
    len: usize,
}

impl<B> DeviceScalars<B> {
    /// The first `len` scalars (Montgomery form, as [`upload_scalars`] leaves them) of a
    /// buffer made on the device, such as a Groth16 quotient.
    pub fn new(buf: B, len: usize) -> Self {
        Self { buf, len }
    }
}

impl<D: Device, P> ResidentBases<D, P> {
    /// Whether [`msm_device_scalars`] takes `n` scalars against these bases at window
    /// `window` (default width otherwise) in one sort, which it must: it cannot split
    /// device-resident scalars.
    pub fn fits_one_sort(&self, n: usize, window: Option<u32>) -> bool {
        !too_many_pairs(n, msm_window(self.window, window, n))
    }
}

/// Uploads `scalars` for [`msm_device_scalars`].
pub fn upload_scalars<D: Device>(dev: &D, scalars: &[Fr]) -> Result<DeviceScalars<D::Buffer>> {
    Ok(DeviceScalars {
        buf: dev.upload(&fr_words(scalars))?,
        len: scalars.len(),
    })
}

/// [`msm`] of scalars already on the device. It is not split into chunks: an MSM the
/// device has no memory for returns the out-of-memory error.
pub fn msm_device_scalars<D: Device, P: DeviceCurve>(
    dev: &D,
    bases: &ResidentBases<D, P>,
    scalars: &DeviceScalars<D::Buffer>,
    window: Option<u32>,
) -> Result<Projective<P>> {
    let n = scalars.len.min(bases.len);
    let window = checked_window(window)?;
    if !bases.fits_one_sort(n, window) {
        return Err(GpuError::InvalidInput(format!(
            "{n} device-resident scalars exceed one MSM's {MAX_PAIRS} (point, window) pairs"
        )));
    }
    msm_once(dev, bases, Scalars::Device(&scalars.buf, n), 0, window)
}

/// Where one MSM's scalars are.
#[derive(Clone, Copy)]
enum Scalars<'a, B> {
    Host(&'a [Fr]),
    /// The first `n` scalars of a device buffer.
    Device(&'a B, usize),
}

impl<B> Scalars<'_, B> {
    fn len(&self) -> usize {
        match self {
            Scalars::Host(s) => s.len(),
            Scalars::Device(_, n) => *n,
        }
    }
}

/// One MSM of `scalars` against the bases starting at `offset`.
fn msm_once<D: Device, P: DeviceCurve>(
    dev: &D,
    bases: &ResidentBases<D, P>,
    scalars: Scalars<'_, D::Buffer>,
    offset: usize,
    window: Option<u32>,
) -> Result<Projective<P>> {
    let n = scalars.len();
    if n == 0 {
        return Ok(Projective::zero());
    }
    let c = msm_window(bases.window, window, n);
    let all_windows = windows_of(c);
    // Windows left after the copies take over the upper ones.
    let windows = all_windows.div_ceil(bases.copies);
    let map = DigitMap {
        c,
        windows: all_windows,
        wk: windows,
        n_bases: bases.len,
        offset,
    };
    let mut trace = Trace::start(|| format!("msm {} n={n} c={c} windows={windows}", P::PREFIX));
    match sort_on_device(dev, scalars, &map, &mut trace)? {
        Some(Sorted {
            entries,
            total,
            runs,
        }) => reduce_sorted::<D, P>(
            dev,
            bases,
            Some(SortedUse {
                entries: &entries,
                total,
                runs,
            }),
            c,
            windows,
            &mut trace,
        ),
        None => reduce_sorted::<D, P>(dev, bases, None, c, windows, &mut trace),
    }
}

/// Scalars uploaded and sorted by bucket once, for several MSMs ([`msm_sorted`]) against
/// base sets of the same length: a Groth16 witness against the A, B1, B2 and C bases
/// skips three uploads, digit passes and sorts.
pub struct SortedScalars<B> {
    n: usize,
    c: u32,
    windows: usize,
    /// `None` when every digit is zero.
    sorted: Option<Sorted<B>>,
}

impl<B> SortedScalars<B> {
    /// The window width the digits were cut for.
    pub fn window(&self) -> u32 {
        self.c
    }
}

/// Uploads `scalars` and sorts their digits for windows of `window` bits (default:
/// [`window_bits`]). `None` when they are too many for one sort (the plain [`msm`] splits
/// them).
pub fn sort_scalars<D: Device>(
    dev: &D,
    scalars: &[Fr],
    window: Option<u32>,
) -> Result<Option<SortedScalars<D::Buffer>>> {
    let n = scalars.len();
    let c = checked_window(window)?.unwrap_or_else(|| window_bits(n));
    if too_many_pairs(n, c) {
        return Ok(None);
    }
    let windows = windows_of(c);
    let map = DigitMap {
        c,
        windows,
        wk: windows,
        n_bases: n,
        offset: 0,
    };
    let mut trace = Trace::start(|| format!("sort scalars n={n} c={c}"));
    let sorted = if n == 0 {
        None
    } else {
        sort_on_device(dev, Scalars::Host(scalars), &map, &mut trace)?
    };
    // The sort's time (and any fault) belongs to the caller's prepare phase, not to the
    // first MSM that waits on it.
    dev.finish()?;
    Ok(Some(SortedScalars {
        n,
        c,
        windows,
        sorted,
    }))
}

/// The MSM of sorted scalars against `bases`, leaving the sort as it was for the next
/// base set. `None` when these bases need a sort of their own: precomputed copies fix
/// their own digit layout, and a `window` other than the sort's asks for other digits.
pub fn msm_sorted<D: Device, P: DeviceCurve>(
    dev: &D,
    bases: &ResidentBases<D, P>,
    scalars: &SortedScalars<D::Buffer>,
    window: Option<u32>,
) -> Result<Option<Projective<P>>> {
    let c = checked_window(window)?.unwrap_or(scalars.c);
    if bases.copies != 1 || c != scalars.c || bases.len < scalars.n {
        return Ok(None);
    }
    if scalars.n == 0 {
        return Ok(Some(Projective::zero()));
    }
    let mut trace = Trace::start(|| {
        format!(
            "msm {} of sorted scalars n={} c={c} windows={}",
            P::PREFIX,
            scalars.n,
            scalars.windows
        )
    });
    // The bucket sums rewrite the runs in place: they get a copy.
    let sorted = match &scalars.sorted {
        Some(s) => Some(SortedUse {
            entries: &s.entries,
            total: s.total,
            runs: s.runs.copy(dev)?,
        }),
        None => None,
    };
    Trace::mark(dev, &mut trace, "copy runs")?;
    reduce_sorted::<D, P>(dev, bases, sorted, c, scalars.windows, &mut trace).map(Some)
}

/// Everything after the sort: bucket sums of the sorted entries (`None`: every digit was
/// zero), the bucket reduction, the window sums and their combination on the host.
fn reduce_sorted<D: Device, P: DeviceCurve>(
    dev: &D,
    bases: &ResidentBases<D, P>,
    sorted: Option<SortedUse<'_, D::Buffer>>,
    c: u32,
    windows: usize,
    trace: &mut Option<Trace>,
) -> Result<Projective<P>> {
    let half = 1usize << (c - 1);
    let bucket_count = windows * half;
    let points = xyzz_words::<P>();
    let buckets = dev.alloc_zeroed(bucket_count * points)?;
    Trace::mark(dev, trace, "bucket alloc")?;
    if let Some(SortedUse {
        entries,
        total,
        runs,
    }) = sorted
    {
        sum_buckets::<D, P>(dev, &bases.buf, entries, total, runs, &buckets, trace)?;
    }

    // Bucket reduction: per_window threads per window, each over `seg` buckets.
    let seg = reduce_segment(half, windows, dev.compute_units());
    let mut per_window = half.div_ceil(seg);
    let threads = windows * per_window;
    let mut sums = dev.alloc_zeroed(threads * points)?;
    dev.launch(
        &format!("{}_reduce_buckets", P::PREFIX),
        threads,
        &[
            Arg::Buf(&buckets),
            Arg::Buf(&sums),
            Arg::U32(count_u32(half)?),
            Arg::U32(count_u32(seg)?),
            Arg::U32(count_u32(per_window)?),
        ],
    )?;
    drop(buckets);
    Trace::mark(dev, trace, "reduction")?;

    // Window sums: levels of WINDOW_GROUP-point sums down to one point per window.
    while per_window > 1 {
        let out_len = per_window.div_ceil(WINDOW_GROUP);
        let next = dev.alloc_zeroed(windows * out_len * points)?;
        dev.launch(
            &format!("{}_sum_groups", P::PREFIX),
            windows * out_len,
            &[
                Arg::Buf(&sums),
                Arg::Buf(&next),
                Arg::U32(count_u32(per_window)?),
                Arg::U32(count_u32(WINDOW_GROUP)?),
                Arg::U32(count_u32(out_len)?),
            ],
        )?;
        sums = next;
        per_window = out_len;
    }

    let mut words = vec![0u32; windows * points];
    dev.download(&sums, &mut words)?;
    let mut acc = Projective::<P>::zero();
    for w in (0..windows).rev() {
        for _ in 0..c {
            acc.double_in_place();
        }
        acc += xyzz_to_projective::<P>(&words[w * points..(w + 1) * points])
            .ok_or_else(|| corrupt(dev, "a window sum with an unreduced coordinate"))?;
    }
    Trace::mark(dev, trace, "window sums")?;
    Ok(acc)
}

/// How scalar digits map to buckets and points.
#[derive(Clone, Copy)]
struct DigitMap {
    /// Window width in bits.
    c: u32,
    /// Windows of a scalar.
    windows: usize,
    /// Windows per copy of the bases (= `windows` without precomputed copies).
    wk: usize,
    /// Bases per copy.
    n_bases: usize,
    /// Index of the first scalar's base (chunked MSMs).
    offset: usize,
}

/// Sorted entries (`point << 1 | negate`, grouped by bucket in bucket order) and the
/// buckets' runs of them.
struct Sorted<B> {
    entries: B,
    /// Entries in all (non-zero).
    total: u32,
    runs: Runs<B>,
}

/// One MSM's use of sorted entries: the entries are only read, the runs are rewritten by
/// the bucket sums (a copy, when the sort serves further MSMs).
struct SortedUse<'a, B> {
    entries: &'a B,
    total: u32,
    runs: Runs<B>,
}

/// Signed digits and the counting sort by bucket, on the device (`digits.h`, prefix sums
/// in `segments.h`); `None` when every digit is zero. Only the total crosses to the host.
fn sort_on_device<D: Device>(
    dev: &D,
    scalars: Scalars<'_, D::Buffer>,
    map: &DigitMap,
    trace: &mut Option<Trace>,
) -> Result<Option<Sorted<D::Buffer>>> {
    let DigitMap {
        c,
        windows,
        wk,
        n_bases,
        offset,
    } = *map;
    let n = scalars.len();
    let buckets = wk << (c - 1);
    // Host scalars are uploaded here and freed once the digits are made.
    let mut uploaded = None;
    let scalar_buf = match scalars {
        Scalars::Host(s) => &*uploaded.insert(dev.upload(&fr_words(s))?),
        Scalars::Device(buf, _) => buf,
    };
    Trace::mark(dev, trace, "upload")?;
    // Every digit is written by msm_digits, every entry by the scatter (one slot per
    // nonzero digit): neither is zeroed first (at 2^24 and 13 windows, 832 MiB each).
    let digits = dev.alloc_uninit(n * windows)?;
    let counts = dev.alloc_zeroed(buckets)?;
    dev.launch(
        "msm_digits",
        n,
        &[
            Arg::Buf(scalar_buf),
            Arg::Buf(&digits),
            Arg::Buf(&counts),
            Arg::U32(c),
            Arg::U32(count_u32(windows)?),
            Arg::U32(count_u32(wk)?),
        ],
    )?;
    drop(uploaded);
    Trace::mark(dev, trace, "digits")?;
    // The cursor starts at each bucket's first slot and the scatter advances it to the
    // bucket's end: exactly the runs' `ends`. The callers keep the pairs below 2^31, so
    // the total cannot wrap.
    let cursor = dev.alloc_zeroed(buckets)?;
    let total = exclusive_scan(dev, &counts, &cursor, buckets)?;
    Trace::mark(dev, trace, "counts")?;
    if total == 0 {
        return Ok(None);
    }
    let entries = dev.alloc_uninit(total as usize)?;
    let nb = 1u32 << (c - 1);
    let parts = scatter_parts(total, wk, nb, scatter_range_bytes()?);
    let (wk, n_bases, offset) = (count_u32(wk)?, count_u32(n_bases)?, count_u32(offset)?);
    for w in 0..count_u32(windows)? {
        for part in 0..parts {
            // Buckets [lo, hi) of the window: one contiguous range of slots.
            let lo = (u64::from(nb) * u64::from(part) / u64::from(parts)) as u32;
            let hi = (u64::from(nb) * u64::from(part + 1) / u64::from(parts)) as u32;
            dev.launch(
                "msm_scatter",
                n,
                &[
                    Arg::Buf(&digits),
                    Arg::Buf(&cursor),
                    Arg::Buf(&entries),
                    Arg::U32(c),
                    Arg::U32(w),
                    Arg::U32(wk),
                    Arg::U32(n_bases),
                    Arg::U32(offset),
                    Arg::U32(lo),
                    Arg::U32(hi),
                ],
            )?;
        }
    }
    Trace::mark(dev, trace, "scatter")?;
    Ok(Some(Sorted {
        entries,
        total,
        runs: Runs {
            counts,
            ends: cursor,
            owners: buckets,
        },
    }))
}

/// Checks the MSM's settings where a device opens, so that a bad value stops the appliance
/// at its start, naming the variable, instead of failing every job as bad input.
#[cfg(any(feature = "cuda", feature = "opencl"))]
pub(crate) fn check_settings() -> Result<()> {
    scatter_range_bytes().map(drop)
}

/// [`SCATTER_KIB`] in bytes, or the value of [`SCATTER_KIB_ENV`] when set.
fn scatter_range_bytes() -> Result<usize> {
    range_bytes_from(std::env::var(SCATTER_KIB_ENV))
}

fn range_bytes_from(var: std::result::Result<String, std::env::VarError>) -> Result<usize> {
    let kib = match var {
        Err(std::env::VarError::NotPresent) => SCATTER_KIB,
        Ok(v) => v.trim().parse::<usize>().map_err(|_| {
            GpuError::InvalidInput(format!(
                "{SCATTER_KIB_ENV}={v:?}: expected a whole number of KiB (0: one launch per window)"
            ))
        })?,
        Err(e) => return Err(GpuError::InvalidInput(format!("{SCATTER_KIB_ENV}: {e}"))),
    };
    Ok(kib.saturating_mul(1 << 10))
}

/// Launches per window of the scatter, each taking an equal share of the window's `nb`
/// buckets: enough that a share's slots (4 bytes per entry, `total` entries over `wk` bucket
/// sets) fit in `range_bytes`. A window's entries lie in one range of slots per launch only
/// if the launch keeps to a range of buckets, so each launch reads all of the window's
/// digits and writes those in its share: section 21 of bench/NOTES.md found the scatter
/// bound by where its random writes land (one launch per window instead of all windows at
/// once: 19.0 -> 10.8 ms at 2^24), and a 2^24 window's 67 MB of slots exceed an H100's L2.
fn scatter_parts(total: u32, wk: usize, nb: u32, range_bytes: usize) -> u32 {
    if range_bytes == 0 || wk == 0 {
        return 1;
    }
    let window_bytes = (total as usize * 4).div_ceil(wk);
    window_bytes.div_ceil(range_bytes).clamp(1, nb as usize) as u32
}

/// Bucket sums: equal slices of the sorted entries per thread (`POINT_sum_chunks`), then
/// the parts of buckets that straddle slices summed by the segment tree.
fn sum_buckets<D: Device, P: DeviceCurve>(
    dev: &D,
    bases: &D::Buffer,
    entries: &D::Buffer,
    total: u32,
    runs: Runs<D::Buffer>,
    buckets: &D::Buffer,
    trace: &mut Option<Trace>,
) -> Result<()> {
    let per_thread = entries_per_thread(total as usize, dev.compute_units());
    let threads = (total as usize).div_ceil(per_thread);
    let per_thread = count_u32(per_thread)?;
    let carry = dev.alloc_zeroed(2 * threads * xyzz_words::<P>())?;
    dev.launch(
        &format!("{}_sum_chunks", P::PREFIX),
        threads,
        &[
            Arg::Buf(bases),
            Arg::Buf(entries),
            Arg::Buf(&runs.counts),
            Arg::Buf(&runs.ends),
            Arg::U32(count_u32(runs.owners)?),
            Arg::U32(total),
            Arg::U32(per_thread),
            Arg::Buf(buckets),
            Arg::Buf(&carry),
        ],
    )?;
    Trace::mark(dev, trace, "chunk sums")?;
    dev.launch(
        "msm_carry_runs",
        runs.owners,
        &[
            Arg::Buf(&runs.counts),
            Arg::Buf(&runs.ends),
            Arg::U32(per_thread),
        ],
    )?;
    sum_runs::<D, P>(dev, &carry, runs, buckets, trace)
}

/// Buckets per thread of the bucket reduction: as few as give `REDUCE_THREADS_PER_UNIT`
/// threads per compute unit over all windows, within `REDUCE_SEGMENT`. At 2^20 on 132 SMs
/// (16 windows of 2^15 buckets) that is 16 buckets: twice the threads of a fixed 32, each
/// with ~40% fewer additions on its dependent chain, on a kernel that ran at 12% occupancy.
fn reduce_segment(half: usize, windows: usize, compute_units: usize) -> usize {
    let per_window = (compute_units.max(1) * REDUCE_THREADS_PER_UNIT / windows.max(1)).max(1);
    half.div_ceil(per_window)
        .clamp(*REDUCE_SEGMENT.start(), *REDUCE_SEGMENT.end())
}

/// Sorted entries each thread of the bucket sums adds: `MAX_PER_THREAD`, or fewer when
/// that would leave fewer than `THREADS_PER_UNIT` threads per compute unit (small MSMs
/// would otherwise run on a fraction of the device).
fn entries_per_thread(total: usize, compute_units: usize) -> usize {
    let threads = compute_units.max(1) * THREADS_PER_UNIT;
    total.div_ceil(threads).clamp(1, MAX_PER_THREAD)
}

/// Sums every owner's run of XYZZ points in `input` into `out[owner]` (owners with an
/// empty run are left as they are). A run that fits in one segment goes to `out` in the
/// first round; longer runs are cut into segments whose partial sums are summed again,
/// round after round, so that no thread adds more than a segment's worth. The layout of
/// every round is made on the device (`segments.rs`); `runs` is consumed by it.
fn sum_runs<D: Device, P: DeviceCurve>(
    dev: &D,
    input: &D::Buffer,
    runs: Runs<D::Buffer>,
    out: &D::Buffer,
    trace: &mut Option<Trace>,
) -> Result<()> {
    let points = xyzz_words::<P>();
    let layout = segments::Layout::new(dev, runs.owners)?;
    let mut current: Option<D::Buffer> = None;
    loop {
        let Some(segs) = layout.round(dev, &runs, SEGMENT)? else {
            return Ok(());
        };
        let next = if segs.partials > 0 {
            Some(dev.alloc_zeroed(segs.partials * points)?)
        } else {
            None
        };
        Trace::mark(dev, trace, "layout")?;
        dev.launch(
            &format!("{}_sum_points", P::PREFIX),
            segs.count,
            &[
                Arg::Buf(current.as_ref().unwrap_or(input)),
                Arg::Buf(&segs.start),
                Arg::Buf(&segs.stop),
                Arg::Buf(&segs.dest),
                Arg::Buf(out),
                Arg::Buf(next.as_ref().unwrap_or(out)),
            ],
        )?;
        Trace::mark(dev, trace, "sums")?;
        if next.is_none() {
            return Ok(());
        }
        layout.advance(dev, &runs, SEGMENT)?;
        current = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scatter_splits_only_windows_whose_slots_exceed_the_range() {
        let mib = 1usize << 20;
        // 2^24 points in 13 windows (c = 20): 67 MB of slots per window.
        let total = 13u32 << 24;
        assert_eq!(scatter_parts(total, 13, 1 << 19, 24 * mib), 3);
        assert_eq!(
            scatter_parts(total, 13, 1 << 19, 0),
            1,
            "0: one launch per window"
        );
        // Shifted copies: 13 windows over 7 bucket sets make each set's range larger.
        assert_eq!(scatter_parts(total, 7, 1 << 19, 24 * mib), 5);
        // 2^20 points: 4 MB per window.
        assert_eq!(scatter_parts(15 << 20, 15, 1 << 15, 24 * mib), 1);
        // Never more launches than buckets, never none.
        assert_eq!(scatter_parts(u32::MAX, 1, 2, 1), 2);
        assert_eq!(scatter_parts(0, 13, 1 << 19, 24 * mib), 1);
    }

    #[test]
    fn the_scatter_range_setting_is_kib_and_refuses_anything_else() {
        use std::env::VarError;
        let bytes = |v: &str| range_bytes_from(Ok(v.to_string()));
        assert_eq!(
            range_bytes_from(Err(VarError::NotPresent)).ok(),
            Some(24 << 20)
        );
        assert_eq!(bytes(" 512 ").ok(), Some(512 << 10));
        assert_eq!(bytes("0").ok(), Some(0));
        for bad in ["", "24M", "-1", "1.5"] {
            let e = bytes(bad).expect_err(bad).to_string();
            assert!(e.contains(SCATTER_KIB_ENV) && e.contains("KiB"), "{e}");
        }
        let e = range_bytes_from(Err(VarError::NotUnicode("\u{ff}".into())));
        assert!(e
            .expect_err("not unicode")
            .to_string()
            .contains(SCATTER_KIB_ENV));
    }

    #[test]
    fn window_widths_grow_past_16_only_for_large_msms() {
        let widths: Vec<u32> = [0, 1, 1 << 10, 1 << 16, 1 << 20, 1 << 21, 1 << 22, 1 << 24]
            .into_iter()
            .map(window_bits)
            .collect();
        assert_eq!(widths, [3, 3, 8, 14, 16, 17, 17, 20]);
        for log_n in 0..=31 {
            assert!(WINDOW_BITS.contains(&window_bits(1 << log_n)), "2^{log_n}");
        }
    }

    #[test]
    fn size_limits_are_checked_at_the_width_of_the_bases_copies() {
        // Copies made for c = 3 fix 85 windows: 2^26 scalars make 5.7e9 pairs, past the
        // limit, although the default width for 2^26 (20: 13 windows) would not be.
        let n = 1 << 26;
        assert_eq!(msm_window(Some(3), None, n), 3);
        assert_eq!(msm_window(Some(3), Some(16), n), 3);
        assert!(too_many_pairs(n, msm_window(Some(3), None, n)));
        assert!(!too_many_pairs(n, msm_window(None, None, n)));
        assert_eq!(msm_window(None, Some(16), n), 16);
        assert_eq!(msm_window(None, None, 1 << 20), window_bits(1 << 20));
    }

    #[test]
    fn the_reduction_fills_the_device_within_its_segment_bounds() {
        // 2^20 points on 132 SMs: 16 windows of 2^15 buckets, 16 per thread.
        assert_eq!(reduce_segment(1 << 15, 16, 132), 16);
        // A small device keeps the longest segments; a huge one the shortest.
        assert_eq!(reduce_segment(1 << 15, 16, 2), 32);
        assert_eq!(reduce_segment(1 << 12, 20, 132), 8);
        // Windows with fewer buckets than a segment, and degenerate inputs.
        assert_eq!(reduce_segment(4, 85, 132), 8);
        assert_eq!(reduce_segment(1 << 15, 0, 0), 32);
    }
}
