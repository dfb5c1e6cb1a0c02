//! Circuits the appliance can prove, each with its key resident in the backend and its
//! witness generator compiled once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use ark_bn254::{Bn254, Fr};
use kernels_accel::Accelerator;
use prover_groth16::{CircuitKey, ProvingKey};
use prover_witness::{Limits, WitnessCalculator};

use crate::jobs::Fallback;
use crate::ServerError;

/// Where a circuit's zkey can be read again. A key resident on a GPU keeps no host copy
/// of its points, so the CPU fallback (jobs.rs) loads its own key from here, on first need.
#[derive(Clone, Debug)]
pub enum ZkeySource {
    /// Compiled into the binary (the bundled sample).
    Static(&'static [u8]),
    /// A file: configured, or registered over the API into the data directory.
    File(PathBuf),
}

pub struct Circuit {
    pub id: String,
    /// In the main backend, or in the fallback's when it did not fit there
    /// (`on_fallback`).
    pub key: Arc<CircuitKey>,
    pub witness: WitnessCalculator,
    /// Why the key is in the fallback backend (the device could not hold it): every job
    /// of the circuit then runs there. `None`: in the main backend.
    pub on_fallback: Option<String>,
    source: ZkeySource,
    /// The key resident in the fallback backend, once a job needed it.
    fallback_key: Mutex<Option<Arc<CircuitKey>>>,
}

impl Circuit {
    /// `zkey` is the content of `source`, already read by the caller. A key the device
    /// cannot hold (a device fault while loading it) goes to `fallback` when there is one.
    pub fn load(
        backend: &dyn Accelerator<Bn254>,
        fallback: Option<&Fallback>,
        id: &str,
        zkey: &[u8],
        source: ZkeySource,
        wasm: &[u8],
    ) -> Result<Self, ServerError> {
        let pk = ProvingKey::from_bytes(zkey)?;
        let limits = Limits::for_constraints(pk.header.domain_size as u64);
        let witness = WitnessCalculator::with_limits(wasm, limits)?;
        if witness.witness_size() != pk.header.n_vars {
            return Err(ServerError::BadRequest(format!(
                "the wasm computes {} signals but the zkey has {}: they are not the same circuit",
                witness.witness_size(),
                pk.header.n_vars
            )));
        }
        let (key, on_fallback) = match (CircuitKey::load(backend, pk), fallback) {
            (Ok(key), _) => (key, None),
            (Err(e), Some(fallback)) if e.is_device_fault() => {
                let reason = format!("the circuit's key is on the CPU: {e}");
                tracing::warn!("circuit {id}: {reason}");
                let cpu = fallback.backend().map_err(ServerError::Config)?;
                // The first parse went into the failed load.
                let pk = ProvingKey::from_bytes(zkey)?;
                (CircuitKey::load(&*cpu, pk)?, Some(reason))
            }
            (Err(e), _) => return Err(e.into()),
        };
        let key = Arc::new(key);
        let fallback_key = Mutex::new(on_fallback.as_ref().map(|_| Arc::clone(&key)));
        Ok(Self {
            id: id.to_string(),
            key,
            witness,
            on_fallback,
            source,
            fallback_key,
        })
    }

