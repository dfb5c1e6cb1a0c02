//! The job queue and its worker. Requests only enqueue: proving happens on the worker, one
//! job at a time per device (the backend already uses every core), inside
//! `spawn_blocking` so the async runtime keeps serving.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ark_bn254::{Bn254, Fr};
use kernels_accel::{AccelError, Accelerator};
use prover_groth16::{
    proof_to_json, public_signals, verify, CircuitKey, PhaseTimings, Proof, VerifyingKey,
};
use tokio::sync::{oneshot, Notify};

use crate::circuits::Circuit;
use crate::store::{now_ms, JobInput, JobRecord, JobState, ProofRecord};
use crate::{AppState, ServerError};

/// Pending job ids plus what must not touch the disk.
#[derive(Default)]
pub struct JobQueue {
    pending: Mutex<VecDeque<u64>>,
    /// Queued + running jobs, for the capacity check.
    unfinished: AtomicUsize,
    notify: Notify,
    /// Inputs of ephemeral jobs (Kalypso requests may carry private secrets).
    ephemeral: Mutex<HashMap<u64, JobInput>>,
    waiters: Mutex<HashMap<u64, Vec<oneshot::Sender<JobRecord>>>>,
    /// Set when the worker has stopped for good: queued jobs will not run in this process.
    stopped: AtomicBool,
    /// The latest job that ran out of time while its device attempt was in progress: until
    /// that attempt returns, the device is not offered to later jobs.
    stuck: Mutex<Option<(u64, Arc<Attempt>)>>,
    /// Jobs the worker could not start because the store failed them (a read, or the write
    /// that marks them running). They stay queued in the store, and only a restart, which
    /// reopens it, runs them: `/healthz` fails until then, so that a supervisor restarts.
    stranded: Mutex<Vec<u64>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl JobQueue {
    pub fn depth(&self) -> usize {
        lock(&self.pending).len()
    }

    pub fn unfinished(&self) -> usize {
        self.unfinished.load(Ordering::SeqCst)
    }

    fn strand(&self, id: u64, e: &ServerError) {
        tracing::error!(
            "job {id} could not be started: {e}; it stays queued in the store until a restart, \
             which runs it (or fails it, if its input was held in memory only)"
        );
        // Not run in this process: an input held in memory (secrets) goes now.
        lock(&self.ephemeral).remove(&id);
        lock(&self.stranded).push(id);
    }

    /// Jobs left queued in the store that this process will not run (see `stranded`).
    pub fn stranded(&self) -> Vec<u64> {
        lock(&self.stranded).clone()
    }

    /// Requests waiting for a job to finish (long polls, Kalypso proof requests).
    pub fn waiting_requests(&self) -> usize {
        lock(&self.waiters).values().map(Vec::len).sum()
    }

    /// Drops the waiters on job `id` whose requests have gone (a long poll that timed out,
    /// a wait that returned early).
    pub fn forget_gone_waiters(&self, id: u64) {
        let mut waiters = lock(&self.waiters);
        if let Some(list) = waiters.get_mut(&id) {
            list.retain(|t| !t.is_closed());
            if list.is_empty() {
                waiters.remove(&id);
            }
        }
    }

    fn push(&self, id: u64) {
        lock(&self.pending).push_back(id);
        self.notify.notify_one();
    }

    /// The job whose device attempt ran out of time and has not returned yet: the device is
    /// still busy with it (a hung kernel holds it until the process ends).
    pub fn device_held_by(&self) -> Option<u64> {
        let mut stuck = lock(&self.stuck);
        match stuck.as_ref() {
            Some((job, attempt)) if attempt.verdict() == DeviceVerdict::Trying => Some(*job),
            _ => {
                *stuck = None;
                None
            }
        }
    }

    /// Wakes the worker so it can notice shutdown.
    pub fn wake(&self) {
        self.notify.notify_one();
    }

    async fn next(&self, state: &AppState) -> Option<u64> {
        loop {
            if state.is_shutting_down() {
                return None;
            }
            if let Some(id) = lock(&self.pending).pop_front() {
                return Some(id);
            }
            // notify_one stores a permit when nobody waits, so a push between the check
            // above and this await is not lost.
            self.notify.notified().await;
        }
    }
}

/// Accepts a job: persists it, then queues it. Fails fast when full or shutting down.
pub fn submit(
    state: &AppState,
    circuit: &str,
    input: JobInput,
    ephemeral: bool,
    expected_public: Option<Vec<String>>,
) -> Result<JobRecord, ServerError> {
    if state.is_shutting_down() {
        return Err(ServerError::ShuttingDown);
    }
    state.circuits.get(circuit)?;
    let queue = &state.queue;
    let capacity = state.config.queue_capacity;
    if queue.unfinished.fetch_add(1, Ordering::SeqCst) >= capacity {
        queue.unfinished.fetch_sub(1, Ordering::SeqCst);
        return Err(ServerError::QueueFull(capacity));
    }
    let record = JobRecord::queued(circuit, ephemeral, expected_public);
    let stored = (!ephemeral).then_some(&input);
    let record = match state.store.insert(record, stored) {
        Ok(r) => r,
        Err(e) => {
            queue.unfinished.fetch_sub(1, Ordering::SeqCst);
            return Err(e);
        }
    };
    if ephemeral {
        lock(&queue.ephemeral).insert(record.id, input);
    }
    state.metrics.transition(None, JobState::Queued);
    queue.push(record.id);
    Ok(record)
}

/// Resolves when job `id` finishes (immediately if it already has). After shutdown, a job
/// that will not run in this process answers `ShuttingDown` instead of waiting forever.
pub async fn wait(state: &AppState, id: u64) -> Result<JobRecord, ServerError> {
    let (tx, rx) = oneshot::channel();
    lock(&state.queue.waiters).entry(id).or_default().push(tx);
    // Registered first, then checked: a job finishing in between is seen either way, and
    // so is a worker stopping (it sets `stopped` before it drops the waiters).
    let early = match state.store.get(id) {
        Err(e) => Some(Err(e)),
        Ok(None) => Some(Err(ServerError::UnknownJob(id))),
        Ok(Some(r)) if r.state.finished() => Some(Ok(r)),
        Ok(Some(_)) if state.queue.stopped.load(Ordering::SeqCst) => {
            Some(Err(ServerError::ShuttingDown))
        }
        Ok(Some(_)) => None,
    };
    if let Some(answer) = early {
        drop(rx);
        state.queue.forget_gone_waiters(id);
        return answer;
    }
    rx.await.map_err(|_| {
        if state.queue.stopped.load(Ordering::SeqCst) {
            ServerError::ShuttingDown
        } else {
            ServerError::Store(format!("job {id} could not be finished (see the log)"))
        }
    })
}

/// Starts of one job (counted durably) after which a crash fails it instead of re-running.
pub const MAX_ATTEMPTS: u32 = 3;

/// Re-queues what a previous run left unfinished. Ephemeral jobs cannot be resumed (their
/// input was never stored) and are failed with a reason.
pub fn recover(state: &AppState) -> Result<usize, ServerError> {
    let mut resumed = 0;
    for mut record in state.store.all()? {
        state.metrics.transition(None, record.state);
        if record.state.finished() {
            continue;
        }
        if record.ephemeral {
            let old = record.state;
            record.state = JobState::Failed;
            record.finished_ms = Some(now_ms());
            record.error = Some(
                "the appliance restarted before this job finished; its input was held in memory \
                 only (it may contain secrets) and must be submitted again"
                    .into(),
            );
            state.store.update(&record)?;
            state.metrics.transition(Some(old), JobState::Failed);
            continue;
        }
        if record.state == JobState::Running && record.attempts >= MAX_ATTEMPTS {
            // It was running every time the appliance died: do not let it take the
            // appliance down again.
            record.state = JobState::Failed;
            record.finished_ms = Some(now_ms());
            record.error = Some(format!(
                "the appliance stopped {MAX_ATTEMPTS} times while proving this job; not retried"
            ));
            state.store.update(&record)?;
            state
                .metrics
                .transition(Some(JobState::Running), JobState::Failed);
            continue;
        }
        if record.state == JobState::Running {
            record.state = JobState::Queued;
            state.store.update(&record)?;
            state
                .metrics
                .transition(Some(JobState::Running), JobState::Queued);
        }
        state.queue.unfinished.fetch_add(1, Ordering::SeqCst);
        state.queue.push(record.id);
        resumed += 1;
    }
    Ok(resumed)
}

/// The worker: runs jobs until shutdown. The job in progress at shutdown is finished first;
/// then whoever waits on a queued job is told that it will not run here (it stays queued in
/// the store for the next start).
pub async fn run_worker(state: AppState) {
    while let Some(id) = state.queue.next(&state).await {
        // Whatever happens to the job (even a failing store), its queue slot is released
        // and its waiters answered: with the finished record, or by dropping their sender.
        let finished = match process(&state, id).await {
            Ok(record) => record,
            Err(e) => {
                state.queue.strand(id, &e);
                None
            }
        };
        state.queue.unfinished.fetch_sub(1, Ordering::SeqCst);
        for tx in lock(&state.queue.waiters).remove(&id).unwrap_or_default() {
            if let Some(record) = &finished {
                let _ = tx.send(record.clone());
            }
        }
    }
    state.queue.stopped.store(true, Ordering::SeqCst);
    lock(&state.queue.waiters).clear();
    tracing::info!("job worker stopped");
}

/// Runs job `id` and returns its finished record (`None`: nothing to run). The record goes
/// to the waiters even when storing it fails: the proof exists, and a restart re-runs a job
/// the store still has unfinished. `Err`: the store failed before the job started.
async fn process(state: &AppState, id: u64) -> Result<Option<JobRecord>, ServerError> {
    let Some(mut record) = state.store.get(id)? else {
        return Ok(None);
    };
    if record.state.finished() {
        return Ok(Some(record));
    }
    let input = if record.ephemeral {
        Ok(lock(&state.queue.ephemeral).remove(&id))
    } else {
        // A stored input that cannot be read fails its job: it will not read better later.
        state.store.input(id).map_err(|e| e.to_string())
    };
    let old = record.state;
    record.state = JobState::Running;
    record.started_ms = Some(now_ms());
    record.attempts += 1;
    state.store.update(&record)?;
    state.metrics.transition(Some(old), JobState::Running);

    let outcome = match (input, state.circuits.get(&record.circuit)) {
        (Err(e), _) => Err(format!("the job's stored input cannot be read: {e}")),
        (Ok(None), _) => Err("the job's input is gone".to_string()),
        (_, Err(e)) => Err(e.to_string()),
        (Ok(Some(input)), Ok(circuit)) => prove_in_time(state, &record, circuit, input).await,
    };
    record.finished_ms = Some(now_ms());
    match outcome {
        Ok((proof, timings)) => {
            state.metrics.observe_prove(proof.prove_ms / 1e3, &timings);
            if let Some(reason) = &proof.fallback {
                state.metrics.cpu_fallback(reason);
            }
            record.state = JobState::Done;
            record.proof = Some(proof);
        }
        Err(e) => {
            record.state = JobState::Failed;
            record.error = Some(e);
        }
    }
    state
        .metrics
        .transition(Some(JobState::Running), record.state);
    if let Err(e) = state.store.update(&record) {
        tracing::error!("job {id}: storing its result: {e}");
    }
    Ok(Some(record))
}

/// Proves a job within `job_timeout_secs`. A device attempt that runs out of time is left
/// behind (a thread cannot be stopped), the device is kept from later jobs until it
/// returns, and the job is proved on the CPU fallback, if there is one, within the same
/// time again. While the device is held, jobs go straight to the fallback (or fail at once
/// without one) instead of queueing behind a kernel that may never return.
async fn prove_in_time(
    state: &AppState,
    record: &JobRecord,
    circuit: Arc<Circuit>,
    input: JobInput,
) -> Result<(ProofRecord, PhaseTimings), String> {
    let info = state.backend.info();
    let limit = Duration::from_secs(state.config.job_timeout_secs.max(1));
    let held = state.queue.device_held_by().map(|job| {
        format!(
            "backend `{}` device `{}` has not answered since job {job} ran out of time on it",
            info.name, info.device
        )
    });
    let attempt = Arc::new(Attempt::default());
    let input = Arc::new(input);
    let run = |skip: Option<String>, attempt: Arc<Attempt>| {
        let input = Arc::clone(&input);
        let backend = state.backend.clone();
        let fallback = state.fallback.clone();
        let circuit = Arc::clone(&circuit);
        let expected = record.expected_public.clone();
        let redact = record.ephemeral;
        let task = tokio::task::spawn_blocking(move || {
            let job = JobRun {
                circuit: &circuit,
                input: &input,
                expected_public: expected,
                redact,
                skip_device: skip,
            };
            run_job(&*backend, fallback.as_deref(), job, &attempt)
        });
        async move {
            match tokio::time::timeout(limit, task).await {
                Ok(Ok(result)) => Some(result),
                Ok(Err(join)) => Some(Err(format!("the prover crashed: {join}"))),
                Err(_) => None,
            }
        }
    };
    let finished = run(held, Arc::clone(&attempt)).await;
    let seen = attempt.abandon();
    state.metrics.device_verdict(seen);
    match finished {
        Some(result) => result,
        None if seen == DeviceVerdict::Trying => {
            let reason = format!(
                "timed out after {}s while backend `{}` device `{}` was proving",
                limit.as_secs(),
                info.name,
                info.device
            );
            tracing::error!(
                "job {}: {reason}; the device is kept from later jobs until it answers",
                record.id
            );
            *lock(&state.queue.stuck) = Some((record.id, attempt));
            if state.fallback.is_none() {
                return Err(reason);
            }
            let retry = Arc::new(Attempt::default());
            let finished = run(Some(reason.clone()), Arc::clone(&retry)).await;
            let _ = retry.abandon();
            finished.unwrap_or_else(|| {
                Err(format!(
                    "{reason}; then on the CPU: timed out after {}s",
                    limit.as_secs()
                ))
            })
        }
        None => Err(format!("timed out after {}s", limit.as_secs())),
    }
}

/// An error's text; with `redact`, a witness error's without input values or circuit logs.
pub(crate) fn error_text(e: &ServerError, redact: bool) -> String {
    match e {
        ServerError::Witness(w) if redact => format!("witness: {}", w.without_values()),
        other => other.to_string(),
    }
}

/// Why computed public signals are not the expected ones. With `redact` the computed values
/// are left out: they derive from the secrets (an output may even equal one), and a caller
/// holding only an ask's ciphertext must not learn them; the differing positions show.
pub(crate) fn public_mismatch(computed: &[String], expected: &[String], redact: bool) -> String {
    if !redact {
        return format!(
            "the inputs compute public signals {computed:?}, not the requested {expected:?}"
        );
    }
    let differ: Vec<String> = computed
        .iter()
        .zip(expected)
        .enumerate()
        .filter(|(_, (c, e))| c != e)
        .map(|(i, _)| i.to_string())
        .collect();
    format!(
        "the inputs compute other values for public signal(s) {} than the ask's",
        differ.join(", ")
    )
}

/// The canonical integer of a scalar in decimal (arkworks' `Display` prints exactly that).
pub(crate) fn decimal(x: &Fr) -> String {
    x.to_string()
}

/// What one job showed of the backend's device, for the health check
/// ([`crate::metrics::Metrics::device_verdict`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeviceVerdict {
    /// The device made a proof that verified.
    Worked,
    /// The device failed in a way that points at it, and that a restart (a fresh driver
    /// context) may mend: a driver error, a panic, a proof that does not verify. Running
    /// out of memory is not one: a restart does not change it.
    Faulted,
    /// The job did not get as far as the device (a bad input, a circuit served from the
    /// CPU), or failed for a reason not the device's; every job of the CPU backend.
    #[default]
    Silent,
    /// The device is proving the job (while it runs; a job that times out in this state
    /// counts as faulted: the device did not answer).
    Trying,
}

