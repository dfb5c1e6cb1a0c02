//! The appliance as a service: the Kalypso prover API (what the Kalypso listener calls), a
//! native job API, a persistent queue (redb) worked by one worker per device, Prometheus
//! metrics and an OpenAPI document.
//!
//! [`app`] builds the router from a state, so tests drive it in process with `oneshot`;
//! [`serve`] binds a socket, runs the worker and drains gracefully on SIGTERM/SIGINT.

pub mod circuits;
pub mod config;
mod control;
pub mod enclave;
mod error;
mod extract;
pub mod jobs;
mod kalypso;
pub mod metrics;
mod native;
pub use native::DEVICE_FAILING_STREAK;
mod openapi;
pub mod store;

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use ark_bn254::Bn254;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::Router;
use kernels_accel::Accelerator;
use prover_attest::{BuildInfo, U256};
use prover_groth16::G2Order;

pub use config::{Config, MarketConfig};
pub use error::ServerError;

use circuits::{Circuit, Circuits, ZkeySource};
use enclave::Enclave;
use jobs::{Fallback, FallbackOpener, JobQueue};
use metrics::Metrics;
use store::JobStore;

/// The bundled sample circuit (`samples/multiplier`): lets a fresh machine serve real
/// proofs with no files at all.
pub mod sample {
    pub const ID: &str = "sample";
    pub const MARKET: &str = "1";
    pub const ZKEY: &[u8] = include_bytes!("../../../samples/multiplier/circuit_final.zkey");
    pub const WASM: &[u8] = include_bytes!("../../../samples/multiplier/circuit.wasm");
    pub const INPUT: &str = include_str!("../../../samples/multiplier/input.json");
    /// `c` is the circuit's public input; `out` (the first public signal) is its output.
    pub const PUBLIC_INPUTS: &[&str] = &["c"];
}

/// The build info of tests: this crate's version, nothing else known.
pub fn test_build_info() -> BuildInfo {
    BuildInfo {
        version: env!("CARGO_PKG_VERSION").into(),
        kernel_source_sha256: "unknown".into(),
        backends: "unknown".into(),
    }
}

/// A Kalypso market as the appliance serves it.
#[derive(Clone, Debug)]
pub struct Market {
    pub id: String,
    /// The id as a uint256: its minimal big-endian bytes are the secrets' AAD.
    pub id_u256: U256,
    pub circuit: String,
    /// (name, length) of each public input signal, in order.
    pub public_inputs: Vec<(String, usize)>,
    pub g2_order: G2Order,
    pub benchmark_input: Option<String>,
    /// TEE market: proofs carry the enclave key's signature.
    pub signed: bool,
}

impl Market {
    /// Public signal values the market's inputs name (at most the circuit's count: checked
    /// when the market is built).
    pub fn width(&self) -> usize {
        input_width(&self.public_inputs)
    }
}

/// The summed lengths of `(name, length)` inputs; `usize::MAX` where the sum would wrap.
fn input_width(inputs: &[(String, usize)]) -> usize {
    inputs
        .iter()
        .try_fold(0usize, |sum, (_, k)| sum.checked_add(*k))
        .unwrap_or(usize::MAX)
}

pub struct Inner {
    pub config: Config,
    pub backend: Arc<dyn Accelerator<Bn254>>,
    /// Proves jobs again that `backend` fails on its device (`cpu_fallback`).
    pub fallback: Option<Arc<Fallback>>,
    pub circuits: Circuits,
    /// Markets served; the operator may change them at run time (`PUT /v1/markets/{id}`).
    pub markets: RwLock<HashMap<String, Market>>,
    pub store: JobStore,
    pub queue: JobQueue,
    pub metrics: Metrics,
    /// The key, attester and operator address.
    pub enclave: Enclave,
    /// Circuit uploads being read, each held in memory until it is registered.
    pub upload_slots: tokio::sync::Semaphore,
    /// Bounds the CPU work requests do before (or instead of) a job.
    pub input_work: InputWork,
    /// Held while a registered circuit is stored and put in service, and while a market is
    /// checked against its circuit and set.
    pub registering: tokio::sync::Mutex<()>,
    shutting_down: AtomicBool,
}

/// Circuit uploads read at once (each up to `max_upload_bytes`).
pub const UPLOAD_SLOTS: usize = 2;

