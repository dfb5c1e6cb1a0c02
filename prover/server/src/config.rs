//! `appliance.toml`: everything an operator can set, each with a default that works on a
//! fresh machine (embedded data directory, `auto` backend, the bundled sample circuit
//! served to market `1`).

use std::path::PathBuf;

use prover_groth16::G2Order;
use serde::{Deserialize, Serialize};

use crate::ServerError;

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on.
    pub listen: String,
    /// Where jobs, registered circuits and the operator token live.
    pub data_dir: PathBuf,
    /// auto | cpu | cuda | opencl | fpga.
    pub backend: String,
    /// Device index of a GPU or FPGA backend (see `appliance info --backend B --device N`).
    pub device: usize,
    /// CPU threads (0: every core).
    pub threads: usize,
    /// Ethereum address (0x + 40 hex) of the operator key that signs control requests
    /// (`appliance operator key` makes one). Default: at first boot a key is generated into
    /// `<data_dir>/operator.key` (mode 0600, move it off the box) and its address kept in
    /// `<data_dir>/operator_address`.
    pub operator_address: Option<String>,
    /// Accepted-but-unfinished jobs beyond which submissions get 429 + Retry-After.
    pub queue_capacity: usize,
    /// A job running longer than this fails (its worker thread is abandoned). If the device
    /// was proving it, the CPU fallback (when on) gets the same time again, and the device
    /// is kept from later jobs until that abandoned attempt returns.
    pub job_timeout_secs: u64,
    /// When a GPU or FPGA backend fails a proof with a device fault (a driver error, not
    /// bad input), or its proof fails the self-check, prove the job again on the CPU
    /// backend instead of failing it: slower, but a market job is not lost. The CPU loads
    /// a circuit's key on first need (the zkey is read again) and keeps it. A circuit
    /// whose key the device cannot hold is then served from the CPU instead of refused.
    pub cpu_fallback: bool,
    /// Largest request body on job and Kalypso routes.
    pub max_body_bytes: usize,
    /// Largest circuit upload (zkey + wasm) on `POST /v1/circuits`.
    pub max_upload_bytes: usize,
    /// Register the bundled sample circuit as `sample` and market `1`.
    pub bundled_sample: bool,
    /// The market served on `/api/...` when the request names none.
    pub default_market: Option<String>,
    pub circuits: Vec<CircuitConfig>,
    pub markets: Vec<MarketConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("appliance-data"),
            backend: "auto".into(),
            device: 0,
            threads: 0,
            operator_address: None,
            queue_capacity: 1024,
            job_timeout_secs: 600,
            cpu_fallback: true,
            max_body_bytes: 16 << 20,
            max_upload_bytes: 2 << 30,
            bundled_sample: true,
            default_market: None,
            circuits: Vec::new(),
            markets: Vec::new(),
        }
    }
}

/// A circuit loaded from files at start-up.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CircuitConfig {
    pub id: String,
    pub zkey: PathBuf,
    pub wasm: PathBuf,
}

/// How one Kalypso market's requests map onto a circuit.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MarketConfig {
    /// The market id (a uint256, in decimal).
    pub id: String,
    /// Circuit id (registered or configured).
    pub circuit: String,
    /// Names of the circuit's public *input* signals, in order: they take the last entries
    /// of `public` (abi.encode(uint[N]) of all N public signals, outputs first, as snarkjs
    /// orders them). `name[k]` is an array input of k elements.
    #[serde(default)]
    pub public_inputs: Vec<String>,
    /// G2 order of the ABI proof this market's verifier reads.
    #[serde(default)]
    pub g2_order: G2OrderConfig,
    /// Input JSON proved by `GET /api/benchmark` (default: the bundled sample's input for
    /// the sample circuit).
    #[serde(default)]
    pub benchmark_input: Option<String>,
    /// A TEE market: proofs are returned as abi.encode(bytes inputs, bytes proof, bytes
    /// sig), sig the enclave key's EIP-191 signature over keccak256(abi.encode(inputs,
    /// proof)), so the market's verifier checks the attested key instead of a SNARK.
    #[serde(default)]
    pub signed: bool,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum G2OrderConfig {
    #[default]
    ImaginaryFirst,
    RealFirst,
}

impl From<G2OrderConfig> for G2Order {
    fn from(o: G2OrderConfig) -> Self {
        match o {
            G2OrderConfig::ImaginaryFirst => G2Order::ImaginaryFirst,
            G2OrderConfig::RealFirst => G2Order::RealFirst,
        }
    }
}

impl Config {
    pub fn from_toml(text: &str) -> Result<Self, ServerError> {
        toml::from_str(text).map_err(|e| ServerError::Config(e.to_string()))
    }

    pub fn load(path: &std::path::Path) -> Result<Self, ServerError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ServerError::Config(format!("cannot read {}: {e}", path.display())))?;
        Self::from_toml(&text)
    }
}

/// Parses a `public_inputs` entry: `name` or `name[k]`.
pub(crate) fn parse_input_spec(spec: &str) -> Result<(String, usize), ServerError> {
    let bad = || {
        ServerError::Config(format!(
            "public input `{spec}`: expected `name` or `name[k]`"
        ))
    };
    match spec.split_once('[') {
        None if !spec.is_empty() => Ok((spec.to_string(), 1)),
        None => Err(bad()),
        Some((name, rest)) => {
            let k: usize = rest
                .strip_suffix(']')
                .and_then(|k| k.parse().ok())
                .ok_or_else(bad)?;
            if name.is_empty() || k == 0 {
                return Err(bad());
            }
            Ok((name.to_string(), k))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_toml() {
        let c = Config::from_toml(
            "listen = \"0.0.0.0:9000\"\n[[markets]]\nid = \"7\"\ncircuit = \"x\"\npublic_inputs = [\"c\", \"in[3]\"]\ng2_order = \"real-first\"\nsigned = true\n",
        )
        .expect("parses");
        assert_eq!(c.listen, "0.0.0.0:9000");
        assert_eq!(c.queue_capacity, 1024);
        assert_eq!(c.markets[0].g2_order, G2OrderConfig::RealFirst);
        assert!(c.markets[0].signed);
        assert!(Config::from_toml("operator_token = \"x\"").is_err());
        assert!(Config::from_toml("listen = 3").is_err());
        assert!(Config::from_toml("unknown_key = 1").is_err());
        assert_eq!(parse_input_spec("in[3]").expect("ok"), ("in".into(), 3));
        assert_eq!(parse_input_spec("c").expect("ok"), ("c".into(), 1));
        assert!(parse_input_spec("in[x]").is_err());
        assert!(parse_input_spec("in[0]").is_err());
    }
}