/// One job's proving thread, shared with the worker that waits for it.
#[derive(Default)]
pub(crate) struct Attempt(Mutex<AttemptState>);

/// One lock for both: a thread may start on the device only if the worker has not given up
/// on it, and the worker, giving up, must see whether it did (else a thread could start on
/// the device unseen, beside the next job).
#[derive(Default)]
struct AttemptState {
    verdict: DeviceVerdict,
    /// Set once the worker stopped waiting: a thread that returns late does nothing more
    /// (it would take the device, or the CPU, from the jobs after it).
    abandoned: bool,
}

const ABANDONED: &str = "abandoned: the job ran out of time";

impl Attempt {
    fn verdict(&self) -> DeviceVerdict {
        lock(&self.0).verdict
    }

    fn set(&self, verdict: DeviceVerdict) {
        lock(&self.0).verdict = verdict;
    }

    /// The worker gives up on the thread; returns what the device was doing then.
    fn abandon(&self) -> DeviceVerdict {
        let mut state = lock(&self.0);
        state.abandoned = true;
        state.verdict
    }

    fn abandoned(&self) -> Result<(), String> {
        match lock(&self.0).abandoned {
            true => Err(ABANDONED.into()),
            false => Ok(()),
        }
    }

    /// Marks the device in use, unless the worker has given up on this thread.
    fn start_on_device(&self) -> Result<(), String> {
        let mut state = lock(&self.0);
        if state.abandoned {
            return Err(ABANDONED.into());
        }
        state.verdict = DeviceVerdict::Trying;
        Ok(())
    }
}

