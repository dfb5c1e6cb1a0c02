use kernels_accel::AccelError;
use thiserror::Error;

/// Every way the GPU layer fails. Converted into [`AccelError`] at the accel boundary so
/// that callers see the backend, the device and the driver's code.
#[derive(Debug, Error)]
pub enum GpuError {
    /// No driver library, no platform, or no device at this index.
    #[error("backend `{backend}`: no device found{}: {reason}", index.map(|i| format!(" at index {i}")).unwrap_or_default())]
    NoDevice {
        backend: &'static str,
        index: Option<usize>,
        reason: String,
    },
    /// A driver call failed with the driver's own error code.
    #[error("backend `{backend}` device `{device}`: {call} failed (driver code {code})")]
    Driver {
        backend: &'static str,
        device: String,
        call: &'static str,
        code: i64,
    },
    /// The device ran out of memory for an allocation of `needed` bytes.
    #[error("backend `{backend}` device `{device}` is out of memory ({needed} bytes)")]
    OutOfMemory {
        backend: &'static str,
        device: String,
        needed: u64,
    },
    /// The kernel source failed to compile; `log` is the compiler's output.
    #[error("backend `{backend}` device `{device}`: kernel compilation failed: {log}")]
    Compile {
        backend: &'static str,
        device: String,
        log: String,
    },
    /// An input the device layer cannot represent (e.g. more than 2^31 points).
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

impl GpuError {
    /// A lock of the driver's state that a panicking thread left poisoned: `what` names the
    /// lock (the "call" of the error), the driver code is 0.
    #[cfg(any(feature = "cuda", feature = "opencl"))]
    pub(crate) fn poisoned(backend: &'static str, device: &str, what: &'static str) -> Self {
        GpuError::Driver {
            backend,
            device: device.to_string(),
            call: what,
            code: 0,
        }
    }
}

impl From<GpuError> for AccelError {
    fn from(e: GpuError) -> Self {
        match e {
            GpuError::NoDevice {
                backend,
                index,
                reason,
            } => AccelError::DeviceNotFound {
                backend,
                index,
                reason,
            },
            GpuError::Driver {
                backend,
                device,
                call,
                code,
            } => AccelError::Device {
                backend,
                device,
                code,
                message: format!("{call} failed"),
            },
            GpuError::OutOfMemory {
                backend,
                device,
                needed,
            } => AccelError::OutOfDeviceMemory {
                backend,
                device,
                needed,
            },
            GpuError::Compile {
                backend,
                device,
                log,
            } => AccelError::Device {
                backend,
                device,
                code: -1,
                message: format!("kernel compilation failed: {log}"),
            },
            GpuError::InvalidInput(m) => AccelError::InvalidInput(m),
        }
    }
}

pub type Result<T> = std::result::Result<T, GpuError>;
