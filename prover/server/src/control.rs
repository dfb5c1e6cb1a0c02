//! Attestation routes (as Oyster's attestation server serves them) and the operator
//! signature check that guards every control route.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use prover_attest::key::address_hex;
use prover_attest::operator::{
    body_hash, declared_body_hash, Refusal, CONTENT_HASH_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};
use serde_json::Value;

use crate::extract::ApiJson;
use crate::store::now_ms;
use crate::{build_market, markets_dir, AppState, MarketConfig, ServerError};

/// `GET /attestation/raw`: a fresh COSE_Sign1 document, binary.
pub async fn attestation_raw(State(state): State<AppState>) -> Result<Response, ServerError> {
    let doc = state.enclave.attestation()?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], doc).into_response())
}

/// `GET /attestation/hex`: the same document as lower-case hex text.
pub async fn attestation_hex(State(state): State<AppState>) -> Result<Response, ServerError> {
    let doc = state.enclave.attestation()?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        hex::encode(doc),
    )
        .into_response())
}

/// Lets a request through only with a fresh, unused signature by the operator key over
/// its method, path, query, timestamp and body (see `prover_attest::operator`).
///
/// The signature is checked against the body hash the request declares before the body is
/// read, so an unsigned upload is refused at once instead of holding an upload slot; the
/// body read is then held to that hash.
pub async fn require_operator(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ServerError> {
    let (parts, body) = request.into_parts();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let refused = |r: Refusal| ServerError::Unauthorized(r.to_string());
    let content_hash = header(CONTENT_HASH_HEADER);
    let declared = declared_body_hash(content_hash.as_deref()).map_err(|r| match r {
        Refusal::Malformed(why) => ServerError::BadRequest(why),
        r => refused(r),
    })?;
    let path = parts
        .uri
        .path_and_query()
        .map_or(parts.uri.path(), |p| p.as_str());
    // Only a circuit upload may be large, and only UPLOAD_SLOTS of those are read at once;
    // every other control body has the ordinary limit. The slot is taken first, so that a
    // busy one refuses the request before its signature is looked at (and it can be sent
    // again as it is); an unsigned request gives it back at once.
    let upload = parts.method == axum::http::Method::POST && parts.uri.path() == "/v1/circuits";
    let (limit, _slot) = if upload {
        let slot = state.upload_slots.try_acquire().map_err(|_| {
            ServerError::Rejected(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "{} circuit uploads are being received; retry later",
                    crate::UPLOAD_SLOTS
                ),
            )
        })?;
        (state.config.max_upload_bytes, Some(slot))
    } else {
        (state.config.max_body_bytes, None)
    };
    let guard = &state.enclave.operator;
    let signed = guard
        .check(
            parts.method.as_str(),
            path,
            header(TIMESTAMP_HEADER).as_deref(),
            header(SIGNATURE_HEADER).as_deref(),
            &declared,
            now_ms(),
        )
        .map_err(|r| match r {
            // Likely a body signed but its hash not sent: say so.
            Refusal::WrongSigner if content_hash.is_none() => ServerError::Unauthorized(format!(
                "{r} over an empty body (a request with a body must carry its sha256 in \
                 {CONTENT_HASH_HEADER})"
            )),
            r => refused(r),
        })?;
    let bytes = read_body(body, limit).await?;
    // Hashing a key of gigabytes takes seconds: not on the async threads.
    let read = bytes.clone();
    let hash = crate::blocking(move || body_hash(&read)).await?;
    if hash != declared {
        return Err(ServerError::Unauthorized(format!(
            "the body is not the one signed: a request with a body must carry its sha256 in \
             {CONTENT_HASH_HEADER}"
        )));
    }
    // Used up only now: a request refused on the way can be sent again.
    guard.accept(signed, now_ms()).map_err(refused)?;
    Ok(next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await)
}

/// Longest pause in a control body before the request is dropped, and the grace time
/// before `BODY_MIN_RATE` applies: an upload that stops, or trickles (a stalled link), must
/// not hold an upload slot for long.
pub const BODY_IDLE: std::time::Duration = std::time::Duration::from_secs(30);
/// Slowest average rate, in bytes per second, a control body may arrive at after
/// `BODY_IDLE` (a 2 GiB key at this rate takes ~9 hours; any real link is far faster).
pub const BODY_MIN_RATE: u64 = 64 * 1024;