/// What a job proves, and how.
struct JobRun<'a> {
    circuit: &'a Circuit,
    input: &'a JobInput,
    expected_public: Option<Vec<String>>,
    /// The inputs may be secret (ephemeral Kalypso jobs, whose errors are stored and
    /// readable by job id): witness errors leave out input values and circuit logs.
    redact: bool,
    /// Why the device is not to be used for this job (it is held by a job that ran out of
    /// time): the job goes to the fallback, or fails with this reason.
    skip_device: Option<String>,
}

/// Witness, proof, and the self-check that keeps an invalid proof from ever being returned;
/// with `fallback`, a proof the backend fails on its device is made again on the CPU.
/// Keeps `attempt`'s verdict on what the device did, for the health check.
fn run_job(
    backend: &dyn Accelerator<Bn254>,
    fallback: Option<&Fallback>,
    job: JobRun<'_>,
    attempt: &Attempt,
) -> Result<(ProofRecord, PhaseTimings), String> {
    let JobRun {
        circuit,
        input,
        expected_public,
        redact,
        skip_device,
    } = job;
    let started = Instant::now();
    let witness = match input {
        JobInput::Json(json) => circuit
            .witness_from_json(json)
            .map_err(|e| error_text(&e, redact))?,
        JobInput::Wtns(bytes) => prover_groth16::parse_wtns(bytes).map_err(|e| e.to_string())?,
    };
    let n_public = circuit.n_public();
    let public = public_signals(&witness, n_public);
    let public_dec: Vec<String> = public.iter().map(decimal).collect();
    if let Some(expected) = expected_public {
        if expected != public_dec {
            return Err(public_mismatch(&public_dec, &expected, redact));
        }
    }
    attempt.abandoned()?;
    // The CPU backend has no device: what happens on it says nothing for the health check,
    // and a job too slow for its time there does not keep the next job from it.
    let on_device = !backend.info().is_cpu();
    let first = if let Some(why) = &circuit.on_fallback {
        // A circuit whose key the device could not hold runs on the fallback only: it
        // never touches the device, held or not, so it says nothing of it.
        Err(Failed {
            message: why.clone(),
            device: true,
            suspect: false,
        })
    } else if let Some(why) = skip_device {
        // The device is still held by a job that ran out of time: it fails this one too.
        Err(Failed {
            message: why,
            device: true,
            suspect: true,
        })
    } else {
        if on_device {
            attempt.start_on_device()?;
        }
        prove_verified(backend, &circuit.key, &circuit.key.vk, &witness, &public)
    };
    attempt.set(match &first {
        _ if !on_device => DeviceVerdict::Silent,
        Ok(_) => DeviceVerdict::Worked,
        Err(f) if f.suspect => DeviceVerdict::Faulted,
        Err(_) => DeviceVerdict::Silent,
    });
    attempt.abandoned()?;
    let (proof, timings, fallback_reason) = match (first, fallback) {
        (Ok((proof, timings)), _) => (proof, timings, None),
        (Err(failed), Some(fallback)) if failed.device => {
            let reason = failed.message;
            if circuit.on_fallback.is_none() {
                tracing::warn!(
                    "circuit {}: {reason}; proving the job on the CPU",
                    circuit.id
                );
            }
            let (proof, timings) = fallback
                .prove(circuit, &witness, &public)
                .map_err(|e| format!("{reason}; then on the CPU: {e}"))?;
            (proof, timings, Some(reason))
        }
        (Err(failed), _) => return Err(failed.message),
    };
    Ok((
        ProofRecord {
            proof_json: proof_to_json(&proof),
            public: public_dec,
            prove_ms: started.elapsed().as_secs_f64() * 1e3,
            fallback: fallback_reason,
        },
        timings,
    ))
}

