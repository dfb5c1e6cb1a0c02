//! The Kalypso prover API, served exactly as the Kalypso listener calls it (same paths,
//! bodies and response shapes), plus the input-verification routes on the same port.

use std::time::Instant;

use axum::extract::State;
use axum::Json;
use prover_groth16::{proof_from_abi, proof_from_json, proof_to_abi, public_from_abi, verify};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::extract::{ApiJson, ApiQuery};
use crate::jobs::{self, decimal};
use crate::store::{JobInput, JobState};
use crate::{AppState, Market, ServerError};

#[derive(Deserialize)]
pub struct MarketQuery {
    market_id: Option<String>,
}

/// Kalypso's `SecretType`.
#[derive(Deserialize)]
pub enum Secrets {
    PlainSecrets(Vec<u8>),
    /// Accepted so the request parses, then refused with a clear message: decrypting needs
    /// the enclave key of the attestation module.
    EncryptedSecrets(#[allow(dead_code)] EncryptedSecrets),
}

#[derive(Deserialize)]
pub struct EncryptedSecrets {
    #[allow(dead_code)]
    encrypted_data: Vec<u8>,
    #[allow(dead_code)]
    acl: Vec<u8>,
}

/// Kalypso's `InputPayload`: the ask's proverData and its secrets.
#[derive(Deserialize)]
pub struct InputPayload {
    public: Vec<u8>,
    secrets: Option<Secrets>,
}

#[derive(Serialize)]
pub struct ProofResponse {
    proof: Vec<u8>,
}

pub async fn test() -> Json<Value> {
    Json(serde_json::json!({ "data": "the proving appliance is up" }))
}

/// Proves the market's circuit for real (through the queue) and reports the time, which
/// the listener turns into the offer's proposed time.
pub async fn benchmark(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<MarketQuery>,
) -> Result<Json<Value>, ServerError> {
    let market = state.market(q.market_id.as_deref())?.clone();
    let input = market.benchmark_input.clone().ok_or_else(|| {
        ServerError::BadRequest(format!(
            "market {} has no benchmark_input configured",
            market.id
        ))
    })?;
    let started = Instant::now();
    let job = jobs::submit(&state, &market.circuit, JobInput::Json(input), true, None)?;
    let done = jobs::wait(&state, job.id).await?;
    let elapsed = started.elapsed().as_millis();
    match done.state {
        JobState::Done => Ok(Json(serde_json::json!({
            "data": format!("proved circuit `{}` of market {} in {elapsed} ms", market.circuit, market.id),
            "time_in_ms": elapsed,
        }))),
        _ => Err(ServerError::JobFailed(done.error.unwrap_or_default())),
    }
}

/// Turns a Kalypso request into the circuit's input JSON and the public signals the proof
/// must carry. `public` is abi.encode(uint[N]) of all N public signals; the market's public
/// input names take the last entries; PlainSecrets is a UTF-8 JSON object with the rest.
fn circuit_input(
    state: &AppState,
    market: &Market,
    payload: &InputPayload,
) -> Result<(String, Vec<String>), ServerError> {
    let circuit = state.circuits.get(&market.circuit)?;
    let public = public_from_abi(&payload.public, circuit.n_public())?;
    let mut object = match &payload.secrets {
        None => Map::new(),
        Some(Secrets::PlainSecrets(bytes)) => {
            let text = std::str::from_utf8(bytes)
                .map_err(|_| ServerError::BadRequest("PlainSecrets is not UTF-8".into()))?;
            match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(m)) => m,
                Ok(_) => return Err(ServerError::BadRequest("PlainSecrets must be a JSON object of input signals".into())),
                Err(e) => return Err(ServerError::BadRequest(format!("PlainSecrets is not JSON: {e}"))),
            }
        }
        Some(Secrets::EncryptedSecrets(_)) => {
            return Err(ServerError::Unsupported(
                "EncryptedSecrets need the enclave key of the attestation module, which this build does not have; send PlainSecrets".into(),
            ))
        }
    };
    let width: usize = market.public_inputs.iter().map(|(_, k)| k).sum();
    let mut next = public.len() - width;
    for (name, k) in &market.public_inputs {
        if object.contains_key(name) {
            return Err(ServerError::BadRequest(format!(
                "secrets set `{name}`, which is a public input of market {}",
                market.id
            )));
        }
        let values: Vec<Value> = public[next..next + k]
            .iter()
            .map(|x| Value::String(decimal(x)))
            .collect();
        next += k;
        let v = if *k == 1 {
            values.into_iter().next().unwrap_or(Value::Null)
        } else {
            Value::Array(values)
        };
        object.insert(name.clone(), v);
    }
    Ok((
        Value::Object(object).to_string(),
        public.iter().map(decimal).collect(),
    ))
}

