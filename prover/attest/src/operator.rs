//! Signed operator requests: the control plane's authentication.
//!
//! The operator holds a secp256k1 key (made with `appliance operator key`, kept off the
//! box); the appliance knows only its address. Every control request carries
//!
//! - `X-Operator-Timestamp`: Unix time in milliseconds,
//! - `X-Operator-Signature`: `0x` + hex of the 65-byte EIP-191 signature over
//!   keccak256(METHOD "\n" PATH_AND_QUERY "\n" TIMESTAMP "\n" sha256(body)), and
//! - `X-Operator-Content-Sha256`: hex of sha256(body), required when the body is not empty.
//!
//! The body's hash travels in a header so that the signature is checked before the body
//! is read: a circuit upload may be gigabytes, and a request nobody signed must not hold
//! an upload slot (and the operator out) while it trickles in.
//!
//! The appliance refuses timestamps more than [`WINDOW_MS`] away from its clock and any
//! request digest it has accepted within the window, so a captured request cannot be
//! replayed, altered (method, path, query and body are all signed) or sent later. The
//! replay cache is keyed by the signed digest, not the signature bytes, so a malleated
//! signature of the same request is a replay too.

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::key::{keccak256, recover_eip191, EthKey};
use crate::AttestError;

pub const TIMESTAMP_HEADER: &str = "x-operator-timestamp";
pub const SIGNATURE_HEADER: &str = "x-operator-signature";
pub const CONTENT_HASH_HEADER: &str = "x-operator-content-sha256";
/// How far a request's timestamp may be from the appliance's clock, either way.
pub const WINDOW_MS: u64 = 60_000;

/// sha256 of a request body, as signed and as sent in [`CONTENT_HASH_HEADER`].
pub fn body_hash(body: &[u8]) -> [u8; 32] {
    Sha256::digest(body).into()
}

/// The digest an operator signs for one request.
pub fn request_digest(
    method: &str,
    path_and_query: &str,
    timestamp_ms: u64,
    body: &[u8],
) -> [u8; 32] {
    digest_for_body_hash(method, path_and_query, timestamp_ms, &body_hash(body))
}

fn digest_for_body_hash(
    method: &str,
    path_and_query: &str,
    timestamp_ms: u64,
    body_hash: &[u8; 32],
) -> [u8; 32] {
    let mut message = Vec::with_capacity(method.len() + path_and_query.len() + 64);
    message.extend_from_slice(method.to_ascii_uppercase().as_bytes());
    message.push(b'\n');
    message.extend_from_slice(path_and_query.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(timestamp_ms.to_string().as_bytes());
    message.push(b'\n');
    message.extend_from_slice(body_hash);
    keccak256(&message)
}

/// The body hash a request declares: its [`CONTENT_HASH_HEADER`], or the empty body's
/// hash when it has none.
pub fn declared_body_hash(header: Option<&str>) -> Result<[u8; 32], Refusal> {
    let Some(text) = header else {
        return Ok(body_hash(b""));
    };
    let bytes = hex::decode(text.trim().trim_start_matches("0x"))
        .map_err(|_| Refusal::Malformed(format!("{CONTENT_HASH_HEADER} is not hex")))?;
    bytes
        .try_into()
        .map_err(|_| Refusal::Malformed(format!("{CONTENT_HASH_HEADER} is not 32 bytes")))
}

/// The headers (name, value) that authorise one request signed at `timestamp_ms`.
pub fn sign_request(
    key: &EthKey,
    method: &str,
    path_and_query: &str,
    timestamp_ms: u64,
    body: &[u8],
) -> Result<Vec<(&'static str, String)>, AttestError> {
    let sig = key.sign_eip191(&request_digest(method, path_and_query, timestamp_ms, body))?;
    Ok(vec![
        (TIMESTAMP_HEADER, timestamp_ms.to_string()),
        (SIGNATURE_HEADER, format!("0x{}", hex::encode(sig))),
        (CONTENT_HASH_HEADER, hex::encode(body_hash(body))),
    ])
}

/// Why a control request was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    Missing,
    Malformed(String),
    OutsideWindow,
    WrongSigner,
    Replayed,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Missing => write!(
                f,
                "unsigned request: {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} are required"
            ),
            Refusal::Malformed(why) => write!(f, "malformed operator signature: {why}"),
            Refusal::OutsideWindow => write!(
                f,
                "operator timestamp is more than {} s from the appliance's clock",
                WINDOW_MS / 1000
            ),
            Refusal::WrongSigner => write!(f, "not signed by the operator key"),
            Refusal::Replayed => write!(f, "replayed request"),
        }
    }
}