/// Why one backend made no proof.
struct Failed {
    message: String,
    /// The device failed (a driver error, or a proof that does not verify although the
    /// witness satisfied the circuit), not the input: another backend may succeed.
    device: bool,
    /// The failure points at the device itself (see [`DeviceVerdict::Faulted`]).
    suspect: bool,
}

/// A proof on `backend` with `key`, returned only if it verifies against `vk`.
fn prove_verified(
    backend: &dyn Accelerator<Bn254>,
    key: &CircuitKey,
    vk: &VerifyingKey,
    witness: &[Fr],
    public: &[Fr],
) -> Result<(Proof, PhaseTimings), Failed> {
    let mut timings = PhaseTimings::default();
    // A panic in a backend is its bug, not the input's: the job may still be proved
    // elsewhere. (A lock the panic poisoned makes the GPU backend's later calls fail as
    // driver errors, which fall back too.)
    let proved = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        prover_groth16::prove(backend, key, witness, &mut rand::rngs::OsRng, &mut timings)
    }));
    let proof = match proved {
        Ok(result) => result.map_err(|e| Failed {
            device: e.is_device_fault(),
            suspect: e.is_device_fault() && !e.is_out_of_device_memory(),
            message: e.to_string(),
        })?,
        Err(panic) => {
            let info = backend.info();
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            return Err(Failed {
                message: format!(
                    "backend `{}` device `{}` panicked while proving: {what}",
                    info.name, info.device
                ),
                device: true,
                suspect: true,
            });
        }
    };
    match verify(vk, public, &proof) {
        Ok(true) => Ok((proof, timings)),
        Ok(false) => {
            let info = backend.info();
            Err(Failed {
                message: format!(
                    "the proof made by backend `{}` device `{}` failed its self-check; not \
                     returned",
                    info.name, info.device
                ),
                device: true,
                suspect: true,
            })
        }
        Err(e) => Err(Failed {
            message: e.to_string(),
            device: false,
            suspect: false,
        }),
    }
}

