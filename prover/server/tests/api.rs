//! The HTTP API in process (Router + oneshot, worker running): the Kalypso routes with the
//! bundled sample circuit, the native job API, circuit registration, and bad input.

use std::sync::Arc;
use std::time::Duration;

use ark_bn254::{Bn254, Fr};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use futures_util::StreamExt;
use http_body_util::BodyExt;
use kernels_accel::Accelerator;
use prover_attest::key::address_hex;
use prover_attest::operator::{
    sign_request, CONTENT_HASH_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};
use prover_attest::{EthKey, VerifyOptions, U256};
use prover_groth16::{proof_from_abi, public_to_abi, verify, G2Order};
use prover_server::{app, jobs, AppState, Config};
use serde_json::{json, Value};
use tower::ServiceExt;

/// `<tmp>/server-api-<pid>/<name>`, fresh. The states keep their data directories until
/// the process ends, so each run removes what runs of processes no longer alive left.
fn temp_dir(name: &str) -> std::path::PathBuf {
    static SWEEP: std::sync::Once = std::sync::Once::new();
    SWEEP.call_once(|| {
        // Only where liveness can be told (Linux's /proc).
        if !std::path::Path::new("/proc/self").exists() {
            return;
        }
        let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let pid = name
                .strip_prefix("server-api-")
                .and_then(|p| p.parse::<u32>().ok());
            if pid.is_some_and(|p| {
                p != std::process::id() && !std::path::Path::new(&format!("/proc/{p}")).exists()
            }) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    });
    let d = std::env::temp_dir()
        .join(format!("server-api-{}", std::process::id()))
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn state_with(name: &str, tweak: impl FnOnce(&mut Config)) -> AppState {
    let mut config = Config {
        data_dir: temp_dir(name),
        ..Config::default()
    };
    tweak(&mut config);
    let backend: Arc<dyn Accelerator<Bn254>> =
        Arc::new(kernels_cpu::CpuBackend::new(1).expect("cpu"));
    AppState::new(config, backend).expect("state")
}

/// A state with its worker running.
fn started(name: &str) -> AppState {
    let state = state_with(name, |_| {});
    tokio::spawn(jobs::run_worker(state.clone()));
    state
}

async fn call(
    state: &AppState,
    req: Request<Body>,
) -> (StatusCode, Vec<u8>, axum::http::HeaderMap) {
    let resp = app(state.clone()).oneshot(req).await.expect("response");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    (status, body, headers)
}

async fn get(state: &AppState, uri: &str) -> (StatusCode, Value) {
    let (s, b, _) = call(state, Request::get(uri).body(Body::empty()).expect("req")).await;
    (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

async fn post(state: &AppState, uri: &str, body: Value) -> (StatusCode, Value) {
    let req = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("req");
    let (s, b, _) = call(state, req).await;
    (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

/// Submits a job of the sample circuit through the native API; its id.
async fn submit_sample_job(state: &AppState) -> u64 {
    let (s, v) = post(
        state,
        "/v1/jobs",
        json!({ "circuit": "sample", "input": { "a": "3", "b": "11", "c": "7" } }),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    v["id"].as_u64().expect("id")
}

/// The sample circuit's ask: public = abi.encode(uint[2]) of [out, c], secrets a and b.
fn ask(out: u64, c: u64, a: u64, b: u64) -> Value {
    let public = public_to_abi(&[Fr::from(out), Fr::from(c)]);
    let secrets = json!({ "a": a.to_string(), "b": b.to_string() })
        .to_string()
        .into_bytes();
    json!({ "public": public, "secrets": { "PlainSecrets": secrets } })
}

fn bytes(v: &Value) -> Vec<u8> {
    serde_json::from_value(v.clone()).expect("byte array")
}

/// An answer with status `expected` and a JSON error body (`body` shown if not).
fn assert_error(status: StatusCode, body: &[u8], expected: StatusCode) {
    assert_eq!(status, expected, "{}", String::from_utf8_lossy(body));
    assert_json_error(status, &serde_json::from_slice(body).unwrap_or(Value::Null));
}

fn assert_json_error(status: StatusCode, body: &Value) {
    assert!(status.is_client_error(), "status {status}");
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "no JSON error body: {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kalypso_routes_prove_check_and_verify() {
    let state = started("kalypso");
    let (s, v) = get(&state, "/api/test").await;
    assert_eq!(s, StatusCode::OK);
    assert!(v["data"].is_string());

    // 3*11*7 + 3 = 234.
    let (s, v) = post(&state, "/api/generateProof", ask(234, 7, 3, 11)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let proof_bytes = bytes(&v["proof"]);
    assert_eq!(proof_bytes.len(), 256);
    let circuit = state.circuits.get("sample").expect("sample");
    let proof = proof_from_abi(&proof_bytes, G2Order::ImaginaryFirst).expect("abi");
    assert!(verify(&circuit.key.vk, &[Fr::from(234u64), Fr::from(7u64)], &proof).expect("verify"));

    // The same proof through the IVS route, and tampered variants.
    let public = public_to_abi(&[Fr::from(234u64), Fr::from(7u64)]);
    let (s, v) = post(
        &state,
        "/api/verifyInputsAndProof",
        json!({ "public_input": public, "private_input": null, "proof": proof_bytes }),
    )
    .await;
    assert_eq!(
        (s, v["is_input_and_proof_valid"].as_bool()),
        (StatusCode::OK, Some(true))
    );
    let wrong = public_to_abi(&[Fr::from(235u64), Fr::from(7u64)]);
    let (_, v) = post(
        &state,
        "/api/verifyInputsAndProof",
        json!({ "public_input": wrong, "private_input": null, "proof": proof_bytes }),
    )
    .await;
    assert_eq!(v["is_input_and_proof_valid"].as_bool(), Some(false));
    let (_, v) = post(
        &state,
        "/api/verifyInputsAndProof",
        json!({ "public_input": public, "proof": vec![0u8; 255] }),
    )
    .await;
    assert_eq!(v["is_input_and_proof_valid"].as_bool(), Some(false));

    // checkInput: valid exactly when the witness computes and matches the public signals.
    let (s, v) = post(&state, "/api/checkInput", ask(234, 7, 3, 11)).await;
    assert_eq!(
        (s, v["valid"].as_bool()),
        (StatusCode::OK, Some(true)),
        "{v}"
    );
    let (_, v) = post(&state, "/api/checkInput", ask(235, 7, 3, 11)).await;
    assert_eq!(v["valid"].as_bool(), Some(false));
    let bad_secrets =
        json!({ "public": public, "secrets": { "PlainSecrets": b"not json".to_vec() } });
    let (_, v) = post(&state, "/api/checkInput", bad_secrets).await;
    assert_eq!(v["valid"].as_bool(), Some(false));

    // An ask whose inputs do not give its public signals is refused, not proved.
    let (s, v) = post(&state, "/api/generateProof", ask(235, 7, 3, 11)).await;
    assert_json_error(s, &v);

    let (s, v) = get(&state, "/api/benchmark").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // The benchmark job's run time, not the request's (which waited in the queue too).
    let jobs = state.store.all().expect("jobs");
    let ran = jobs
        .last()
        .and_then(|r| r.proof.as_ref())
        .expect("the benchmark's proof");
    assert_eq!(
        v["time_in_ms"].as_u64(),
        Some(ran.prove_ms.ceil() as u64),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_jobs_run_and_serve_every_format() {
    let state = started("native");
    let id = submit_sample_job(&state).await;
    let mut status = Value::Null;
    for _ in 0..200 {
        status = get(&state, &format!("/v1/jobs/{id}")).await.1;
        if status["state"] == "done" || status["state"] == "failed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(status["state"], "done", "{status}");

    let (s, v) = get(&state, &format!("/v1/jobs/{id}/proof")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["public"], json!(["234", "7"]));
    assert_eq!(v["proof"]["protocol"], "groth16");
    let (s, body, _) = call(
        &state,
        Request::get(format!("/v1/jobs/{id}/proof?format=calldata"))
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(String::from_utf8_lossy(&body).starts_with("[\"0x"));
    let (s, v) = get(
        &state,
        &format!("/v1/jobs/{id}/proof?format=abi&g2_order=real-first"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["proof"].as_str().map(str::len), Some(2 + 512));
    let (s, v) = get(&state, &format!("/v1/jobs/{id}/proof?format=xml")).await;
    assert_json_error(s, &v);

    // A witness file works too; a broken one is refused at submission.
    let wtns = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/groth16/multiplier/witness.wtns"
    ))
    .expect("wtns");
    let (s, _) = post(
        &state,
        "/v1/jobs",
        json!({ "circuit": "sample", "wtns_hex": hex::encode(&wtns) }),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, v) = post(
        &state,
        "/v1/jobs",
        json!({ "circuit": "sample", "wtns_hex": "00ff" }),
    )
    .await;
    assert_json_error(s, &v);

    let (s, body, _) = call(
        &state,
        Request::get("/metrics").body(Body::empty()).expect("req"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("appliance_jobs{state=\"done\"}"), "{text}");
    assert!(text.contains("appliance_prove_seconds_count"));
    assert!(text.contains("appliance_backend_info{backend=\"cpu\""));
    let (s, v) = get(&state, "/openapi.json").await;
    assert_eq!(s, StatusCode::OK);
    for path in [
        "/api/generateProof",
        "/api/getAttestationForInvalidInputs",
        "/attestation/raw",
        "/attestation/hex",
        "/v1/config",
        "/v1/circuits",
        "/v1/markets/{id}",
    ] {
        assert!(v["paths"][path].is_object(), "{path} undocumented");
    }
    assert!(v["paths"]["/v1/circuits"]["post"]["parameters"]
        .as_array()
        .is_some_and(|p| p.iter().any(|p| p["name"] == "X-Operator-Signature")));
    let (s, v) = get(&state, "/healthz").await;
    assert_eq!((s, v["status"].as_str()), (StatusCode::OK, Some("ok")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_json_4xx() {
    let state = started("bad");
    let raw = |uri: &str, body: &str| {
        Request::post(uri)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .expect("req")
    };
    for (uri, body) in [
        ("/api/generateProof", "{not json"),
        ("/api/generateProof", "{\"public\": \"nope\"}"),
        ("/v1/jobs", "[]"),
        ("/v1/jobs", "{\"circuit\": \"sample\", \"input\": 5}"),
        ("/v1/jobs", "{\"circuit\": \"sample\"}"),
        ("/v1/jobs", "{\"circuit\": \"nope\", \"input\": {}}"),
    ] {
        let (s, b, _) = call(&state, raw(uri, body)).await;
        let v: Value = serde_json::from_slice(&b).unwrap_or(Value::Null);
        assert_json_error(s, &v);
    }
    // Wrong ABI lengths.
    let (s, v) = post(
        &state,
        "/api/generateProof",
        json!({ "public": vec![0u8; 63], "secrets": null }),
    )
    .await;
    assert_json_error(s, &v);
    // A value at or above the field modulus is not a canonical input.
    let (s, v) = post(
        &state,
        "/api/generateProof",
        json!({ "public": vec![0xffu8; 64], "secrets": null }),
    )
    .await;
    assert_json_error(s, &v);
    let (s, v) = post(
        &state,
        "/api/generateProof?market_id=99",
        ask(234, 7, 3, 11),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_json_error(s, &v);
    let (s, v) = get(&state, "/v1/jobs/123456").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_json_error(s, &v);
    let (s, v) = get(&state, "/v1/jobs/abc").await;
    assert_json_error(s, &v);
    let (s, v) = get(&state, "/no/such/route").await;
    assert_json_error(s, &v);
    // Oversized bodies.
    let huge = format!("{{\"public\": [{}]}}", vec!["1"; 9_000_000].join(","));
    let (s, b, _) = call(&state, raw("/api/generateProof", &huge)).await;
    assert_error(s, &b, StatusCode::PAYLOAD_TOO_LARGE);
    // Encrypted secrets that do not decrypt are refused with a reason.
    let enc = json!({ "public": public_to_abi(&[Fr::from(234u64), Fr::from(7u64)]), "secrets": { "EncryptedSecrets": { "encrypted_data": [1, 2], "acl": [3] } } });
    let (s, v) = post(&state, "/api/generateProof", enc).await;
    assert_json_error(s, &v);
    assert!(
        v["error"].as_str().is_some_and(|e| e.contains("decrypt")),
        "{s} {v}"
    );
    // Errors made outside the handlers are JSON too: a method the route lacks, and a raw
    // witness over the body limit.
    let (s, b, _) = call(
        &state,
        Request::delete("/v1/jobs/1")
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert_error(s, &b, StatusCode::METHOD_NOT_ALLOWED);
    let big = Request::post("/v1/jobs/wtns?circuit=sample")
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(Body::from(vec![0u8; (16 << 20) + 1]))
        .expect("req");
    let (s, b, _) = call(&state, big).await;
    assert_error(s, &b, StatusCode::PAYLOAD_TOO_LARGE);
    // A well-formed witness of another circuit is refused at submission, not queued.
    let other = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/groth16/range_check/witness.wtns"
    ))
    .expect("wtns");
    let req = Request::post("/v1/jobs/wtns?circuit=sample")
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(Body::from(other))
        .expect("req");
    let (s, b, _) = call(&state, req).await;
    let v: Value = serde_json::from_slice(&b).unwrap_or(Value::Null);
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|e| e.contains("circuit needs")),
        "{v}"
    );
    // A Kalypso ask whose secret is not a number: refused, and neither the answer nor the
    // stored job (readable by id) quotes the secret.
    let secret = "12x3456789";
    let secrets = json!({ "a": secret, "b": "11" }).to_string().into_bytes();
    let body = json!({ "public": public_to_abi(&[Fr::from(234u64), Fr::from(7u64)]), "secrets": { "PlainSecrets": secrets } });
    for path in ["/api/generateProof", "/api/checkInput"] {
        let (s, v) = post(&state, path, body.clone()).await;
        assert!(!v.to_string().contains(secret), "{path}: {s} {v}");
        assert!(
            v.to_string().contains("`a`"),
            "{path}: names the signal: {v}"
        );
    }
    // Nor do the public signals computed from wrong secrets (3 * 12 * 7 + 3 = 255, where the
    // ask says 234): they derive from the secrets, and an output may equal one.
    let secrets = json!({ "a": "3", "b": "12" }).to_string().into_bytes();
    let body = json!({ "public": public_to_abi(&[Fr::from(234u64), Fr::from(7u64)]), "secrets": { "PlainSecrets": secrets } });
    for path in ["/api/generateProof", "/api/checkInput"] {
        let (s, v) = post(&state, path, body.clone()).await;
        assert!(!v.to_string().contains("255"), "{path}: {s} {v}");
        assert!(v.to_string().contains("public signal(s) 0 "), "{path}: {v}");
    }
    for record in state.store.all().expect("jobs") {
        let error = record.error.unwrap_or_default();
        assert!(!error.contains(secret), "job {}: {error}", record.id);
        assert!(!error.contains("255"), "job {}: {error}", record.id);
    }
    // The service still works afterwards.
    let (s, _) = post(&state, "/api/generateProof", ask(234, 7, 3, 11)).await;
    assert_eq!(s, StatusCode::OK);
}

/// Long polls on a job that does not finish come back with its state, and leave nothing
/// behind: each registered a waiter, which must go when its request has.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_polls_that_time_out_leave_no_waiters() {
    // No worker: the job stays queued.
    let state = state_with("long-polls", |_| {});
    let id = submit_sample_job(&state).await;
    for _ in 0..50 {
        let (s, v) = get(&state, &format!("/v1/jobs/{id}?wait_ms=1")).await;
        assert_eq!((s, v["state"].as_str()), (StatusCode::OK, Some("queued")));
    }
    let (_, health) = get(&state, "/healthz").await;
    assert_eq!(health["waiting_requests"], 0, "{health}");
    assert_eq!(health["stranded_jobs"], json!([]), "{health}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_on_queued_jobs_are_answered_at_shutdown() {
    // No worker yet: the ask's job stays queued while its request waits.
    let state = state_with("shutdown-waiters", |_| {});
    let asking = {
        let state = state.clone();
        tokio::spawn(async move { post(&state, "/api/generateProof", ask(234, 7, 3, 11)).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(state.queue.depth(), 1);
    // Shutdown: the worker stops before running it, and the request is answered 503.
    state.begin_shutdown();
    jobs::run_worker(state.clone()).await;
    let (s, v) = tokio::time::timeout(Duration::from_secs(10), asking)
        .await
        .expect("answered, not left waiting")
        .expect("task");
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert!(v["error"].is_string(), "{v}");
    // A request arriving after the worker stopped is refused at once as well.
    let (s, _) = post(&state, "/api/generateProof", ask(234, 7, 3, 11)).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    // The job itself stays queued in the store for the next start.
    let queued = state.store.all().expect("jobs");
    assert!(
        queued.iter().all(|r| !r.state.finished()),
        "{}",
        queued.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_429_with_retry_after() {
    // No worker: jobs stay queued.
    let state = state_with("full", |c| c.queue_capacity = 2);
    let body = json!({ "circuit": "sample", "input": { "a": "3", "b": "11", "c": "7" } });
    for _ in 0..2 {
        assert_eq!(
            post(&state, "/v1/jobs", body.clone()).await.0,
            StatusCode::ACCEPTED
        );
    }
    let req = Request::post("/v1/jobs")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("req");
    let (s, b, headers) = call(&state, req).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert!(headers.contains_key(header::RETRY_AFTER));
    assert_json_error(s, &serde_json::from_slice(&b).unwrap_or(Value::Null));
}

fn multipart(fields: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "appliance-test-boundary";
    let mut body = Vec::new();
    for (name, data) in fields {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes());
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// `request` with `headers` added.
fn with_headers(
    mut request: axum::http::request::Builder,
    headers: Vec<(&'static str, String)>,
) -> axum::http::request::Builder {
    for (k, v) in headers {
        request = request.header(k, v);
    }
    request
}

/// A body whose first KiB arrives, and then nothing, ever.
fn endless_body() -> Body {
    let first: Result<axum::body::Bytes, std::io::Error> = Ok(vec![b'-'; 1024].into());
    Body::from_stream(futures_util::stream::iter([first]).chain(futures_util::stream::pending()))
}

/// Headers of a request signed by `key` at `ts` (ms).
fn signed(
    key: &EthKey,
    method: &str,
    path: &str,
    ts: u64,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    sign_request(key, method, path, ts, body).expect("sign")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registering_a_circuit_needs_a_fresh_operator_signature() {
    let state = state_with("register", |_| {});
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/groth16/range_check"
    );
    let zkey = std::fs::read(format!("{dir}/circuit_final.zkey")).expect("zkey");
    let wasm = std::fs::read(format!("{dir}/circuit_js/circuit.wasm")).expect("wasm");
    // No operator address configured: a key was generated at first boot.
    let operator =
        EthKey::load(&state.operator_key_path()).expect("operator key generated at first boot");
    let (ctype, body) = multipart(&[("id", b"range"), ("zkey", &zkey), ("wasm", &wasm)]);
    let req = |headers: Vec<(&'static str, String)>, body: Vec<u8>| {
        let r = with_headers(
            Request::post("/v1/circuits").header(header::CONTENT_TYPE, ctype.clone()),
            headers,
        );
        r.body(Body::from(body)).expect("req")
    };
    let refused = |(s, b, _): (StatusCode, Vec<u8>, axum::http::HeaderMap)| {
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        let v: Value = serde_json::from_slice(&b).unwrap_or(Value::Null);
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{v}");
    };
    let now = prover_server::store::now_ms();
    // Unsigned; signed by another key; stale; signed for another body; the old Bearer token.
    refused(call(&state, req(vec![], body.clone())).await);
    refused(
        call(
            &state,
            req(
                signed(&EthKey::generate(), "POST", "/v1/circuits", now, &body),
                body.clone(),
            ),
        )
        .await,
    );
    refused(
        call(
            &state,
            req(
                signed(&operator, "POST", "/v1/circuits", now - 120_000, &body),
                body.clone(),
            ),
        )
        .await,
    );
    refused(
        call(
            &state,
            req(
                signed(&operator, "POST", "/v1/circuits", now, b"other"),
                body.clone(),
            ),
        )
        .await,
    );
    refused(
        call(
            &state,
            req(vec![("authorization", "Bearer x".into())], body.clone()),
        )
        .await,
    );

    // Mismatched files (the sample's wasm with range_check's key) are refused.
    let sample_wasm = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../samples/multiplier/circuit.wasm"
    ))
    .expect("wasm");
    let (_, mismatched) = multipart(&[("id", b"bad"), ("zkey", &zkey), ("wasm", &sample_wasm)]);
    let h = signed(&operator, "POST", "/v1/circuits", now, &mismatched);
    let (s, b, _) = call(&state, req(h, mismatched)).await;
    assert_json_error(s, &serde_json::from_slice(&b).unwrap_or(Value::Null));

    let h = signed(&operator, "POST", "/v1/circuits", now + 1, &body);
    let (s, b, _) = call(&state, req(h.clone(), body.clone())).await;
    assert_eq!(s, StatusCode::CREATED, "{}", String::from_utf8_lossy(&b));
    // The same signed request again is a replay.
    refused(call(&state, req(h, body.clone())).await);
    let (_, v) = get(&state, "/v1/circuits").await;
    assert!(v["circuits"]
        .as_array()
        .is_some_and(|c| c.iter().any(|c| c["id"] == "range")));

    // Reading the configuration is operator-only too.
    let (s, _) = get(&state, "/v1/config").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let r = with_headers(
        Request::get("/v1/config"),
        signed(&operator, "GET", "/v1/config", now, b""),
    );
    let (s, b, _) = call(&state, r.body(Body::empty()).expect("req")).await;
    assert_eq!(s, StatusCode::OK);
    let v: Value = serde_json::from_slice(&b).expect("json");
    assert_eq!(v["operator_address"], address_hex(&operator.address()));
    assert_eq!(
        v["enclave"]["address"],
        address_hex(&state.enclave.key.address())
    );
    assert_eq!(v["enclave"]["hardware"], false);

    // It survives a restart: registered files are reloaded from the data directory, and
    // the operator and appliance keys stay the same.
    let data_dir = state.config.data_dir.clone();
    let enclave_address = state.enclave.key.address();
    drop(state);
    let reopened = state_with("register-reopen", |c| c.data_dir = data_dir);
    assert!(reopened.circuits.get("range").is_ok());
    assert_eq!(reopened.enclave.operator.address(), operator.address());
    assert_eq!(reopened.enclave.key.address(), enclave_address);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_changes_markets_at_run_time() {
    let state = state_with("put-market", |_| {});
    let worker = tokio::spawn(jobs::run_worker(state.clone()));
    let operator = EthKey::load(&state.operator_key_path()).expect("operator key");
    let market = json!({ "id": "9", "circuit": "sample", "public_inputs": ["c"], "signed": true });
    let body = market.to_string().into_bytes();
    let put = |headers: Vec<(&'static str, String)>, path: &str, body: Vec<u8>| {
        let r = with_headers(
            Request::put(path).header(header::CONTENT_TYPE, "application/json"),
            headers,
        );
        r.body(Body::from(body)).expect("req")
    };
    let now = prover_server::store::now_ms();
    // Unsigned: refused, and the market does not exist.
    assert_eq!(
        call(&state, put(vec![], "/v1/markets/9", body.clone()))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let (s, _) = post(&state, "/api/generateProof?market_id=9", ask(234, 7, 3, 11)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Signed but wrong: unknown circuit, id mismatch.
    let bad = json!({ "id": "9", "circuit": "nope" })
        .to_string()
        .into_bytes();
    let (s, b, _) = call(
        &state,
        put(
            signed(&operator, "PUT", "/v1/markets/9", now, &bad),
            "/v1/markets/9",
            bad,
        ),
    )
    .await;
    assert_json_error(s, &serde_json::from_slice(&b).unwrap_or(Value::Null));
    let (s, _, _) = call(
        &state,
        put(
            signed(&operator, "PUT", "/v1/markets/8", now, &body),
            "/v1/markets/8",
            body.clone(),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // Signed and right: served at once, as a signed (TEE) market.
    let (s, b, _) = call(
        &state,
        put(
            signed(&operator, "PUT", "/v1/markets/9", now, &body),
            "/v1/markets/9",
            body.clone(),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let (s, v) = post(&state, "/api/generateProof?market_id=9", ask(234, 7, 3, 11)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let opened = prover_attest::signed::open_tee_proof(&bytes(&v["proof"])).expect("tee proof");
    assert_eq!(opened.signer, state.enclave.key.address());
    // Kept across restarts.
    let data_dir = state.config.data_dir.clone();
    state.begin_shutdown();
    worker.await.expect("worker stops");
    drop(state);
    let reopened = state_with("put-market-reopen", |c| c.data_dir = data_dir);
    assert!(reopened.market(Some("9")).is_ok_and(|m| m.signed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_signatures_are_checked_before_bodies_are_read() {
    let state = state_with("control-limits", |c| c.max_body_bytes = 4096);
    let operator = EthKey::load(&state.operator_key_path()).expect("operator key");
    let now = prover_server::store::now_ms();
    // Only a request refused before its body is read is answered.
    let endless = endless_body;
    let answered = |request: Request<Body>| {
        let state = state.clone();
        async move {
            tokio::time::timeout(Duration::from_secs(20), call(&state, request))
                .await
                .expect("answered without reading the body")
        }
    };
    let big = vec![b' '; 8192];
    // Signed by another key, a market change and an upload: 401, and no upload slot taken.
    for (method, path) in [("PUT", "/v1/markets/13"), ("POST", "/v1/circuits")] {
        let r = with_headers(
            Request::builder().method(method).uri(path),
            signed(&EthKey::generate(), method, path, now, &big),
        );
        let (s, b, _) = answered(r.body(endless()).expect("req")).await;
        assert_error(s, &b, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        state.upload_slots.available_permits(),
        prover_server::UPLOAD_SLOTS
    );
    // A signature no key could have made (v = 33).
    let bad_v = format!("0x{}21", "11".repeat(64));
    let r = Request::put("/v1/markets/13")
        .header(TIMESTAMP_HEADER, now.to_string())
        .header(SIGNATURE_HEADER, bad_v);
    let (s, _, _) = answered(r.body(endless()).expect("req")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // The operator's signature over a body over the ordinary limit: 413 after at most the
    // limit, not the upload limit.
    let r = with_headers(
        Request::put("/v1/markets/13").header(header::CONTENT_TYPE, "application/json"),
        signed(&operator, "PUT", "/v1/markets/13", now, &big),
    );
    let (s, b, _) = call(&state, r.body(Body::from(big.clone())).expect("req")).await;
    assert_error(s, &b, StatusCode::PAYLOAD_TOO_LARGE);
    // A body other than the signed one, with the signed body's hash or without a hash
    // (which declares an empty body): 401.
    let market = json!({ "id": "13", "circuit": "sample" })
        .to_string()
        .into_bytes();
    let headers = signed(&operator, "PUT", "/v1/markets/13", now + 2, &market);
    let r = with_headers(Request::put("/v1/markets/13"), headers);
    let (s, b, _) = call(&state, r.body(Body::from(b"{}".to_vec())).expect("req")).await;
    assert_eq!(
        s,
        StatusCode::UNAUTHORIZED,
        "{}",
        String::from_utf8_lossy(&b)
    );
    let headers = signed(&operator, "PUT", "/v1/markets/13", now + 3, &market)
        .into_iter()
        .filter(|(name, _)| *name != CONTENT_HASH_HEADER)
        .collect();
    let r = with_headers(Request::put("/v1/markets/13"), headers);
    let (s, b, _) = call(&state, r.body(Body::from(market)).expect("req")).await;
    assert_eq!(
        s,
        StatusCode::UNAUTHORIZED,
        "{}",
        String::from_utf8_lossy(&b)
    );
    assert!(String::from_utf8_lossy(&b).contains(CONTENT_HASH_HEADER));
    assert!(state.market(Some("13")).is_err());
    // Input widths that wrap around when summed are refused, not served.
    let wrapping = json!({ "id": "14", "circuit": "sample", "public_inputs": [format!("x[{}]", usize::MAX), "y[2]"] })
        .to_string()
        .into_bytes();
    let r = with_headers(
        Request::put("/v1/markets/14").header(header::CONTENT_TYPE, "application/json"),
        signed(&operator, "PUT", "/v1/markets/14", now, &wrapping),
    );
    let (s, b, _) = call(&state, r.body(Body::from(wrapping)).expect("req")).await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "{}",
        String::from_utf8_lossy(&b)
    );
    assert!(state.market(Some("14")).is_err());

    // A market naming both of the sample's public signals; then a replacement of the
    // sample circuit with one public signal is refused, since the market could no longer
    // be served.
    let market = json!({ "id": "13", "circuit": "sample", "public_inputs": ["x", "c"] })
        .to_string()
        .into_bytes();
    let r = with_headers(
        Request::put("/v1/markets/13").header(header::CONTENT_TYPE, "application/json"),
        signed(&operator, "PUT", "/v1/markets/13", now, &market),
    );
    let (s, b, _) = call(&state, r.body(Body::from(market)).expect("req")).await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/groth16/range_check"
    );
    let zkey = std::fs::read(format!("{dir}/circuit_final.zkey")).expect("zkey");
    let wasm = std::fs::read(format!("{dir}/circuit_js/circuit.wasm")).expect("wasm");
    let (ctype, body) = multipart(&[("id", b"sample"), ("zkey", &zkey), ("wasm", &wasm)]);
    let r = with_headers(
        Request::post("/v1/circuits").header(header::CONTENT_TYPE, ctype),
        signed(&operator, "POST", "/v1/circuits", now + 1, &body),
    );
    let (s, b, _) = call(&state, r.body(Body::from(body)).expect("req")).await;
    let v: Value = serde_json::from_slice(&b).unwrap_or(Value::Null);
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(v["error"].as_str().is_some_and(|e| e.contains("13")), "{v}");
    assert_eq!(
        state.circuits.get("sample").expect("sample").n_public(),
        2,
        "the circuit was not replaced"
    );
}

/// An upload that stops sending gives its slot back after `BODY_IDLE` (time is paused here,
/// so the test does not wait it out).
#[tokio::test(start_paused = true)]
async fn a_stalled_control_body_is_dropped() {
    let state = state_with("stalled", |_| {});
    let operator = EthKey::load(&state.operator_key_path()).expect("operator key");
    let now = prover_server::store::now_ms();
    // Operator-signed uploads (of a body that never arrives whole), one signature each.
    let upload = |body: Body, ts: u64| {
        with_headers(
            Request::post("/v1/circuits")
                .header(header::CONTENT_TYPE, "multipart/form-data; boundary=x"),
            signed(&operator, "POST", "/v1/circuits", ts, b"the body signed"),
        )
        .body(body)
        .expect("req")
    };
    let (s, b, _) = call(&state, upload(endless_body(), now)).await;
    assert_error(s, &b, StatusCode::REQUEST_TIMEOUT);
    assert_eq!(
        state.upload_slots.available_permits(),
        prover_server::UPLOAD_SLOTS
    );
    // One that trickles (a byte every 20 s, never a 30 s pause) is dropped too.
    let trickle = futures_util::stream::unfold(0u32, |i| async move {
        tokio::time::sleep(Duration::from_secs(20)).await;
        Some((
            Ok::<_, std::io::Error>(axum::body::Bytes::from_static(b"-")),
            i + 1,
        ))
    });
    let (s, b, _) = call(&state, upload(Body::from_stream(trickle), now + 1)).await;
    assert_eq!(
        s,
        StatusCode::REQUEST_TIMEOUT,
        "{}",
        String::from_utf8_lossy(&b)
    );
    assert!(String::from_utf8_lossy(&b).contains("slower"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_operator_address_is_the_only_signer() {
    let operator = EthKey::generate();
    let address = address_hex(&operator.address());
    let state = state_with("operator-configured", |c| {
        c.operator_address = Some(address.clone())
    });
    assert!(
        !state.operator_key_path().exists(),
        "no key generated when one is configured"
    );
    let now = prover_server::store::now_ms();
    let r = with_headers(
        Request::get("/v1/config?x=1"),
        signed(&operator, "GET", "/v1/config?x=1", now, b""),
    );
    assert_eq!(
        call(&state, r.body(Body::empty()).expect("req")).await.0,
        StatusCode::OK
    );
    // The query is signed: the same headers on another query are refused.
    let r = with_headers(
        Request::get("/v1/config?x=2"),
        signed(&operator, "GET", "/v1/config?x=1", now + 1, b""),
    );
    assert_eq!(
        call(&state, r.body(Body::empty()).expect("req")).await.0,
        StatusCode::UNAUTHORIZED
    );
}

/// The appliance's attestation, verified as a client would (development documents allowed:
/// no enclave here).
async fn attested(state: &AppState) -> prover_attest::Attestation {
    let (s, raw, headers) = call(
        state,
        Request::get("/attestation/raw")
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/octet-stream");
    let (s, hex_body, _) = call(
        state,
        Request::get("/attestation/hex")
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let from_hex = hex::decode(String::from_utf8_lossy(&hex_body).trim()).expect("hex");
    // Not hardware-backed: refused unless development documents are allowed.
    assert!(matches!(
        prover_attest::verify(&raw, &VerifyOptions::default()),
        Err(prover_attest::AttestError::Development)
    ));
    let allow = VerifyOptions {
        allow_dev: true,
        max_age_ms: Some(60_000),
        ..Default::default()
    };
    let a = prover_attest::verify(&raw, &allow).expect("verifies");
    let b = prover_attest::verify(&from_hex, &allow).expect("verifies");
    assert_eq!(
        (a.public_key.clone(), a.user_data.clone()),
        (b.public_key, b.user_data)
    );
    a
}

fn attested_address(a: &prover_attest::Attestation) -> [u8; 20] {
    let pk: [u8; 64] = a
        .public_key
        .clone()
        .expect("public key")
        .try_into()
        .expect("64 bytes");
    prover_attest::key::address_of(&pk)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attestation_binds_the_key_and_the_build() {
    let state = state_with("attestation", |_| {});
    let a = attested(&state).await;
    assert_eq!(a.module_id, prover_attest::DEV_MODULE_ID);
    assert!(!a.hardware);
    assert_eq!(
        a.public_key.as_deref(),
        Some(&state.enclave.key.public_key()[..])
    );
    assert_eq!(
        a.user_data.as_deref(),
        Some(&state.enclave.build_info.user_data()[..])
    );
    assert_eq!(attested_address(&a), state.enclave.key.address());
    let (_, v) = get(&state, "/healthz").await;
    assert_eq!(
        v["enclave_address"],
        address_hex(&state.enclave.key.address())
    );
}

fn signed_market(c: &mut Config) {
    c.markets.push(prover_server::MarketConfig {
        id: "5".into(),
        circuit: "sample".into(),
        public_inputs: vec!["c".into()],
        g2_order: Default::default(),
        benchmark_input: None,
        signed: true,
    });
    c.default_market = Some("1".into());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tee_markets_return_proofs_signed_by_the_attested_key() {
    let state = state_with("tee", signed_market);
    tokio::spawn(jobs::run_worker(state.clone()));
    let address = attested_address(&attested(&state).await);
    let (s, v) = post(&state, "/api/generateProof?market_id=5", ask(234, 7, 3, 11)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let encoded = bytes(&v["proof"]);
    let opened = prover_attest::signed::open_tee_proof(&encoded).expect("tee proof");
    assert_eq!(opened.signer, address);
    assert_eq!(
        opened.inputs,
        public_to_abi(&[Fr::from(234u64), Fr::from(7u64)])
    );
    let proof_bytes = opened.proof;
    let circuit = state.circuits.get("sample").expect("sample");
    let proof = proof_from_abi(&proof_bytes, G2Order::ImaginaryFirst).expect("abi");
    assert!(verify(&circuit.key.vk, &[Fr::from(234u64), Fr::from(7u64)], &proof).expect("verify"));
    // Market 1 (not signed) still answers the bare 256-byte proof.
    let (_, v) = post(&state, "/api/generateProof", ask(234, 7, 3, 11)).await;
    assert_eq!(bytes(&v["proof"]).len(), 256);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_inputs_get_a_signature_over_ask_id_and_prover_data() {
    let state = state_with("invalid-inputs", |_| {});
    let address = attested_address(&attested(&state).await);
    let mut valid = ask(234, 7, 3, 11);
    valid["ask_id"] = json!(9);
    let (s, v) = post(&state, "/api/getAttestationForInvalidInputs", valid).await;
    assert_eq!((s, v.clone()), (StatusCode::OK, json!({ "valid": true })));
    for (ask_id, expected) in [
        (json!(42), U256::from_u64(42)),
        (json!("42"), U256::from_u64(42)),
        (json!("0x2a"), U256::from_u64(42)),
        (
            json!("115792089237316195423570985008687907853269984665640564039457584007913129639935"),
            U256([0xff; 32]),
        ),
    ] {
        let mut invalid = ask(235, 7, 3, 11);
        invalid["ask_id"] = ask_id.clone();
        let (s, v) = post(
            &state,
            "/api/getAttestationForInvalidInputs",
            invalid.clone(),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let sig = bytes(&v["proof"]);
        assert_eq!(sig.len(), 65);
        let prover_data = bytes(&invalid["public"]);
        let hash = prover_attest::signed::invalid_input_hash(&expected.0, &prover_data);
        assert_eq!(
            prover_attest::key::recover_eip191(&hash, &sig).expect("recover"),
            address,
            "{ask_id}"
        );
    }
    let mut bad = ask(235, 7, 3, 11);
    bad["ask_id"] = json!("-1");
    let (s, v) = post(&state, "/api/getAttestationForInvalidInputs", bad).await;
    assert_json_error(s, &v);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_secrets_are_decrypted_with_the_attested_key() {
    let state = started("encrypted");
    let a = attested(&state).await;
    let receiver = a.public_key.clone().expect("key");
    let secrets = br#"{"a":"3","b":"11"}"#;
    let public = public_to_abi(&[Fr::from(234u64), Fr::from(7u64)]);
    let market = U256::from_u64(1);
    let (data, acl) =
        prover_attest::secrets::encrypt_secrets(&receiver, secrets, market.minimal_be())
            .expect("encrypt");
    let body = json!({ "public": public, "secrets": { "EncryptedSecrets": { "encrypted_data": data, "acl": acl } } });
    let (s, v) = post(&state, "/api/checkInput", body.clone()).await;
    assert_eq!(
        (s, v["valid"].as_bool()),
        (StatusCode::OK, Some(true)),
        "{v}"
    );
    let (s, v) = post(&state, "/api/generateProof", body).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let circuit = state.circuits.get("sample").expect("sample");
    let proof = proof_from_abi(&bytes(&v["proof"]), G2Order::ImaginaryFirst).expect("abi");
    assert!(verify(&circuit.key.vk, &[Fr::from(234u64), Fr::from(7u64)], &proof).expect("verify"));
    // Encrypted for another market (AAD): not decryptable here. That says nothing about
    // the inputs, so every endpoint refuses it, and none signs it as invalid inputs.
    let (data, acl) =
        prover_attest::secrets::encrypt_secrets(&receiver, secrets, U256::from_u64(2).minimal_be())
            .expect("encrypt");
    let other = json!({ "public": public, "secrets": { "EncryptedSecrets": { "encrypted_data": data, "acl": acl } } });
    let mut other_ask = other.clone();
    other_ask["ask_id"] = json!(7);
    for (path, body) in [
        ("/api/checkInput", &other),
        ("/api/generateProof", &other),
        ("/api/getAttestationForInvalidInputs", &other_ask),
    ] {
        let (s, v) = post(&state, path, body.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{path}: {v}");
        assert_json_error(s, &v);
        assert!(
            v["error"].as_str().is_some_and(|e| e.contains("decrypt")),
            "{path}: {v}"
        );
        // No secret value appears in the refusal.
        assert!(!v.to_string().contains("\"11\""), "{v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_keeps_crashing_the_appliance_is_failed_not_retried_forever() {
    use prover_server::store::{now_ms, JobInput, JobRecord, JobState, JobStore};
    let dir = temp_dir("crashloop");
    let record = |attempts| JobRecord {
        state: JobState::Running,
        started_ms: Some(now_ms()),
        attempts,
        ..JobRecord::queued("sample", false, None)
    };
    let input = JobInput::Json("{\"a\":\"3\",\"b\":\"11\",\"c\":\"7\"}".into());
    let (poison, survivor) = {
        let store = JobStore::open(&dir).expect("store");
        (
            store
                .insert(record(jobs::MAX_ATTEMPTS), Some(&input))
                .expect("insert")
                .id,
            store.insert(record(1), Some(&input)).expect("insert").id,
        )
    };
    let state = state_with("crashloop-reopen", |c| c.data_dir = dir.clone());
    let failed = state.store.get(poison).expect("get").expect("record");
    assert_eq!(failed.state, JobState::Failed);
    assert!(failed.error.is_some_and(|e| e.contains("not retried")));
    tokio::spawn(jobs::run_worker(state.clone()));
    let done = jobs::wait(&state, survivor).await.expect("finishes");
    assert_eq!(done.state, JobState::Done, "{:?}", done.error);
    assert_eq!(done.attempts, 2);
}
