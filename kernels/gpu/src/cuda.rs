//! The CUDA driver (cudarc with dynamic loading): libcuda and libnvrtc are opened at run
//! time, the kernel source is compiled by NVRTC to PTX for the device's compute capability
//! and the PTX is cached on disk, keyed by SHA-256 of source and options.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use cudarc::driver::result::{device as cu_device, mem_pool};
use cudarc::driver::sys::{CUdevice_attribute, CUmemPool_attribute, CUresult};
use cudarc::driver::{
    CudaContext, CudaFunction, CudaModule, CudaSlice, CudaStream, DriverError, LaunchConfig,
    PinnedHostSlice, PushKernelArg,
};
use cudarc::nvrtc::{CompileError, CompileOptions, Ptx};

use crate::device::{count_u32, Arg, Device};
use crate::error::{GpuError, Result};
use crate::source::{cache_key, kernel_source, Dialect, FieldProduct, CUDA_GROUP};
use crate::staging::{double_buffered, double_buffered_download};

const BACKEND: &str = "cuda";
/// Threads per block for every launch.
const BLOCK: u32 = CUDA_GROUP as u32;
/// Transfers of at least this many words (4 MiB) go through the page-locked staging buffers.
const STAGED_MIN_WORDS: usize = 1 << 20;
/// Words per staging buffer (16 MiB; two per device).
const STAGE_WORDS: usize = 1 << 22;
/// `APPLIANCE_CUDA_STAGING=0` turns the staged transfers off (to compare both on a card).
const STAGING_ENV: &str = "APPLIANCE_CUDA_STAGING";

/// True when libcuda (the NVIDIA driver) can be loaded. cudarc panics on first use when it
/// cannot, so every entry point checks this first.
pub fn driver_present() -> bool {
    // SAFETY: only tries to dlopen the library by its usual names.
    catch_unwind(|| unsafe { cudarc::driver::sys::is_culib_present() }).unwrap_or(false)
}

/// True when libnvrtc can be loaded (the driver alone cannot compile our source).
pub fn nvrtc_present() -> bool {
    // SAFETY: as above.
    catch_unwind(|| unsafe { cudarc::nvrtc::sys::is_culib_present() }).unwrap_or(false)
}

/// NVRTC options for a virtual architecture such as `compute_90`.
pub fn nvrtc_options(arch: &str) -> Vec<String> {
    vec![
        format!("--gpu-architecture={arch}"),
        "--std=c++17".into(),
        "-default-device".into(),
    ]
}

/// Compiles the CUDA flavour of the kernel source, with the field product `product`, to
/// PTX with NVRTC. Used at run time by [`CudaDevice::open`] and by the `gpu-compile-check`
/// example in CI (NVRTC from PyPI).
pub fn compile_ptx(arch: &str, product: FieldProduct) -> Result<String> {
    compile_source(&kernel_source(Dialect::Cuda, product), arch)
}

fn compile_source(source: &str, arch: &str) -> Result<String> {
    if !nvrtc_present() {
        return Err(GpuError::NoDevice {
            backend: BACKEND,
            index: None,
            reason: "libnvrtc not found (install the CUDA runtime or nvidia-cuda-nvrtc-cu12)"
                .into(),
        });
    }
    let options = CompileOptions {
        options: nvrtc_options(arch),
        name: Some("appliance_kernels.cu".into()),
        ..CompileOptions::default()
    };
    let compiled = catch_unwind(AssertUnwindSafe(|| {
        cudarc::nvrtc::compile_ptx_with_opts(source, options)
    }))
    .map_err(|_| GpuError::Compile {
        backend: BACKEND,
        device: arch.to_string(),
        log: "NVRTC panicked".into(),
    })?;
    match compiled {
        Ok(ptx) => Ok(ptx.to_src()),
        Err(CompileError::CompileError { log, .. }) => Err(GpuError::Compile {
            backend: BACKEND,
            device: arch.to_string(),
            log: log.to_string_lossy().into_owned(),
        }),
        Err(e) => Err(GpuError::Compile {
            backend: BACKEND,
            device: arch.to_string(),
            log: format!("{e:?}"),
        }),
    }
}

