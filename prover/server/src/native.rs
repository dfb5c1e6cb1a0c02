//! The native job API, circuit registration (operator only), health and metrics.

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use prover_groth16::{
    proof_from_json, proof_to_abi, public_from_json, public_to_abi, solidity_calldata, G2Order,
};
use serde::Deserialize;
use serde_json::Value;

use crate::circuits::{self, Circuit, ZkeySource};
use crate::config::G2OrderConfig;
use crate::extract::{ApiJson, ApiQuery};
use crate::jobs;
use crate::store::{JobInput, JobRecord, JobState};
use crate::{AppState, ServerError};

/// `POST /v1/jobs` body: a circuit and either its input JSON or a ready witness.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitJob {
    circuit: String,
    /// The circuit's input signals, as for snarkjs (`{"a": "3", ...}`).
    input: Option<Value>,
    /// A `.wtns` file, hex encoded.
    wtns_hex: Option<String>,
}

pub async fn submit_job(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<SubmitJob>,
) -> Result<Response, ServerError> {
    let input = match (req.input, req.wtns_hex) {
        (Some(Value::Object(m)), None) => JobInput::Json(Value::Object(m).to_string()),
        (Some(_), None) => {
            return Err(ServerError::BadRequest(
                "`input` must be a JSON object of input signals".into(),
            ))
        }
        (None, Some(h)) => {
            let bytes = hex::decode(h.trim_start_matches("0x"))
                .map_err(|e| ServerError::BadRequest(format!("wtns_hex: {e}")))?;
            check_wtns(&state, &req.circuit, &bytes)?;
            JobInput::Wtns(bytes)
        }
        _ => {
            return Err(ServerError::BadRequest(
                "give exactly one of `input` and `wtns_hex`".into(),
            ))
        }
    };
    accepted(jobs::submit(&state, &req.circuit, input, false, None)?)
}

#[derive(Deserialize)]
pub struct WtnsQuery {
    circuit: String,
}

/// `POST /v1/jobs/wtns?circuit=ID` with the raw `.wtns` file as the body
/// (`application/octet-stream`): no JSON or hex on the way for witnesses of megabytes.
pub async fn submit_wtns(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<WtnsQuery>,
    body: axum::body::Bytes,
) -> Result<Response, ServerError> {
    check_wtns(&state, &q.circuit, &body)?;
    accepted(jobs::submit(
        &state,
        &q.circuit,
        JobInput::Wtns(body.to_vec()),
        false,
        None,
    )?)
}

/// Refuses now, with a 400, a witness that is malformed or not for `circuit`, rather than
/// accepting a job that must fail.
fn check_wtns(state: &AppState, circuit: &str, bytes: &[u8]) -> Result<(), ServerError> {
    let circuit = state.circuits.get(circuit)?;
    let witness = prover_groth16::parse_wtns(bytes)?;
    prover_groth16::check_witness(&circuit.key.header, &witness)?;
    Ok(())
}

fn accepted(job: JobRecord) -> Result<Response, ServerError> {
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({
            "id": job.id,
            "state": job.state,
            "status_url": format!("/v1/jobs/{}", job.id),
            "proof_url": format!("/v1/jobs/{}/proof", job.id),
        })),
    )
        .into_response())
}

fn view(r: &JobRecord) -> Value {
    serde_json::json!({
        "id": r.id,
        "circuit": r.circuit,
        "state": r.state,
        "created_ms": r.created_ms,
        "started_ms": r.started_ms,
        "finished_ms": r.finished_ms,
        "attempts": r.attempts,
        "error": r.error,
        "prove_ms": r.proof.as_ref().map(|p| p.prove_ms),
        "fallback": r.proof.as_ref().and_then(|p| p.fallback.as_ref()),
    })
}

fn job(state: &AppState, id: &str) -> Result<JobRecord, ServerError> {
    let id: u64 = id
        .parse()
        .map_err(|_| ServerError::BadRequest(format!("job id `{id}` is not a number")))?;
    state.store.get(id)?.ok_or(ServerError::UnknownJob(id))
}

#[derive(Deserialize)]
pub struct StatusQuery {
    /// Long-poll: answer as soon as the job finishes, or after this many milliseconds
    /// (at most 60 s), instead of right away.
    wait_ms: Option<u64>,
}