/// The CPU work a request does itself: decrypting and inflating secrets, and computing a
/// witness to check inputs (`/api/checkInput`, the invalid-input attestation). It runs on
/// the blocking pool, which the job worker proves on too: unbounded, a burst of requests
/// would take every core and thread from the jobs (whose time limit runs meanwhile) and
/// hold a circuit's memory each. Checks run one per core, a few more wait, the rest get
/// 429. A job's own preparation (`generateProof`'s secrets) has slots of its own: a job the
/// market assigned must not wait behind checks, nor be refused for them.
pub struct InputWork {
    slots: usize,
    checks: Arc<tokio::sync::Semaphore>,
    admitted: Arc<tokio::sync::Semaphore>,
    jobs: Arc<tokio::sync::Semaphore>,
}

/// Checks admitted per running slot (the rest wait for a slot).
const INPUT_WORK_ADMITTED_PER_SLOT: usize = 4;

impl InputWork {
    /// `threads` as in the config (0: one slot per core).
    pub fn new(threads: usize) -> Self {
        let slots = match threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let semaphore = |n| Arc::new(tokio::sync::Semaphore::new(n));
        Self {
            slots,
            checks: semaphore(slots),
            admitted: semaphore(slots * INPUT_WORK_ADMITTED_PER_SLOT),
            jobs: semaphore(slots),
        }
    }

    /// Runs an input check once a slot is free; `Busy` at once when too many already run
    /// or wait.
    pub async fn check<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, ServerError> + Send + 'static,
    ) -> Result<T, ServerError> {
        let _admitted = Arc::clone(&self.admitted)
            .try_acquire_owned()
            .map_err(|_| {
                ServerError::Busy(format!(
                    "{} input checks are running or waiting; retry later",
                    self.slots * INPUT_WORK_ADMITTED_PER_SLOT
                ))
            })?;
        on_blocking_pool(&self.checks, work).await
    }

    /// Runs a job's preparation once one of the jobs' slots is free.
    pub async fn prepare_job<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, ServerError> + Send + 'static,
    ) -> Result<T, ServerError> {
        on_blocking_pool(&self.jobs, work).await
    }
}

/// `work` on the blocking pool, holding one of `slots` while it runs.
async fn on_blocking_pool<T: Send + 'static>(
    slots: &Arc<tokio::sync::Semaphore>,
    work: impl FnOnce() -> Result<T, ServerError> + Send + 'static,
) -> Result<T, ServerError> {
    let slot = Arc::clone(slots)
        .acquire_owned()
        .await
        .map_err(|e| ServerError::Internal(e.to_string()))?;
    blocking(move || {
        let _slot = slot;
        work()
    })
    .await?
}

/// `work` on the blocking pool (CPU work or file I/O kept off the async threads).
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ServerError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ServerError::Internal(e.to_string()))
}

