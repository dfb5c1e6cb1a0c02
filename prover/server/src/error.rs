use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use thiserror::Error;

/// Every failure of the service. Each maps to one HTTP status; the body is always JSON
/// `{"error": "..."}` and never carries internals (store or backend details are logged, not
/// returned).
#[derive(Debug, Error)]
pub enum ServerError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("job store: {0}")]
    Store(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("unknown circuit `{0}`")]
    UnknownCircuit(String),
    #[error("unknown market `{0}`")]
    UnknownMarket(String),
    #[error("no job {0}")]
    UnknownJob(u64),
    #[error("job {0} has not finished")]
    NotFinished(u64),
    /// A change that would break what is already served.
    #[error("{0}")]
    Conflict(String),
    #[error("job failed: {0}")]
    JobFailed(String),
    #[error("the queue is full ({0} unfinished jobs); retry later")]
    QueueFull(usize),
    /// Too much work of one kind already running or waiting (input checks); retry later.
    #[error("{0}")]
    Busy(String),
    #[error("the appliance is shutting down")]
    ShuttingDown,
    /// A control request without a valid, fresh operator signature.
    #[error("{0}")]
    Unauthorized(String),
    #[error("attestation: {0}")]
    Attest(#[from] prover_attest::AttestError),
    #[error("{0}")]
    Unsupported(String),
    /// Encrypted secrets this enclave cannot decrypt (another key, market or a damaged
    /// ciphertext). Not evidence that the ask's inputs are invalid, so never signed as such.
    #[error("the secrets could not be decrypted: {0}")]
    Undecryptable(String),
    #[error("circuit: {0}")]
    Circuit(#[from] prover_groth16::Groth16Error),
    #[error("witness: {0}")]
    Witness(#[from] prover_witness::WitnessError),
    #[error("backend: {0}")]
    Backend(#[from] kernels_accel::AccelError),
    /// A request the HTTP layer refused (malformed JSON, too large, bad query string).
    #[error("{1}")]
    Rejected(StatusCode, String),
    #[error("internal error")]
    Internal(String),
}

impl ServerError {
    pub fn status(&self) -> StatusCode {
        use ServerError::*;
        match self {
            // The device could not take the key (no memory, a driver error): the appliance's
            // failure, not the uploaded circuit's.
            Circuit(e) if e.is_device_fault() => StatusCode::SERVICE_UNAVAILABLE,
            BadRequest(_) | Undecryptable(_) | Witness(_) | Circuit(_) => StatusCode::BAD_REQUEST,
            UnknownCircuit(_) | UnknownMarket(_) | UnknownJob(_) => StatusCode::NOT_FOUND,
            NotFinished(_) | Conflict(_) => StatusCode::CONFLICT,
            JobFailed(_) | Unsupported(_) => StatusCode::UNPROCESSABLE_ENTITY,
            QueueFull(_) | Busy(_) => StatusCode::TOO_MANY_REQUESTS,
            ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Rejected(status, _) => *status,
            Config(_) | Store(_) | Backend(_) | Attest(_) | Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

impl IntoResponse for ServerError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = if status.is_server_error() && !matches!(self, ServerError::ShuttingDown) {
            tracing::error!("request failed: {self}");
            "internal error (see the appliance log)".to_string()
        } else {
            self.to_string()
        };
        let mut response = (status, Json(serde_json::json!({ "error": message }))).into_response();
        if matches!(
            self,
            ServerError::QueueFull(_) | ServerError::Busy(_) | ServerError::ShuttingDown
        ) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernels_accel::AccelError;
    use prover_groth16::Groth16Error;

    #[test]
    fn a_device_that_cannot_take_a_circuit_is_not_the_uploaders_fault() {
        let no_memory = ServerError::Circuit(Groth16Error::Accel(AccelError::OutOfDeviceMemory {
            backend: "cuda",
            device: "H100".into(),
            needed: 1 << 30,
            code: 2,
            message: "cuMemAllocAsync failed".into(),
        }));
        assert_eq!(no_memory.status(), StatusCode::SERVICE_UNAVAILABLE);
        let bad = ServerError::Circuit(Groth16Error::Accel(AccelError::InvalidInput("x".into())));
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    }
}
