//! Kalypso's encrypted secrets.
//!
//! The requester picks a random AES-256 key, encrypts the zlib-compressed secret inputs
//! with AES-256-GCM (`iv(12) || ciphertext || tag(16)`, AAD = the market id as minimal
//! big-endian bytes) into `encrypted_data`, and wraps the key for the prover's secp256k1
//! key into `acl` with ECIES as the `ecies` crate (v0.2, used by kalypso-unified's
//! `secret_inputs_helpers.rs`) does it: `ephemeral public key (65, uncompressed) ||
//! nonce(16) || tag(16) || ciphertext`, AES-256-GCM with a 16-byte nonce, key =
//! HKDF-SHA256(ikm = ephemeral key (65) || shared point (65, uncompressed), no salt, no
//! info).
//!
//! Decrypted secrets live in [`Zeroizing`] buffers and are never logged or stored.

use std::io::Read;

use aes_gcm::aead::consts::U16;
use aes_gcm::aead::{Aead, AeadInPlace, KeyInit, Payload};
use aes_gcm::aes::Aes256;
use aes_gcm::{Aes256Gcm, AesGcm, Nonce};
use hkdf::Hkdf;
use k256::elliptic_curve::sec1::ToEncodedPoint;
use k256::{PublicKey, SecretKey};
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::key::EthKey;
use crate::AttestError;

/// The `ecies` crate's AES-GCM: 16-byte nonces.
type EciesAes = AesGcm<Aes256, U16>;

/// Decompressed secrets larger than this are refused (a zlib bomb must not exhaust memory).
pub const MAX_SECRET_BYTES: u64 = 64 << 20;

fn err(s: impl Into<String>) -> AttestError {
    AttestError::Decrypt(s.into())
}

fn ecies_key(
    ephemeral: &PublicKey,
    shared: &PublicKey,
) -> Result<Zeroizing<[u8; 32]>, AttestError> {
    let mut ikm = Zeroizing::new(Vec::with_capacity(130));
    ikm.extend_from_slice(ephemeral.to_encoded_point(false).as_bytes());
    ikm.extend_from_slice(shared.to_encoded_point(false).as_bytes());
    let mut key = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(None, &ikm)
        .expand(&[], key.as_mut())
        .map_err(|_| err("HKDF"))?;
    Ok(key)
}

fn shared_point(public: &PublicKey, secret: &SecretKey) -> Result<PublicKey, AttestError> {
    let point = (public.to_projective() * *secret.to_nonzero_scalar()).to_affine();
    PublicKey::from_affine(point).map_err(|_| err("ECDH gave the point at infinity"))
}

/// ECIES-decrypts `message` with the secret key of `key`.
pub fn ecies_decrypt(key: &EthKey, message: &[u8]) -> Result<Zeroizing<Vec<u8>>, AttestError> {
    if message.len() < 65 + 16 + 16 {
        return Err(err(format!(
            "ECIES message of {} bytes is too short",
            message.len()
        )));
    }
    if message[0] != 0x04 {
        return Err(err("ECIES ephemeral key is not an uncompressed point"));
    }
    let ephemeral = PublicKey::from_sec1_bytes(&message[..65])
        .map_err(|_| err("ECIES ephemeral key is not on secp256k1"))?;
    let aes_key = ecies_key(&ephemeral, &shared_point(&ephemeral, &key.secret())?)?;
    let nonce = &message[65..81];
    let tag = &message[81..97];
    let mut buffer = Zeroizing::new(message[97..].to_vec());
    EciesAes::new(aes_gcm::Key::<EciesAes>::from_slice(aes_key.as_ref()))
        .decrypt_in_place_detached(
            aes_gcm::Nonce::<U16>::from_slice(nonce),
            b"",
            &mut buffer,
            aes_gcm::Tag::from_slice(tag),
        )
        .map_err(|_| err("ECIES: wrong key or tampered acl"))?;
    Ok(buffer)
}