/// Shared state of every handler and the worker.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// [`AppState::with_build_info`] with this crate's version as the build info and no
    /// fallback backend (tests).
    pub fn new(config: Config, backend: Arc<dyn Accelerator<Bn254>>) -> Result<Self, ServerError> {
        Self::with_build_info(config, backend, None, test_build_info())
    }

    /// Opens the store, loads circuits (bundled, configured, registered earlier), checks
    /// the markets, opens the appliance key and attester (binding `build_info`), and
    /// re-queues jobs a previous run left unfinished. `fallback` opens the CPU backend for
    /// jobs that `backend` fails on its device; `None` (or `cpu_fallback = false`): such
    /// jobs fail.
    pub fn with_build_info(
        config: Config,
        backend: Arc<dyn Accelerator<Bn254>>,
        fallback: Option<FallbackOpener>,
        build_info: BuildInfo,
    ) -> Result<Self, ServerError> {
        let fallback = fallback
            .filter(|_| config.cpu_fallback)
            .map(|open| Arc::new(Fallback::new(open)));
        let store = JobStore::open(&config.data_dir)?;
        let circuits = Circuits::default();
        if config.bundled_sample {
            circuits.insert(Circuit::load(
                &*backend,
                fallback.as_deref(),
                sample::ID,
                sample::ZKEY,
                ZkeySource::Static(sample::ZKEY),
                sample::WASM,
            )?);
        }
        for c in &config.circuits {
            let read = |p: &Path| {
                std::fs::read(p).map_err(|e| {
                    ServerError::Config(format!("circuit {}: {}: {e}", c.id, p.display()))
                })
            };
            circuits.insert(Circuit::load(
                &*backend,
                fallback.as_deref(),
                &c.id,
                &read(&c.zkey)?,
                ZkeySource::File(c.zkey.clone()),
                &read(&c.wasm)?,
            )?);
        }
        load_registered(&config.data_dir, &*backend, fallback.as_deref(), &circuits)?;
        let markets = build_markets(&config, &circuits)?;
        if let Some(id) = config.default_market.as_deref() {
            // A market set at run time that no longer loads is logged above; one the
            // appliance has never heard of is a typo in the config, refused here.
            let stored = markets_dir(&config.data_dir)
                .join(format!("{id}.json"))
                .exists();
            if !markets.contains_key(id) && !stored {
                let mut known: Vec<&str> = markets.keys().map(String::as_str).collect();
                known.sort_unstable();
                return Err(ServerError::Config(format!(
                    "default_market `{id}` is not a market served here (markets: {})",
                    known.join(", ")
                )));
            }
        }
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|e| ServerError::Config(format!("{}: {e}", config.data_dir.display())))?;
        let enclave = Enclave::open(&config, build_info)?;
        let config_threads = config.threads;
        let state = AppState(Arc::new(Inner {
            config,
            backend,
            fallback,
            circuits,
            markets: RwLock::new(markets),
            store,
            queue: JobQueue::default(),
            metrics: Metrics::default(),
            enclave,
            upload_slots: tokio::sync::Semaphore::new(UPLOAD_SLOTS),
            input_work: InputWork::new(config_threads),
            registering: tokio::sync::Mutex::new(()),
            shutting_down: AtomicBool::new(false),
        }));
        let resumed = jobs::recover(&state)?;
        if resumed > 0 {
            tracing::info!("re-queued {resumed} unfinished jobs from the previous run");
        }
        Ok(state)
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// Stops accepting jobs and lets the worker stop after its current job.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        self.queue.wake();
    }

    /// Where a first-boot operator key is written (when no address is configured).
    pub fn operator_key_path(&self) -> std::path::PathBuf {
        enclave::operator_key_path(&self.config.data_dir)
    }

    /// The market a Kalypso request means: the one named, else the configured default, else
    /// the only one.
    pub fn market(&self, id: Option<&str>) -> Result<Market, ServerError> {
        let markets = self.markets.read().unwrap_or_else(|p| p.into_inner());
        let id = match id.or(self.config.default_market.as_deref()) {
            Some(id) => id.to_string(),
            None if markets.len() == 1 => markets.keys().next().cloned().unwrap_or_default(),
            None => {
                return Err(ServerError::BadRequest(
                    "several markets are served: name one with ?market_id=".into(),
                ))
            }
        };
        markets
            .get(&id)
            .cloned()
            .ok_or(ServerError::UnknownMarket(id))
    }
}

fn load_registered(
    data_dir: &Path,
    backend: &dyn Accelerator<Bn254>,
    fallback: Option<&Fallback>,
    circuits: &Circuits,
) -> Result<(), ServerError> {
    circuits::tidy_stored(data_dir);
    let dir = circuits::stored_root(data_dir);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let id = entry.file_name().to_string_lossy().to_string();
        if !circuits::valid_id(&id) {
            continue;
        }
        let (zkey, wasm) = (
            entry.path().join("circuit.zkey"),
            entry.path().join("circuit.wasm"),
        );
        match (std::fs::read(&zkey), std::fs::read(&wasm)) {
            (Ok(z), Ok(w)) => {
                match Circuit::load(backend, fallback, &id, &z, ZkeySource::File(zkey), &w) {
                    Ok(c) => circuits.insert(c),
                    Err(e) => tracing::error!("registered circuit {id} no longer loads: {e}"),
                }
            }
            _ => tracing::error!(
                "registered circuit {id} is missing its files in {}",
                entry.path().display()
            ),
        }
    }
    Ok(())
}

fn build_markets(
    config: &Config,
    circuits: &Circuits,
) -> Result<HashMap<String, Market>, ServerError> {
    let mut list: Vec<MarketConfig> = config.markets.clone();
    if config.bundled_sample && !list.iter().any(|m| m.id == sample::MARKET) {
        list.push(MarketConfig {
            id: sample::MARKET.into(),
            circuit: sample::ID.into(),
            public_inputs: sample::PUBLIC_INPUTS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            g2_order: Default::default(),
            benchmark_input: Some(sample::INPUT.into()),
            signed: false,
        });
    }
    let mut markets = HashMap::new();
    for m in list {
        markets.insert(m.id.clone(), build_market(&m, circuits)?);
    }
    // Markets the operator set at run time (`PUT /v1/markets/{id}`) override the file's.
    let dir = markets_dir(&config.data_dir);
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if !matches!(path.extension(), Some(e) if e == "json") {
                continue;
            }
            let loaded = std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice::<MarketConfig>(&b).map_err(|e| e.to_string()))
                .and_then(|m| build_market(&m, circuits).map_err(|e| e.to_string()));
            match loaded {
                Ok(m) => {
                    markets.insert(m.id.clone(), m);
                }
                Err(e) => tracing::error!("stored market {} no longer loads: {e}", path.display()),
            }
        }
    }
    Ok(markets)
}