/// Where compiled PTX is kept: `$APPLIANCE_CACHE_DIR`, else `$XDG_CACHE_HOME/appliance`,
/// else `~/.cache/appliance`; `None` when none can be named.
fn cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("APPLIANCE_CACHE_DIR") {
        return Some(PathBuf::from(d).join("cuda"));
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(d).join("appliance/cuda"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/appliance/cuda"))
}

/// PTX for `arch`, from the disk cache when the same source and options were compiled
/// before. A cache that cannot be read or written only costs a recompile.
fn cached_ptx(arch: &str, product: FieldProduct) -> Result<String> {
    let source = kernel_source(Dialect::Cuda, product);
    let key = cache_key(&source, &nvrtc_options(arch).join(" "));
    let path = cache_dir().map(|d| d.join(format!("{key}.ptx")));
    if let Some(p) = &path {
        if let Ok(ptx) = std::fs::read_to_string(p) {
            return Ok(ptx);
        }
    }
    let ptx = compile_source(&source, arch)?;
    if let Some(p) = &path {
        if let Some(dir) = p.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let tmp = p.with_extension("tmp");
        if std::fs::write(&tmp, &ptx).is_ok() {
            let _ = std::fs::rename(&tmp, p);
        }
    }
    Ok(ptx)
}

/// One CUDA device with the kernel module loaded.
pub struct CudaDevice {
    name: String,
    memory: Option<u64>,
    units: usize,
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    module: Arc<CudaModule>,
    functions: Mutex<HashMap<String, CudaFunction>>,
    staging: Mutex<Staging>,
}

/// The page-locked buffers large transfers are staged through (`staging.rs`).
enum Staging {
    /// Not allocated yet: the first large transfer allocates them.
    Untried,
    Ready([PinnedHostSlice<u32>; 2]),
    /// Turned off, or the driver had no page-locked memory: transfers go from and to
    /// pageable memory directly.
    Unavailable,
}

/// Lets the device's stream-ordered memory pool keep what is freed instead of returning it
/// to the driver at every synchronisation (the default threshold, 0). Every MSM and NTT
/// allocates scratch buffers of up to gigabytes and frees them at its end; mapping them
/// afresh each time cost a resident NTT on an H200 0.28 of 1.22 ms at 2^22 and 1.0 of
/// 4.9 ms at 2^24 (bench/NOTES.md section 21). No pools (old drivers): nothing to do,
/// allocations are synchronous.
fn keep_freed_memory(ctx: &CudaContext) -> std::result::Result<(), DriverError> {
    if !ctx.has_async_alloc() {
        return Ok(());
    }
    let mut threshold = u64::MAX;
    // SAFETY: the device handle comes from the context; RELEASE_THRESHOLD takes a u64.
    unsafe {
        let pool = cu_device::get_mem_pool(ctx.cu_device())?;
        mem_pool::set_attribute(
            pool,
            CUmemPool_attribute::CU_MEMPOOL_ATTR_RELEASE_THRESHOLD,
            (&mut threshold as *mut u64).cast(),
        )
    }
}

/// `needed`: the bytes an allocation asked for (0 for other calls).
fn driver_error(device: &str, call: &'static str, e: DriverError, needed: u64) -> GpuError {
    if e.0 == CUresult::CUDA_ERROR_OUT_OF_MEMORY {
        GpuError::OutOfMemory {
            backend: BACKEND,
            device: device.to_string(),
            needed,
            call,
            code: e.0 as i64,
        }
    } else {
        GpuError::Driver {
            backend: BACKEND,
            device: device.to_string(),
            call,
            code: e.0 as i64,
        }
    }
}

impl CudaDevice {
    /// Opens device `index`; a missing driver, NVRTC or device is a clean error.
    pub fn open(index: usize) -> Result<Self> {
        if !driver_present() {
            return Err(GpuError::NoDevice {
                backend: BACKEND,
                index: Some(index),
                reason: "libcuda not found (no NVIDIA driver on this machine)".into(),
            });
        }
        catch_unwind(|| Self::open_checked(index)).unwrap_or_else(|_| {
            Err(GpuError::NoDevice {
                backend: BACKEND,
                index: Some(index),
                reason: "the CUDA driver library failed to load".into(),
            })
        })
    }

    fn open_checked(index: usize) -> Result<Self> {
        let count = CudaContext::device_count().map_err(|e| GpuError::NoDevice {
            backend: BACKEND,
            index: Some(index),
            reason: format!("cuDeviceGetCount failed (driver code {})", e.0 as i64),
        })?;
        if index >= usize::try_from(count).unwrap_or(0) {
            return Err(GpuError::NoDevice {
                backend: BACKEND,
                index: Some(index),
                reason: format!("{count} CUDA device(s) present"),
            });
        }
        let here = format!("CUDA device {index}");
        let ctx = CudaContext::new(index).map_err(|e| driver_error(&here, "cuCtxCreate", e, 0))?;
        let name = ctx.name().unwrap_or_else(|_| here.clone());
        let attr = |a| {
            ctx.attribute(a)
                .map_err(|e| driver_error(&name, "cuDeviceGetAttribute", e, 0))
        };
        let major = attr(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)?;
        let minor = attr(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)?;
        let units = attr(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)?;
        let product = FieldProduct::for_dialect(Dialect::Cuda)?;
        crate::msm::check_settings()?;
        let ptx = cached_ptx(&format!("compute_{major}{minor}"), product).map_err(|e| match e {
            GpuError::Compile { log, .. } => GpuError::Compile {
                backend: BACKEND,
                device: name.clone(),
                log,
            },
            other => other,
        })?;
        let module = ctx
            .load_module(Ptx::from_src(ptx))
            .map_err(|e| driver_error(&name, "cuModuleLoadData", e, 0))?;
        keep_freed_memory(&ctx).map_err(|e| driver_error(&name, "cuMemPoolSetAttribute", e, 0))?;
        Ok(Self {
            memory: ctx.total_mem().ok().map(|m| m as u64),
            units: usize::try_from(units).unwrap_or(1),
            stream: ctx.default_stream(),
            name: format!("{name} (sm_{major}{minor}){}", product.label()),
            ctx,
            module,
            functions: Mutex::new(HashMap::new()),
            staging: Mutex::new(match std::env::var(STAGING_ENV).as_deref() {
                Ok("0") => Staging::Unavailable,
                _ => Staging::Untried,
            }),
        })
    }

    /// Two zeroed page-locked staging buffers, or `None` when the driver has none to give.
    /// Plain cached memory (flags 0), not cudarc's default write-combined kind: downloads
    /// read the buffers back on the host, and reads of write-combined memory are uncached.
    fn pinned_pair(&self) -> Option<[PinnedHostSlice<u32>; 2]> {
        let one = || -> Option<PinnedHostSlice<u32>> {
            // SAFETY: the memory is zeroed through the raw pointer before any slice of it
            // is made.
            let mut p = unsafe { self.ctx.alloc_pinned_with_flags::<u32>(STAGE_WORDS, 0) }.ok()?;
            let ptr = p.as_mut_ptr().ok()?;
            // SAFETY: `ptr` points to STAGE_WORDS u32s owned by `p`.
            unsafe { std::ptr::write_bytes(ptr, 0, STAGE_WORDS) };
            Some(p)
        };
        Some([one()?, one()?])
    }

    /// Runs `f` on the two staging buffers, allocating them on first use; `None` when they
    /// are unavailable and the caller should transfer from or to pageable memory. The lock
    /// is held for the whole transfer: transfers through the buffers take turns.
    fn with_staging<T>(&self, f: impl FnOnce([&mut [u32]; 2]) -> Result<T>) -> Result<Option<T>> {
        let mut state = self
            .staging
            .lock()
            .map_err(|_| GpuError::poisoned(BACKEND, &self.name, "staging lock (poisoned)"))?;
        if matches!(*state, Staging::Untried) {
            *state = self
                .pinned_pair()
                .map_or(Staging::Unavailable, Staging::Ready);
        }
        let Staging::Ready([a, b]) = &mut *state else {
            return Ok(None);
        };
        let a = a
            .as_mut_slice()
            .map_err(|e| self.err("cuEventSynchronize", e))?;
        let b = b
            .as_mut_slice()
            .map_err(|e| self.err("cuEventSynchronize", e))?;
        f([a, b]).map(Some)
    }

    /// `data` uploaded through the staging buffers (`staging.rs`), or `None` without them.
    fn staged_upload(&self, data: &[u32]) -> Result<Option<CudaSlice<u32>>> {
        self.with_staging(|slots| {
            // SAFETY: the chunks below write every word of the buffer before anything reads
            // it.
            let mut buf = self.alloc_words(data.len())?;
            double_buffered(data, slots, |staged, offset| {
                let mut view = buf.slice_mut(offset..offset + staged.len());
                self.stream
                    .memcpy_htod(staged, &mut view)
                    .map_err(|e| self.err("cuMemcpyHtoD", e))?;
                // A copy from page-locked memory runs asynchronously; this slot is refilled
                // next, so wait for it.
                self.stream
                    .synchronize()
                    .map_err(|e| self.err("cuStreamSynchronize", e))
            })?;
            Ok(buf)
        })
    }

    /// The first `out.len()` words of `buf` downloaded through the staging buffers; `false`
    /// without them.
    fn staged_download(&self, buf: &CudaSlice<u32>, out: &mut [u32]) -> Result<bool> {
        let done = self.with_staging(|slots| {
            double_buffered_download(out, slots, |slot, offset| {
                self.copy_to_host(buf, offset, slot)
            })
        })?;
        Ok(done.is_some())
    }

    /// Copies `out.len()` words of `buf` from word `offset` on into `out` and waits for
    /// them: into page-locked memory the copy runs asynchronously.
    fn copy_to_host(&self, buf: &CudaSlice<u32>, offset: usize, out: &mut [u32]) -> Result<()> {
        let view = buf.slice(offset..offset + out.len());
        self.stream
            .memcpy_dtoh(&view, out)
            .map_err(|e| self.err("cuMemcpyDtoH", e))?;
        self.stream
            .synchronize()
            .map_err(|e| self.err("cuStreamSynchronize", e))
    }

    /// `words` of device memory whose contents the caller overwrites before reading.
    /// The stream-ordered pool keeps freed memory (see [`keep_freed_memory`]); when the
    /// device is out of memory, what the pool holds unused is released and the allocation
    /// tried once more before the error goes to the callers that chunk or fall back.
    fn alloc_words(&self, words: usize) -> Result<CudaSlice<u32>> {
        // SAFETY: every caller writes the buffer (memset, copy or kernel) before reading it.
        match unsafe { self.stream.alloc::<u32>(words) } {
            Err(e) if e.0 == CUresult::CUDA_ERROR_OUT_OF_MEMORY && self.ctx.has_async_alloc() => {
                self.stream
                    .synchronize()
                    .map_err(|e| self.err("cuStreamSynchronize", e))?;
                // SAFETY: the device handle comes from this context; trimming only
                // releases pool memory that no allocation holds.
                unsafe {
                    let pool = cu_device::get_mem_pool(self.ctx.cu_device())
                        .map_err(|e| self.err("cuDeviceGetMemPool", e))?;
                    mem_pool::trim_to(pool, 0).map_err(|e| self.err("cuMemPoolTrimTo", e))?;
                }
                // SAFETY: as above.
                unsafe { self.stream.alloc::<u32>(words) }.map_err(|e| self.alloc_err(words, e))
            }
            other => other.map_err(|e| self.alloc_err(words, e)),
        }
    }

    fn err(&self, call: &'static str, e: DriverError) -> GpuError {
        driver_error(&self.name, call, e, 0)
    }

    fn alloc_err(&self, words: usize, e: DriverError) -> GpuError {
        driver_error(&self.name, "cuMemAllocAsync", e, words as u64 * 4)
    }

    fn function(&self, kernel: &str) -> Result<CudaFunction> {
        let mut functions = self.functions.lock().map_err(|_| {
            GpuError::poisoned(BACKEND, &self.name, "function cache lock (poisoned)")
        })?;
        if let Some(f) = functions.get(kernel) {
            return Ok(f.clone());
        }
        let f = self
            .module
            .load_function(kernel)
            .map_err(|e| self.err("cuModuleGetFunction", e))?;
        functions.insert(kernel.to_string(), f.clone());
        Ok(f)
    }
}

impl Device for CudaDevice {
    type Buffer = CudaSlice<u32>;

    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn device_name(&self) -> &str {
        &self.name
    }

    fn memory_bytes(&self) -> Option<u64> {
        self.memory
    }

    fn compute_units(&self) -> usize {
        self.units
    }

    fn is_accelerator(&self) -> bool {
        true
    }

    fn group_size(&self) -> usize {
        CUDA_GROUP
    }

    fn upload(&self, data: &[u32]) -> Result<Self::Buffer> {
        if data.is_empty() {
            return self.alloc_zeroed(1);
        }
        if data.len() >= STAGED_MIN_WORDS {
            if let Some(buf) = self.staged_upload(data)? {
                return Ok(buf);
            }
        }
        let mut buf = self.alloc_words(data.len())?;
        self.stream
            .memcpy_htod(data, &mut buf)
            .map_err(|e| self.err("cuMemcpyHtoD", e))?;
        Ok(buf)
    }

    fn alloc_zeroed(&self, words: usize) -> Result<Self::Buffer> {
        let mut buf = self.alloc_words(words.max(1))?;
        self.stream
            .memset_zeros(&mut buf)
            .map_err(|e| self.err("cuMemsetD8", e))?;
        Ok(buf)
    }

    fn alloc_uninit(&self, words: usize) -> Result<Self::Buffer> {
        self.alloc_words(words.max(1))
    }

    fn download(&self, buf: &Self::Buffer, out: &mut [u32]) -> Result<()> {
        if out.is_empty() {
            return Ok(());
        }
        if out.len() > buf.len() {
            return Err(GpuError::InvalidInput(format!(
                "download of {} words from a buffer of {}",
                out.len(),
                buf.len()
            )));
        }
        if out.len() >= STAGED_MIN_WORDS && self.staged_download(buf, out)? {
            return Ok(());
        }
        self.copy_to_host(buf, 0, out)
    }

    fn write(&self, buf: &mut Self::Buffer, data: &[u32]) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        if data.len() > buf.len() {
            return Err(GpuError::InvalidInput(format!(
                "write of {} words into a buffer of {}",
                data.len(),
                buf.len()
            )));
        }
        let mut view = buf.slice_mut(0..data.len());
        self.stream
            .memcpy_htod(data, &mut view)
            .map_err(|e| self.err("cuMemcpyHtoD", e))
    }

    fn launch(&self, kernel: &str, threads: usize, args: &[Arg<'_, Self::Buffer>]) -> Result<()> {
        if threads == 0 {
            return Ok(());
        }
        let count = count_u32(threads)?;
        let f = self.function(kernel)?;
        let values: Vec<u32> = args
            .iter()
            .filter_map(|a| match a {
                Arg::U32(v) => Some(*v),
                Arg::Buf(_) => None,
            })
            .collect();
        let mut next_value = values.iter();
        let mut builder = self.stream.launch_builder(&f);
        for a in args {
            match a {
                Arg::Buf(b) => {
                    builder.arg(*b);
                }
                Arg::U32(_) => {
                    if let Some(v) = next_value.next() {
                        builder.arg(v);
                    }
                }
            }
        }
        builder.arg(&count);
        let cfg = LaunchConfig {
            grid_dim: (count.div_ceil(BLOCK), 1, 1),
            block_dim: (BLOCK, 1, 1),
            shared_mem_bytes: 0,
        };
        // SAFETY: argument types and order match the kernel signatures in src/cl (buffers
        // of u32 words, then u32 scalars, then the thread count). The driver copies the
        // argument values at the call, and a buffer dropped before the kernel ran is freed
        // in stream order after it (cudarc's CudaSlice frees on its stream).
        unsafe { builder.launch(cfg) }
            .map(drop)
            .map_err(|e| self.err("cuLaunchKernel", e))
    }

    fn finish(&self) -> Result<()> {
        self.stream
            .synchronize()
            .map_err(|e| self.err("cuStreamSynchronize", e))
    }
}