/// Opens the backend that proves a job again when the main one fails it on its device.
pub type FallbackOpener =
    Arc<dyn Fn() -> Result<Arc<dyn Accelerator<Bn254>>, AccelError> + Send + Sync>;

/// The CPU backend that jobs fall back to (`cpu_fallback` in the config), opened on the
/// first job that needs it, with each circuit's key loaded there on first need too.
pub struct Fallback {
    open: FallbackOpener,
    backend: Mutex<Option<Arc<dyn Accelerator<Bn254>>>>,
}

impl Fallback {
    pub fn new(open: FallbackOpener) -> Self {
        Self {
            open,
            backend: Mutex::new(None),
        }
    }

    pub(crate) fn backend(&self) -> Result<Arc<dyn Accelerator<Bn254>>, String> {
        let mut slot = lock(&self.backend);
        if let Some(b) = slot.as_ref() {
            return Ok(Arc::clone(b));
        }
        let b = (self.open)().map_err(|e| e.to_string())?;
        *slot = Some(Arc::clone(&b));
        Ok(b)
    }

    fn prove(
        &self,
        circuit: &Circuit,
        witness: &[Fr],
        public: &[Fr],
    ) -> Result<(Proof, PhaseTimings), String> {
        let backend = self.backend()?;
        let key = circuit.fallback_key(&*backend).map_err(|e| e.to_string())?;
        prove_verified(&*backend, &key, &circuit.key.vk, witness, public).map_err(|f| f.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::State;

    #[test]
    fn a_thread_the_worker_gave_up_on_does_not_start_on_the_device() {
        let given_up = Attempt::default();
        assert_eq!(given_up.abandon(), DeviceVerdict::Silent);
        assert!(given_up.start_on_device().is_err());
        assert_eq!(given_up.verdict(), DeviceVerdict::Silent);
        // Started first: the worker giving up sees the device in use.
        let started = Attempt::default();
        started.start_on_device().expect("not abandoned");
        assert_eq!(started.abandon(), DeviceVerdict::Trying);
        assert!(started.abandoned().is_err());
    }

    #[tokio::test]
    async fn a_job_the_store_failed_to_start_fails_the_health_check() {
        let dir = std::env::temp_dir().join(format!("jobs-stranded-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let config = crate::Config {
            data_dir: dir.clone(),
            ..crate::Config::default()
        };
        let backend: Arc<dyn Accelerator<Bn254>> =
            Arc::new(kernels_cpu::CpuBackend::new(1).expect("cpu"));
        let state = AppState::new(config, backend).expect("state");
        let health = |state: AppState| async move {
            let response = crate::native::healthz(State(state)).await;
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .expect("body");
            let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
            (status, body)
        };
        assert_eq!(health(state.clone()).await.0, axum::http::StatusCode::OK);
        state
            .queue
            .strand(7, &ServerError::Store("no space left on device".into()));
        let (status, body) = health(state.clone()).await;
        assert_eq!(
            status,
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "{body}"
        );
        assert_eq!(body["status"], "store failing", "{body}");
        assert_eq!(body["stranded_jobs"], serde_json::json!([7]), "{body}");
        drop(state);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
