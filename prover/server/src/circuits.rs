//! Circuits the appliance can prove, each with its key resident in the backend and its
//! witness generator compiled once.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use ark_bn254::{Bn254, Fr};
use kernels_accel::Accelerator;
use prover_groth16::{CircuitKey, ProvingKey};
use prover_witness::WitnessCalculator;

use crate::ServerError;

pub struct Circuit {
    pub id: String,
    pub key: CircuitKey,
    pub witness: WitnessCalculator,
}

impl Circuit {
    pub fn load(
        backend: &dyn Accelerator<Bn254>,
        id: &str,
        zkey: &[u8],
        wasm: &[u8],
    ) -> Result<Self, ServerError> {
        let pk = ProvingKey::from_bytes(zkey)?;
        let witness = WitnessCalculator::from_bytes(wasm)?;
        if witness.witness_size() != pk.header.n_vars {
            return Err(ServerError::BadRequest(format!(
                "the wasm computes {} signals but the zkey has {}: they are not the same circuit",
                witness.witness_size(),
                pk.header.n_vars
            )));
        }
        Ok(Self {
            id: id.to_string(),
            key: CircuitKey::load(backend, pk)?,
            witness,
        })
    }

    pub fn n_public(&self) -> usize {
        self.key.header.n_public
    }

    /// The witness for an input JSON.
    pub fn witness_from_json(&self, json: &str) -> Result<Vec<Fr>, ServerError> {
        Ok(self.witness.calculate_json(json)?)
    }
}

/// Circuit ids are path components in the data directory: keep them boring.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[derive(Default)]
pub struct Circuits {
    map: RwLock<HashMap<String, Arc<Circuit>>>,
}

impl Circuits {
    pub fn get(&self, id: &str) -> Result<Arc<Circuit>, ServerError> {
        self.map
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
            .ok_or_else(|| ServerError::UnknownCircuit(id.to_string()))
    }

    pub fn insert(&self, circuit: Circuit) {
        self.map
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(circuit.id.clone(), Arc::new(circuit));
    }

    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .map
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect();
        ids.sort();
        ids
    }
}

/// Circuits registered over the API live in `<data_dir>/circuits/<id>/`.
pub fn stored_dir(data_dir: &Path, id: &str) -> std::path::PathBuf {
    data_dir.join("circuits").join(id)
}
