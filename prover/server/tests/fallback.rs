//! Jobs a device backend fails on its device are proved again on the CPU (`cpu_fallback`),
//! and circuits whose key the device cannot hold are served from it, checked with a device
//! double that fails the way a GPU can: a driver error, a wrong sum, no memory for bases.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use ark_bn254::{Bn254, Fr};
use ark_ec::CurveGroup;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use kernels_accel::{
    AccelError, Accelerator, Backend, BackendInfo, Bases, Msm, MsmConfig, Ntt, NttConfig,
};
use kernels_cpu::CpuBackend;
use prover_groth16::{proof_from_json, verify};
use prover_server::circuits::{Circuit, ZkeySource};
use prover_server::config::CircuitConfig;
use prover_server::jobs::FallbackOpener;
use prover_server::{app, jobs, test_build_info, AppState, Config, ServerError};
use serde_json::{json, Value};
use tower::ServiceExt;

const NAME: &str = "testgpu";
const DEVICE: &str = "a card with injected faults";

#[derive(Clone, Copy)]
enum Fault {
    /// Every MSM fails as a CUDA kernel does after an illegal address.
    Driver,
    /// Every MSM returns its sum plus the generator.
    WrongSum,
    /// No memory for any base set.
    NoMemory,
    /// Every MSM panics (a backend bug).
    Panic,
    /// Bases load, but every MSM runs out of device memory.
    NoMemoryToProve,
    /// Every MSM waits until its flag is set, then returns its sum (a hung kernel).
    Hang(&'static AtomicBool),
    /// As `Hang`, and no memory for base sets while the second flag is set.
    HangRefusingKeys(&'static AtomicBool, &'static AtomicBool),
    /// As `Hang`, behind the CPU backend's name (a job too slow for its time on the CPU).
    SlowCpu(&'static AtomicBool),
    /// As `Driver` until [`MENDED`] is set, then correct (one test uses it).
    DriverUntilMended,
}

/// Mends the `DriverUntilMended` device.
static MENDED: AtomicBool = AtomicBool::new(false);

/// The CPU backend's arithmetic behind a device backend's name, with its MSMs faulty.
struct Faulty {
    cpu: CpuBackend,
    fault: Fault,
}

impl Faulty {
    fn name(&self) -> &'static str {
        match self.fault {
            Fault::SlowCpu(_) => "cpu",
            _ => NAME,
        }
    }
}

impl Backend for Faulty {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            name: self.name(),
            device: DEVICE.into(),
            memory_bytes: None,
            compute_units: 1,
        }
    }
}

impl<G: CurveGroup> Msm<G> for Faulty
where
    CpuBackend: Msm<G>,
{
    fn load_bases_unchecked(
        &self,
        points: &[G::Affine],
        config: &MsmConfig,
    ) -> kernels_accel::Result<Bases<G>> {
        let refused = match self.fault {
            Fault::NoMemory => true,
            Fault::HangRefusingKeys(_, refuse) => refuse.load(Ordering::SeqCst),
            _ => false,
        };
        if refused {
            return Err(AccelError::OutOfDeviceMemory {
                backend: NAME,
                device: DEVICE.into(),
                needed: 64 * points.len() as u64,
                code: 2,
                message: "cuMemAlloc failed".into(),
            });
        }
        let cpu = self.cpu.load_bases_unchecked(points, config)?;
        Ok(Bases::new(self.name(), points.len(), cpu))
    }

    fn msm_unchecked(
        &self,
        bases: &Bases<G>,
        scalars: &[G::ScalarField],
        config: &MsmConfig,
    ) -> kernels_accel::Result<G> {
        let cpu = bases.resident::<Bases<G>>(self.name())?;
        let sum = self.cpu.msm_unchecked(cpu, scalars, config)?;
        match self.fault {
            Fault::Driver => Err(AccelError::Device {
                backend: NAME,
                device: DEVICE.into(),
                code: 700,
                message: "an illegal memory access was encountered".into(),
            }),
            Fault::WrongSum | Fault::NoMemory => Ok(sum + G::generator()),
            Fault::Panic => panic!("injected backend bug"),
            Fault::NoMemoryToProve => Err(AccelError::OutOfDeviceMemory {
                backend: NAME,
                device: DEVICE.into(),
                needed: 1 << 40,
                code: 2,
                message: "cuMemAlloc failed".into(),
            }),
            Fault::Hang(released)
            | Fault::SlowCpu(released)
            | Fault::HangRefusingKeys(released, _) => {
                while !released.load(Ordering::SeqCst) {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Ok(sum)
            }
            Fault::DriverUntilMended if MENDED.load(Ordering::SeqCst) => Ok(sum),
            Fault::DriverUntilMended => Err(AccelError::Device {
                backend: NAME,
                device: DEVICE.into(),
                code: 700,
                message: "an illegal memory access was encountered".into(),
            }),
        }
    }
}

impl Ntt<Fr> for Faulty {
    fn ntt_unchecked(
        &self,
        data: &mut [&mut [Fr]],
        config: &NttConfig<Fr>,
    ) -> kernels_accel::Result<()> {
        self.cpu.ntt_unchecked(data, config)
    }
}

/// A fresh directory under the system's temporary one, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let d = std::env::temp_dir().join(format!("server-fallback-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("temp dir");
        Self(d)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn sample_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../samples/multiplier")
        .join(name)
}