pub async fn job_status(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<StatusQuery>,
) -> Result<Json<Value>, ServerError> {
    let record = job(&state, &id)?;
    let Some(wait_ms) = q.wait_ms.filter(|_| !record.state.finished()) else {
        return Ok(Json(view(&record)));
    };
    let limit = std::time::Duration::from_millis(wait_ms.min(60_000));
    match tokio::time::timeout(limit, jobs::wait(&state, record.id)).await {
        Ok(Ok(done)) => Ok(Json(view(&done))),
        Ok(Err(e)) => Err(e),
        Err(_) => {
            state.queue.forget_gone_waiters(record.id);
            Ok(Json(view(&job(&state, &id)?)))
        }
    }
}

#[derive(Deserialize)]
pub struct ProofQuery {
    format: Option<String>,
    g2_order: Option<G2OrderConfig>,
}

pub async fn job_proof(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<ProofQuery>,
) -> Result<Response, ServerError> {
    let r = job(&state, &id)?;
    let record = match (r.state, &r.proof) {
        (JobState::Done, Some(p)) => p.clone(),
        (JobState::Failed, _) => return Err(ServerError::JobFailed(r.error.unwrap_or_default())),
        _ => return Err(ServerError::NotFinished(r.id)),
    };
    let proof = proof_from_json(&record.proof_json)?;
    let public = public_from_json(&serde_json::to_string(&record.public).unwrap_or_default())?;
    match q.format.as_deref().unwrap_or("snarkjs") {
        "snarkjs" => {
            let proof_value: Value = serde_json::from_str(&record.proof_json)
                .map_err(|e| ServerError::Internal(e.to_string()))?;
            Ok(
                Json(serde_json::json!({ "proof": proof_value, "public": record.public }))
                    .into_response(),
            )
        }
        "calldata" => Ok((
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            solidity_calldata(&proof, &public),
        )
            .into_response()),
        "abi" => {
            let order: G2Order = q.g2_order.unwrap_or_default().into();
            Ok(Json(serde_json::json!({
                "proof": format!("0x{}", hex::encode(proof_to_abi(&proof, order))),
                "public": format!("0x{}", hex::encode(public_to_abi(&public))),
            }))
            .into_response())
        }
        other => Err(ServerError::BadRequest(format!(
            "format `{other}`: expected snarkjs, calldata or abi"
        ))),
    }
}

pub async fn list_circuits(State(state): State<AppState>) -> Json<Value> {
    let circuits: Vec<Value> = state
        .circuits
        .ids()
        .into_iter()
        .filter_map(|id| state.circuits.get(&id).ok())
        .map(|c| {
            serde_json::json!({
                "id": c.id,
                "n_vars": c.key.header.n_vars,
                "n_public": c.n_public(),
                "domain_size": c.key.header.domain_size,
                "on_cpu_fallback": c.on_fallback,
            })
        })
        .collect();
    Json(serde_json::json!({ "circuits": circuits }))
}