/// Reads `body` up to `limit` bytes; 408 when the client pauses for `BODY_IDLE`, or sends
/// slower than `BODY_MIN_RATE` on average once `BODY_IDLE` has passed.
async fn read_body(body: Body, limit: usize) -> Result<axum::body::Bytes, ServerError> {
    use http_body_util::BodyExt;
    let timeout = |why: String| ServerError::Rejected(StatusCode::REQUEST_TIMEOUT, why);
    let started = tokio::time::Instant::now();
    let mut body = http_body_util::Limited::new(body, limit);
    let mut out = Vec::new();
    loop {
        let frame = tokio::time::timeout(BODY_IDLE, body.frame())
            .await
            .map_err(|_| {
                timeout(format!(
                    "the request body stalled for {} s",
                    BODY_IDLE.as_secs()
                ))
            })?;
        match frame {
            None => return Ok(out.into()),
            Some(Err(e)) => return Err(crate::body_error(e.as_ref(), limit)),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    out.extend_from_slice(&data);
                }
            }
        }
        let elapsed = started.elapsed();
        if elapsed > BODY_IDLE && (out.len() as u64) < BODY_MIN_RATE * elapsed.as_secs() {
            return Err(timeout(format!(
                "the request body arrives slower than {} KiB/s",
                BODY_MIN_RATE / 1024
            )));
        }
    }
}

/// `GET /v1/config` (operator only): the running configuration and identity.
pub async fn config(State(state): State<AppState>) -> Result<Json<Value>, ServerError> {
    let config =
        serde_json::to_value(&state.config).map_err(|e| ServerError::Internal(e.to_string()))?;
    let mut markets: Vec<Value> = state
        .markets
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .values()
        .map(|m| {
            serde_json::json!({
                "id": m.id, "circuit": m.circuit, "signed": m.signed,
                "public_inputs": m.public_inputs.iter().map(|(n, k)| if *k == 1 { n.clone() } else { format!("{n}[{k}]") }).collect::<Vec<_>>(),
            })
        })
        .collect();
    markets.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    Ok(Json(serde_json::json!({
        "config": config,
        "markets": markets,
        "enclave": {
            "address": address_hex(&state.enclave.key.address()),
            "public_key": hex::encode(state.enclave.key.public_key()),
            "attester": state.enclave.attester.name(),
            "hardware": state.enclave.attester.is_hardware(),
            "build_info": state.enclave.build_info,
            "user_data": hex::encode(state.enclave.build_info.user_data()),
        },
        "operator_address": address_hex(&state.enclave.operator.address()),
    })))
}

/// `PUT /v1/markets/{id}` (operator only): add or change a market (body: the market's
/// settings as in the config file, `id` equal to the path's). Checked against its circuit,
/// kept in `<data_dir>/markets/` and served at once; it overrides the config file's market
/// of the same id from then on.
pub async fn put_market(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(m): ApiJson<MarketConfig>,
) -> Result<Response, ServerError> {
    if m.id != id {
        return Err(ServerError::BadRequest(format!(
            "body id `{}` is not the path's `{id}`",
            m.id
        )));
    }
    // Not while a circuit is being replaced: the market is checked against the one served.
    let _registering = state.registering.lock().await;
    let market = build_market(&m, &state.circuits).map_err(|e| match e {
        ServerError::Config(msg) => ServerError::BadRequest(msg),
        e => e,
    })?;
    // The id parsed as a uint256 (digits or 0x-hex), so it is a safe file name.
    let dir = markets_dir(&state.config.data_dir);
    let path = dir.join(format!("{id}.json"));
    let tmp = dir.join(format!("{id}.json.tmp"));
    let text = serde_json::to_vec_pretty(&m).map_err(|e| ServerError::Internal(e.to_string()))?;
    std::fs::create_dir_all(&dir)
        .and_then(|_| std::fs::write(&tmp, &text))
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(|e| ServerError::Store(format!("{}: {e}", path.display())))?;
    let body =
        serde_json::json!({ "id": market.id, "circuit": market.circuit, "signed": market.signed });
    state
        .markets
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .insert(id, market);
    tracing::info!("operator set market {}", body["id"]);
    Ok((StatusCode::OK, Json(body)).into_response())
}
