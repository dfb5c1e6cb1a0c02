//! Groth16 for circom: read snarkjs `.zkey`, `.wtns` and `.r1cs` files, prove on any
//! [`kernels_accel::Accelerator`], verify, and speak snarkjs JSON, Solidity calldata and the
//! ABI encodings markets use. Only BN254 (circom's `bn128`) is supported; every reader
//! rejects other curves with a clear error.

mod binfile;
mod encode;
mod encoding;
mod error;
mod json;
mod matrix;
mod prover;
mod r1cs;
mod verifier;
mod wtns;
mod zkey;

pub use encode::{
    proof_from_abi, proof_to_abi, public_from_abi, public_to_abi, solidity_calldata, G2Order,
    PROOF_ABI_BYTES,
};
pub use error::{Groth16Error, Result};
pub use json::{
    proof_from_json, proof_to_json, public_from_json, public_to_json, verifying_key_from_json,
};
pub use prover::{check_witness, prove, prove_with_randomness, CircuitKey, PhaseTimings};
pub use r1cs::{LinearCombination, R1cs};
pub use verifier::{verify, Proof, VerifyingKey};
pub use wtns::{parse_wtns, read_wtns, write_wtns};
pub use zkey::{Coef, ProvingKey, ZkeyHeader};

/// The public signals of a witness: `witness[1..=n_public]` (index 0 is the constant 1).
pub fn public_signals(witness: &[ark_bn254::Fr], n_public: usize) -> Vec<ark_bn254::Fr> {
    witness.iter().skip(1).take(n_public).copied().collect()
}
