//! Trust for the appliance's results: AWS Nitro Enclaves attestation documents (verify
//! them against the pinned AWS root; produce them through the NSM, or a clearly marked
//! development attester outside an enclave), the appliance's secp256k1 key that the
//! attestation binds, results signed with it in the forms Kalypso's contracts check, and
//! decryption of Kalypso's encrypted secrets with it.
//!
//! No cryptography is written here: COSE (coset), CBOR (ciborium), X.509 (x509-cert),
//! P-384 / secp256k1 ECDSA (p384, k256), AES-GCM, HKDF, SHA-2/Keccak are RustCrypto's.

pub mod abi;
pub mod build_info;
mod error;
pub mod key;
pub mod nitro;
pub mod operator;
pub mod produce;
pub mod secrets;
pub mod signed;
pub mod u256;

pub use build_info::BuildInfo;
pub use error::AttestError;
pub use key::EthKey;
pub use nitro::{verify, Attestation, VerifyOptions, DEV_MODULE_ID};
pub use produce::{detect, Attester, DevAttester};
pub use u256::U256;
