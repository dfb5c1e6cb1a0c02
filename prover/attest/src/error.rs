use thiserror::Error;

/// Every failure of attestation, signing and secret handling. Each variant says why a
/// document or request was refused, so operators and tests can tell a tampered signature
/// from an expired certificate or a stale document.
#[derive(Debug, Error)]
pub enum AttestError {
    /// The bytes are not a COSE_Sign1 / Nitro attestation document.
    #[error("malformed attestation document: {0}")]
    Malformed(String),
    #[error("unsupported signature algorithm: {0} (only ES384 is accepted)")]
    Algorithm(String),
    #[error("unknown critical header parameter {0}")]
    CriticalHeader(String),
    #[error("the document signature does not verify with the leaf certificate's key")]
    DocumentSignature,
    /// A certificate of the chain is malformed, badly signed or not valid at the
    /// document's timestamp. `index` counts from the root (0) to the leaf.
    #[error("certificate {index} of the chain: {reason}")]
    Certificate { index: usize, reason: String },
    #[error("the chain does not start at the pinned root certificate")]
    WrongRoot,
    #[error("development (non-hardware) attestation refused; pass allow_dev to accept it")]
    Development,
    /// Development documents carry whatever PCRs their maker wrote (the development
    /// attester writes zeros): a match would prove nothing, so none is checked.
    #[error("expected PCRs cannot be checked on a development (non-hardware) attestation")]
    DevelopmentPcrs,
    #[error("the document is {age_ms} ms old, more than the allowed {max_age_ms} ms")]
    TooOld { age_ms: u64, max_age_ms: u64 },
    #[error("the document's timestamp is {ahead_ms} ms ahead of now")]
    FromTheFuture { ahead_ms: u64 },
    #[error("PCR{index} is {actual}, expected {expected}")]
    PcrMismatch {
        index: u16,
        expected: String,
        actual: String,
    },
    #[error("the Nitro Secure Module failed: {0}")]
    Nsm(String),
    #[error("key: {0}")]
    Key(String),
    #[error("signature: {0}")]
    Signature(String),
    #[error("cannot decrypt the secrets: {0}")]
    Decrypt(String),
    #[error("encoding: {0}")]
    Encoding(String),
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
}

impl AttestError {
    pub(crate) fn cert(index: usize, reason: impl Into<String>) -> Self {
        AttestError::Certificate {
            index,
            reason: reason.into(),
        }
    }

    pub(crate) fn io(path: &std::path::Path, e: impl std::fmt::Display) -> Self {
        AttestError::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        }
    }
}
