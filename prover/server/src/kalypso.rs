//! The Kalypso prover API, served exactly as the Kalypso listener calls it (same paths,
//! bodies and response shapes), plus the input-verification routes on the same port.

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
    /// Decrypted with the appliance key (see `prover_attest::secrets`); the plaintext stays
    /// in memory, is never logged and never stored.
    EncryptedSecrets(EncryptedSecrets),
}

#[derive(Deserialize)]
pub struct EncryptedSecrets {
    encrypted_data: Vec<u8>,
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

/// Proves the market's circuit for real (through the queue) and reports the time the job
/// ran (witness, proof, self-check; not its wait in the queue, which says how busy the box
/// was, not how fast it proves), which the listener turns into the offer's proposed time.
pub async fn benchmark(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<MarketQuery>,
) -> Result<Json<Value>, ServerError> {
    let market = state.market(q.market_id.as_deref())?;
    let input = market.benchmark_input.clone().ok_or_else(|| {
        ServerError::BadRequest(format!(
            "market {} has no benchmark_input configured",
            market.id
        ))
    })?;
    let job = jobs::submit(&state, &market.circuit, JobInput::Json(input), true, None)?;
    let done = jobs::wait(&state, job.id).await?;
    match (done.state, done.proof) {
        (JobState::Done, Some(proof)) => {
            let elapsed = proof.prove_ms.ceil() as u64;
            Ok(Json(serde_json::json!({
            "data": format!("proved circuit `{}` of market {} in {elapsed} ms", market.circuit, market.id),
            "time_in_ms": elapsed,
            })))
        }
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
    let decrypted;
    let secrets: Option<&[u8]> = match &payload.secrets {
        None => None,
        Some(Secrets::PlainSecrets(bytes)) => Some(bytes),
        Some(Secrets::EncryptedSecrets(e)) => {
            decrypted = prover_attest::secrets::decrypt_secrets(
                &state.enclave.key,
                &e.encrypted_data,
                &e.acl,
                market.id_u256.minimal_be(),
            )
            .map_err(|e| ServerError::Undecryptable(e.to_string()))?;
            Some(decrypted.as_slice())
        }
    };
    // Errors name the problem, never the secret content.
    let mut object = match secrets {
        None => Map::new(),
        Some(bytes) => {
            let text = std::str::from_utf8(bytes)
                .map_err(|_| ServerError::BadRequest("the secrets are not UTF-8".into()))?;
            match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(m)) => m,
                Ok(_) => {
                    return Err(ServerError::BadRequest(
                        "the secrets must be a JSON object of input signals".into(),
                    ))
                }
                Err(e) => {
                    return Err(ServerError::BadRequest(format!(
                        "the secrets are not JSON (line {}, column {})",
                        e.line(),
                        e.column()
                    )))
                }
            }
        }
    };
    let width = market.width();
    // Checked when the market was set; this guards a circuit replaced since. Not the
    // inputs' fault, so Unsupported: never signed as invalid inputs.
    let mut next = public.len().checked_sub(width).ok_or_else(|| {
        ServerError::Unsupported(format!(
            "market {} names {width} public input values but circuit `{}` has {} public signals",
            market.id,
            market.circuit,
            public.len()
        ))
    })?;
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
    let market = state.market(q.market_id.as_deref())?;
    // Decrypting and inflating secrets is CPU work: off the async threads, bounded.
    let (state2, market2, public) = (state.clone(), market.clone(), payload.public.clone());
    let (input, expected) = state
        .input_work
        .prepare_job(move || circuit_input(&state2, &market2, &payload))
        .await?;
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
    let abi_proof = proof_to_abi(&proof, market.g2_order);
    let proof = if market.signed {
        prover_attest::signed::tee_proof(&state.enclave.key, &public, &abi_proof)?
    } else {
        abi_proof
    };
    Ok(Json(ProofResponse { proof }))
}

/// Valid exactly when the witness computes and its public signals equal the given ones.
pub async fn check_input(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<MarketQuery>,
    ApiJson(payload): ApiJson<InputPayload>,
) -> Result<Json<Value>, ServerError> {
    let market = state.market(q.market_id.as_deref())?;
    Ok(Json(
        match input_validity(&state, market, payload).await? {
            Ok(()) => serde_json::json!({ "valid": true }),
            Err(reason) => serde_json::json!({ "valid": false, "reason": reason }),
        },
    ))
}

/// Kalypso's body for `/api/getAttestationForInvalidInputs`: the ask id (a JSON number,
/// decimal string or 0x-hex string) and the ask's inputs.
#[derive(Deserialize)]
pub struct InvalidInputPayload {
    ask_id: prover_attest::U256,
    public: Vec<u8>,
    secrets: Option<Secrets>,
}

/// `{"valid": true}` when the inputs are provable; otherwise `{"proof": sig}`, the enclave
/// key's EIP-191 signature over keccak256(abi.encode(askId, proverData)), which the market
/// accepts in `submitProofForInvalidInputs` instead of a proof.
pub async fn attestation_for_invalid_inputs(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<MarketQuery>,
    ApiJson(req): ApiJson<InvalidInputPayload>,
) -> Result<Json<Value>, ServerError> {
    let market = state.market(q.market_id.as_deref())?;
    let public = req.public.clone();
    let payload = InputPayload {
        public: req.public,
        secrets: req.secrets,
    };
    match input_validity(&state, market, payload).await? {
        Ok(()) => Ok(Json(serde_json::json!({ "valid": true }))),
        // The reason may quote input values (secrets): it is not logged.
        Err(_reason) => {
            tracing::info!(
                "ask 0x{}: inputs invalid, signing the invalid-input attestation",
                hex::encode(req.ask_id.0)
            );
            let sig = prover_attest::signed::invalid_input_signature(
                &state.enclave.key,
                &req.ask_id.0,
                &public,
            )?;
            Ok(Json(serde_json::json!({ "proof": sig.to_vec() })))
        }
    }
}

/// `Ok(())` when the inputs compute a witness whose public signals are the given ones,
/// else the reason they do not. Decryption and the witness run in `input_work`.
async fn input_validity(
    state: &AppState,
    market: Market,
    payload: InputPayload,
) -> Result<Result<(), String>, ServerError> {
    let state2 = state.clone();
    state
        .input_work
        .check(move || {
            let (input, expected) = match circuit_input(&state2, &market, &payload) {
                Ok(x) => x,
                // Neither says the inputs are wrong: the first is a limit of this appliance,
                // the second a ciphertext it cannot read (signing "invalid" for it would let
                // anyone get the signature for any ask by sending garbage).
                Err(e @ (ServerError::Unsupported(_) | ServerError::Undecryptable(_))) => {
                    return Err(e)
                }
                Err(e) => return Ok(Err(e.to_string())),
            };
            let circuit = state2.circuits.get(&market.circuit)?;
            let public = circuit.witness_from_json(&input).map(|witness| {
                prover_groth16::public_signals(&witness, circuit.n_public())
                    .iter()
                    .map(decimal)
                    .collect::<Vec<String>>()
            });
            Ok(match public {
                Ok(public) if public == expected => Ok(()),
                Ok(public) => Err(crate::jobs::public_mismatch(&public, &expected, true)),
                // The reason goes back to the caller, who may hold only the ciphertext: no
                // values.
                Err(e) => Err(crate::jobs::error_text(&e, true)),
            })
        })
        .await
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
    let market = state.market(q.market_id.as_deref())?;
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
