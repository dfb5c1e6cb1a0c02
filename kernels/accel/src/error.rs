use thiserror::Error;

/// Every way the hardware layer can fail. The prover matches on these to decide whether to
/// fall back to the CPU (device faults) or to report bad input (everything else).
#[derive(Debug, Error)]
pub enum AccelError {
    #[error("backend `{0}` is not compiled into this binary (rebuild with its cargo feature)")]
    BackendNotCompiled(&'static str),
    #[error("unknown backend `{0}`: expected one of auto, cpu, cuda, opencl, fpga")]
    UnknownBackend(String),
    #[error("backend `{backend}`: no device found{}: {reason}", index.map(|i| format!(" at index {i}")).unwrap_or_default())]
    DeviceNotFound {
        backend: &'static str,
        index: Option<usize>,
        /// Why: no driver library, no platform, no device at that index.
        reason: String,
    },
    #[error("backend `{backend}` device `{device}` failed (driver code {code}): {message}")]
    Device {
        backend: &'static str,
        device: String,
        code: i64,
        message: String,
    },
    /// `message` names the driver call that failed (and the size when known), `code` is
    /// the driver's out-of-memory code.
    #[error(
        "backend `{backend}` device `{device}` is out of memory (driver code {code}): {message}"
    )]
    OutOfDeviceMemory {
        backend: &'static str,
        device: String,
        needed: u64,
        code: i64,
        message: String,
    },
    #[error("length mismatch in {what}: expected {expected}, got {got}")]
    LengthMismatch {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("NTT size {0} is not a power of two")]
    NttSizeNotPowerOfTwo(usize),
    #[error("NTT size 2^{log_n} exceeds the field's two-adicity 2^{two_adicity}")]
    NttSizeTooLarge { log_n: u32, two_adicity: u32 },
    #[error("bases were loaded by backend `{loaded_by}` but used with backend `{used_by}`")]
    ForeignBases {
        loaded_by: &'static str,
        used_by: &'static str,
    },
    #[error("scalars were prepared by backend `{prepared_by}` but used with backend `{used_by}`")]
    ForeignScalars {
        prepared_by: &'static str,
        used_by: &'static str,
    },
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

impl AccelError {
    /// True for faults of the device rather than of the input: the caller may retry the
    /// same work on another backend (normally the CPU).
    pub fn is_device_fault(&self) -> bool {
        matches!(
            self,
            AccelError::Device { .. }
                | AccelError::OutOfDeviceMemory { .. }
                | AccelError::DeviceNotFound { .. }
                | AccelError::BackendNotCompiled(_)
        )
    }
}