/// Checks operator signatures and remembers accepted requests for the window.
pub struct OperatorGuard {
    address: [u8; 20],
    seen: Mutex<HashMap<[u8; 32], u64>>,
}

impl OperatorGuard {
    pub fn new(address: [u8; 20]) -> Self {
        Self {
            address,
            seen: Mutex::new(HashMap::new()),
        }
    }

    pub fn address(&self) -> [u8; 20] {
        self.address
    }

    /// Both headers present and well-formed, timestamp in the window.
    fn precheck(
        &self,
        timestamp: Option<&str>,
        signature: Option<&str>,
        now_ms: u64,
    ) -> Result<(u64, Vec<u8>), Refusal> {
        let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
            return Err(Refusal::Missing);
        };
        let ts: u64 = timestamp
            .trim()
            .parse()
            .map_err(|_| Refusal::Malformed("timestamp is not milliseconds".into()))?;
        if ts.abs_diff(now_ms) > WINDOW_MS {
            return Err(Refusal::OutsideWindow);
        }
        let sig = hex::decode(signature.trim().trim_start_matches("0x"))
            .map_err(|_| Refusal::Malformed("signature is not hex".into()))?;
        crate::key::signature_parts(&sig).map_err(|e| Refusal::Malformed(e.to_string()))?;
        Ok((ts, sig))
    }

    /// Checks one request whose body has sha256 `body_hash`: signed by the operator, fresh,
    /// not used yet. The caller reads the body, checks that it has that hash, and only then
    /// [`OperatorGuard::accept`]s it, so a request refused on the way (a busy upload slot,
    /// a body over the limit) does not use the signature up.
    pub fn check(
        &self,
        method: &str,
        path_and_query: &str,
        timestamp: Option<&str>,
        signature: Option<&str>,
        body_hash: &[u8; 32],
        now_ms: u64,
    ) -> Result<SignedRequest, Refusal> {
        let (ts, sig) = self.precheck(timestamp, signature, now_ms)?;
        let digest = digest_for_body_hash(method, path_and_query, ts, body_hash);
        let signer =
            recover_eip191(&digest, &sig).map_err(|e| Refusal::Malformed(e.to_string()))?;
        if signer != self.address {
            return Err(Refusal::WrongSigner);
        }
        let request = SignedRequest {
            digest,
            // Kept until the timestamp leaves the window: after that the window check refuses
            // it.
            expires: ts.saturating_add(WINDOW_MS),
        };
        match self.unexpired(now_ms).contains_key(&request.digest) {
            true => Err(Refusal::Replayed),
            false => Ok(request),
        }
    }

    /// Remembers a checked request as used; `Replayed` if it was accepted meanwhile.
    pub fn accept(&self, request: SignedRequest, now_ms: u64) -> Result<(), Refusal> {
        match self
            .unexpired(now_ms)
            .insert(request.digest, request.expires)
        {
            Some(_) => Err(Refusal::Replayed),
            None => Ok(()),
        }
    }

    /// The accepted requests, those past their window dropped.
    fn unexpired(&self, now_ms: u64) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], u64>> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.retain(|_, expires| *expires >= now_ms);
        seen
    }
}

/// A request [`OperatorGuard::check`] found signed, fresh and unused.
#[derive(Debug)]
pub struct SignedRequest {
    /// What the operator signed (and what identifies the request for the replay check).
    digest: [u8; 32],
    expires: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The values of the first two headers [`sign_request`] makes.
    fn timestamp_and_signature(
        key: &EthKey,
        method: &str,
        path: &str,
        now: u64,
        body: &[u8],
    ) -> (String, String) {
        let headers = sign_request(key, method, path, now, body).expect("sign");
        assert_eq!(headers[0].0, TIMESTAMP_HEADER);
        assert_eq!(headers[1].0, SIGNATURE_HEADER);
        (headers[0].1.clone(), headers[1].1.clone())
    }

