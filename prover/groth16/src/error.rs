use thiserror::Error;

/// Everything that can go wrong reading circom/snarkjs files, proving or verifying.
#[derive(Debug, Error)]
pub enum Groth16Error {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{file}: wrong magic: expected {expected:?}, found {found:?}")]
    BadMagic {
        file: &'static str,
        expected: &'static str,
        found: String,
    },
    #[error("{file}: unsupported version {version} (supported: {supported})")]
    UnsupportedVersion {
        file: &'static str,
        version: u32,
        supported: &'static str,
    },
    #[error("{file}: truncated {what}: needs {needed} bytes, {available} available")]
    Truncated {
        file: &'static str,
        what: String,
        needed: u64,
        available: u64,
    },
    #[error("{file}: section {section} is missing")]
    MissingSection { file: &'static str, section: u32 },
    #[error("{file}: section {section} appears more than once")]
    DuplicateSection { file: &'static str, section: u32 },
    #[error("{file}: section {section} has {got} bytes, expected {expected}")]
    SectionSize {
        file: &'static str,
        section: u32,
        expected: u64,
        got: u64,
    },
    #[error("{file}: not BN254 ({what}); this prover supports circom's bn128 curve only")]
    WrongCurve { file: &'static str, what: String },
    #[error("zkey: protocol {0} is not Groth16 (1)")]
    NotGroth16(u32),
    #[error("{file}: {what}")]
    InvalidHeader { file: &'static str, what: String },
    #[error("{file}: {what} #{index} is not a canonical field element")]
    NonCanonical {
        file: &'static str,
        what: &'static str,
        index: usize,
    },
    #[error("{file}: {what} #{index} is not on the curve")]
    NotOnCurve {
        file: &'static str,
        what: &'static str,
        index: usize,
    },
    #[error("zkey: coefficient #{index}: {what}")]
    BadCoefficient { index: usize, what: String },
    #[error("witness has {got} values but the circuit needs {expected}")]
    WitnessLength { expected: usize, got: usize },
    #[error("witness[0] must be 1 (the constant signal), found {0}")]
    WitnessConstant(String),
    #[error("{what}: {reason}")]
    InvalidJson { what: &'static str, reason: String },
    #[error("public input count mismatch: verification key expects {expected}, got {got}")]
    PublicInputCount { expected: usize, got: usize },
    #[error("{what}: {got} bytes, expected {expected}")]
    AbiLength {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("{what} is not a canonical field element (not below the modulus)")]
    AbiValue { what: String },
    #[error("the proof just produced does not verify: refusing to return it")]
    SelfCheckFailed,
    #[error(transparent)]
    Accel(#[from] kernels_accel::AccelError),
}

impl Groth16Error {
    /// True when the device failed rather than the input (see
    /// [`kernels_accel::AccelError::is_device_fault`]): the same proof may succeed on
    /// another backend.
    pub fn is_device_fault(&self) -> bool {
        matches!(self, Groth16Error::Accel(e) if e.is_device_fault())
    }

    /// True when the device had no memory for the work: a fault of its size, which a
    /// restart does not mend, unlike a driver error.
    pub fn is_out_of_device_memory(&self) -> bool {
        matches!(
            self,
            Groth16Error::Accel(kernels_accel::AccelError::OutOfDeviceMemory { .. })
        )
    }
}

pub type Result<T> = std::result::Result<T, Groth16Error>;
