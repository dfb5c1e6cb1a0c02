//! `.wtns` files: the format lives in `prover-groth16` (which reads witnesses for proving);
//! this crate re-exports its writer and wraps its reader in [`WitnessError`].

use ark_bn254::Fr;
use ark_ff::PrimeField;

use crate::error::{Result, WitnessError};

/// Serialises a witness exactly as snarkjs does (byte-identical to `generate_witness.js`).
pub use prover_groth16::write_wtns;

/// Reads a `.wtns` (v2, BN254) into field elements.
pub fn read_wtns(bytes: &[u8]) -> Result<Vec<Fr>> {
    prover_groth16::parse_wtns(bytes).map_err(|e| WitnessError::InvalidWtns(e.to_string()))
}

/// A canonical little-endian scalar (as the wasm writes them), or `None` if not below `r`.
pub(crate) fn fr_from_le_canonical(bytes: &[u8]) -> Option<Fr> {
    let mut limbs = [0u64; 4];
    for (limb, chunk) in limbs.iter_mut().zip(bytes.chunks_exact(8)) {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        *limb = u64::from_le_bytes(b);
    }
    Fr::from_bigint(ark_ff::BigInt(limbs))
}
