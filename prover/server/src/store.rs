//! The persistent job store (redb, one file in the data directory). Every state change is a
//! committed transaction, so an accepted job survives `kill -9`; on start-up unfinished jobs
//! are queued again.

use std::path::Path;

use redb::{Database, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::ServerError;

const JOBS: TableDefinition<u64, &[u8]> = TableDefinition::new("jobs");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// Inputs apart from the records: written once, deleted when the job finishes, so state
/// updates do not rewrite (and fsync) a witness of megabytes each time.
const INPUTS: TableDefinition<u64, &[u8]> = TableDefinition::new("inputs");

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Done,
    Failed,
}

impl JobState {
    pub const ALL: [JobState; 4] = [
        JobState::Queued,
        JobState::Running,
        JobState::Done,
        JobState::Failed,
    ];

    pub fn name(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
        }
    }

    pub fn finished(self) -> bool {
        matches!(self, JobState::Done | JobState::Failed)
    }
}

/// What a job proves from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobInput {
    /// The circuit's input JSON (computed into a witness by the circuit's wasm).
    Json(String),
    /// A ready witness (`.wtns` bytes).
    Wtns(Vec<u8>),
}

impl JobInput {
    /// Stored form: a tag byte then the payload as it is (a witness is megabytes: no
    /// text encoding on the way to disk and back).
    fn to_bytes(&self) -> Vec<u8> {
        let (tag, payload) = match self {
            JobInput::Json(s) => (b'j', s.as_bytes()),
            JobInput::Wtns(b) => (b'w', b.as_slice()),
        };
        let mut out = Vec::with_capacity(1 + payload.len());
        out.push(tag);
        out.extend_from_slice(payload);
        out
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self, ServerError> {
        match bytes.split_first() {
            Some((b'j', rest)) => String::from_utf8(rest.to_vec())
                .map(JobInput::Json)
                .map_err(|e| ServerError::Store(format!("stored input: {e}"))),
            Some((b'w', rest)) => Ok(JobInput::Wtns(rest.to_vec())),
            _ => Err(ServerError::Store("stored input has an unknown tag".into())),
        }
    }
}

/// A finished proof, in snarkjs form (other encodings are derived on request).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ProofRecord {
    pub proof_json: String,
    /// Public signals in decimal.
    pub public: Vec<String>,
    pub prove_ms: f64,
    /// Why the CPU fallback made this proof: what the main backend's device failed with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JobRecord {
    pub id: u64,
    pub circuit: String,
    pub state: JobState,
    /// Ephemeral jobs' inputs (they may hold private secrets) are kept in memory only and
    /// never written to disk; the others' are in the store until the job finishes.
    pub ephemeral: bool,
    /// Public signals the request claimed (decimal); the job fails if the witness's differ.
    pub expected_public: Option<Vec<String>>,
    pub created_ms: u64,
    pub started_ms: Option<u64>,
    pub finished_ms: Option<u64>,
    pub attempts: u32,
    pub error: Option<String>,
    pub proof: Option<ProofRecord>,
}