/// An appliance on the faulty device. `opens` counts the fallback's openings; `None` for
/// it: no fallback offered.
fn open_state(
    dir: &TempDir,
    fault: Fault,
    opens: Option<Arc<AtomicUsize>>,
    tweak: impl FnOnce(&mut Config),
) -> Result<AppState, ServerError> {
    let mut config = Config {
        data_dir: dir.0.join("data"),
        ..Config::default()
    };
    tweak(&mut config);
    let backend: Arc<dyn Accelerator<Bn254>> = Arc::new(Faulty {
        cpu: CpuBackend::new(1).expect("cpu"),
        fault,
    });
    let fallback = opens.map(|opens| {
        let open: FallbackOpener = Arc::new(move || {
            opens.fetch_add(1, Ordering::SeqCst);
            let cpu: Arc<dyn Accelerator<Bn254>> = Arc::new(CpuBackend::new(1)?);
            Ok(cpu)
        });
        open
    });
    AppState::with_build_info(config, backend, fallback, test_build_info())
}

/// [`open_state`] with its worker running.
fn started(
    dir: &TempDir,
    fault: Fault,
    opens: Option<Arc<AtomicUsize>>,
    tweak: impl FnOnce(&mut Config),
) -> AppState {
    let state = open_state(dir, fault, opens, tweak).expect("state");
    tokio::spawn(jobs::run_worker(state.clone()));
    state
}

async fn call(state: &AppState, req: Request<Body>) -> (StatusCode, String) {
    let resp = app(state.clone()).oneshot(req).await.expect("response");
    let status = resp.status();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn get(state: &AppState, uri: &str) -> (StatusCode, String) {
    call(state, Request::get(uri).body(Body::empty()).expect("req")).await
}

/// Submits the multiplier's input (a = 3, b = 11, c = 7) for `circuit` and returns the
/// finished job's status.
async fn prove(state: &AppState, circuit: &str) -> Value {
    submit_and_wait(
        state,
        json!({ "circuit": circuit, "input": { "a": "3", "b": "11", "c": "7" } }),
    )
    .await
}

/// Submits a job and returns its status once it has finished.
async fn submit_and_wait(state: &AppState, body: Value) -> Value {
    let req = Request::post("/v1/jobs")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("req");
    let (s, body) = call(state, req).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{body}");
    let id = serde_json::from_str::<Value>(&body).expect("json")["id"]
        .as_u64()
        .expect("id");
    let (s, body) = get(state, &format!("/v1/jobs/{id}?wait_ms=60000")).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    serde_json::from_str(&body).expect("json")
}

/// The job's proof, checked against the circuit's key here (not only by the server).
async fn assert_proof_verifies(state: &AppState, job: &Value, circuit: &str) {
    let id = job["id"].as_u64().expect("id");
    let (s, body) = get(state, &format!("/v1/jobs/{id}/proof")).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["public"], json!(["234", "7"]));
    let proof = proof_from_json(&v["proof"].to_string()).expect("snarkjs proof");
    let key = &state.circuits.get(circuit).expect("circuit").key;
    let public = [Fr::from(234u64), Fr::from(7u64)];
    assert!(verify(&key.vk, &public, &proof).expect("verify"));
}

