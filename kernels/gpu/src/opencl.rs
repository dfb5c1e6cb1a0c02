//! The OpenCL driver (opencl3, libOpenCL loaded at run time): GPUs, accelerator cards with
//! an OpenCL runtime, and PoCL's CPU device in CI.

use std::collections::HashMap;
use std::ptr;
use std::sync::Mutex;

use opencl3::command_queue::CommandQueue;
use opencl3::context::Context;
use opencl3::device::{
    Device as ClDevice, CL_DEVICE_TYPE_ACCELERATOR, CL_DEVICE_TYPE_ALL, CL_DEVICE_TYPE_GPU,
};
use opencl3::kernel::{ExecuteKernel, Kernel};
use opencl3::memory::{Buffer, CL_MEM_READ_WRITE};
use opencl3::program::Program;
use opencl3::types::{cl_uint, CL_BLOCKING};

use crate::device::{Arg, Device};
use crate::error::{GpuError, Result};
use crate::source::{kernel_source_for_group, Dialect, FieldProduct, OPENCL_GROUP};

const BACKEND: &str = "opencl";
/// OpenCL's error codes for allocation failures.
const CL_MEM_OBJECT_ALLOCATION_FAILURE: i32 = -4;
const CL_OUT_OF_RESOURCES: i32 = -5;
const CL_OUT_OF_HOST_MEMORY: i32 = -6;

/// One OpenCL device with the kernel program built for it.
pub struct OpenClDevice {
    name: String,
    memory: Option<u64>,
    units: usize,
    accelerator: bool,
    /// Threads per work-group, the source's GROUP.
    group: usize,
    context: Context,
    queue: CommandQueue,
    /// Kernel objects hold their arguments, so launches are serialised through this lock.
    kernels: Mutex<HashMap<String, Kernel>>,
    program: Program,
}

/// Every OpenCL device of every platform, GPUs and accelerators first (so index 0 is the
/// best one), then CPU devices such as PoCL's.
fn devices() -> Result<Vec<ClDevice>> {
    let platforms = opencl3::platform::get_platforms().map_err(|e| GpuError::NoDevice {
        backend: BACKEND,
        index: None,
        reason: format!("no OpenCL platform (is an ICD such as pocl-opencl-icd installed?): {e}"),
    })?;
    let mut fast = Vec::new();
    let mut slow = Vec::new();
    for p in platforms {
        let Ok(ids) = p.get_devices(CL_DEVICE_TYPE_ALL) else {
            continue;
        };
        for id in ids {
            let d = ClDevice::new(id);
            let ty = d.dev_type().unwrap_or(0);
            if ty & (CL_DEVICE_TYPE_GPU | CL_DEVICE_TYPE_ACCELERATOR) != 0 {
                fast.push(d);
            } else {
                slow.push(d);
            }
        }
    }
    fast.extend(slow);
    Ok(fast)
}

/// Serialises platform enumeration and program builds: PoCL 3.1 crashed (SIGSEGV) when two
/// threads built programs at once in our tests, and opening is rare enough not to matter.
static OPEN_LOCK: Mutex<()> = Mutex::new(());

impl OpenClDevice {
    /// Opens device `index` (GPUs first) and builds the kernels for it. With
    /// `accelerators_only`, a CPU device (PoCL's) is refused before the build.
    pub fn open(index: usize, accelerators_only: bool) -> Result<Self> {
        Self::open_with(index, accelerators_only, "", OPENCL_GROUP)
    }