/// `POST /v1/circuits`, multipart with fields `id`, `zkey` and `wasm`; operator only (the
/// route's layer checks the signature). The files are checked (they load, and describe the
/// same circuit) before anything is stored.
pub async fn register_circuit(
    State(state): State<AppState>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ServerError> {
    let mut multipart = multipart.map_err(|r| ServerError::Rejected(r.status(), r.body_text()))?;
    let (mut id, mut zkey, mut wasm) = (None, None, None);
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| ServerError::BadRequest(format!("multipart: {e}")))?
    {
        let name = field.name().unwrap_or_default().to_string();
        let data = field
            .bytes()
            .await
            .map_err(|e| ServerError::BadRequest(format!("multipart field `{name}`: {e}")))?;
        match name.as_str() {
            "id" => id = Some(String::from_utf8_lossy(&data).trim().to_string()),
            "zkey" => zkey = Some(data),
            "wasm" => wasm = Some(data),
            other => {
                return Err(ServerError::BadRequest(format!(
                    "unexpected field `{other}`"
                )))
            }
        }
    }
    let (Some(id), Some(zkey), Some(wasm)) = (id, zkey, wasm) else {
        return Err(ServerError::BadRequest(
            "fields `id`, `zkey` and `wasm` are required".into(),
        ));
    };
    if !circuits::valid_id(&id) {
        return Err(ServerError::BadRequest(
            "circuit id: 1 to 64 characters of letters, digits, '-' and '_'".into(),
        ));
    }
    let backend = state.backend.clone();
    let fallback = state.fallback.clone();
    let data_dir = state.config.data_dir.clone();
    // Written there below, before the circuit is served.
    let source = ZkeySource::File(circuits::stored_dir(&data_dir, &id).join("circuit.zkey"));
    let (load_id, z, w) = (id.clone(), zkey.clone(), wasm.clone());
    let circuit = crate::blocking(move || {
        Circuit::load(&*backend, fallback.as_deref(), &load_id, &z, source, &w)
    })
    .await??;
    // One registration stores and serves at a time, so that the files kept and the circuit
    // served are the same registration's; in a task of its own, so that a client that goes
    // away does not stop it between the two (or let the next one in while it writes).
    let registering = state.clone();
    let body = tokio::spawn(async move {
        let state = registering;
        let _registering = state.registering.lock().await;
        // A replacement must still serve the markets that use this id: a circuit with fewer
        // public signals than a market names would leave that market unservable (and
        // dropped at the next start).
        let narrower: Vec<String> = state
            .markets
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .filter(|m| m.circuit == id && m.width() > circuit.n_public())
            .map(|m| m.id.clone())
            .collect();
        if !narrower.is_empty() {
            return Err(ServerError::Conflict(format!(
                "circuit `{id}` has {} public signals, fewer than market(s) {} name; change \
                 those markets first",
                circuit.n_public(),
                narrower.join(", ")
            )));
        }
        let stored_id = id.clone();
        crate::blocking(move || circuits::replace_stored(&data_dir, &stored_id, &zkey, &wasm))
            .await??;
        let body = serde_json::json!({
            "id": id,
            "n_vars": circuit.key.header.n_vars,
            "n_public": circuit.n_public(),
            "domain_size": circuit.key.header.domain_size,
            "on_cpu_fallback": circuit.on_fallback,
        });
        state.circuits.insert(circuit);
        Ok(body)
    })
    .await
    .map_err(|e| ServerError::Internal(e.to_string()))??;
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Jobs in a row the device must fault on before `/healthz` reports it failing.
pub const DEVICE_FAILING_STREAK: u64 = 3;

pub async fn healthz(State(state): State<AppState>) -> Response {
    let info = state.backend.info();
    let draining = state.is_shutting_down();
    // A store that fails reads, or whose latest write failed (a disk that filled up or
    // failed), makes job routes fail: report it, so that a supervisor restarts the
    // appliance (which reopens it).
    let stranded = state.queue.stranded();
    let store = match state.store.get(0) {
        Err(e) => Some(e.to_string()),
        Ok(_) if state.store.writes_failing() => Some("its latest write failed".into()),
        Ok(_) if !stranded.is_empty() => Some(format!(
            "it failed job(s) {stranded:?} as they were to start; they run after a restart"
        )),
        Ok(_) => None,
    };
    if let Some(e) = &store {
        tracing::error!("health check: the job store fails: {e}");
    }
    // A device that faulted (or did not answer in time) on several jobs in a row and made
    // no proof since: a sticky driver error (a CUDA context after an illegal address fails
    // every later call) or a hung kernel, which only a fresh context mends, so the
    // supervisor should restart the appliance. The CPU fallback, when on, proves the jobs
    // meanwhile, and unfinished jobs survive the restart in the store. A single fault, or
    // a device too small for a circuit, is not. While a job that ran out of time still holds
    // the device, each later job counts as one it faulted on (the CPU proves them).
    let streak = state.metrics.device_fault_streak();
    let held_by = state.queue.device_held_by();
    let device_failing = streak >= DEVICE_FAILING_STREAK;
    if device_failing {
        tracing::error!(
            "health check: backend `{}` device `{}` faulted on the last {streak} jobs",
            info.name,
            info.device
        );
    }
    let status_text = match (&store, device_failing, draining) {
        (Some(_), _, _) => "store failing",
        (None, true, _) => "device failing",
        (None, false, true) => "draining",
        (None, false, false) => "ok",
    };
    let (cpu_fallbacks, last_fallback) = state.metrics.cpu_fallbacks();
    let body = Json(serde_json::json!({
        "status": status_text,
        "backend": info.name,
        "device": info.device,
        "cpu_fallbacks": cpu_fallbacks,
        "last_fallback": last_fallback,
        "device_fault_streak": streak,
        "device_held_by_job": held_by,
        "queue_depth": state.queue.depth(),
        "waiting_requests": state.queue.waiting_requests(),
        "stranded_jobs": stranded,
        "circuits": state.circuits.ids(),
        "enclave_address": prover_attest::key::address_hex(&state.enclave.key.address()),
        "attestation": state.enclave.attester.name(),
    }));
    let status = if draining || store.is_some() || device_failing {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, body).into_response()
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state
            .metrics
            .render(&state.backend.info(), state.queue.depth()),
    )
        .into_response()
}

pub async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({ "error": "no such route (see /openapi.json)" })),
    )
        .into_response()
}
