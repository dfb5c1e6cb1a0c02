//! Shared by the OpenCL test binaries.

use kernels_gpu::opencl::OpenClDevice;

/// The first OpenCL device; without one the test fails, unless `APPLIANCE_SKIP_OPENCL=1`
/// says the machine has none (then `None`: the caller skips).
pub fn device() -> Option<OpenClDevice> {
    match OpenClDevice::open(0, false) {
        Ok(d) => Some(d),
        Err(e) if std::env::var_os("APPLIANCE_SKIP_OPENCL").is_some() => {
            eprintln!("skipping: {e}");
            None
        }
        Err(e) => panic!("no OpenCL device (set APPLIANCE_SKIP_OPENCL=1 to skip): {e}"),
    }
}
