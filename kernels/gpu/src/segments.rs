//! Device-side prefix sums and the segment layout of the MSM's sums (`cl/segments.h`).
//! The bucket counts stay on the device: only a few totals per round cross to the host,
//! where the counts used to be downloaded, summed and laid out by the host and uploaded
//! again (about 6 ms of a 2^20 MSM on the H200, 30-60 ms at 2^24).

use crate::device::{count_u32, Arg, Device};
use crate::error::{GpuError, Result};

/// Words each thread of `scan_blocks` sums (the source's `SCAN_ITEMS`).
pub const SCAN_ITEMS: usize = 8;

/// Writes the exclusive prefix sums of `input[..n]` to `out[..n]` (`out` may be `input`)
/// and returns the total of the `n` words. Sums wrap modulo 2^32: callers bound the total
/// beforehand.
pub fn exclusive_scan<D: Device>(
    dev: &D,
    input: &D::Buffer,
    out: &D::Buffer,
    n: usize,
) -> Result<u32> {
    if n == 0 {
        return Ok(0);
    }
    let block = dev.group_size() * SCAN_ITEMS;
    if n > u32::MAX as usize - block {
        return Err(GpuError::InvalidInput(format!(
            "a prefix sum over {n} words exceeds the device scan's 2^32 limit"
        )));
    }
    let blocks = n.div_ceil(block);
    let sums = dev.alloc_zeroed(blocks)?;
    dev.launch(
        "scan_blocks",
        blocks * dev.group_size(),
        &[
            Arg::Buf(input),
            Arg::Buf(out),
            Arg::Buf(&sums),
            Arg::U32(count_u32(n)?),
        ],
    )?;
    if blocks == 1 {
        let mut total = [0u32];
        dev.download(&sums, &mut total)?;
        return Ok(total[0]);
    }
    let total = exclusive_scan(dev, &sums, &sums, blocks)?;
    dev.launch("scan_add", n, &[Arg::Buf(out), Arg::Buf(&sums)])?;
    Ok(total)
}

/// Runs of inputs on the device, one per owner (a bucket): owner o has
/// `counts[o]` inputs ending at `ends[o]`.
pub(crate) struct Runs<B> {
    pub counts: B,
    pub ends: B,
    pub owners: usize,
}

impl<B> Runs<B> {
    /// A copy on the device, for users that rewrite runs in place (the bucket sums) while
    /// the original must stay for the next user.
    pub(crate) fn copy<D: Device<Buffer = B>>(&self, dev: &D) -> Result<Self> {
        let copy = |src: &B| -> Result<B> {
            let dst = dev.alloc_zeroed(self.owners)?;
            dev.launch("copy_words", self.owners, &[Arg::Buf(src), Arg::Buf(&dst)])?;
            Ok(dst)
        };
        Ok(Self {
            counts: copy(&self.counts)?,
            ends: copy(&self.ends)?,
            owners: self.owners,
        })
    }
}

/// One round's segments: segment s sums inputs `start[s] .. stop[s]` into `dest[s]` (an
/// owner, or bit 31 | a partial sum of the next round).
pub(crate) struct Segments<B> {
    pub start: B,
    pub stop: B,
    pub dest: B,
    pub count: usize,
    /// Partial sums the next round adds up (0: this is the last round).
    pub partials: usize,
}

/// Scratch for [`Layout::round`], allocated once per sum of runs.
pub(crate) struct Layout<B> {
    seg_off: B,
    part_off: B,
}

impl<B> Layout<B> {
    pub(crate) fn new<D: Device<Buffer = B>>(dev: &D, owners: usize) -> Result<Self> {
        Ok(Self {
            seg_off: dev.alloc_zeroed(owners)?,
            part_off: dev.alloc_zeroed(owners)?,
        })
    }

    /// Cuts every run into segments of at most `seg_len` inputs; `None` when every run is
    /// empty.
    pub(crate) fn round<D: Device<Buffer = B>>(
        &self,
        dev: &D,
        runs: &Runs<B>,
        seg_len: u32,
    ) -> Result<Option<Segments<B>>> {
        dev.launch(
            "layout_count",
            runs.owners,
            &[
                Arg::Buf(&runs.counts),
                Arg::Buf(&self.seg_off),
                Arg::Buf(&self.part_off),
                Arg::U32(seg_len),
            ],
        )?;
        let count = exclusive_scan(dev, &self.seg_off, &self.seg_off, runs.owners)? as usize;
        if count == 0 {
            return Ok(None);
        }
        let partials = exclusive_scan(dev, &self.part_off, &self.part_off, runs.owners)?;
        // The callers keep the entries below 2^31, so only corrupt counts get here.
        if partials >= 1 << 31 {
            return Err(crate::convert::corrupt(
                dev,
                "more than 2^31 partial sums in one round",
            ));
        }
        let start = dev.alloc_zeroed(count)?;
        let stop = dev.alloc_zeroed(count)?;
        let dest = dev.alloc_zeroed(count)?;
        dev.launch(
            "layout_segments",
            count,
            &[
                Arg::Buf(&runs.counts),
                Arg::Buf(&runs.ends),
                Arg::Buf(&self.seg_off),
                Arg::Buf(&self.part_off),
                Arg::U32(count_u32(runs.owners)?),
                Arg::Buf(&start),
                Arg::Buf(&stop),
                Arg::Buf(&dest),
                Arg::U32(seg_len),
            ],
        )?;
        Ok(Some(Segments {
            start,
            stop,
            dest,
            count,
            partials: partials as usize,
        }))
    }

    /// Turns `runs` into the next round's: each owner's partial sums from the last round.
    pub(crate) fn advance<D: Device<Buffer = B>>(
        &self,
        dev: &D,
        runs: &Runs<B>,
        seg_len: u32,
    ) -> Result<()> {
        dev.launch(
            "layout_next",
            runs.owners,
            &[
                Arg::Buf(&runs.counts),
                Arg::Buf(&runs.ends),
                Arg::Buf(&self.part_off),
                Arg::U32(seg_len),
            ],
        )
    }
}
