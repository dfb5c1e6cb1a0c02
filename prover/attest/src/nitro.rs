//! Verifying AWS Nitro Enclaves attestation documents.
//!
//! A document is a COSE_Sign1 (untagged, as the NSM returns it, or with CBOR tag 18)
//! `[protected {1: -35 (ES384)}, unprotected {}, payload, signature (r||s, 96 bytes)]`
//! whose payload is a CBOR map: `module_id, digest, timestamp (ms), pcrs {index: bytes},
//! certificate (DER leaf), cabundle [root, .., last intermediate], public_key, user_data,
//! nonce`. Trust comes only from the pinned root: the chain must start at it, every
//! certificate must be signed by the one before and be valid at the document's own
//! timestamp (leaf certificates live about three hours, so "now" would reject every
//! document older than that), and the leaf's key must verify the COSE signature.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use ciborium::Value;
use coset::{iana, CborSerializable, CoseSign1, RegisteredLabel, TaggedCborSerializable};
use der::asn1::ObjectIdentifier;
use der::{Decode, DecodePem, Encode};
use p384::ecdsa::signature::Verifier;
use p384::ecdsa::{Signature, VerifyingKey};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sha3::Keccak256;
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage};
use x509_cert::Certificate;

use crate::AttestError;

/// The AWS Nitro Enclaves root certificate (a copy of `shared/fixtures/nitro/aws.cert`,
/// SHA-256 fingerprint 641A0321...8F79BB5B).
pub const AWS_ROOT_PEM: &[u8] = include_bytes!("aws_root.pem");

/// `module_id` of documents made by the development attester: says plainly that no
/// hardware stands behind them.
pub const DEV_MODULE_ID: &str = "appliance-dev-NOT-HARDWARE";

const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");

/// A limit on documents: real ones are about 4.5 KiB.
const MAX_DOCUMENT_BYTES: usize = 64 << 10;

/// The AWS root as DER.
pub fn aws_root_der() -> Result<Vec<u8>, AttestError> {
    let cert = Certificate::from_pem(AWS_ROOT_PEM)
        .map_err(|e| AttestError::cert(0, format!("pinned root: {e}")))?;
    cert.to_der()
        .map_err(|e| AttestError::cert(0, format!("pinned root: {e}")))
}

/// What to check beyond the signature chain.
#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    /// DER of the root the chain must start at; `None`: the AWS Nitro root.
    pub root_der: Option<Vec<u8>>,
    /// Refuse documents older than this relative to `now_ms`.
    pub max_age_ms: Option<u64>,
    /// "Now" for the age check, in Unix milliseconds; `None`: the system clock.
    pub now_ms: Option<u64>,
    /// PCRs that must have exactly these values (hardware documents only: on a
    /// development document any expected PCR is an error).
    pub expected_pcrs: BTreeMap<u16, Vec<u8>>,
    /// Accept documents of the development attester (self-signed chain, module id
    /// [`DEV_MODULE_ID`]). They prove nothing about hardware; tests and local runs only.
    pub allow_dev: bool,
}

/// A verified document's contents.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Attestation {
    pub module_id: String,
    pub digest: String,
    pub timestamp_ms: u64,
    #[serde(serialize_with = "hex_map")]
    pub pcrs: BTreeMap<u16, Vec<u8>>,
    #[serde(serialize_with = "hex_opt")]
    pub public_key: Option<Vec<u8>>,
    #[serde(serialize_with = "hex_opt")]
    pub user_data: Option<Vec<u8>>,
    #[serde(serialize_with = "hex_opt")]
    pub nonce: Option<Vec<u8>>,
    /// Oyster's image id: sha256(be_u32(bitmask of PCRs 0,1,2,16) || PCR0 || PCR1 || PCR2 || PCR16).
    #[serde(serialize_with = "hex_bytes")]
    pub image_id_oyster: [u8; 32],
    /// Kalypso's image id: keccak256(PCR0 || PCR1 || PCR2).
    #[serde(serialize_with = "hex_bytes")]
    pub image_id_kalypso: [u8; 32],
    /// True when the chain starts at the pinned root (AWS's, unless the caller pinned
    /// another) and the document is not a development one.
    pub hardware: bool,
}