/// Where markets set at run time are kept, one JSON `MarketConfig` per market.
pub(crate) fn markets_dir(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("markets")
}

/// Checks one market's settings against its circuit.
pub(crate) fn build_market(m: &MarketConfig, circuits: &Circuits) -> Result<Market, ServerError> {
    let circuit = circuits.get(&m.circuit).map_err(|_| {
        ServerError::Config(format!(
            "market {} uses unknown circuit `{}`",
            m.id, m.circuit
        ))
    })?;
    let public_inputs = m
        .public_inputs
        .iter()
        .map(|s| config::parse_input_spec(s))
        .collect::<Result<Vec<_>, _>>()?;
    // Widths come from the operator's text: a wrapped sum would pass this test.
    let width = input_width(&public_inputs);
    if width > circuit.n_public() {
        return Err(ServerError::Config(format!(
            "market {}: {width} public inputs but circuit `{}` has {} public signals",
            m.id,
            m.circuit,
            circuit.n_public()
        )));
    }
    let id_u256 = U256::parse(&m.id)
        .map_err(|e| ServerError::Config(format!("market id `{}` is not a uint256: {e}", m.id)))?;
    Ok(Market {
        id: m.id.clone(),
        id_u256,
        circuit: m.circuit.clone(),
        public_inputs,
        g2_order: m.g2_order.into(),
        benchmark_input: m.benchmark_input.clone(),
        signed: m.signed,
    })
}

/// Every route. Bodies are limited per route (`max_body_bytes`, larger for circuit uploads).
pub fn app(state: AppState) -> Router {
    let upload_limit = state.config.max_upload_bytes;
    let body_limit = state.config.max_body_bytes;
    Router::new()
        .route("/api/test", get(kalypso::test))
        .route("/api/benchmark", get(kalypso::benchmark))
        .route("/api/generateProof", post(kalypso::generate_proof))
        .route("/api/checkInput", post(kalypso::check_input))
        .route(
            "/api/verifyInputsAndProof",
            post(kalypso::verify_inputs_and_proof),
        )
        .route(
            "/api/getAttestationForInvalidInputs",
            post(kalypso::attestation_for_invalid_inputs),
        )
        .route("/attestation/raw", get(control::attestation_raw))
        .route("/attestation/hex", get(control::attestation_hex))
        .route("/v1/jobs", post(native::submit_job))
        .route("/v1/jobs/wtns", post(native::submit_wtns))
        .route("/v1/jobs/{id}", get(native::job_status))
        .route("/v1/jobs/{id}/proof", get(native::job_proof))
        .route("/v1/circuits", get(native::list_circuits))
        .route(
            "/v1/circuits",
            post(native::register_circuit)
                .layer::<_, Infallible>(from_fn_with_state(
                    state.clone(),
                    control::require_operator,
                ))
                .layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route(
            "/v1/markets/{id}",
            put(control::put_market).layer::<_, Infallible>(from_fn_with_state(
                state.clone(),
                control::require_operator,
            )),
        )
        .route(
            "/v1/config",
            get(control::config).layer::<_, Infallible>(from_fn_with_state(
                state.clone(),
                control::require_operator,
            )),
        )
        .route("/healthz", get(native::healthz))
        .route("/metrics", get(native::metrics))
        .route("/openapi.json", get(openapi::document))
        .fallback(native::not_found)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::map_response(json_errors))
        .with_state(state)
}

/// A body that could not be read: 413 when it was over `limit`, else 400.
pub(crate) fn body_error(e: &(dyn std::error::Error + 'static), limit: usize) -> ServerError {
    let mut source = Some(e);
    while let Some(s) = source {
        if s.is::<http_body_util::LengthLimitError>() {
            return ServerError::Rejected(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the request body is over this route's limit of {limit} bytes"),
            );
        }
        source = s.source();
    }
    ServerError::BadRequest(format!("request body: {e}"))
}

/// Gives error responses made outside the handlers (axum's own: 405, a body over the limit
/// for a raw-bytes route) the JSON body `{"error": ...}` every other error has.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .ok()
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string());
    let body = serde_json::json!({ "error": text.trim() }).to_string();
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    parts.headers.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, axum::body::Body::from(body))
}

