//! The build facts bound into attestations: a verifier that knows which build it expects
//! compares sha256 of this canonical text with the document's `user_data`.

use serde::Serialize;
use sha2::{Digest, Sha256};

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct BuildInfo {
    pub version: String,
    pub kernel_source_sha256: String,
    /// Compiled backends, comma separated.
    pub backends: String,
}

impl BuildInfo {
    /// One line per fact, fixed order, so the hash is reproducible from `appliance info`.
    pub fn canonical(&self) -> String {
        format!(
            "appliance-build-info-v1\nversion={}\nkernel_source_sha256={}\nbackends={}\n",
            self.version, self.kernel_source_sha256, self.backends
        )
    }

    /// sha256 of [`canonical`](Self::canonical): the document's `user_data`.
    pub fn user_data(&self) -> [u8; 32] {
        Sha256::digest(self.canonical().as_bytes()).into()
    }
}
