//! Producing attestation documents: through the Nitro Secure Module inside an enclave,
//! otherwise through a development attester whose documents say plainly that no hardware
//! stands behind them (module id [`DEV_MODULE_ID`], all-zero PCRs, a self-signed P-384
//! chain made at start-up) and which [`verify`](crate::verify) refuses unless told to
//! accept development documents.

use std::str::FromStr;
use std::time::{Duration, SystemTime};

use ciborium::Value;
use coset::{iana, CborSerializable, CoseSign1Builder, HeaderBuilder};
use der::{Decode, Encode};
use p384::ecdsa::signature::Signer;
use p384::ecdsa::{DerSignature, Signature, SigningKey};
use spki::{EncodePublicKey, SubjectPublicKeyInfoOwned};
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};
use x509_cert::Certificate;

use crate::nitro::{check_length, DEV_MODULE_ID, PUBLIC_KEY_BYTES, USER_DATA_BYTES};
use crate::AttestError;

/// Something that makes attestation documents binding a public key and user data.
pub trait Attester: Send + Sync {
    /// A COSE_Sign1 document (Nitro format) carrying `public_key`, `user_data` and `nonce`.
    fn attest(
        &self,
        public_key: &[u8],
        user_data: &[u8],
        nonce: Option<&[u8]>,
    ) -> Result<Vec<u8>, AttestError>;
    /// Whether documents are signed by hardware (the NSM) rather than by this process.
    fn is_hardware(&self) -> bool;
    fn name(&self) -> &'static str;
}

/// The NSM device of a Nitro enclave.
pub const NSM_DEVICE: &str = "/dev/nsm";

/// The Nitro attester when `/dev/nsm` exists, else a fresh development attester.
pub fn detect() -> Result<Box<dyn Attester>, AttestError> {
    #[cfg(target_os = "linux")]
    if std::path::Path::new(NSM_DEVICE).exists() {
        return Ok(Box::new(NsmAttester));
    }
    Ok(Box::new(DevAttester::generate()?))
}

/// Documents from the Nitro Secure Module (`aws-nitro-enclaves-nsm-api`). Only works
/// inside a Nitro enclave; built everywhere on Linux so the same binary serves both.
#[cfg(target_os = "linux")]
pub struct NsmAttester;

#[cfg(target_os = "linux")]
impl Attester for NsmAttester {
    fn attest(
        &self,
        public_key: &[u8],
        user_data: &[u8],
        nonce: Option<&[u8]>,
    ) -> Result<Vec<u8>, AttestError> {
        use aws_nitro_enclaves_nsm_api::api::{Request, Response};
        use aws_nitro_enclaves_nsm_api::driver;
        use serde_bytes::ByteBuf;
        check_request(public_key, user_data, nonce)?;
        let fd = driver::nsm_init();
        if fd < 0 {
            return Err(AttestError::Nsm(format!("cannot open {NSM_DEVICE}")));
        }
        let response = driver::nsm_process_request(
            fd,
            Request::Attestation {
                public_key: Some(ByteBuf::from(public_key.to_vec())),
                user_data: Some(ByteBuf::from(user_data.to_vec())),
                nonce: nonce.map(|n| ByteBuf::from(n.to_vec())),
            },
        );
        driver::nsm_exit(fd);
        match response {
            Response::Attestation { document } => Ok(document),
            Response::Error(code) => Err(AttestError::Nsm(format!("{code:?}"))),
            _ => Err(AttestError::Nsm("unexpected response".into())),
        }
    }

    fn is_hardware(&self) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        "nitro"
    }
}

/// A self-signed development chain (root -> leaf, P-384) that signs documents in the
/// Nitro format. Made fresh per process: nothing about it is worth keeping.
pub struct DevAttester {
    root_der: Vec<u8>,
    leaf_der: Vec<u8>,
    leaf_key: SigningKey,
}

/// The time for a document: a clock before 1970 is an error, as a zero timestamp would
/// make a document that no verifier accepts.
fn now_ms() -> Result<u64, AttestError> {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .map_err(|_| AttestError::Encoding("the system clock is before 1970".into()))
}

/// The AWS specification's bounds on what a document carries (`nitro::parse_payload`
/// refuses documents beyond them): checked before asking for a document, so that a
/// caller learns why instead of getting a document nobody accepts.
fn check_request(
    public_key: &[u8],
    user_data: &[u8],
    nonce: Option<&[u8]>,
) -> Result<(), AttestError> {
    let within = |what: &str, len: usize, lengths| {
        check_length(len, lengths)
            .map_err(|why| AttestError::Encoding(format!("{what} for a document {why}")))
    };
    within("a public key", public_key.len(), PUBLIC_KEY_BYTES)?;
    within("user data", user_data.len(), USER_DATA_BYTES)?;
    within("a nonce", nonce.map_or(0, <[u8]>::len), USER_DATA_BYTES)
}

