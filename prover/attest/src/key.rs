//! The appliance's secp256k1 key: it signs results (EIP-191, as Ethereum contracts
//! recover them) and unwraps encrypted secrets (ECIES); its public key is bound into every
//! attestation document, so whoever trusts the document trusts what the key signs.
//!
//! Outside an enclave the key is generated at first boot and kept in the data directory
//! (mode 0600). Inside a real enclave there is no persistent disk: the key would be
//! generated per boot and live only in enclave memory, and the attestation is what
//! announces the new key to the market.

use std::io::Write;
use std::path::Path;

use k256::ecdsa::{RecoveryId, Signature, SigningKey, VerifyingKey};
use sha3::{Digest, Keccak256};
use zeroize::Zeroizing;

use crate::AttestError;

pub fn keccak256(data: &[u8]) -> [u8; 32] {
    Keccak256::digest(data).into()
}

/// keccak256("\x19Ethereum Signed Message:\n" || len(message) || message): what
/// `personal_sign` signs (EIP-191 version 0x45).
pub fn eip191_message_digest(message: &[u8]) -> [u8; 32] {
    let mut h = Keccak256::new();
    h.update(b"\x19Ethereum Signed Message:\n");
    h.update(message.len().to_string().as_bytes());
    h.update(message);
    h.finalize().into()
}

/// The EIP-191 digest of a 32-byte hash, as OpenZeppelin's
/// `MessageHashUtils.toEthSignedMessageHash(bytes32)` computes it on chain.
pub fn eip191_digest(hash: &[u8; 32]) -> [u8; 32] {
    eip191_message_digest(hash)
}

/// The Ethereum address of a 64-byte uncompressed public key (x || y).
pub fn address_of(public_key: &[u8; 64]) -> [u8; 20] {
    let h = keccak256(public_key);
    let mut a = [0u8; 20];
    a.copy_from_slice(&h[12..]);
    a
}

/// `0x`-prefixed EIP-55 is not needed by any consumer here: lower-case hex.
pub fn address_hex(address: &[u8; 20]) -> String {
    format!("0x{}", hex::encode(address))
}

/// Parses `0x`-prefixed (or bare) 20-byte hex.
pub fn parse_address(s: &str) -> Result<[u8; 20], AttestError> {
    let bytes = hex::decode(s.trim().trim_start_matches("0x"))
        .map_err(|e| AttestError::Key(format!("address `{s}`: {e}")))?;
    bytes
        .try_into()
        .map_err(|_| AttestError::Key(format!("address `{s}` is not 20 bytes")))
}

fn public_key_64(key: &VerifyingKey) -> [u8; 64] {
    let point = key.to_encoded_point(false);
    let mut out = [0u8; 64];
    // Uncompressed SEC1 is 0x04 || x || y.
    out.copy_from_slice(&point.as_bytes()[1..65]);
    out
}

/// Recovers the signer's address of a 65-byte r || s || v signature (v 27/28, or 0/1)
/// over `hash` as EIP-191 signs it. High-s signatures are refused (EIP-2), so one
/// message has one valid signature.
pub fn recover_eip191(hash: &[u8; 32], signature: &[u8]) -> Result<[u8; 20], AttestError> {
    let (sig, v) = signature_parts(signature)?;
    let recid = RecoveryId::from_byte(v).ok_or_else(|| AttestError::Signature("bad v".into()))?;
    let key = VerifyingKey::recover_from_prehash(&eip191_digest(hash), &sig, recid)
        .map_err(|e| AttestError::Signature(e.to_string()))?;
    Ok(address_of(&public_key_64(&key)))
}

/// The (r, s) signature and recovery bit of a 65-byte `r || s || v` signature, refusing
/// what no recovery could accept (another length, v outside 0/1/27/28, r or s out of
/// range, high s). Also usable before the signed message is known, to refuse early.
pub fn signature_parts(signature: &[u8]) -> Result<(Signature, u8), AttestError> {
    if signature.len() != 65 {
        return Err(AttestError::Signature(format!(
            "{} bytes, 65 expected",
            signature.len()
        )));
    }
    let v = match signature[64] {
        27 | 28 => signature[64] - 27,
        0 | 1 => signature[64],
        v => return Err(AttestError::Signature(format!("v = {v}"))),
    };
    let sig = Signature::from_slice(&signature[..64])
        .map_err(|e| AttestError::Signature(e.to_string()))?;
    if sig.normalize_s().is_some() {
        return Err(AttestError::Signature("high-s signature".into()));
    }
    Ok((sig, v))
}

/// A secp256k1 signing key (the enclave key, or an operator's key).
pub struct EthKey {
    key: SigningKey,
}

impl std::fmt::Debug for EthKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EthKey({})", address_hex(&self.address()))
    }
}

impl EthKey {
    pub fn generate() -> Self {
        Self {
            key: SigningKey::random(&mut rand::rngs::OsRng),
        }
    }

    pub fn from_bytes(secret: &[u8]) -> Result<Self, AttestError> {
        SigningKey::from_slice(secret)
            .map(|key| Self { key })
            .map_err(|_| AttestError::Key("not a valid secp256k1 secret key".into()))
    }

    /// Reads a key file (64 hex digits, optionally `0x`-prefixed).
    pub fn load(path: &Path) -> Result<Self, AttestError> {
        let text =
            Zeroizing::new(std::fs::read_to_string(path).map_err(|e| AttestError::io(path, e))?);
        let bytes = Zeroizing::new(
            hex::decode(text.trim().trim_start_matches("0x"))
                .map_err(|e| AttestError::Key(format!("{}: {e}", path.display())))?,
        );
        Self::from_bytes(&bytes)
    }

    /// Writes the key as hex to a new file readable by its owner only (0600).
    pub fn save(&self, path: &Path) -> Result<(), AttestError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| AttestError::io(dir, e))?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(|e| AttestError::io(path, e))?;
        let text = Zeroizing::new(hex::encode(self.key.to_bytes()));
        file.write_all(text.as_bytes())
            .and_then(|_| file.sync_all())
            .map_err(|e| AttestError::io(path, e))
    }

    /// The key in `path`, or a new one saved there (mode 0600) when the file does not
    /// exist. Returns whether it was created.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), AttestError> {
        if path.exists() {
            return Ok((Self::load(path)?, false));
        }
        let key = Self::generate();
        key.save(path)?;
        Ok((key, true))
    }

    /// x || y, 64 bytes: the form Oyster puts in `public_key`.
    pub fn public_key(&self) -> [u8; 64] {
        public_key_64(self.key.verifying_key())
    }

    pub fn address(&self) -> [u8; 20] {
        address_of(&self.public_key())
    }

    /// EIP-191 signature over a 32-byte hash: r || s || v with v = 27 or 28, low s.
    pub fn sign_eip191(&self, hash: &[u8; 32]) -> Result<[u8; 65], AttestError> {
        self.sign_message(hash)
    }

    /// `personal_sign` of any message (RFC 6979 deterministic, as ethers and web3 sign).
    pub fn sign_message(&self, message: &[u8]) -> Result<[u8; 65], AttestError> {
        let (sig, recid) = self
            .key
            .sign_prehash_recoverable(&eip191_message_digest(message))
            .map_err(|e| AttestError::Signature(e.to_string()))?;
        let mut out = [0u8; 65];
        out[..64].copy_from_slice(&sig.to_bytes());
        out[64] = 27 + recid.to_byte();
        Ok(out)
    }

    /// The secret scalar, for ECIES decryption.
    pub(crate) fn secret(&self) -> k256::SecretKey {
        k256::SecretKey::from(self.key.as_nonzero_scalar())
    }
}
