//! Server overhead and memory: the same proof as an HTTP job (submit, poll, fetch) against
//! a direct in-process prove with the key resident, interleaved; then RSS before and after
//! many sequential jobs.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use ark_bn254::Bn254;
use kernels_accel::Accelerator;
use prover_groth16::{read_wtns, CircuitKey, PhaseTimings, ProvingKey};
use prover_server::config::CircuitConfig;
use prover_server::{AppState, Config};
use serde::Serialize;
use serde_json::{json, Value};

use crate::median;

#[derive(Clone, Debug, Serialize)]
pub struct ServeRow {
    pub zkey: String,
    pub runs: usize,
    /// Submit + wait + fetch the proof over loopback HTTP (key resident in the server).
    pub server_job_ms: f64,
    /// Direct prove + self-check verify with the key resident (what `appliance prove` does
    /// per proof after loading the key), same witness, same process.
    pub direct_prove_ms: f64,
    /// `(server_job_ms - direct_prove_ms) / direct_prove_ms`, in percent.
    pub overhead_percent: f64,
    pub memory_jobs: usize,
    pub rss_start_bytes: u64,
    pub rss_end_bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeBenchError {
    #[error(transparent)]
    Server(#[from] prover_server::ServerError),
    #[error(transparent)]
    Groth16(#[from] prover_groth16::Groth16Error),
    #[error("{0}")]
    Other(String),
}

fn http(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
) -> Result<Value, ServeBenchError> {
    let err = |e: std::io::Error| ServeBenchError::Other(format!("http {path}: {e}"));
    let mut s = TcpStream::connect(addr).map_err(err)?;
    let body = body.unwrap_or(b"");
    let ctype = if path.starts_with("/v1/jobs/wtns") {
        "application/octet-stream"
    } else {
        "application/json"
    };
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .map_err(err)?;
    s.write_all(body).map_err(err)?;
    let mut out = String::new();
    s.read_to_string(&mut out).map_err(err)?;
    let payload = out.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(payload)
        .map_err(|e| ServeBenchError::Other(format!("{path}: {e}: {payload}")))
}

/// One job through the API, start to proof (long-polling its status, as a client would).
fn job(addr: &str, path: &str, body: &[u8]) -> Result<(), ServeBenchError> {
    let v = http(addr, "POST", path, Some(body))?;
    let id = v["id"]
        .as_u64()
        .ok_or_else(|| ServeBenchError::Other(format!("submit refused: {v}")))?;
    loop {
        let v = http(addr, "GET", &format!("/v1/jobs/{id}?wait_ms=60000"), None)?;
        match v["state"].as_str() {
            Some("done") => break,
            Some("failed") => return Err(ServeBenchError::Other(format!("job failed: {v}"))),
            _ => {}
        }
    }
    http(addr, "GET", &format!("/v1/jobs/{id}/proof"), None)?;
    Ok(())
}

pub fn compare_serve(
    backend: Arc<dyn Accelerator<Bn254>>,
    zkey: &Path,
    wasm: &Path,
    wtns: &Path,
    runs: usize,
    memory_jobs: usize,
) -> Result<ServeRow, ServeBenchError> {
    let data_dir = std::env::temp_dir().join(format!("bench-serve-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    let config = Config {
        data_dir: data_dir.clone(),
        listen: "127.0.0.1:0".into(),
        circuits: vec![CircuitConfig {
            id: "bench".into(),
            zkey: zkey.to_path_buf(),
            wasm: wasm.to_path_buf(),
        }],
        ..Config::default()
    };
    let state = AppState::new(config, backend.clone())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| ServeBenchError::Other(e.to_string()))?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .map_err(|e| ServeBenchError::Other(e.to_string()))?;
    let addr = listener
        .local_addr()
        .map_err(|e| ServeBenchError::Other(e.to_string()))?
        .to_string();
    let server_state = state.clone();
    runtime.spawn(async move {
        let _ = prover_server::serve(server_state, listener).await;
    });

    let wtns_bytes = std::fs::read(wtns)
        .map_err(|e| ServeBenchError::Other(format!("{}: {e}", wtns.display())))?;
    let wtns_path = "/v1/jobs/wtns?circuit=bench";
    let key = CircuitKey::load(&*backend, ProvingKey::read(zkey)?)?;
    let witness = read_wtns(wtns)?;
    let mut rng = rand::thread_rng();
    let public = prover_groth16::public_signals(&witness, key.header.n_public);
    // What `appliance prove` does per proof once the key is loaded: prove, then the
    // self-check verification (the server does both too).
    let direct = |rng: &mut rand::rngs::ThreadRng| -> Result<f64, ServeBenchError> {
        let t = Instant::now();
        let proof =
            prover_groth16::prove(&*backend, &key, &witness, rng, &mut PhaseTimings::default())?;
        if !prover_groth16::verify(&key.vk, &public, &proof)? {
            return Err(ServeBenchError::Other(
                "direct proof does not verify".into(),
            ));
        }
        Ok(t.elapsed().as_secs_f64() * 1e3)
    };
    job(&addr, wtns_path, &wtns_bytes)?;
    direct(&mut rng)?;
    let (mut server, mut local) = (Vec::new(), Vec::new());
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        job(&addr, wtns_path, &wtns_bytes)?;
        server.push(t.elapsed().as_secs_f64() * 1e3);
        local.push(direct(&mut rng)?);
    }

    let sample =
        json!({ "circuit": "sample", "input": { "a": "3", "b": "11", "c": "7" } }).to_string();
    let rss_start = prover_server::metrics::resident_bytes().unwrap_or(0);
    for _ in 0..memory_jobs {
        job(&addr, "/v1/jobs", sample.as_bytes())?;
    }
    let rss_end = prover_server::metrics::resident_bytes().unwrap_or(0);
    state.begin_shutdown();
    drop(runtime);
    let _ = std::fs::remove_dir_all(&data_dir);

    let (server_job_ms, direct_prove_ms) = (median(&server), median(&local));
    Ok(ServeRow {
        zkey: zkey.display().to_string(),
        runs: server.len(),
        server_job_ms,
        direct_prove_ms,
        overhead_percent: (server_job_ms - direct_prove_ms) / direct_prove_ms * 100.0,
        memory_jobs,
        rss_start_bytes: rss_start,
        rss_end_bytes: rss_end,
    })
}