fn dev_err(e: impl std::fmt::Display) -> AttestError {
    AttestError::Key(format!("development chain: {e}"))
}

pub(crate) fn validity() -> Result<Validity, AttestError> {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_err(dev_err)?;
    let t = |d: Duration| {
        der::asn1::GeneralizedTime::from_unix_duration(d)
            .map(Time::GeneralTime)
            .map_err(dev_err)
    };
    Ok(Validity {
        not_before: t(now.saturating_sub(Duration::from_secs(3600)))?,
        not_after: t(now + Duration::from_secs(10 * 365 * 24 * 3600))?,
    })
}

pub(crate) fn spki_of(key: &SigningKey) -> Result<SubjectPublicKeyInfoOwned, AttestError> {
    let der = key.verifying_key().to_public_key_der().map_err(dev_err)?;
    SubjectPublicKeyInfoOwned::from_der(der.as_bytes()).map_err(dev_err)
}

impl DevAttester {
    pub fn generate() -> Result<Self, AttestError> {
        let mut rng = rand::rngs::OsRng;
        let root_key = SigningKey::random(&mut rng);
        let leaf_key = SigningKey::random(&mut rng);
        let root_name = Name::from_str("CN=appliance development root NOT HARDWARE,O=appliance")
            .map_err(dev_err)?;
        let leaf_name = Name::from_str("CN=appliance development leaf NOT HARDWARE,O=appliance")
            .map_err(dev_err)?;
        let root: Certificate = CertificateBuilder::new(
            Profile::Root,
            SerialNumber::from(1u32),
            validity()?,
            root_name.clone(),
            spki_of(&root_key)?,
            &root_key,
        )
        .map_err(dev_err)?
        .build::<DerSignature>()
        .map_err(dev_err)?;
        let leaf: Certificate = CertificateBuilder::new(
            Profile::Leaf {
                issuer: root_name,
                enable_key_agreement: false,
                enable_key_encipherment: false,
            },
            SerialNumber::from(2u32),
            validity()?,
            leaf_name,
            spki_of(&leaf_key)?,
            &root_key,
        )
        .map_err(dev_err)?
        .build::<DerSignature>()
        .map_err(dev_err)?;
        Ok(Self {
            root_der: root.to_der().map_err(dev_err)?,
            leaf_der: leaf.to_der().map_err(dev_err)?,
            leaf_key,
        })
    }

    /// The development root (DER): a verifier may pin it in tests.
    pub fn root_der(&self) -> &[u8] {
        &self.root_der
    }

    /// A document with an explicit timestamp (tests of the age check).
    pub fn attest_at(
        &self,
        timestamp_ms: u64,
        public_key: &[u8],
        user_data: &[u8],
        nonce: Option<&[u8]>,
    ) -> Result<Vec<u8>, AttestError> {
        check_request(public_key, user_data, nonce)?;
        let text = |s: &str| Value::Text(s.into());
        let pcrs = (0..16u8)
            .map(|i| (Value::Integer(i.into()), Value::Bytes(vec![0u8; 48])))
            .collect();
        let payload = Value::Map(vec![
            (text("module_id"), text(DEV_MODULE_ID)),
            (text("digest"), text("SHA384")),
            (text("timestamp"), Value::Integer(timestamp_ms.into())),
            (text("pcrs"), Value::Map(pcrs)),
            (text("certificate"), Value::Bytes(self.leaf_der.clone())),
            (
                text("cabundle"),
                Value::Array(vec![Value::Bytes(self.root_der.clone())]),
            ),
            (text("public_key"), Value::Bytes(public_key.to_vec())),
            (text("user_data"), Value::Bytes(user_data.to_vec())),
            (
                text("nonce"),
                nonce.map_or(Value::Null, |n| Value::Bytes(n.to_vec())),
            ),
        ]);
        let mut payload_bytes = Vec::new();
        ciborium::into_writer(&payload, &mut payload_bytes)
            .map_err(|e| AttestError::Encoding(e.to_string()))?;
        let sign1 = CoseSign1Builder::new()
            .protected(
                HeaderBuilder::new()
                    .algorithm(iana::Algorithm::ES384)
                    .build(),
            )
            .payload(payload_bytes)
            .try_create_signature(b"", |tbs| {
                self.leaf_key
                    .try_sign(tbs)
                    .map(|s: Signature| s.to_bytes().to_vec())
            })
            .map_err(|e| AttestError::Signature(e.to_string()))?
            .build();
        sign1
            .to_vec()
            .map_err(|e| AttestError::Encoding(e.to_string()))
    }
}

impl Attester for DevAttester {
    fn attest(
        &self,
        public_key: &[u8],
        user_data: &[u8],
        nonce: Option<&[u8]>,
    ) -> Result<Vec<u8>, AttestError> {
        self.attest_at(now_ms()?, public_key, user_data, nonce)
    }

    fn is_hardware(&self) -> bool {
        false
    }

    fn name(&self) -> &'static str {
        "development (NOT hardware-backed)"
    }
}