fn hex_bytes<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(b))
}

fn hex_opt<S: serde::Serializer>(b: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    match b {
        Some(b) => s.serialize_str(&hex::encode(b)),
        None => s.serialize_none(),
    }
}

fn hex_map<S: serde::Serializer>(m: &BTreeMap<u16, Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(m.len()))?;
    for (k, v) in m {
        map.serialize_entry(&k.to_string(), &hex::encode(v))?;
    }
    map.end()
}

/// Absent PCRs count as 48 zero bytes in the image ids (PCR16 is unset in most enclaves).
fn pcr_or_zero(pcrs: &BTreeMap<u16, Vec<u8>>, i: u16) -> Vec<u8> {
    pcrs.get(&i).cloned().unwrap_or_else(|| vec![0u8; 48])
}

/// Oyster's image id over PCRs 0, 1, 2 and 16.
pub fn image_id_oyster(pcrs: &BTreeMap<u16, Vec<u8>>) -> [u8; 32] {
    let bitmask: u32 = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 16);
    let mut h = Sha256::new();
    h.update(bitmask.to_be_bytes());
    for i in [0, 1, 2, 16] {
        h.update(pcr_or_zero(pcrs, i));
    }
    h.finalize().into()
}

/// Kalypso's image id over PCRs 0, 1 and 2.
pub fn image_id_kalypso(pcrs: &BTreeMap<u16, Vec<u8>>) -> [u8; 32] {
    let mut h = Keccak256::new();
    for i in [0, 1, 2] {
        h.update(pcr_or_zero(pcrs, i));
    }
    h.finalize().into()
}

/// The payload fields, as parsed (nothing verified yet).
struct Payload {
    module_id: String,
    digest: String,
    timestamp_ms: u64,
    pcrs: BTreeMap<u16, Vec<u8>>,
    certificate: Vec<u8>,
    cabundle: Vec<Vec<u8>>,
    public_key: Option<Vec<u8>>,
    user_data: Option<Vec<u8>>,
    nonce: Option<Vec<u8>>,
}

fn malformed(s: impl Into<String>) -> AttestError {
    AttestError::Malformed(s.into())
}

fn bytes_field(v: Value, name: &str) -> Result<Vec<u8>, AttestError> {
    match v {
        Value::Bytes(b) => Ok(b),
        _ => Err(malformed(format!("`{name}` is not a byte string"))),
    }
}

/// Lengths the AWS specification allows ("Check content"): of a DER certificate (its `cert`
/// type), of `public_key`, and of `user_data` and `nonce`. The attesters (produce.rs) check
/// a request against the same ones, so that they never make a document refused here.
pub(crate) const CERT_BYTES: RangeInclusive<usize> = 1..=1024;
pub(crate) const PUBLIC_KEY_BYTES: RangeInclusive<usize> = 1..=1024;
pub(crate) const USER_DATA_BYTES: RangeInclusive<usize> = 0..=512;

/// `Err` says how `len` bytes miss `lengths`.
pub(crate) fn check_length(len: usize, lengths: RangeInclusive<usize>) -> Result<(), String> {
    if lengths.contains(&len) {
        return Ok(());
    }
    Err(format!(
        "has {len} bytes ({} to {} allowed)",
        lengths.start(),
        lengths.end()
    ))
}

/// A byte string of `lengths` bytes.
fn bounded_bytes(
    v: Value,
    name: &str,
    lengths: RangeInclusive<usize>,
) -> Result<Vec<u8>, AttestError> {
    let b = bytes_field(v, name)?;
    check_length(b.len(), lengths).map_err(|why| malformed(format!("`{name}` {why}")))?;
    Ok(b)
}