pub async fn generate_proof(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<MarketQuery>,
    ApiJson(payload): ApiJson<InputPayload>,
) -> Result<Json<ProofResponse>, ServerError> {
    let market = state.market(q.market_id.as_deref())?.clone();
    let (input, expected) = circuit_input(&state, &market, &payload)?;
    let job = jobs::submit(
        &state,
        &market.circuit,
        JobInput::Json(input),
        true,
        Some(expected),
    )?;
    let done = jobs::wait(&state, job.id).await?;
    let record = match (done.state, done.proof) {
        (JobState::Done, Some(p)) => p,
        _ => {
            return Err(ServerError::JobFailed(
                done.error.unwrap_or_else(|| "no proof".into()),
            ))
        }
    };
    let proof = proof_from_json(&record.proof_json)?;
    Ok(Json(ProofResponse {
        proof: proof_to_abi(&proof, market.g2_order),
    }))
}

/// Valid exactly when the witness computes and its public signals equal the given ones.
pub async fn check_input(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<MarketQuery>,
    ApiJson(payload): ApiJson<InputPayload>,
) -> Result<Json<Value>, ServerError> {
    let market = state.market(q.market_id.as_deref())?.clone();
    let (input, expected) = match circuit_input(&state, &market, &payload) {
        Ok(x) => x,
        Err(e @ ServerError::Unsupported(_)) => return Err(e),
        Err(e) => {
            return Ok(Json(
                serde_json::json!({ "valid": false, "reason": e.to_string() }),
            ))
        }
    };
    let circuit = state.circuits.get(&market.circuit)?;
    // Witness computation is CPU work: keep it off the async threads.
    let outcome = tokio::task::spawn_blocking(move || {
        let witness = circuit.witness_from_json(&input)?;
        let public: Vec<String> = prover_groth16::public_signals(&witness, circuit.n_public())
            .iter()
            .map(decimal)
            .collect();
        Ok::<_, ServerError>(public)
    })
    .await
    .map_err(|e| ServerError::Internal(e.to_string()))?;
    Ok(Json(match outcome {
        Ok(public) if public == expected => serde_json::json!({ "valid": true }),
        Ok(public) => serde_json::json!({
            "valid": false,
            "reason": format!("the inputs compute public signals {public:?}, not {expected:?}"),
        }),
        Err(e) => serde_json::json!({ "valid": false, "reason": e.to_string() }),
    }))
}

#[derive(Deserialize)]
pub struct VerifyRequest {
    public_input: Option<Vec<u8>>,
    #[allow(dead_code)]
    private_input: Option<Vec<u8>>,
    proof: Vec<u8>,
}

pub async fn verify_inputs_and_proof(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<MarketQuery>,
    ApiJson(req): ApiJson<VerifyRequest>,
) -> Result<Json<Value>, ServerError> {
    let market = state.market(q.market_id.as_deref())?.clone();
    let circuit = state.circuits.get(&market.circuit)?;
    let valid = (|| {
        let public = public_from_abi(req.public_input.as_deref()?, circuit.n_public()).ok()?;
        let proof = proof_from_abi(&req.proof, market.g2_order).ok()?;
        verify(&circuit.key.vk, &public, &proof).ok()
    })()
    .unwrap_or(false);
    Ok(Json(
        serde_json::json!({ "is_input_and_proof_valid": valid }),
    ))
}