impl JobRecord {
    /// A job just accepted (its id is assigned by [`JobStore::insert`]).
    pub fn queued(circuit: &str, ephemeral: bool, expected_public: Option<Vec<String>>) -> Self {
        Self {
            id: 0,
            circuit: circuit.to_string(),
            state: JobState::Queued,
            ephemeral,
            expected_public,
            created_ms: now_ms(),
            started_ms: None,
            finished_ms: None,
            attempts: 0,
            error: None,
            proof: None,
        }
    }
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub struct JobStore {
    db: Database,
    /// The last write failed. redb refuses every write after an I/O error (a full disk,
    /// say) until the database is reopened, while reads go on working: `/healthz` reports
    /// this flag so that a supervisor restarts the appliance.
    write_failed: std::sync::atomic::AtomicBool,
}

fn db_err(e: impl std::fmt::Display) -> ServerError {
    ServerError::Store(e.to_string())
}

impl JobStore {
    pub fn open(dir: &Path) -> Result<Self, ServerError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| ServerError::Store(format!("{}: {e}", dir.display())))?;
        let db = Database::create(dir.join("jobs.redb")).map_err(db_err)?;
        let txn = db.begin_write().map_err(db_err)?;
        {
            txn.open_table(JOBS).map_err(db_err)?;
            txn.open_table(META).map_err(db_err)?;
            txn.open_table(INPUTS).map_err(db_err)?;
        }
        txn.commit().map_err(db_err)?;
        Ok(Self {
            db,
            write_failed: Default::default(),
        })
    }

    /// True when the latest write failed.
    pub fn writes_failing(&self) -> bool {
        self.write_failed.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Records whether a write succeeded, and passes its result on.
    fn tracked<T>(&self, result: Result<T, ServerError>) -> Result<T, ServerError> {
        self.write_failed
            .store(result.is_err(), std::sync::atomic::Ordering::SeqCst);
        result
    }

    /// Stores a new job (and its input, unless `None`) under a fresh id, in one transaction.
    pub fn insert(
        &self,
        record: JobRecord,
        input: Option<&JobInput>,
    ) -> Result<JobRecord, ServerError> {
        self.tracked(self.insert_untracked(record, input))
    }

    fn insert_untracked(
        &self,
        mut record: JobRecord,
        input: Option<&JobInput>,
    ) -> Result<JobRecord, ServerError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        {
            let mut meta = txn.open_table(META).map_err(db_err)?;
            let next = meta
                .get("next_id")
                .map_err(db_err)?
                .map_or(1, |v| v.value());
            meta.insert("next_id", next + 1).map_err(db_err)?;
            record.id = next;
            let bytes = serde_json::to_vec(&record).map_err(db_err)?;
            txn.open_table(JOBS)
                .map_err(db_err)?
                .insert(next, bytes.as_slice())
                .map_err(db_err)?;
            if let Some(input) = input {
                let bytes = input.to_bytes();
                txn.open_table(INPUTS)
                    .map_err(db_err)?
                    .insert(next, bytes.as_slice())
                    .map_err(db_err)?;
            }
        }
        txn.commit().map_err(db_err)?;
        Ok(record)
    }

    /// Saves a record; a finished job's stored input is deleted in the same transaction.
    ///
    /// Only acceptance ([`JobStore::insert`]) is fsynced: the client holds a 202 for it.
    /// State changes are written without an fsync, which survives a crash of the process
    /// (the attempt count, which keeps a job that kills the appliance from crash-looping it,
    /// relies on that) and loses at most the latest changes to a power cut, after which an
    /// unfinished-looking job simply runs again.
    pub fn update(&self, record: &JobRecord) -> Result<(), ServerError> {
        self.tracked(self.update_untracked(record))
    }

    fn update_untracked(&self, record: &JobRecord) -> Result<(), ServerError> {
        let bytes = serde_json::to_vec(record).map_err(db_err)?;
        let mut txn = self.db.begin_write().map_err(db_err)?;
        txn.set_durability(redb::Durability::Eventual);
        {
            txn.open_table(JOBS)
                .map_err(db_err)?
                .insert(record.id, bytes.as_slice())
                .map_err(db_err)?;
            if record.state.finished() {
                txn.open_table(INPUTS)
                    .map_err(db_err)?
                    .remove(record.id)
                    .map_err(db_err)?;
            }
        }
        txn.commit().map_err(db_err)
    }

    /// The stored input of an unfinished, non-ephemeral job.
    pub fn input(&self, id: u64) -> Result<Option<JobInput>, ServerError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(INPUTS).map_err(db_err)?;
        let Some(v) = table.get(id).map_err(db_err)? else {
            return Ok(None);
        };
        JobInput::from_bytes(v.value()).map(Some)
    }

    pub fn get(&self, id: u64) -> Result<Option<JobRecord>, ServerError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(JOBS).map_err(db_err)?;
        let Some(v) = table.get(id).map_err(db_err)? else {
            return Ok(None);
        };
        serde_json::from_slice(v.value()).map(Some).map_err(db_err)
    }

    /// Every job, in id order.
    pub fn all(&self) -> Result<Vec<JobRecord>, ServerError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(JOBS).map_err(db_err)?;
        let mut out = Vec::new();
        for entry in table.iter().map_err(db_err)? {
            let (_, v) = entry.map_err(db_err)?;
            out.push(serde_json::from_slice(v.value()).map_err(db_err)?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> JobRecord {
        JobRecord::queued("c", false, None)
    }

    #[test]
    fn a_failed_write_is_reported_until_a_write_succeeds() {
        let dir = std::env::temp_dir().join(format!("store-flag-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = JobStore::open(&dir).expect("open");
        assert!(!store.writes_failing());
        let failed: Result<(), _> = store.tracked(Err(ServerError::Store("disk full".into())));
        assert!(failed.is_err() && store.writes_failing());
        store.insert(record(), None).expect("insert");
        assert!(!store.writes_failing());
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn ids_are_unique_and_records_persist_across_reopen() {
        let dir = std::env::temp_dir().join(format!("store-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        {
            let store = JobStore::open(&dir).expect("opens");
            let input = JobInput::Wtns(vec![1, 2, 3]);
            let a = store.insert(record(), Some(&input)).expect("insert");
            let mut b = store.insert(record(), Some(&input)).expect("insert");
            assert_ne!(a.id, b.id);
            b.state = JobState::Done;
            store.update(&b).expect("update");
            assert!(
                store.input(b.id).expect("read").is_none(),
                "a finished job's input is dropped"
            );
        }
        let store = JobStore::open(&dir).expect("reopens");
        let all = store.all().expect("all");
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].state, JobState::Done);
        assert!(
            matches!(store.input(all[0].id).expect("read"), Some(JobInput::Wtns(b)) if b == [1, 2, 3])
        );
        assert!(store.get(99).expect("get").is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
