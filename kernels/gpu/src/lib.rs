//! GPU backends for the appliance: ONE kernel source (`src/cl/`: BN254 Fq/Fr Montgomery
//! arithmetic, Fq2, G1/G2 XYZZ points, MSM and NTT kernels) compiled as OpenCL C through
//! `opencl3` and as CUDA through `cudarc`'s NVRTC, both loading their driver at run time so
//! that a binary built without any GPU toolkit runs on GPU and non-GPU machines alike.
//!
//! The host logic (`msm.rs`, `ntt.rs`) is written once over the small [`Device`] trait;
//! [`GpuBackend`] implements the accel traits over it.

mod backend;
pub mod convert;
mod device;
mod error;
pub mod msm;
pub mod ntt;
pub mod segments;
pub mod source;
// Used by the CUDA driver only; built and tested whatever the features.
#[cfg_attr(not(feature = "cuda"), allow(dead_code))]
mod staging;

#[cfg(feature = "cuda")]
pub mod cuda;
#[cfg(feature = "opencl")]
pub mod opencl;

pub use backend::GpuBackend;
pub use device::{Arg, Device};
pub use error::{GpuError, Result};