/// An optional field: absent or null (real NSM documents carry null for a field the
/// enclave did not supply), else a byte string of `lengths`.
fn optional_bytes(
    v: Option<Value>,
    name: &str,
    lengths: RangeInclusive<usize>,
) -> Result<Option<Vec<u8>>, AttestError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => bounded_bytes(v, name, lengths).map(Some),
    }
}

fn parse_payload(bytes: &[u8]) -> Result<Payload, AttestError> {
    let mut rest = bytes;
    let value: Value =
        ciborium::from_reader(&mut rest).map_err(|e| malformed(format!("payload CBOR: {e}")))?;
    // The signed payload is one map: bytes after it are not part of any field.
    if !rest.is_empty() {
        return Err(malformed(format!(
            "{} bytes after the payload map",
            rest.len()
        )));
    }
    let Value::Map(entries) = value else {
        return Err(malformed("payload is not a CBOR map"));
    };
    let mut fields: BTreeMap<String, Value> = BTreeMap::new();
    for (k, v) in entries {
        let Value::Text(k) = k else {
            return Err(malformed("payload map key is not text"));
        };
        if fields.insert(k.clone(), v).is_some() {
            return Err(malformed(format!("payload key `{k}` appears twice")));
        }
    }
    let mut take = |name: &str| fields.remove(name);
    let required = |v: Option<Value>, name: &str| {
        v.ok_or_else(|| malformed(format!("payload lacks `{name}`")))
    };
    let module_id = match required(take("module_id"), "module_id")? {
        Value::Text(s) if !s.is_empty() => s,
        _ => return Err(malformed("`module_id` is not a non-empty text string")),
    };
    // The NSM measures with SHA-384 only, and says so here: the PCR values depend on it.
    let digest = match required(take("digest"), "digest")? {
        Value::Text(s) if s == "SHA384" => s,
        Value::Text(s) => return Err(malformed(format!("`digest` is `{s}`, not SHA384"))),
        _ => return Err(malformed("`digest` is not a text string")),
    };
    let timestamp_ms = match required(take("timestamp"), "timestamp")? {
        Value::Integer(i) => u64::try_from(i)
            .ok()
            .filter(|t| *t > 0)
            .ok_or_else(|| malformed("`timestamp` is not a positive 64-bit integer"))?,
        _ => return Err(malformed("`timestamp` is not an integer")),
    };
    let mut pcrs = BTreeMap::new();
    match required(take("pcrs"), "pcrs")? {
        Value::Map(m) => {
            for (k, v) in m {
                let index = match k {
                    Value::Integer(i) => u16::try_from(i)
                        .ok()
                        .filter(|i| *i < 32)
                        .ok_or_else(|| malformed("PCR index out of range 0..32"))?,
                    _ => return Err(malformed("PCR index is not an integer")),
                };
                let value = bytes_field(v, "pcrs")?;
                if ![32, 48, 64].contains(&value.len()) {
                    return Err(malformed(format!(
                        "PCR{index} has {} bytes (32, 48 or 64 expected)",
                        value.len()
                    )));
                }
                if pcrs.insert(index, value).is_some() {
                    return Err(malformed(format!("PCR{index} appears twice")));
                }
            }
        }
        _ => return Err(malformed("`pcrs` is not a map")),
    }
    if pcrs.is_empty() {
        return Err(malformed("`pcrs` is empty"));
    }
    let certificate = bounded_bytes(
        required(take("certificate"), "certificate")?,
        "certificate",
        CERT_BYTES,
    )?;
    let cabundle = match required(take("cabundle"), "cabundle")? {
        Value::Array(a) if !a.is_empty() => a
            .into_iter()
            .map(|v| bounded_bytes(v, "cabundle", CERT_BYTES))
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err(malformed("`cabundle` is not a non-empty array")),
    };
    Ok(Payload {
        module_id,
        digest,
        timestamp_ms,
        pcrs,
        certificate,
        cabundle,
        public_key: optional_bytes(take("public_key"), "public_key", PUBLIC_KEY_BYTES)?,
        user_data: optional_bytes(take("user_data"), "user_data", USER_DATA_BYTES)?,
        nonce: optional_bytes(take("nonce"), "nonce", USER_DATA_BYTES)?,
    })
}

