//! The GPU settings (environment variables) are checked where an OpenCL device opens. A
//! binary of its own: the environment is the whole process's.
#![cfg(feature = "opencl")]

use kernels_gpu::msm::SCATTER_KIB_ENV;
use kernels_gpu::opencl::OpenClDevice;
use kernels_gpu::source::FIELD_PRODUCT_ENV;
use kernels_gpu::GpuError;
use opencl3::device::{get_all_devices, CL_DEVICE_TYPE_ACCELERATOR, CL_DEVICE_TYPE_GPU};

#[test]
fn bad_settings_stop_the_open_and_cuda_only_ones_do_not_stop_auto() {
    if std::env::var_os("APPLIANCE_SKIP_OPENCL").is_some() {
        return;
    }
    let is_bad = |e: &GpuError, name: &str| {
        matches!(e, GpuError::InvalidInput(_)) && e.to_string().contains(name)
    };

    // A product only CUDA takes is refused where an OpenCL device would use it...
    std::env::set_var(FIELD_PRODUCT_ENV, "chains");
    let e = OpenClDevice::open(0, false).err().expect("chains refused");
    assert!(is_bad(&e, "chains"), "{e}");
    // ...but under `auto` (accelerators only) a CPU device is passed over first, as no
    // device, so that `auto` goes on to the CPU backend instead of stopping.
    let gpus = get_all_devices(CL_DEVICE_TYPE_GPU | CL_DEVICE_TYPE_ACCELERATOR).unwrap_or_default();
    let e = OpenClDevice::open(0, true).err().expect("not opened");
    if gpus.is_empty() {
        assert!(matches!(e, GpuError::NoDevice { .. }), "{e}");
    } else {
        assert!(is_bad(&e, "chains"), "{e}");
    }
    std::env::remove_var(FIELD_PRODUCT_ENV);

    // A scatter range that is not a number stops the open, naming the variable, instead of
    // failing every MSM as bad input.
    std::env::set_var(SCATTER_KIB_ENV, "24M");
    let e = OpenClDevice::open(0, false)
        .err()
        .expect("bad scatter range refused");
    assert!(is_bad(&e, SCATTER_KIB_ENV), "{e}");
    std::env::remove_var(SCATTER_KIB_ENV);
}
