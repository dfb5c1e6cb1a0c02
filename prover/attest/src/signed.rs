//! Results signed by the enclave key, in the forms Kalypso's contracts check.

use crate::abi;
use crate::key::{keccak256, recover_eip191, EthKey};
use crate::AttestError;

/// TEE-market proof: `abi.encode(bytes inputs, bytes proof, bytes sig)` with `sig` the
/// EIP-191 signature over keccak256(abi.encode(inputs, proof)).
pub fn tee_proof(key: &EthKey, inputs: &[u8], proof: &[u8]) -> Result<Vec<u8>, AttestError> {
    let hash = keccak256(&abi::encode_bytes(&[inputs, proof]));
    let sig = key.sign_eip191(&hash)?;
    Ok(abi::encode_bytes(&[inputs, proof, &sig]))
}

/// A TEE-market proof taken apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeeProof {
    pub inputs: Vec<u8>,
    pub proof: Vec<u8>,
    /// The address that signed (inputs, proof).
    pub signer: [u8; 20],
}

/// Splits a TEE-market proof and recovers its signer's address.
pub fn open_tee_proof(encoded: &[u8]) -> Result<TeeProof, AttestError> {
    let mut parts = abi::decode_bytes(encoded, 3)?;
    let sig = parts.pop().unwrap_or_default();
    let proof = parts.pop().unwrap_or_default();
    let inputs = parts.pop().unwrap_or_default();
    let hash = keccak256(&abi::encode_bytes(&[&inputs, &proof]));
    let signer = recover_eip191(&hash, &sig)?;
    Ok(TeeProof {
        inputs,
        proof,
        signer,
    })
}

/// keccak256(abi.encode(uint256 askId, bytes proverData)): what the invalid-input
/// signature covers.
pub fn invalid_input_hash(ask_id: &[u8; 32], prover_data: &[u8]) -> [u8; 32] {
    keccak256(&abi::encode_uint_bytes(ask_id, prover_data))
}

/// The signature `submitProofForInvalidInputs` takes for an ask whose inputs are invalid.
pub fn invalid_input_signature(
    key: &EthKey,
    ask_id: &[u8; 32],
    prover_data: &[u8],
) -> Result<[u8; 65], AttestError> {
    key.sign_eip191(&invalid_input_hash(ask_id, prover_data))
}
