use std::fmt;
use std::path::PathBuf;

/// Everything that can go wrong between an input JSON and a witness.
///
/// One enum for the whole crate so that a server can map each case to a client error (bad
/// inputs, a failed circuit assertion) or an operator error (bad wasm, limits) without
/// string matching. Messages name the offending signal wherever it can be known.
#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("invalid input JSON: {0}")]
    InvalidJson(String),

    /// A value that snarkjs's `BigInt(...)` would reject, or a JSON number that would not be read
    /// exactly (see `parse_inputs`).
    #[error("input `{signal}`: cannot use {value} as a field element: {reason}")]
    InvalidValue {
        signal: String,
        value: String,
        reason: String,
    },

    /// snarkjs refuses arrays that mix JSON types (e.g. strings and numbers); so do we, so that an
    /// input accepted here is accepted there.
    #[error("input `{signal}`: array elements are not all of the same JSON type")]
    MixedTypes { signal: String },

    #[error("the circuit has no input signal `{signal}`")]
    UnknownSignal { signal: String },

    #[error("input signal `{signal}` takes {expected} value(s), got {got}")]
    WrongLength {
        signal: String,
        expected: usize,
        got: usize,
    },

    #[error("{}", MissingText { set: *set, expected: *expected, missing })]
    MissingInputs {
        set: u64,
        expected: u64,
        /// Names of the input signals that were not given, known only when a `.sym` file was
        /// supplied: the wasm exposes signal hashes, not names.
        missing: Option<Vec<String>>,
    },

    /// An `assert` or `===` failed while the wasm computed the witness: the inputs do not satisfy
    /// the circuit. `message` is circom's own text ("Error in template Num2Bits_0 line: 38 ...").
    #[error("circuit assertion failed: {}{}", message.trim_end(), LogText(log))]
    AssertFailed { message: String, log: Vec<String> },

    /// Any other circom runtime exception (codes 2, 3, 5, 6, 7 or unknown).
    #[error("circuit exception {code} ({description}){}{}", while_setting(signal), if message.is_empty() { String::new() } else { format!(": {}", message.trim_end()) })]
    CircuitException {
        code: i32,
        description: &'static str,
        signal: Option<String>,
        message: String,
    },

    #[error("witness computation used up its fuel bound of {limit} wasm instructions (see Limits::fuel)")]
    FuelExhausted { limit: u64 },

    #[error("witness wasm wanted more than its memory limit of {limit_bytes} bytes (see Limits::memory_bytes)")]
    OutOfMemory { limit_bytes: usize },

    #[error("witness wasm trapped: {0}")]
    Trap(String),

    /// The bytes are not a circom 2 witness wasm this crate can drive: not wasm, unknown imports,
    /// missing or mistyped exports, or nonsensical sizes.
    #[error("invalid witness wasm: {0}")]
    InvalidWasm(String),

    #[error("the circuit's field prime {found} is not the BN254 scalar field (compile with circom --prime bn128)")]
    WrongPrime { found: String },

    #[error("invalid .wtns file: {0}")]
    InvalidWtns(String),

    #[error("invalid .sym file: {0}")]
    InvalidSym(String),
}

impl WitnessError {
    /// The message without any input value or circuit log output, for callers whose inputs
    /// may be secret (Kalypso's private inputs) and whose errors are seen or kept by
    /// others: the signal, the check and the circom location still show.
    pub fn without_values(&self) -> String {
        match self {
            WitnessError::InvalidJson(_) => "invalid input JSON".into(),
            WitnessError::InvalidValue { signal, .. } => {
                format!("input `{signal}`: a value is not usable as a field element")
            }
            WitnessError::AssertFailed { message, .. } => {
                format!("circuit assertion failed: {}", message.trim_end())
            }
            WitnessError::CircuitException {
                code,
                description,
                signal,
                ..
            } => format!(
                "circuit exception {code} ({description}){}",
                while_setting(signal)
            ),
            WitnessError::Trap(_) => "witness wasm trapped".into(),
            other => other.to_string(),
        }
    }
}

/// " while setting `signal`" where the signal is known.
fn while_setting(signal: &Option<String>) -> String {
    signal
        .as_ref()
        .map(|s| format!(" while setting `{s}`"))
        .unwrap_or_default()
}

/// Shorthand used throughout the crate.
pub type Result<T, E = WitnessError> = std::result::Result<T, E>;

struct MissingText<'a> {
    set: u64,
    expected: u64,
    missing: &'a Option<Vec<String>>,
}

impl fmt::Display for MissingText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.expected.saturating_sub(self.set);
        write!(
            f,
            "not all inputs were given: {} of {} input values set, {n} missing",
            self.set, self.expected
        )?;
        match self.missing {
            Some(names) if !names.is_empty() => {
                write!(f, " (missing signals: {})", names.join(", "))
            }
            _ => write!(
                f,
                " (the wasm knows only their hashes; with the circuit's .sym file, e.g. `prove --sym`, they are named)"
            ),
        }
    }
}

struct LogText<'a>(&'a [String]);

impl fmt::Display for LogText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return Ok(());
        }
        write!(f, "\ncircuit log before the failure:")?;
        for line in self.0 {
            write!(f, "\n  {line}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_without_values_keep_the_signal_and_drop_values_and_logs() {
        let secret = "987654321987654321";
        let cases = [
            WitnessError::InvalidValue {
                signal: "main.key".into(),
                value: secret.into(),
                reason: format!("{secret} is negative"),
            },
            WitnessError::InvalidJson(format!("invalid type: string \"{secret}\"")),
            WitnessError::AssertFailed {
                message: "Error in template Num2Bits_0 line: 38\n".into(),
                log: vec![format!("key = {secret}")],
            },
            WitnessError::CircuitException {
                code: 7,
                description: "unknown",
                signal: Some("main.key".into()),
                message: format!("value {secret}"),
            },
            WitnessError::Trap(format!("at {secret}")),
        ];
        for e in &cases {
            assert!(e.to_string().contains(secret), "{e}");
            let clean = e.without_values();
            assert!(!clean.contains(secret), "{clean}");
            assert!(!clean.is_empty());
        }
        assert!(cases[0].without_values().contains("main.key"));
        assert!(cases[2].without_values().contains("Num2Bits_0 line: 38"));
    }
}