/// Parses the COSE envelope: ES384 in the protected header, no critical header we do not
/// understand, a payload and a 96-byte signature.
fn parse_envelope(document: &[u8]) -> Result<CoseSign1, AttestError> {
    if document.is_empty() {
        return Err(malformed("empty document"));
    }
    if document.len() > MAX_DOCUMENT_BYTES {
        return Err(malformed(format!(
            "{} bytes, more than the {MAX_DOCUMENT_BYTES} accepted",
            document.len()
        )));
    }
    // 0xd2 is CBOR tag 18 (COSE_Sign1), d8 12 the same tag in its one-byte-argument form;
    // the NSM itself returns the untagged array.
    let sign1 = if document[0] == 0xd2 || document.starts_with(&[0xd8, 0x12]) {
        CoseSign1::from_tagged_slice(document)
    } else {
        CoseSign1::from_slice(document)
    }
    .map_err(|e| malformed(format!("COSE_Sign1: {e}")))?;
    let header = &sign1.protected.header;
    match &header.alg {
        Some(coset::Algorithm::Assigned(iana::Algorithm::ES384)) => {}
        Some(other) => return Err(AttestError::Algorithm(format!("{other:?}"))),
        None => {
            return Err(AttestError::Algorithm(
                "none in the protected header".into(),
            ))
        }
    }
    // Unprotected `alg` must not contradict the protected one.
    if let Some(alg) = &sign1.unprotected.alg {
        if *alg != coset::Algorithm::Assigned(iana::Algorithm::ES384) {
            return Err(AttestError::Algorithm(format!("unprotected {alg:?}")));
        }
    }
    for label in &header.crit {
        // `alg` is the only header parameter whose meaning we apply.
        if *label != RegisteredLabel::Assigned(iana::HeaderParameter::Alg) {
            return Err(AttestError::CriticalHeader(format!("{label:?}")));
        }
    }
    if sign1.signature.len() != 96 {
        return Err(AttestError::Malformed(format!(
            "ES384 signature has {} bytes, 96 expected",
            sign1.signature.len()
        )));
    }
    Ok(sign1)
}

/// A parsed certificate with its P-384 key.
struct ChainCert {
    cert: Certificate,
    key: VerifyingKey,
}

fn parse_cert(index: usize, der: &[u8]) -> Result<ChainCert, AttestError> {
    let cert = Certificate::from_der(der).map_err(|e| AttestError::cert(index, e.to_string()))?;
    // RFC 5280 4.2: a critical extension the verifier does not process makes the
    // certificate unusable. This verifier processes basicConstraints and keyUsage.
    for ext in cert.tbs_certificate.extensions.iter().flatten() {
        let id = ext.extn_id.to_string();
        if ext.critical && id != BASIC_CONSTRAINTS && id != KEY_USAGE {
            return Err(AttestError::cert(
                index,
                format!("unknown critical extension {id}"),
            ));
        }
    }
    let spki = &cert.tbs_certificate.subject_public_key_info;
    if spki.algorithm.oid != EC_PUBLIC_KEY {
        return Err(AttestError::cert(index, "public key is not an EC key"));
    }
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
    if curve != Some(SECP384R1) {
        return Err(AttestError::cert(index, "public key is not on P-384"));
    }
    let key = VerifyingKey::from_sec1_bytes(spki.subject_public_key.raw_bytes())
        .map_err(|e| AttestError::cert(index, format!("public key: {e}")))?;
    Ok(ChainCert { cert, key })
}