async fn fallbacks_metric(state: &AppState) -> String {
    let (_, metrics) = get(state, "/metrics").await;
    metrics
        .lines()
        .find(|l| l.starts_with("appliance_cpu_fallbacks_total "))
        .expect("fallback counter")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_driver_error_is_proved_again_on_the_cpu() {
    let dir = TempDir::new("driver");
    let opens = Arc::new(AtomicUsize::new(0));
    let state = started(&dir, Fault::Driver, Some(opens.clone()), |_| {});
    for round in 1..=2 {
        let job = prove(&state, "sample").await;
        assert_eq!(job["state"], "done", "{job}");
        let reason = job["fallback"].as_str().expect("fallback reason");
        for part in [NAME, DEVICE, "driver code 700", "illegal memory access"] {
            assert!(reason.contains(part), "{reason}");
        }
        assert_proof_verifies(&state, &job, "sample").await;
        assert_eq!(
            fallbacks_metric(&state).await,
            format!("appliance_cpu_fallbacks_total {round}")
        );
    }
    // The CPU backend (and the circuit's key there) is made once.
    assert_eq!(opens.load(Ordering::SeqCst), 1);
    // Still healthy (the jobs were served), with the device's trouble in view.
    let (s, body) = get(&state, "/healthz").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let health: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(health["cpu_fallbacks"], 2, "{health}");
    let last = health["last_fallback"].as_str().expect("last reason");
    assert!(last.contains("driver code 700"), "{last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_device_result_fails_the_self_check_and_the_cpu_proves_it() {
    let dir = TempDir::new("wrong");
    // A circuit from files: the fallback reads its zkey again.
    let state = started(&dir, Fault::WrongSum, Some(Arc::default()), |c| {
        c.bundled_sample = false;
        c.circuits = vec![CircuitConfig {
            id: "mult".into(),
            zkey: sample_file("circuit_final.zkey"),
            wasm: sample_file("circuit.wasm"),
        }];
    });
    let job = prove(&state, "mult").await;
    assert_eq!(job["state"], "done", "{job}");
    let reason = job["fallback"].as_str().expect("fallback reason");
    assert!(reason.contains("self-check"), "{reason}");
    assert_proof_verifies(&state, &job, "mult").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_panic_is_proved_again_on_the_cpu() {
    let dir = TempDir::new("panic");
    let state = started(&dir, Fault::Panic, Some(Arc::default()), |_| {});
    let job = prove(&state, "sample").await;
    assert_eq!(job["state"], "done", "{job}");
    let reason = job["fallback"].as_str().expect("fallback reason");
    assert!(
        reason.contains("panicked") && reason.contains("injected backend bug"),
        "{reason}"
    );
    assert_proof_verifies(&state, &job, "sample").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_fallback_the_job_fails_with_the_device_error() {
    for (name, opens, tweak) in [("off", Some(Arc::default()), false), ("none", None, true)] {
        let dir = TempDir::new(name);
        let state = started(&dir, Fault::Driver, opens, |c| c.cpu_fallback = tweak);
        let job = prove(&state, "sample").await;
        assert_eq!(job["state"], "failed", "{job}");
        let error = job["error"].as_str().expect("error");
        for part in [NAME, DEVICE, "driver code 700"] {
            assert!(error.contains(part), "{error}");
        }
        assert_eq!(job["fallback"], Value::Null);
        assert_eq!(
            fallbacks_metric(&state).await,
            "appliance_cpu_fallbacks_total 0"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zkey_file_changed_since_loading_fails_the_fallback_with_both_reasons() {
    let other = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/groth16/range_check/circuit_final.zkey");
    let other = std::fs::read(other).expect("another circuit's zkey");
    for (name, replacement, why) in [
        ("junk", b"not a zkey".to_vec(), "magic"),
        ("other", other, "changed since it was loaded"),
    ] {
        let dir = TempDir::new(name);
        let zkey = dir.0.join("circuit.zkey");
        std::fs::copy(sample_file("circuit_final.zkey"), &zkey).expect("copy");
        let state = started(&dir, Fault::Driver, Some(Arc::default()), |c| {
            c.bundled_sample = false;
            c.circuits = vec![CircuitConfig {
                id: "mult".into(),
                zkey: zkey.clone(),
                wasm: sample_file("circuit.wasm"),
            }];
        });
        std::fs::write(&zkey, replacement).expect("overwrite");
        let job = prove(&state, "mult").await;
        assert_eq!(job["state"], "failed", "{job}");
        let error = job["error"].as_str().expect("error");
        for part in ["driver code 700", "then on the CPU", why] {
            assert!(error.contains(part), "{error}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_the_device_cannot_hold_is_served_from_the_cpu() {
    let dir = TempDir::new("nomem");
    let opens = Arc::new(AtomicUsize::new(0));
    let state = started(&dir, Fault::NoMemory, Some(opens.clone()), |_| {});
    let (s, body) = get(&state, "/v1/circuits").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let listed: Value = serde_json::from_str(&body).expect("json");
    let why = listed["circuits"][0]["on_cpu_fallback"]
        .as_str()
        .expect("on the CPU")
        .to_string();
    assert!(
        why.contains("out of memory") && why.contains(DEVICE),
        "{why}"
    );
    for round in 1..=2 {
        let job = prove(&state, "sample").await;
        assert_eq!(job["state"], "done", "{job}");
        assert_eq!(job["fallback"].as_str(), Some(why.as_str()));
        assert_proof_verifies(&state, &job, "sample").await;
        assert_eq!(
            fallbacks_metric(&state).await,
            format!("appliance_cpu_fallbacks_total {round}")
        );
    }
    assert_eq!(opens.load(Ordering::SeqCst), 1);

    // Without the fallback such a circuit cannot be served: the appliance does not start.
    let dir = TempDir::new("nomem-off");
    let err = open_state(&dir, Fault::NoMemory, None, |_| {})
        .err()
        .expect("no state")
        .to_string();
    assert!(err.contains("out of memory") && err.contains(NAME), "{err}");
}

async fn health(state: &AppState) -> (StatusCode, Value) {
    let (s, body) = get(state, "/healthz").await;
    (s, serde_json::from_str(&body).expect("json"))
}

/// The health check after the device's `faults`-th fault in a row: ok below the streak
/// that fails it, then 503 `device failing` (jobs are still served by the CPU, but a
/// supervisor should restart the appliance).
async fn assert_faults_counted(state: &AppState, faults: u64) {
    let (s, h) = health(state).await;
    assert_eq!(h["device_fault_streak"], faults, "{h}");
    if faults < prover_server::DEVICE_FAILING_STREAK {
        assert_eq!(
            (s, h["status"].as_str()),
            (StatusCode::OK, Some("ok")),
            "{h}"
        );
    } else {
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{h}");
        assert_eq!(h["status"], "device failing", "{h}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_faulting_on_every_job_fails_the_health_check_until_it_proves_again() {
    let dir = TempDir::new("streak");
    let state = started(&dir, Fault::DriverUntilMended, Some(Arc::default()), |_| {});
    for round in 1..=3u64 {
        let job = prove(&state, "sample").await;
        assert_eq!(job["state"], "done", "{job}");
        assert!(job["fallback"].is_string(), "{job}");
        assert_faults_counted(&state, round).await;
    }
    let (_, metrics) = get(&state, "/metrics").await;
    assert!(
        metrics.contains("\nappliance_device_fault_streak 3\n"),
        "{metrics}"
    );
    // A proof the device makes again ends the streak.
    MENDED.store(true, Ordering::SeqCst);
    let job = prove(&state, "sample").await;
    assert_eq!(
        (job["state"].as_str(), &job["fallback"]),
        (Some("done"), &Value::Null),
        "{job}"
    );
    assert_proof_verifies(&state, &job, "sample").await;
    let (s, h) = health(&state).await;
    assert_eq!(
        (s, h["status"].as_str(), &h["device_fault_streak"]),
        (StatusCode::OK, Some("ok"), &json!(0)),
        "{h}"
    );
}

/// A device too small for a circuit's key, and jobs that fail on their input, say nothing
/// against the device: a restart would change neither.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_memory_and_bad_inputs_do_not_count_against_the_device() {
    let mut small = Vec::new();
    for (name, fault) in [
        ("nomem", Fault::NoMemory),
        ("nomem-prove", Fault::NoMemoryToProve),
    ] {
        let dir = TempDir::new(name);
        let state = started(&dir, fault, Some(Arc::default()), |_| {});
        for _ in 0..prover_server::DEVICE_FAILING_STREAK {
            let job = prove(&state, "sample").await;
            assert_eq!(job["state"], "done", "{job}");
            let reason = job["fallback"].as_str().expect("on the CPU");
            assert!(reason.contains("out of memory"), "{reason}");
        }
        small.push((dir, state));
    }
    let dir = TempDir::new("streak-input");
    let faulty = started(&dir, Fault::Driver, Some(Arc::default()), |_| {});
    for _ in 0..prover_server::DEVICE_FAILING_STREAK {
        // No `b`: the witness fails before any device work.
        let body = json!({ "circuit": "sample", "input": { "a": "3", "c": "7" } });
        let job = submit_and_wait(&faulty, body).await;
        assert_eq!(job["state"], "failed", "{job}");
    }
    for state in small.iter().map(|(_, s)| s).chain([&faulty]) {
        let (s, h) = health(state).await;
        assert_eq!(
            (s, h["device_fault_streak"].as_u64()),
            (StatusCode::OK, Some(0)),
            "{h}"
        );
    }
}

/// Lets a `Hang` device's MSMs return however a test ends: the runtime waits for them.
struct Release(&'static AtomicBool);

impl Drop for Release {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Asserts that the job failed and its error names each of `parts`.
fn assert_failed_naming(job: &Value, parts: &[&str]) {
    assert_eq!(job["state"], "failed", "{job}");
    let error = job["error"].as_str().expect("error");
    for part in parts {
        assert!(error.contains(part), "{part:?} not in {error}");
    }
}

/// A device that never answers: the job that runs out of time on it is proved on the CPU,
/// the jobs after it go to the CPU at once (not to the held device), the health check
/// fails after three, and once the kernel returns the device proves again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_that_never_answers_hands_its_jobs_to_the_cpu_until_it_answers() {
    static HUNG: AtomicBool = AtomicBool::new(false);
    let _release = Release(&HUNG);
    let dir = TempDir::new("hang-fallback");
    let opens = Arc::new(AtomicUsize::new(0));
    let state = started(&dir, Fault::Hang(&HUNG), Some(opens.clone()), |c| {
        c.job_timeout_secs = 1
    });
    let first = prove(&state, "sample").await;
    assert_eq!(first["state"], "done", "{first}");
    let reason = first["fallback"].as_str().expect("fallback reason");
    for part in ["timed out after 1s", NAME, DEVICE] {
        assert!(reason.contains(part), "{reason}");
    }
    assert_proof_verifies(&state, &first, "sample").await;
    let first_id = first["id"].as_u64().expect("id");
    let (s, h) = health(&state).await;
    assert_eq!((s, &h["device_fault_streak"]), (StatusCode::OK, &json!(1)));
    assert_eq!(h["device_held_by_job"], first_id, "{h}");

    let held = format!("has not answered since job {first_id} ran out of time");
    for round in 2..=prover_server::DEVICE_FAILING_STREAK {
        let job = prove(&state, "sample").await;
        assert_eq!(job["state"], "done", "{job}");
        let reason = job["fallback"].as_str().expect("fallback reason");
        assert!(reason.contains(&held), "{reason}");
        assert_proof_verifies(&state, &job, "sample").await;
        assert_faults_counted(&state, round).await;
    }
    assert_eq!(opens.load(Ordering::SeqCst), 1);

    // The kernel returns: its late proof is dropped, and the device is offered again.
    HUNG.store(true, Ordering::SeqCst);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !health(&state).await.1["device_held_by_job"].is_null() {
        assert!(
            std::time::Instant::now() < deadline,
            "the released job never returned"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let job = prove(&state, "sample").await;
    assert_eq!(job["state"], "done", "{job}");
    assert!(job["fallback"].is_null(), "{job}");
    let (s, h) = health(&state).await;
    assert_eq!((s, &h["device_fault_streak"]), (StatusCode::OK, &json!(0)));
    let (_, first_again) = get(&state, &format!("/v1/jobs/{first_id}")).await;
    assert!(first_again.contains("timed out after 1s"), "{first_again}");
}

/// A circuit whose key is on the CPU never touches the device: while a job that ran out of
/// time holds the device, that circuit's jobs run on the fallback for their own reason and
/// do not count against the device.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_circuit_on_the_cpu_does_not_count_against_a_held_device() {
    static HUNG: AtomicBool = AtomicBool::new(false);
    static REFUSE: AtomicBool = AtomicBool::new(false);
    let _release = Release(&HUNG);
    let dir = TempDir::new("hang-cpu-circuit");
    let opens = Arc::new(AtomicUsize::new(0));
    let state = started(
        &dir,
        Fault::HangRefusingKeys(&HUNG, &REFUSE),
        Some(opens),
        |c| c.job_timeout_secs = 1,
    );
    // The sample again, under another id, with a key the device refuses.
    REFUSE.store(true, Ordering::SeqCst);
    let zkey_path = sample_file("circuit_final.zkey");
    let zkey = std::fs::read(&zkey_path).expect("zkey");
    let wasm = std::fs::read(sample_file("circuit.wasm")).expect("wasm");
    let on_cpu = Circuit::load(
        &*state.backend,
        state.fallback.as_deref(),
        "on-cpu",
        &zkey,
        ZkeySource::File(zkey_path),
        &wasm,
    )
    .expect("loaded on the fallback");
    assert!(on_cpu.on_fallback.is_some());
    state.circuits.insert(on_cpu);

    let first = prove(&state, "sample").await;
    assert_eq!(first["state"], "done", "{first}");
    assert_faults_counted(&state, 1).await;
    for _ in 0..2 {
        let job = prove(&state, "on-cpu").await;
        assert_eq!(job["state"], "done", "{job}");
        let reason = job["fallback"].as_str().expect("fallback reason");
        assert!(
            reason.contains("the circuit's key is on the CPU"),
            "{reason}"
        );
        assert_proof_verifies(&state, &job, "on-cpu").await;
        assert_faults_counted(&state, 1).await;
    }
}

/// Without the fallback: the job that runs out of time on the device fails naming it, and
/// the jobs after it fail at once with why instead of each waiting out its time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_fallback_a_held_device_fails_later_jobs_at_once() {
    static HUNG: AtomicBool = AtomicBool::new(false);
    let _release = Release(&HUNG);
    let dir = TempDir::new("hang");
    let state = started(&dir, Fault::Hang(&HUNG), None, |c| c.job_timeout_secs = 1);
    let first = prove(&state, "sample").await;
    assert_failed_naming(&first, &["timed out after 1s", NAME, DEVICE]);
    let first_id = first["id"].as_u64().expect("id");
    let held = format!("has not answered since job {first_id} ran out of time");
    for round in 2..=prover_server::DEVICE_FAILING_STREAK {
        let job = prove(&state, "sample").await;
        assert_failed_naming(&job, &[&held, NAME, DEVICE]);
        assert_faults_counted(&state, round).await;
    }
}

/// The CPU backend has no device to hold or to fault: a job too slow for its time there
/// fails as a plain timeout, the next job is offered to it as usual, and the health check
/// stays ok (a restart would not make the CPU faster).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_too_slow_for_the_cpu_backend_is_a_timeout_not_a_device_fault() {
    static SLOW: AtomicBool = AtomicBool::new(false);
    let _release = Release(&SLOW);
    let dir = TempDir::new("slow-cpu");
    let state = started(&dir, Fault::SlowCpu(&SLOW), None, |c| {
        c.job_timeout_secs = 1
    });
    let first = prove(&state, "sample").await;
    assert_eq!(first["state"], "failed", "{first}");
    assert_eq!(first["error"], "timed out after 1s", "{first}");
    let (s, h) = health(&state).await;
    assert_eq!(s, StatusCode::OK, "{h}");
    assert_eq!(h["device_fault_streak"], 0, "{h}");
    assert!(h["device_held_by_job"].is_null(), "{h}");
    SLOW.store(true, Ordering::SeqCst);
    let job = prove(&state, "sample").await;
    assert_eq!(job["state"], "done", "{job}");
    assert_proof_verifies(&state, &job, "sample").await;
}
