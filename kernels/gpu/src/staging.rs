//! Large transfers through two page-locked staging buffers (used by the CUDA driver). From
//! pageable memory the driver copies through its own staging on one thread: 7-9 GB/s on
//! the H200's host (bench/NOTES.md section 15: 55-79 ms for a 2^24 MSM's scalars). From
//! page-locked memory the DMA engine reads and writes directly, so here the host copies
//! each chunk into (or out of) a staging buffer on several threads while the neighbouring
//! chunk is in flight.

use std::num::NonZeroUsize;

/// Most threads one chunk's host copy is spread over.
const MAX_COPY_THREADS: usize = 8;
/// Fewest words a copy thread is given: below this, starting threads costs more than it
/// saves.
const MIN_WORDS_PER_THREAD: usize = 1 << 18;

/// Sends `data` through the two staging buffers `slots` in chunks of the shorter slot's
/// length: `send(staged, offset)` transfers one staged chunk that belongs at word `offset`
/// and must not return before the transfer has finished reading it. While chunk i is
/// sent from one slot, chunk i + 1 is copied into the other.
pub fn double_buffered<E>(
    data: &[u32],
    slots: [&mut [u32]; 2],
    mut send: impl FnMut(&[u32], usize) -> Result<(), E>,
) -> Result<(), E> {
    let [mut cur, mut next] = slots;
    let stage = cur.len().min(next.len());
    if data.is_empty() {
        return Ok(());
    }
    if stage == 0 {
        // A zero-length slot cannot carry a chunk: send the data as it is.
        return send(data, 0);
    }
    let chunks: Vec<&[u32]> = data.chunks(stage).collect();
    parallel_copy(chunks[0], &mut cur[..chunks[0].len()]);
    for (i, chunk) in chunks.iter().enumerate() {
        let staged = &cur[..chunk.len()];
        let following = chunks.get(i + 1);
        let sent = std::thread::scope(|s| {
            if let Some(c) = following {
                let dst = &mut next[..c.len()];
                s.spawn(move || parallel_copy(c, dst));
            }
            send(staged, i * stage)
        });
        sent?;
        std::mem::swap(&mut cur, &mut next);
    }
    Ok(())
}

/// The mirror of [`double_buffered`] for downloads: `fetch(slot, offset)` fills a staging
/// slot with the words that belong at `out[offset..]` and must not return before they have
/// arrived; while chunk i is copied out of one slot, chunk i + 1 is fetched into the other.
pub fn double_buffered_download<E>(
    out: &mut [u32],
    slots: [&mut [u32]; 2],
    mut fetch: impl FnMut(&mut [u32], usize) -> Result<(), E>,
) -> Result<(), E> {
    let [mut cur, mut next] = slots;
    let stage = cur.len().min(next.len());
    if out.is_empty() {
        return Ok(());
    }
    if stage == 0 {
        return fetch(out, 0);
    }
    let lens: Vec<usize> = out.chunks(stage).map(<[u32]>::len).collect();
    fetch(&mut cur[..lens[0]], 0)?;
    for (i, dst) in out.chunks_mut(stage).enumerate() {
        let staged = &cur[..dst.len()];
        let following = lens.get(i + 1).copied();
        let fetched = std::thread::scope(|s| {
            s.spawn(move || parallel_copy(staged, dst));
            match following {
                Some(len) => fetch(&mut next[..len], (i + 1) * stage),
                None => Ok(()),
            }
        });
        fetched?;
        std::mem::swap(&mut cur, &mut next);
    }
    Ok(())
}

/// `dst.copy_from_slice(src)` on up to `MAX_COPY_THREADS` threads: one thread's copy runs
/// far below the memory bus of a large host.
fn parallel_copy(src: &[u32], dst: &mut [u32]) {
    let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    let threads = (src.len() / MIN_WORDS_PER_THREAD).clamp(1, cores.min(MAX_COPY_THREADS));
    if threads == 1 {
        dst.copy_from_slice(src);
        return;
    }
    let piece = src.len().div_ceil(threads);
    std::thread::scope(|s| {
        for (d, c) in dst.chunks_mut(piece).zip(src.chunks(piece)) {
            s.spawn(move || d.copy_from_slice(c));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every word arrives once at its offset, up and back down, whatever the data length
    /// and the slot sizes (equal or not, dividing the data or not).
    #[test]
    fn every_word_goes_up_and_comes_back_at_its_offset() {
        for (len, stage) in [
            (0, 4),
            (1, 4),
            (4, 4),
            (5, 4),
            (17, 4),
            (3 * (1 << 18) + 7, 1 << 18),
            (2_000_000, 600_000),
        ] {
            let data: Vec<u32> = (0..len as u32)
                .map(|i| i.wrapping_mul(2_654_435_761))
                .collect();
            let (mut a, mut b) = (vec![0u32; stage], vec![0u32; stage + 3]);
            let mut device = vec![u32::MAX; len];
            let mut transfers = 0;
            double_buffered::<()>(&data, [&mut a, &mut b], |staged, offset| {
                device[offset..offset + staged.len()].copy_from_slice(staged);
                transfers += 1;
                Ok(())
            })
            .expect("up");
            assert_eq!(device, data, "up: len {len}, stage {stage}");
            let mut back = vec![u32::MAX; len];
            double_buffered_download::<()>(&mut back, [&mut b, &mut a], |slot, offset| {
                slot.copy_from_slice(&device[offset..offset + slot.len()]);
                transfers += 1;
                Ok(())
            })
            .expect("down");
            assert_eq!(back, data, "down: len {len}, stage {stage}");
            assert_eq!(
                transfers,
                2 * len.div_ceil(stage),
                "len {len}, stage {stage}"
            );
        }
    }

    #[test]
    fn a_failed_send_stops_the_upload() {
        let data = vec![7u32; 100];
        let (mut a, mut b) = (vec![0u32; 10], vec![0u32; 10]);
        let mut sends = 0;
        let r = double_buffered(&data, [&mut a, &mut b], |_, offset| {
            sends += 1;
            if offset >= 30 {
                Err(offset)
            } else {
                Ok(())
            }
        });
        assert_eq!(r, Err(30));
        assert_eq!(sends, 4);
    }

    #[test]
    fn parallel_copy_copies_every_word() {
        for len in [0, 1, MIN_WORDS_PER_THREAD * 3 + 1] {
            let src: Vec<u32> = (0..len as u32).collect();
            let mut dst = vec![0u32; len];
            parallel_copy(&src, &mut dst);
            assert_eq!(dst, src);
        }
    }
}