    /// [`Self::open`] with compiler options for the build (`-cl-std=CL1.1` in the tests:
    /// PoCL compiles for OpenCL C 1.2 by default, as most devices do, and the source must
    /// also build where the device offers only 1.1) and `group` threads per work-group
    /// ([`OPENCL_GROUP`] but in the tests, which also run CUDA's 256 on a CPU device: see
    /// [`crate::source::kernel_source_for_group`]).
    pub fn open_with(
        index: usize,
        accelerators_only: bool,
        build_options: &str,
        group: usize,
    ) -> Result<Self> {
        if !group.is_power_of_two() || !(64..=1024).contains(&group) {
            return Err(GpuError::InvalidInput(format!(
                "work-groups of {group} threads: expected a power of two from 64 to 1024"
            )));
        }
        let _guard = OPEN_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let list = devices()?;
        let count = list.len();
        let Some(device) = list.into_iter().nth(index) else {
            return Err(GpuError::NoDevice {
                backend: BACKEND,
                index: Some(index),
                reason: format!("{count} OpenCL device(s) present"),
            });
        };
        let name = device
            .name()
            .unwrap_or_else(|_| "unknown OpenCL device".into());
        let ty = device.dev_type().unwrap_or(0);
        let accelerator = ty & (CL_DEVICE_TYPE_GPU | CL_DEVICE_TYPE_ACCELERATOR) != 0;
        if accelerators_only && !accelerator {
            return Err(GpuError::NoDevice {
                backend: BACKEND,
                index: Some(index),
                reason: format!("only a CPU device ({name}), slower than the cpu backend"),
            });
        }
        // The settings are checked once a device is there to use them: under `auto`, a
        // setting only CUDA takes (`chains`) must not stop the CPU from being opened when
        // there is no OpenCL device to refuse it for.
        let product = FieldProduct::for_dialect(Dialect::OpenCl)?;
        crate::msm::check_settings()?;
        let driver_err = |call: &'static str, code: i32| GpuError::Driver {
            backend: BACKEND,
            device: name.clone(),
            call,
            code: code.into(),
        };
        let context =
            Context::from_device(&device).map_err(|e| driver_err("clCreateContext", e.0))?;
        #[allow(deprecated)]
        let queue = CommandQueue::create_default(&context, 0)
            .map_err(|e| driver_err("clCreateCommandQueue", e.0))?;
        let source = kernel_source_for_group(Dialect::OpenCl, product, group);
        let program = Program::create_and_build_from_source(&context, &source, build_options)
            .map_err(|log| GpuError::Compile {
                backend: BACKEND,
                device: name.clone(),
                log,
            })?;
        Ok(Self {
            memory: device.global_mem_size().ok(),
            units: device.max_compute_units().map_or(1, |u| u as usize),
            accelerator,
            group,
            name: format!("{name} (OpenCL){}", product.label()),
            context,
            queue,
            kernels: Mutex::new(HashMap::new()),
            program,
        })
    }

    /// A failed call that allocates nothing itself.
    fn err(&self, call: &'static str, code: i32) -> GpuError {
        self.error(call, code, None)
    }

    /// A failed allocation of `bytes`.
    fn alloc_err(&self, call: &'static str, code: i32, bytes: usize) -> GpuError {
        self.error(call, code, Some(bytes))
    }

    /// `allocation`: the bytes asked for, when `call` allocates.
    fn error(&self, call: &'static str, code: i32, allocation: Option<usize>) -> GpuError {
        if out_of_memory(code, allocation.is_some()) {
            GpuError::OutOfMemory {
                backend: BACKEND,
                device: self.name.clone(),
                needed: allocation.unwrap_or(0) as u64,
                call,
                code: code.into(),
            }
        } else {
            GpuError::Driver {
                backend: BACKEND,
                device: self.name.clone(),
                call,
                code: code.into(),
            }
        }
    }

    /// A new buffer of `words` words, each `value`.
    fn alloc_filled(&self, words: usize, value: cl_uint) -> Result<Buffer<cl_uint>> {
        let mut buf = self.alloc(words)?;
        // SAFETY: the fill covers exactly the buffer's size; the in-order queue runs it
        // before any later command that uses the buffer.
        unsafe {
            self.queue
                .enqueue_fill_buffer(&mut buf, &[value], 0, words.max(1) * 4, &[])
        }
        .map_err(|e| self.alloc_err("clEnqueueFillBuffer", e.0, words * 4))?;
        Ok(buf)
    }

    fn alloc(&self, words: usize) -> Result<Buffer<cl_uint>> {
        let words = words.max(1);
        // SAFETY: no host pointer is passed; the size is in elements of cl_uint.
        unsafe {
            Buffer::<cl_uint>::create(&self.context, CL_MEM_READ_WRITE, words, ptr::null_mut())
        }
        .map_err(|e| self.alloc_err("clCreateBuffer", e.0, words * 4))
    }
}

/// Whether `code` means the device is out of memory. From an allocation, any of the three
/// memory codes; from any other call only CL_MEM_OBJECT_ALLOCATION_FAILURE (a buffer's
/// store allocated at its first use). CL_OUT_OF_RESOURCES from a blocking call is how
/// NVIDIA's OpenCL reports a faulted kernel: called out of memory, the fault would go to
/// the paths that split the work or move it to the CPU, which hide it from the health check.
fn out_of_memory(code: i32, allocating: bool) -> bool {
    code == CL_MEM_OBJECT_ALLOCATION_FAILURE
        || (allocating && matches!(code, CL_OUT_OF_RESOURCES | CL_OUT_OF_HOST_MEMORY))
}