    #[test]
    fn the_declared_body_hash_is_the_header_or_the_empty_bodys() {
        let headers = sign_request(&EthKey::generate(), "PUT", "/v1/x", 1, b"body").expect("sign");
        assert_eq!(headers[2].0, CONTENT_HASH_HEADER);
        assert_eq!(
            declared_body_hash(Some(&headers[2].1)),
            Ok(body_hash(b"body"))
        );
        assert_eq!(declared_body_hash(None), Ok(body_hash(b"")));
        for bad in ["zz", "00", &"00".repeat(33)] {
            assert!(matches!(
                declared_body_hash(Some(bad)),
                Err(Refusal::Malformed(_))
            ));
        }
    }

    #[test]
    fn signed_requests_pass_once_and_only_unaltered() {
        let key = EthKey::generate();
        let guard = OperatorGuard::new(key.address());
        let now = 1_700_000_000_000;
        let (ts, sig) = timestamp_and_signature(&key, "POST", "/v1/circuits", now, b"body");
        let check =
            |m: &str, p: &str, ts: Option<&str>, sig: Option<&str>, body: &[u8], at: u64| {
                guard
                    .check(m, p, ts, sig, &body_hash(body), at)
                    .and_then(|request| guard.accept(request, at))
            };
        assert_eq!(
            check("POST", "/v1/circuits", Some(&ts), Some(&sig), b"other", now),
            Err(Refusal::WrongSigner)
        );
        assert_eq!(
            check("PUT", "/v1/circuits", Some(&ts), Some(&sig), b"body", now),
            Err(Refusal::WrongSigner)
        );
        assert_eq!(
            check(
                "POST",
                "/v1/circuits?x",
                Some(&ts),
                Some(&sig),
                b"body",
                now
            ),
            Err(Refusal::WrongSigner)
        );
        assert_eq!(
            check(
                "POST",
                "/v1/circuits",
                Some(&ts),
                Some(&sig),
                b"body",
                now + WINDOW_MS + 1
            ),
            Err(Refusal::OutsideWindow)
        );
        assert_eq!(
            check("POST", "/v1/circuits", Some(&ts), None, b"body", now),
            Err(Refusal::Missing)
        );
        assert!(matches!(
            check(
                "POST",
                "/v1/circuits",
                Some("soon"),
                Some(&sig),
                b"body",
                now
            ),
            Err(Refusal::Malformed(_))
        ));
        assert_eq!(
            check(
                "POST",
                "/v1/circuits",
                Some(&ts),
                Some(&sig),
                b"body",
                now + 5
            ),
            Ok(())
        );
        assert_eq!(
            check(
                "POST",
                "/v1/circuits",
                Some(&ts),
                Some(&sig),
                b"body",
                now + 10
            ),
            Err(Refusal::Replayed)
        );
        // Two copies checked at once (both read their bodies): only one is accepted.
        let (ts3, sig3) = timestamp_and_signature(&key, "PUT", "/v1/x", now, b"y");
        let copies: Vec<SignedRequest> = (0..2)
            .map(|_| {
                guard
                    .check(
                        "PUT",
                        "/v1/x",
                        Some(&ts3),
                        Some(&sig3),
                        &body_hash(b"y"),
                        now,
                    )
                    .expect("signed, unused")
            })
            .collect();
        let accepted: Vec<_> = copies.into_iter().map(|r| guard.accept(r, now)).collect();
        assert_eq!(accepted, [Ok(()), Err(Refusal::Replayed)]);
        // Another key's signature of the same request.
        let (ts2, sig2) =
            timestamp_and_signature(&EthKey::generate(), "POST", "/v1/circuits", now, b"x");
        assert_eq!(
            check("POST", "/v1/circuits", Some(&ts2), Some(&sig2), b"x", now),
            Err(Refusal::WrongSigner)
        );
    }
}
