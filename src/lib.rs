//! The appliance as a library: which backends this binary was built with, and how to open
//! them. The CLI (`src/main.rs`), the benches and the tests all go through here.

use std::sync::Arc;

use ark_bn254::Bn254;
use kernels_accel::{Accelerator, BackendKind, BackendRegistry};

/// Build facts baked in by `build.rs` (reported by the CLI, later bound into attestations).
pub mod build_info {
    /// SHA-256 over every kernel source file, so a deployed binary names its kernels.
    pub const KERNEL_SOURCE_HASH: &str = env!("APPLIANCE_KERNEL_HASH");
    /// Backends compiled in, comma separated.
    pub const BACKENDS: &str = env!("APPLIANCE_BACKENDS");
    pub const VERSION: &str = env!("CARGO_PKG_VERSION");

    /// The facts above as attestations bind them (sha256 of the canonical text is the
    /// document's `user_data`).
    pub fn info() -> prover_attest::BuildInfo {
        prover_attest::BuildInfo {
            version: VERSION.into(),
            kernel_source_sha256: KERNEL_SOURCE_HASH.into(),
            backends: BACKENDS.into(),
        }
    }
}

/// Every backend compiled into this binary, CPU ones running on `threads` threads
/// (0: all cores).
pub fn registry(threads: usize) -> BackendRegistry<Bn254> {
    let mut registry = BackendRegistry::default();
    registry.register(
        BackendKind::Cpu,
        Arc::new(move |_index, _| {
            let backend: Arc<dyn Accelerator<Bn254>> = kernels_cpu::open(threads)?;
            Ok(backend)
        }),
    );
    #[cfg(feature = "opencl")]
    registry.register(
        BackendKind::OpenCl,
        Arc::new(|index, selection| {
            let accelerators_only = selection == kernels_accel::Selection::Auto;
            let dev = kernels_gpu::opencl::OpenClDevice::open(index, accelerators_only)?;
            let backend: Arc<dyn Accelerator<Bn254>> = Arc::new(kernels_gpu::GpuBackend::new(dev));
            Ok(backend)
        }),
    );
    #[cfg(feature = "cuda")]
    registry.register(
        BackendKind::Cuda,
        Arc::new(|index, _| {
            let dev = kernels_gpu::cuda::CudaDevice::open(index)?;
            let backend: Arc<dyn Accelerator<Bn254>> = Arc::new(kernels_gpu::GpuBackend::new(dev));
            Ok(backend)
        }),
    );
    registry
}

/// The backend named by `BENCH_BACKEND` (default `cpu`) on `BENCH_THREADS` threads, for
/// the criterion benches. Panics with the reason, which is what a bench harness wants.
pub fn bench_backend() -> Arc<dyn Accelerator<Bn254>> {
    let kind = std::env::var("BENCH_BACKEND").unwrap_or_else(|_| "cpu".into());
    let threads = std::env::var("BENCH_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let kind: BackendKind = kind
        .parse()
        .unwrap_or_else(|e| panic!("BENCH_BACKEND: {e}"));
    registry(threads)
        .open(kind, 0)
        .unwrap_or_else(|e| panic!("cannot open backend {kind}: {e}"))
}