/// Checks that `issuer` signed `subject` with ecdsa-with-SHA384 and that the names chain.
fn check_signed_by(
    index: usize,
    subject: &ChainCert,
    issuer: &ChainCert,
) -> Result<(), AttestError> {
    let c = &subject.cert;
    if c.signature_algorithm.oid != ECDSA_WITH_SHA384
        || c.tbs_certificate.signature.oid != ECDSA_WITH_SHA384
    {
        return Err(AttestError::cert(
            index,
            "not signed with ecdsa-with-SHA384",
        ));
    }
    if c.tbs_certificate.issuer != issuer.cert.tbs_certificate.subject {
        return Err(AttestError::cert(
            index,
            "issuer name is not the previous certificate's subject",
        ));
    }
    let tbs = c
        .tbs_certificate
        .to_der()
        .map_err(|e| AttestError::cert(index, e.to_string()))?;
    let sig_bytes = c
        .signature
        .as_bytes()
        .ok_or_else(|| AttestError::cert(index, "signature bit string has unused bits"))?;
    let sig = Signature::from_der(sig_bytes)
        .map_err(|e| AttestError::cert(index, format!("signature: {e}")))?;
    issuer
        .key
        .verify(&tbs, &sig)
        .map_err(|_| AttestError::cert(index, "signature does not verify with its issuer's key"))
}

/// The extension `oid` of `cert`, decoded, if present.
fn extension<'a, T: der::Decode<'a>>(
    index: usize,
    cert: &'a Certificate,
    oid: &str,
    name: &str,
) -> Result<Option<T>, AttestError> {
    let oid = ObjectIdentifier::new_unwrap(oid);
    let Some(ext) = cert
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == oid)
    else {
        return Ok(None);
    };
    T::from_der(ext.extn_value.as_bytes())
        .map(Some)
        .map_err(|e| AttestError::cert(index, format!("{name}: {e}")))
}

const BASIC_CONSTRAINTS: &str = "2.5.29.19";
const KEY_USAGE: &str = "2.5.29.15";

/// Only certificate authorities may sign certificates (RFC 5280 4.2.1.9, 4.2.1.3): every
/// issuer in the chain must carry basicConstraints with cA = true, as the AWS root and
/// intermediates do, allow the `below` CA certificates that follow it before the leaf by its
/// pathLenConstraint, and, where it states a key usage, allow keyCertSign.
fn check_issuer(index: usize, cert: &Certificate, below: usize) -> Result<(), AttestError> {
    let bc: BasicConstraints = extension(index, cert, BASIC_CONSTRAINTS, "basicConstraints")?
        .ok_or_else(|| AttestError::cert(index, "issuer without basicConstraints"))?;
    if !bc.ca {
        return Err(AttestError::cert(
            index,
            "issuer is not a certificate authority",
        ));
    }
    if let Some(limit) = bc.path_len_constraint {
        if below > usize::from(limit) {
            return Err(AttestError::cert(
                index,
                format!("pathLenConstraint {limit} but {below} CA certificate(s) follow it"),
            ));
        }
    }
    check_key_usage(
        index,
        cert,
        KeyUsage::key_cert_sign,
        "issuer's keyUsage does not allow keyCertSign",
    )
}

/// Where `cert` states a key usage, it must allow what `allows` asks (an absent extension
/// allows everything, RFC 5280 4.2.1.3).
fn check_key_usage(
    index: usize,
    cert: &Certificate,
    allows: fn(&KeyUsage) -> bool,
    refusal: &str,
) -> Result<(), AttestError> {
    let usage: Option<KeyUsage> = extension(index, cert, KEY_USAGE, "keyUsage")?;
    if usage.is_some_and(|u| !allows(&u)) {
        return Err(AttestError::cert(index, refusal));
    }
    Ok(())
}