    /// The key resident in `fallback` (always the same backend), loaded from the zkey's
    /// source on the first call. A zkey file replaced since the circuit was loaded is
    /// refused: its proofs would not verify against this circuit's key.
    pub fn fallback_key(
        &self,
        fallback: &dyn Accelerator<Bn254>,
    ) -> Result<Arc<CircuitKey>, ServerError> {
        let mut slot = self.fallback_key.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(key) = slot.as_ref() {
            return Ok(Arc::clone(key));
        }
        let bytes = match &self.source {
            ZkeySource::Static(b) => std::borrow::Cow::Borrowed(*b),
            ZkeySource::File(path) => std::fs::read(path)
                .map(std::borrow::Cow::Owned)
                .map_err(|e| ServerError::Config(format!("{}: {e}", path.display())))?,
        };
        let key = CircuitKey::load(fallback, ProvingKey::from_bytes(&bytes)?)?;
        if key.vk != self.key.vk {
            return Err(ServerError::Config(format!(
                "circuit {}: its zkey changed since it was loaded",
                self.id
            )));
        }
        let key = Arc::new(key);
        *slot = Some(Arc::clone(&key));
        Ok(key)
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
    stored_root(data_dir).join(id)
}

/// The folder of every registered circuit (and of a registration's staging).
pub fn stored_root(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("circuits")
}

/// Where a registration writes before it replaces `<id>/`, and where the replaced one waits
/// to be removed. A leading dot is no valid id, so neither is ever loaded as a circuit.
fn staging_dirs(data_dir: &Path, id: &str) -> (PathBuf, PathBuf) {
    let root = stored_root(data_dir);
    (
        root.join(format!(".new-{id}")),
        root.join(format!(".old-{id}")),
    )
}

/// Stores a registered circuit's files as `<id>/`, replacing what was there as a whole: a
/// failed write (a full disk) leaves the previous pair, and a crash leaves one pair or the
/// other ([`tidy_stored`] finishes the swap at the next start), never a new key beside an
/// old wasm, which would not load. Callers serialise registrations of one id.
pub fn replace_stored(
    data_dir: &Path,
    id: &str,
    zkey: &[u8],
    wasm: &[u8],
) -> Result<(), ServerError> {
    let dir = stored_dir(data_dir, id);
    let (new, old) = staging_dirs(data_dir, id);
    let failed = |what: &Path, e: std::io::Error| {
        ServerError::Store(format!("storing circuit {id}: {}: {e}", what.display()))
    };
    let _ = std::fs::remove_dir_all(&new);
    std::fs::create_dir_all(&new).map_err(|e| failed(&new, e))?;
    for (name, bytes) in [("circuit.zkey", zkey), ("circuit.wasm", wasm)] {
        let path = new.join(name);
        std::fs::File::create(&path)
            .and_then(|mut f| {
                std::io::Write::write_all(&mut f, bytes)?;
                f.sync_all()
            })
            .map_err(|e| {
                let _ = std::fs::remove_dir_all(&new);
                failed(&path, e)
            })?;
    }
    let _ = std::fs::remove_dir_all(&old);
    let replacing = dir.exists();
    if replacing {
        std::fs::rename(&dir, &old).map_err(|e| failed(&dir, e))?;
    }
    if let Err(e) = std::fs::rename(&new, &dir) {
        // Put the previous pair back: the circuit served reads its key from there.
        if replacing {
            let _ = std::fs::rename(&old, &dir);
        }
        let _ = std::fs::remove_dir_all(&new);
        return Err(failed(&dir, e));
    }
    // The renames themselves are durable only once their directory is synced.
    let root = stored_root(data_dir);
    std::fs::File::open(&root)
        .and_then(|d| d.sync_all())
        .map_err(|e| failed(&root, e))?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

/// Finishes what a registration interrupted by a crash left in `<data_dir>/circuits/`:
/// a replaced pair whose replacement never arrived is put back, and staging is removed.
pub fn tidy_stored(data_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(stored_root(data_dir)) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let path = entry.path();
        if let Some(id) = name.strip_prefix(".old-") {
            let dir = stored_dir(data_dir, id);
            if dir.exists() {
                let _ = std::fs::remove_dir_all(&path);
            } else {
                match std::fs::rename(&path, &dir) {
                    Ok(()) => tracing::warn!(
                        "circuit {id}: a registration did not finish; the previous files stay"
                    ),
                    Err(e) => tracing::error!("circuit {id}: {}: {e}", path.display()),
                }
            }
        } else if name.starts_with(".new-") {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(dir: &Path, name: &str) -> Option<Vec<u8>> {
        std::fs::read(dir.join(name)).ok()
    }

    #[test]
    fn a_registration_replaces_both_files_and_a_crash_keeps_one_pair() {
        let data = std::env::temp_dir().join(format!("circuits-stored-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data);
        let dir = stored_dir(&data, "c");
        replace_stored(&data, "c", b"zkey 1", b"wasm 1").expect("first");
        replace_stored(&data, "c", b"zkey 2", b"wasm 2").expect("replaced");
        assert_eq!(read(&dir, "circuit.zkey").as_deref(), Some(&b"zkey 2"[..]));
        assert_eq!(read(&dir, "circuit.wasm").as_deref(), Some(&b"wasm 2"[..]));
        let names = |root: &Path| -> Vec<String> {
            let mut n: Vec<String> = std::fs::read_dir(root)
                .expect("dir")
                .flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect();
            n.sort();
            n
        };
        assert_eq!(names(&data.join("circuits")), ["c"], "no staging left");

        // A crash between the two renames: `c` moved aside, the new pair still staged.
        let (new, old) = staging_dirs(&data, "c");
        std::fs::rename(&dir, &old).expect("aside");
        std::fs::create_dir_all(&new).expect("staged");
        std::fs::write(new.join("circuit.zkey"), b"zkey 3").expect("half written");
        // And one after them, for another id: its previous pair was not yet removed.
        replace_stored(&data, "d", b"zkey d", b"wasm d").expect("d");
        let (_, old_d) = staging_dirs(&data, "d");
        std::fs::create_dir_all(&old_d).expect("old d");
        tidy_stored(&data);
        assert_eq!(names(&data.join("circuits")), ["c", "d"]);
        assert_eq!(read(&dir, "circuit.zkey").as_deref(), Some(&b"zkey 2"[..]));
        assert_eq!(read(&dir, "circuit.wasm").as_deref(), Some(&b"wasm 2"[..]));
        let d = stored_dir(&data, "d");
        assert_eq!(read(&d, "circuit.zkey").as_deref(), Some(&b"zkey d"[..]));
        let _ = std::fs::remove_dir_all(&data);
    }
}