/// ECIES-encrypts `message` for the 64-byte (x || y) or SEC1 public key `receiver`.
pub fn ecies_encrypt(receiver: &[u8], message: &[u8]) -> Result<Vec<u8>, AttestError> {
    let receiver = parse_public_key(receiver)?;
    let ephemeral = SecretKey::random(&mut rand::rngs::OsRng);
    let ephemeral_public = ephemeral.public_key();
    let aes_key = ecies_key(&ephemeral_public, &shared_point(&receiver, &ephemeral)?)?;
    let mut nonce = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let mut buffer = message.to_vec();
    let tag = EciesAes::new(aes_gcm::Key::<EciesAes>::from_slice(aes_key.as_ref()))
        .encrypt_in_place_detached(aes_gcm::Nonce::<U16>::from_slice(&nonce), b"", &mut buffer)
        .map_err(|_| err("ECIES encryption"))?;
    let mut out = ephemeral_public.to_encoded_point(false).as_bytes().to_vec();
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&tag);
    out.extend_from_slice(&buffer);
    Ok(out)
}

fn parse_public_key(bytes: &[u8]) -> Result<PublicKey, AttestError> {
    let sec1 = if bytes.len() == 64 {
        [&[0x04u8][..], bytes].concat()
    } else {
        bytes.to_vec()
    };
    PublicKey::from_sec1_bytes(&sec1).map_err(|_| err("not a secp256k1 public key"))
}

/// AES-256-GCM decryption of `iv(12) || ciphertext || tag(16)` with `aad`.
pub fn aes_gcm_decrypt(
    key: &[u8],
    data: &[u8],
    aad: &[u8],
) -> Result<Zeroizing<Vec<u8>>, AttestError> {
    if key.len() != 32 {
        return Err(err(format!("AES key of {} bytes, 32 expected", key.len())));
    }
    if data.len() < 12 + 16 {
        return Err(err(format!(
            "encrypted data of {} bytes is too short",
            data.len()
        )));
    }
    Aes256Gcm::new(aes_gcm::Key::<Aes256Gcm>::from_slice(key))
        .decrypt(
            Nonce::from_slice(&data[..12]),
            Payload {
                msg: &data[12..],
                aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| err("AES-GCM: wrong key, wrong market id or tampered data"))
}

/// AES-256-GCM encryption to `iv(12) || ciphertext || tag(16)` with a random iv.
pub fn aes_gcm_encrypt(
    key: &[u8; 32],
    plaintext: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, AttestError> {
    let mut iv = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut iv);
    let sealed = Aes256Gcm::new(aes_gcm::Key::<Aes256Gcm>::from_slice(key))
        .encrypt(
            Nonce::from_slice(&iv),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| err("AES-GCM encryption"))?;
    Ok([&iv[..], &sealed].concat())
}

/// Unwraps the key from `acl`, decrypts `encrypted_data` for `market_id` (minimal
/// big-endian bytes) and inflates it: the plaintext secret inputs.
pub fn decrypt_secrets(
    key: &EthKey,
    encrypted_data: &[u8],
    acl: &[u8],
    market_id_be: &[u8],
) -> Result<Zeroizing<Vec<u8>>, AttestError> {
    let aes_key = ecies_decrypt(key, acl)?;
    let compressed = aes_gcm_decrypt(&aes_key, encrypted_data, market_id_be)?;
    let mut out = Zeroizing::new(Vec::new());
    flate2::read::ZlibDecoder::new(compressed.as_slice())
        .take(MAX_SECRET_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| err(format!("zlib: {e}")))?;
    if out.len() as u64 > MAX_SECRET_BYTES {
        return Err(err(format!(
            "secrets inflate beyond {MAX_SECRET_BYTES} bytes"
        )));
    }
    Ok(out)
}

/// The requester's side: what Kalypso's SDK sends as `EncryptedSecrets` for `receiver`
/// (the attested 64-byte public key). Returns (encrypted_data, acl).
pub fn encrypt_secrets(
    receiver: &[u8],
    plaintext: &[u8],
    market_id_be: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), AttestError> {
    use std::io::Write;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(plaintext)
        .map_err(|e| AttestError::Encoding(e.to_string()))?;
    let compressed = z
        .finish()
        .map_err(|e| AttestError::Encoding(e.to_string()))?;
    let mut aes_key = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(aes_key.as_mut());
    let encrypted_data = aes_gcm_encrypt(&aes_key, &compressed, market_id_be)?;
    let acl = ecies_encrypt(receiver, aes_key.as_ref())?;
    Ok((encrypted_data, acl))
}
