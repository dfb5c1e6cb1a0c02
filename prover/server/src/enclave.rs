//! The appliance's identity: its secp256k1 key, the attester that binds the key and the
//! build to a Nitro-format document, and the operator address control requests must be
//! signed by.

use std::path::{Path, PathBuf};

use prover_attest::operator::OperatorGuard;
use prover_attest::{Attester, BuildInfo, EthKey};

use crate::{Config, ServerError};

pub struct Enclave {
    pub key: EthKey,
    /// Where the key is kept; `None` inside a real enclave, where it lives in memory only.
    pub key_path: Option<PathBuf>,
    pub attester: Box<dyn Attester>,
    pub build_info: BuildInfo,
    pub operator: OperatorGuard,
    /// Set when the operator key was generated at this boot (the operator must collect it).
    pub generated_operator_key: Option<PathBuf>,
}

impl Enclave {
    /// Inside a Nitro enclave (NSM present) the key is made fresh per boot and never
    /// touches a disk: the attestation announces it. Elsewhere it persists in
    /// `<data_dir>/enclave.key` (0600) so registered markets keep one signer.
    pub fn open(config: &Config, build_info: BuildInfo) -> Result<Self, ServerError> {
        let attester = prover_attest::detect()?;
        let (key, key_path) = appliance_key(&config.data_dir, attester.is_hardware())?;
        if attester.is_hardware() && config.operator_address.is_none() {
            // An enclave has no disk the operator can reach: a generated key would be lost.
            return Err(ServerError::Config(
                "inside an enclave, set operator_address in the config (appliance operator key)"
                    .into(),
            ));
        }
        let (operator, generated_operator_key) = operator_address(config)?;
        Ok(Self {
            key,
            key_path,
            attester,
            build_info,
            operator: OperatorGuard::new(operator),
            generated_operator_key,
        })
    }

    /// A fresh attestation document binding the key and the build.
    pub fn attestation(&self) -> Result<Vec<u8>, ServerError> {
        Ok(self
            .attester
            .attest(&self.key.public_key(), &self.build_info.user_data(), None)?)
    }
}

/// The appliance key: made fresh in memory inside an enclave (`hardware`), else kept in
/// `<data_dir>/enclave.key` (0600, created at first boot).
pub fn appliance_key(
    data_dir: &Path,
    hardware: bool,
) -> Result<(EthKey, Option<PathBuf>), ServerError> {
    if hardware {
        return Ok((EthKey::generate(), None));
    }
    let path = data_dir.join("enclave.key");
    let (key, created) = EthKey::load_or_create(&path)?;
    if created {
        tracing::info!("generated the appliance key in {}", path.display());
    }
    Ok((key, Some(path)))
}

/// The configured operator address, else the one chosen at first boot, else a new
/// operator key generated now (returned so `serve` can tell the operator where it is).
fn operator_address(config: &Config) -> Result<([u8; 20], Option<PathBuf>), ServerError> {
    if let Some(a) = &config.operator_address {
        return Ok((prover_attest::key::parse_address(a)?, None));
    }
    let address_path = config.data_dir.join("operator_address");
    if let Ok(text) = std::fs::read_to_string(&address_path) {
        return Ok((prover_attest::key::parse_address(&text)?, None));
    }
    let key_path = operator_key_path(&config.data_dir);
    let (key, _) = EthKey::load_or_create(&key_path)?;
    let address = key.address();
    std::fs::write(
        &address_path,
        prover_attest::key::address_hex(&address) + "\n",
    )
    .map_err(|e| ServerError::Config(format!("{}: {e}", address_path.display())))?;
    tracing::warn!(
        "no operator_address configured: generated an operator key in {} (address {}); move it off the box",
        key_path.display(),
        prover_attest::key::address_hex(&address)
    );
    Ok((address, Some(key_path)))
}

/// Where a first-boot operator key is written.
pub fn operator_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("operator.key")
}