/// Certificate times are whole seconds, and notAfter is inclusive (RFC 5280 4.1.2.5): the
/// document's millisecond timestamp is compared at second resolution, so a document of
/// second s.999 is within a certificate valid through second s.
fn check_validity(index: usize, cert: &Certificate, at_ms: u64) -> Result<(), AttestError> {
    let v = &cert.tbs_certificate.validity;
    let not_before = v.not_before.to_unix_duration().as_secs();
    let not_after = v.not_after.to_unix_duration().as_secs();
    let at = at_ms / 1000;
    if at < not_before {
        return Err(AttestError::cert(
            index,
            format!("not yet valid at the document's timestamp ({at_ms} ms < {not_before} s)"),
        ));
    }
    if at > not_after {
        return Err(AttestError::cert(
            index,
            format!("expired at the document's timestamp ({at_ms} ms > {not_after} s)"),
        ));
    }
    Ok(())
}

fn system_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Verifies a document and returns its contents. Never panics, whatever the bytes.
pub fn verify(document: &[u8], options: &VerifyOptions) -> Result<Attestation, AttestError> {
    let sign1 = parse_envelope(document)?;
    let payload_bytes = sign1
        .payload
        .as_deref()
        .ok_or_else(|| malformed("detached payload"))?;
    let payload = parse_payload(payload_bytes)?;

    // The chain, root first: cabundle[0] .. cabundle[n-1], then the leaf.
    let mut ders: Vec<&[u8]> = payload.cabundle.iter().map(Vec::as_slice).collect();
    ders.push(&payload.certificate);
    let chain = ders
        .iter()
        .enumerate()
        .map(|(i, d)| parse_cert(i, d))
        .collect::<Result<Vec<_>, _>>()?;

    let pinned = match &options.root_der {
        Some(r) => r.clone(),
        None => aws_root_der()?,
    };
    // A development document is refused unless allowed, whatever root it names; any other
    // document must start at the pinned root.
    let dev = payload.module_id == DEV_MODULE_ID;
    let pinned_root = ders[0] == pinned.as_slice();
    if dev && !options.allow_dev {
        return Err(AttestError::Development);
    }
    if dev && !options.expected_pcrs.is_empty() {
        return Err(AttestError::DevelopmentPcrs);
    }
    if !dev && !pinned_root {
        return Err(AttestError::WrongRoot);
    }
    let hardware = pinned_root && !dev;

    // The root signs itself; each later certificate is signed by the one before it.
    check_signed_by(0, &chain[0], &chain[0])?;
    for i in 1..chain.len() {
        // CA certificates between the issuer and the leaf: chain[i..len-1].
        check_issuer(i - 1, &chain[i - 1].cert, chain.len() - 1 - i)?;
        check_signed_by(i, &chain[i], &chain[i - 1])?;
    }
    // The leaf signs the document.
    check_key_usage(
        chain.len() - 1,
        &chain[chain.len() - 1].cert,
        KeyUsage::digital_signature,
        "leaf keyUsage does not allow digitalSignature",
    )?;
    for (i, c) in chain.iter().enumerate() {
        check_validity(i, &c.cert, payload.timestamp_ms)?;
    }

    let leaf = &chain[chain.len() - 1];
    let signature =
        Signature::from_slice(&sign1.signature).map_err(|_| AttestError::DocumentSignature)?;
    let tbs = sign1.tbs_data(b"");
    leaf.key
        .verify(&tbs, &signature)
        .map_err(|_| AttestError::DocumentSignature)?;

    if let Some(max_age_ms) = options.max_age_ms {
        let now = options.now_ms.unwrap_or_else(system_now_ms);
        // A little clock skew between enclave and verifier is normal; more is not.
        if payload.timestamp_ms > now.saturating_add(60_000) {
            return Err(AttestError::FromTheFuture {
                ahead_ms: payload.timestamp_ms - now,
            });
        }
        let age_ms = now.saturating_sub(payload.timestamp_ms);
        if age_ms > max_age_ms {
            return Err(AttestError::TooOld { age_ms, max_age_ms });
        }
    }
    for (index, expected) in &options.expected_pcrs {
        let actual = payload.pcrs.get(index);
        if actual != Some(expected) {
            return Err(AttestError::PcrMismatch {
                index: *index,
                expected: hex::encode(expected),
                actual: actual.map_or("absent".into(), hex::encode),
            });
        }
    }

    Ok(Attestation {
        image_id_oyster: image_id_oyster(&payload.pcrs),
        image_id_kalypso: image_id_kalypso(&payload.pcrs),
        module_id: payload.module_id,
        digest: payload.digest,
        timestamp_ms: payload.timestamp_ms,
        pcrs: payload.pcrs,
        public_key: payload.public_key,
        user_data: payload.user_data,
        nonce: payload.nonce,
        hardware,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::produce::{spki_of, validity};
    use p384::ecdsa::{DerSignature, SigningKey};
    use std::str::FromStr;
    use x509_cert::builder::{Builder, CertificateBuilder, Profile};
    use x509_cert::name::Name;
    use x509_cert::serial_number::SerialNumber;

    fn cert(profile: Profile, subject: &str, key: &SigningKey) -> Certificate {
        CertificateBuilder::new(
            profile,
            SerialNumber::from(7u32),
            validity().expect("validity"),
            Name::from_str(subject).expect("name"),
            spki_of(key).expect("spki"),
            key,
        )
        .expect("builder")
        .build::<DerSignature>()
        .expect("certificate")
    }

    /// The issuer checks of RFC 5280 that a chain of valid signatures alone would not make:
    /// a leaf may not sign certificates, and a CA's pathLenConstraint bounds the CAs below it.
    #[test]
    fn issuers_must_be_cas_within_their_path_length() {
        let key = SigningKey::random(&mut rand::rngs::OsRng);
        let root_name = Name::from_str("CN=root").expect("name");
        let root = cert(Profile::Root, "CN=root", &key);
        let sub = cert(
            Profile::SubCA {
                issuer: root_name.clone(),
                path_len_constraint: Some(0),
            },
            "CN=sub",
            &key,
        );
        let leaf = cert(
            Profile::Leaf {
                issuer: root_name,
                enable_key_agreement: false,
                enable_key_encipherment: false,
            },
            "CN=leaf",
            &key,
        );
        assert!(check_issuer(0, &root, 3).is_ok());
        assert!(check_issuer(1, &sub, 0).is_ok());
        let err = check_issuer(1, &sub, 1).expect_err("a CA below a pathLen 0 CA");
        assert!(err.to_string().contains("pathLenConstraint 0"), "{err}");
        let err = check_issuer(2, &leaf, 0).expect_err("a leaf as issuer");
        assert!(
            err.to_string().contains("basicConstraints") || err.to_string().contains("not a"),
            "{err}"
        );
        let signs = KeyUsage::digital_signature;
        assert!(check_key_usage(2, &leaf, signs, "leaf").is_ok());
    }

    #[test]
    fn unknown_critical_extensions_are_refused_and_unknown_others_ignored() {
        use x509_cert::ext::Extension;
        let key = SigningKey::random(&mut rand::rngs::OsRng);
        let root = cert(Profile::Root, "CN=root", &key);
        assert!(parse_cert(0, &root.to_der().expect("der")).is_ok());
        for critical in [false, true] {
            let mut c = root.clone();
            c.tbs_certificate
                .extensions
                .get_or_insert_with(Vec::new)
                .push(Extension {
                    extn_id: ObjectIdentifier::new_unwrap("1.3.6.1.4.1.99999.1"),
                    critical,
                    extn_value: der::asn1::OctetString::new(vec![5, 0]).expect("octets"),
                });
            let parsed = parse_cert(0, &c.to_der().expect("der"));
            match critical {
                false => assert!(parsed.is_ok()),
                true => {
                    let err = parsed.err().expect("refused").to_string();
                    assert!(err.contains("1.3.6.1.4.1.99999.1"), "{err}");
                }
            }
        }
    }

    #[test]
    fn validity_is_checked_at_the_resolution_of_certificate_times() {
        let key = SigningKey::random(&mut rand::rngs::OsRng);
        let root = cert(Profile::Root, "CN=root", &key);
        let v = &root.tbs_certificate.validity;
        let not_before = v.not_before.to_unix_duration().as_secs() * 1000;
        let not_after = v.not_after.to_unix_duration().as_secs() * 1000;
        assert!(check_validity(0, &root, not_before).is_ok());
        assert!(check_validity(0, &root, not_before - 1).is_err());
        // notAfter is inclusive to the end of its second.
        assert!(check_validity(0, &root, not_after + 999).is_ok());
        assert!(check_validity(0, &root, not_after + 1000).is_err());
    }

    /// A payload map with the given `digest`, followed by `trailing` bytes.
    fn payload(digest: &str, trailing: &[u8]) -> Vec<u8> {
        payload_with(digest, &[], trailing)
    }

    /// [`payload`] with the fields of `replace` added or replaced.
    fn payload_with(digest: &str, replace: &[(&str, Value)], trailing: &[u8]) -> Vec<u8> {
        let text = |s: &str| Value::Text(s.into());
        let mut entries = vec![
            (text("module_id"), text("i-0123")),
            (text("digest"), text(digest)),
            (
                text("timestamp"),
                Value::Integer(1_734_075_478_960u64.into()),
            ),
            (
                text("pcrs"),
                Value::Map(vec![(Value::Integer(0.into()), Value::Bytes(vec![0; 48]))]),
            ),
            (text("certificate"), Value::Bytes(vec![1])),
            (text("cabundle"), Value::Array(vec![Value::Bytes(vec![2])])),
            (text("user_data"), Value::Null),
        ];
        for (name, value) in replace {
            entries.retain(|(k, _)| k != &text(name));
            entries.push((text(name), value.clone()));
        }
        let mut out = Vec::new();
        ciborium::into_writer(&Value::Map(entries), &mut out).expect("cbor");
        out.extend_from_slice(trailing);
        out
    }

    #[test]
    fn payloads_use_sha384_and_end_with_their_map() {
        let p = parse_payload(&payload("SHA384", &[])).expect("valid");
        assert_eq!((p.digest.as_str(), p.user_data), ("SHA384", None));
        let err = parse_payload(&payload("SHA256", &[]))
            .err()
            .expect("digest");
        assert!(err.to_string().contains("SHA256"), "{err}");
        let err = parse_payload(&payload("SHA384", &[0x00]))
            .err()
            .expect("trailing");
        assert!(err.to_string().contains("after the payload"), "{err}");
    }

    /// The bounds of the AWS specification's "Check content", each at its edge: the
    /// largest allowed value parses, one byte more (or an empty map, a zero time) does not.
    #[test]
    fn payload_fields_are_held_to_the_specifications_bounds() {
        let bytes = |n: usize| Value::Bytes(vec![7; n]);
        let within = [
            ("user_data", bytes(512)),
            ("nonce", bytes(512)),
            ("nonce", bytes(0)),
            ("public_key", bytes(1024)),
            ("certificate", bytes(1024)),
            ("cabundle", Value::Array(vec![bytes(1024), bytes(1)])),
        ];
        for (name, value) in within {
            let doc = payload_with("SHA384", &[(name, value)], &[]);
            assert!(parse_payload(&doc).is_ok(), "{name} at its bound");
        }
        let beyond = [
            ("user_data", bytes(513)),
            ("nonce", bytes(513)),
            ("public_key", bytes(0)),
            ("public_key", bytes(1025)),
            ("certificate", bytes(0)),
            ("certificate", bytes(1025)),
            ("cabundle", Value::Array(vec![bytes(1), bytes(1025)])),
            ("cabundle", Value::Array(vec![bytes(0)])),
            ("pcrs", Value::Map(vec![])),
            ("timestamp", Value::Integer(0.into())),
        ];
        for (name, value) in beyond {
            let doc = payload_with("SHA384", &[(name, value)], &[]);
            let err = parse_payload(&doc).err().expect(name).to_string();
            assert!(err.contains(name), "{name}: {err}");
        }
    }
}