/// How long connections still open once the worker has stopped get to finish: answers to
/// waiting requests go out at once then, so only a client that never finishes its request
/// (which would keep the process alive until SIGKILL) needs it.
pub const DRAIN: std::time::Duration = std::time::Duration::from_secs(10);

/// Serves until SIGTERM/SIGINT, then stops accepting, finishes the job in progress and
/// returns once its connections are done, or after [`DRAIN`] without waiting for those
/// still open (queued jobs stay in the store for the next start).
pub async fn serve(state: AppState, listener: tokio::net::TcpListener) -> Result<(), ServerError> {
    let worker = tokio::spawn(jobs::run_worker(state.clone()));
    let (signalled, on_signal) = tokio::sync::oneshot::channel();
    let shutdown_state = state.clone();
    let server = axum::serve(listener, app(state.clone())).with_graceful_shutdown(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing the job in progress");
        shutdown_state.begin_shutdown();
        let _ = signalled.send(());
    });
    let mut server = tokio::spawn(std::future::IntoFuture::into_future(server));
    let served = tokio::select! {
        served = &mut server => Some(served),
        _ = on_signal => None,
    };
    state.begin_shutdown();
    let _ = worker.await;
    let served = match served {
        Some(served) => served,
        None => match tokio::time::timeout(DRAIN, &mut server).await {
            Ok(served) => served,
            Err(_) => {
                // The connections' own tasks end with the runtime (the binary stops it
                // right after this returns).
                tracing::warn!(
                    "connections still open {} s after the last job: not waiting for them",
                    DRAIN.as_secs()
                );
                server.abort();
                return Ok(());
            }
        },
    };
    served
        .map_err(|e| ServerError::Internal(e.to_string()))?
        .map_err(|e| ServerError::Internal(e.to_string()))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn a_default_market_that_is_not_served_is_refused_at_start() {
        let dir = std::env::temp_dir().join(format!("default-market-{}", std::process::id()));
        let config = Config {
            data_dir: dir.clone(),
            default_market: Some("2".into()),
            ..Config::default()
        };
        let backend: Arc<dyn Accelerator<Bn254>> =
            Arc::new(kernels_cpu::CpuBackend::new(1).expect("cpu"));
        let refused = AppState::new(config, backend).err().map(|e| e.to_string());
        assert!(
            refused
                .as_deref()
                .is_some_and(|e| e.contains("default_market `2`") && e.contains("markets: 1")),
            "{refused:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn input_work_runs_one_per_slot_and_refuses_beyond_those_admitted() {
        let work = Arc::new(InputWork::new(1));
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (started_tx, mut started_rx) = tokio::sync::mpsc::unbounded_channel();
        // Closed until the refusal is seen: the work admitted waits on it. Opened when the
        // test ends however it ends, so that a failed assertion does not leave it spinning.
        let gate = Arc::new(std::sync::atomic::AtomicBool::new(false));
        struct Open(Arc<std::sync::atomic::AtomicBool>);
        impl Drop for Open {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let _open = Open(Arc::clone(&gate));
        let mut tasks = Vec::new();
        for i in 0..INPUT_WORK_ADMITTED_PER_SLOT {
            let (work, running, most, gate, started_tx) = (
                Arc::clone(&work),
                Arc::clone(&running),
                Arc::clone(&most),
                Arc::clone(&gate),
                started_tx.clone(),
            );
            tasks.push(tokio::spawn(async move {
                work.check(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    let _ = started_tx.send(i);
                    while !gate.load(Ordering::SeqCst) {
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                    running.fetch_sub(1, Ordering::SeqCst);
                    Ok(i)
                })
                .await
            }));
        }
        // One runs (held at the gate), the others wait for its slot.
        started_rx.recv().await.expect("one started");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(running.load(Ordering::SeqCst), 1);
        // Every admission is taken: the next request is refused at once.
        let refused = work.check(|| Ok(usize::MAX)).await;
        assert!(matches!(refused, Err(ServerError::Busy(_))), "{refused:?}");
        gate.store(true, Ordering::SeqCst);
        let mut done: Vec<usize> = Vec::new();
        for t in tasks {
            done.push(t.await.expect("task").expect("ran"));
        }
        done.sort_unstable();
        assert_eq!(done, (0..INPUT_WORK_ADMITTED_PER_SLOT).collect::<Vec<_>>());
        assert_eq!(most.load(Ordering::SeqCst), 1, "one at a time on one slot");
        // Admissions are given back.
        assert!(matches!(work.check(|| Ok(7)).await, Ok(7)));
    }
}