impl Device for OpenClDevice {
    type Buffer = Buffer<cl_uint>;

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
        self.accelerator
    }

    fn group_size(&self) -> usize {
        self.group
    }

    fn upload(&self, data: &[u32]) -> Result<Self::Buffer> {
        let mut buf = self.alloc(data.len())?;
        self.write(&mut buf, data)?;
        Ok(buf)
    }

    fn alloc_zeroed(&self, words: usize) -> Result<Self::Buffer> {
        self.alloc_filled(words, 0)
    }

    fn alloc_uninit(&self, words: usize) -> Result<Self::Buffer> {
        if self.accelerator {
            self.alloc(words)
        } else {
            self.alloc_filled(words, 0xA5A5_A5A5)
        }
    }

    fn download(&self, buf: &Self::Buffer, out: &mut [u32]) -> Result<()> {
        if out.is_empty() {
            return Ok(());
        }
        // SAFETY: a blocking read of out.len() words into `out`; callers never ask for more
        // words than the buffer was created with.
        unsafe {
            self.queue
                .enqueue_read_buffer(buf, CL_BLOCKING, 0, out, &[])
        }
        .map_err(|e| self.err("clEnqueueReadBuffer", e.0))?;
        Ok(())
    }

    fn write(&self, buf: &mut Self::Buffer, data: &[u32]) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        // SAFETY: a blocking write of data.len() words, within the buffer's size.
        unsafe {
            self.queue
                .enqueue_write_buffer(buf, CL_BLOCKING, 0, data, &[])
        }
        .map_err(|e| self.err("clEnqueueWriteBuffer", e.0))?;
        Ok(())
    }

    fn launch(&self, kernel: &str, threads: usize, args: &[Arg<'_, Self::Buffer>]) -> Result<()> {
        if threads == 0 {
            return Ok(());
        }
        let count = crate::device::count_u32(threads)?;
        let mut kernels = self
            .kernels
            .lock()
            .map_err(|_| GpuError::poisoned(BACKEND, &self.name, "kernel cache lock (poisoned)"))?;
        if !kernels.contains_key(kernel) {
            let k = Kernel::create(&self.program, kernel)
                .map_err(|e| self.err("clCreateKernel", e.0))?;
            kernels.insert(kernel.to_string(), k);
        }
        let Some(k) = kernels.get(kernel) else {
            return Err(self.err("clCreateKernel", 0));
        };
        let mut exec = ExecuteKernel::new(k);
        let values: Vec<cl_uint> = args
            .iter()
            .filter_map(|a| match a {
                Arg::U32(v) => Some(*v),
                Arg::Buf(_) => None,
            })
            .collect();
        let mut next_value = values.iter();
        for a in args {
            match a {
                // SAFETY: argument types match the kernel signatures in src/cl (pointers to
                // buffers, then u32 scalars), checked by the conformance tests.
                Arg::Buf(b) => unsafe {
                    exec.set_arg(*b);
                },
                Arg::U32(_) => {
                    if let Some(v) = next_value.next() {
                        // SAFETY: as above.
                        unsafe {
                            exec.set_arg(v);
                        }
                    }
                }
            }
        }
        // SAFETY: as above; the last argument is the thread count every kernel checks.
        unsafe {
            exec.set_arg(&count);
        }
        let local = self.group;
        let global = threads.div_ceil(local) * local;
        // SAFETY: the arguments are captured when the kernel is queued, under the kernel
        // lock; a buffer released while a queued kernel uses it lives until that kernel
        // completes (OpenCL reference counting).
        unsafe {
            exec.set_global_work_size(global)
                .set_local_work_size(local)
                .enqueue_nd_range(&self.queue)
        }
        .map(drop)
        .map_err(|e| self.err("clEnqueueNDRangeKernel", e.0))
    }

    fn finish(&self) -> Result<()> {
        self.queue.finish().map_err(|e| self.err("clFinish", e.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_allocations_read_out_of_resources_as_out_of_memory() {
        for code in [
            CL_MEM_OBJECT_ALLOCATION_FAILURE,
            CL_OUT_OF_RESOURCES,
            CL_OUT_OF_HOST_MEMORY,
        ] {
            assert!(out_of_memory(code, true), "allocation, code {code}");
        }
        assert!(out_of_memory(CL_MEM_OBJECT_ALLOCATION_FAILURE, false));
        // A faulted kernel, reported by clFinish or a blocking read, is a driver error.
        assert!(!out_of_memory(CL_OUT_OF_RESOURCES, false));
        assert!(!out_of_memory(CL_OUT_OF_HOST_MEMORY, false));
        assert!(!out_of_memory(-36, true), "CL_INVALID_COMMAND_QUEUE");
    }
}
