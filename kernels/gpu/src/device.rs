//! The small surface the MSM and NTT host logic needs from a GPU API: buffers of 32-bit
//! words and one-dimensional kernel launches. CUDA and OpenCL each implement it once, so the
//! orchestration in `msm.rs` and `ntt.rs` is written once.

use crate::error::Result;

/// One kernel argument.
pub enum Arg<'a, B> {
    Buf(&'a B),
    U32(u32),
}

/// A compiled program on one device.
pub trait Device: Send + Sync + 'static {
    /// A device allocation of 32-bit words.
    type Buffer: Send + Sync + 'static;

    /// `cuda` or `opencl`.
    fn backend(&self) -> &'static str;
    /// The device's name, for logs and errors.
    fn device_name(&self) -> &str;
    /// Device memory in bytes, where the API tells.
    fn memory_bytes(&self) -> Option<u64>;
    /// SMs or compute units.
    fn compute_units(&self) -> usize;
    /// Threads per work-group/block every launch uses (the source's `GROUP`).
    fn group_size(&self) -> usize;
    /// True when the device is real acceleration hardware (a GPU or an accelerator card),
    /// false for a CPU OpenCL device such as PoCL: `auto` skips those.
    fn is_accelerator(&self) -> bool;

    /// A new buffer holding `data`.
    fn upload(&self, data: &[u32]) -> Result<Self::Buffer>;
    /// A new buffer of `words` zero words.
    fn alloc_zeroed(&self, words: usize) -> Result<Self::Buffer>;
    /// A new buffer of `words` words that the caller's kernels write in full before anything
    /// reads them: not filled, where [`Device::alloc_zeroed`] zeroes (the memset of a 2^24
    /// NTT's 512 MiB work vector was ~0.18 ms of a 4 ms transform on an H100). A CPU OpenCL
    /// device fills it with 0xA5A5A5A5 words instead, so that a kernel that reads a word it
    /// did not write fails the tests there rather than passing on zeroed memory by chance.
    fn alloc_uninit(&self, words: usize) -> Result<Self::Buffer>;
    /// Copies `buf` into `out` (`out.len()` words from the start).
    fn download(&self, buf: &Self::Buffer, out: &mut [u32]) -> Result<()>;
    /// Overwrites the start of `buf` with `data`.
    fn write(&self, buf: &mut Self::Buffer, data: &[u32]) -> Result<()>;
    /// Queues `kernel` on `threads` threads with `args` followed by `threads` as a final u32
    /// argument (every kernel bounds-checks against it). It does not wait: work runs in the
    /// order it was queued (one CUDA stream, one in-order OpenCL queue), downloads wait for
    /// everything queued before them, and a buffer dropped while a queued kernel still uses
    /// it is freed after that kernel (stream-ordered free, OpenCL reference counting).
    /// Waiting after each launch cost a host round trip per kernel, ~30 per MSM. A kernel's
    /// fault surfaces at the next call that waits, carrying that call's name.
    fn launch(&self, kernel: &str, threads: usize, args: &[Arg<'_, Self::Buffer>]) -> Result<()>;
    /// Waits for all queued work: for timing device work from the host, and for traces.
    fn finish(&self) -> Result<()>;
}

/// `threads` as the u32 every kernel takes; larger launches are split by the callers.
pub(crate) fn count_u32(threads: usize) -> Result<u32> {
    u32::try_from(threads).map_err(|_| {
        crate::error::GpuError::InvalidInput(format!("{threads} GPU threads exceed 2^32"))
    })
}

/// Phase timings of one MSM or NTT, printed to stderr as one line when the environment
/// variable `APPLIANCE_GPU_TRACE` is set. Each mark waits for the queued work, so the time
/// between marks is the device time of that phase plus its host work (and tracing adds a
/// host round trip per mark).
pub(crate) struct Trace {
    label: String,
    last: std::time::Instant,
    phases: Vec<(&'static str, f64)>,
}

impl Trace {
    pub(crate) fn start(label: impl FnOnce() -> String) -> Option<Self> {
        static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        ON.get_or_init(|| std::env::var_os("APPLIANCE_GPU_TRACE").is_some())
            .then(|| Self {
                label: label(),
                last: std::time::Instant::now(),
                phases: Vec::new(),
            })
    }

    /// Ends the phase `name` once the device has finished its queued work.
    pub(crate) fn mark<D: Device>(
        dev: &D,
        trace: &mut Option<Self>,
        name: &'static str,
    ) -> Result<()> {
        if let Some(t) = trace {
            dev.finish()?;
            let now = std::time::Instant::now();
            t.phases
                .push((name, now.duration_since(t.last).as_secs_f64() * 1e3));
            t.last = now;
        }
        Ok(())
    }
}

impl Drop for Trace {
    fn drop(&mut self) {
        let total: f64 = self.phases.iter().map(|p| p.1).sum();
        let phases: Vec<String> = self
            .phases
            .iter()
            .map(|(name, ms)| format!("{name} {ms:.2}"))
            .collect();
        eprintln!(
            "gpu trace {}: {} (total {total:.2} ms)",
            self.label,
            phases.join(", ")
        );
    }
}
