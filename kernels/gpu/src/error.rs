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
    /// The device ran out of memory: `call` returned the driver's out-of-memory `code`,
    /// for an allocation of `needed` bytes (0: not known, e.g. at a launch).
    #[error("backend `{backend}` device `{device}` is out of memory: {call} failed (driver code {code}){}", needed_text(*needed))]
    OutOfMemory {
        backend: &'static str,
        device: String,
        needed: u64,
        call: &'static str,
        code: i64,
    },
    /// The device returned what no kernel makes (an unreduced field element, a short
    /// point): a fault of the device or of its kernels, never of the caller's input, so it
    /// is not reported as invalid input.
    #[error("backend `{backend}` device `{device}` returned a corrupt result: {what}")]
    CorruptResult {
        backend: &'static str,
        device: String,
        what: &'static str,
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

/// " for N bytes" when the size is known.
fn needed_text(needed: u64) -> String {
    if needed == 0 {
        String::new()
    } else {
        format!(" for {needed} bytes")
    }
}

impl GpuError {
    /// A lock of the driver's state that a panicking thread left poisoned: `what` names the
    /// lock (the "call" of the error), the driver code is 0.
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
                call,
                code,
            } => AccelError::OutOfDeviceMemory {
                backend,
                device,
                needed,
                message: format!("{call} failed{}", needed_text(needed)),
                code,
            },
            GpuError::CorruptResult {
                backend,
                device,
                what,
            } => AccelError::Device {
                backend,
                device,
                code: 0,
                message: format!("returned a corrupt result: {what}"),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// What the prover and the server see: the backend, the device, the driver's code, and
    /// whether the CPU may take the work over.
    #[test]
    fn device_errors_keep_their_backend_device_and_code_across_the_accel_boundary() {
        let oom: AccelError = GpuError::OutOfMemory {
            backend: "cuda",
            device: "H100".into(),
            needed: 4096,
            call: "cuMemAllocAsync",
            code: 2,
        }
        .into();
        let text = oom.to_string();
        assert!(matches!(
            oom,
            AccelError::OutOfDeviceMemory {
                code: 2,
                needed: 4096,
                ..
            }
        ));
        for part in [
            "`cuda`",
            "`H100`",
            "driver code 2",
            "cuMemAllocAsync",
            "4096 bytes",
        ] {
            assert!(text.contains(part), "{part} missing from {text}");
        }
        assert!(oom.is_device_fault());

        let corrupt: AccelError = GpuError::CorruptResult {
            backend: "opencl",
            device: "gfx1100".into(),
            what: "an unreduced Fr value",
        }
        .into();
        let text = corrupt.to_string();
        assert!(corrupt.is_device_fault(), "not bad input: {text}");
        for part in ["`opencl`", "`gfx1100`", "corrupt", "unreduced Fr"] {
            assert!(text.contains(part), "{part} missing from {text}");
        }
    }
}
