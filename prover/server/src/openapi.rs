//! `GET /openapi.json`: the API described for clients and for schema-driven testers.

use axum::Json;
use serde_json::{json, Value};

fn bytes() -> Value {
    json!({ "type": "array", "items": { "type": "integer", "minimum": 0, "maximum": 255 } })
}

fn error() -> Value {
    json!({ "description": "error", "content": { "application/json": { "schema": {
        "type": "object", "required": ["error"], "properties": { "error": { "type": "string" } } } } } })
}

pub async fn document() -> Json<Value> {
    let market = json!([{ "name": "market_id", "in": "query", "required": false, "schema": { "type": "string" } }]);
    let operator = json!([
        { "name": "X-Operator-Timestamp", "in": "header", "required": true, "schema": { "type": "string" },
          "description": "Unix time in ms; refused when more than 60 s from the appliance's clock" },
        { "name": "X-Operator-Signature", "in": "header", "required": true, "schema": { "type": "string" },
          "description": "0x + 65-byte EIP-191 signature by the operator key over keccak256(METHOD \\n PATH_AND_QUERY \\n TIMESTAMP \\n sha256(body)); each request is accepted once" },
        { "name": "X-Operator-Content-Sha256", "in": "header", "required": false, "schema": { "type": "string" },
          "description": "hex sha256 of the body; required when the body is not empty (the signature is checked against it before the body is read)" }
    ]);
    let input_payload = json!({
        "type": "object", "required": ["public"],
        "properties": {
            "public": bytes(),
            "secrets": { "nullable": true, "oneOf": [
                { "type": "object", "required": ["PlainSecrets"], "properties": { "PlainSecrets": bytes() } },
                { "type": "object", "required": ["EncryptedSecrets"], "properties": { "EncryptedSecrets": {
                    "type": "object", "properties": { "encrypted_data": bytes(), "acl": bytes() } } } }
            ] }
        }
    });
    Json(json!({
        "openapi": "3.0.3",
        "info": { "title": "Proving appliance", "version": env!("CARGO_PKG_VERSION") },
        "paths": {
            "/api/test": { "get": { "summary": "Liveness for the Kalypso listener", "responses": { "200": { "description": "{\"data\": ...}" } } } },
            "/api/benchmark": { "get": { "summary": "Prove the market's circuit and report time_in_ms", "parameters": market,
                "responses": { "200": { "description": "{\"data\": ..., \"time_in_ms\": n}" }, "4XX": error() } } },
            "/api/generateProof": { "post": { "summary": "Prove an ask (Kalypso InputPayload; EncryptedSecrets are decrypted with the appliance key) and return the proof bytes in the market's ABI layout (signed markets: abi.encode(bytes inputs, bytes proof, bytes sig))",
                "parameters": market.clone(),
                "requestBody": { "required": true, "content": { "application/json": { "schema": input_payload } } },
                "responses": { "200": { "description": "{\"proof\": [bytes]}" }, "4XX": error(), "5XX": error() } } },
            "/api/checkInput": { "post": { "summary": "Whether an ask's inputs are provable", "parameters": market,
                "requestBody": { "required": true, "content": { "application/json": { "schema": input_payload } } },
                "responses": { "200": { "description": "{\"valid\": bool}" }, "4XX": error() } } },
            "/api/verifyInputsAndProof": { "post": { "summary": "Verify an ABI proof against ABI public inputs", "parameters": market,
                "requestBody": { "required": true, "content": { "application/json": { "schema": {
                    "type": "object", "required": ["proof"],
                    "properties": { "public_input": bytes(), "private_input": bytes(), "proof": bytes() } } } } },
                "responses": { "200": { "description": "{\"is_input_and_proof_valid\": bool}" }, "4XX": error() } } },
            "/api/getAttestationForInvalidInputs": { "post": { "summary": "For an ask whose inputs are invalid: the enclave key's EIP-191 signature over keccak256(abi.encode(askId, proverData)); {\"valid\": true} when they are valid",
                "parameters": market.clone(),
                "requestBody": { "required": true, "content": { "application/json": { "schema": {
                    "type": "object", "required": ["ask_id", "public"],
                    "properties": {
                        "ask_id": { "oneOf": [{ "type": "integer", "minimum": 0 }, { "type": "string", "description": "decimal or 0x-hex uint256" }] },
                        "public": bytes(),
                        "secrets": input_payload["properties"]["secrets"].clone()
                    } } } } },
                "responses": { "200": { "description": "{\"valid\": true} or {\"proof\": [65 signature bytes]}" }, "4XX": error() } } },
            "/attestation/raw": { "get": { "summary": "A fresh attestation document (COSE_Sign1, AWS Nitro format) binding the appliance key (public_key) and sha256 of its build info (user_data)",
                "responses": { "200": { "description": "document", "content": { "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } } }, "5XX": error() } } },
            "/attestation/hex": { "get": { "summary": "The same document as hex text",
                "responses": { "200": { "description": "document", "content": { "text/plain": { "schema": { "type": "string" } } } }, "5XX": error() } } },
            "/v1/markets/{id}": { "put": { "summary": "Add or change a Kalypso market at run time (operator-signed request); kept in the data directory",
                "parameters": [operator[0].clone(), operator[1].clone(), { "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }],
                "requestBody": { "required": true, "content": { "application/json": { "schema": {
                    "type": "object", "required": ["id", "circuit"],
                    "properties": {
                        "id": { "type": "string" }, "circuit": { "type": "string" },
                        "public_inputs": { "type": "array", "items": { "type": "string" } },
                        "g2_order": { "type": "string", "enum": ["imaginary-first", "real-first"] },
                        "benchmark_input": { "type": "string" },
                        "signed": { "type": "boolean" }
                    } } } } },
                "responses": { "200": { "description": "market set" }, "400": error(), "401": error() } } },
            "/v1/config": { "get": { "summary": "The running configuration, markets and identity (operator-signed request)",
                "parameters": operator.clone(),
                "responses": { "200": { "description": "config" }, "401": error() } } },
            "/v1/jobs": { "post": { "summary": "Queue a proof job",
                "requestBody": { "required": true, "content": { "application/json": { "schema": {
                    "type": "object", "required": ["circuit"],
                    "properties": { "circuit": { "type": "string" }, "input": { "type": "object" }, "wtns_hex": { "type": "string" } } } } } },
                "responses": { "202": { "description": "{\"id\": n, ...}" }, "429": error(), "4XX": error() } } },
            "/v1/jobs/wtns": { "post": { "summary": "Queue a proof job from a raw .wtns body",
                "parameters": [{ "name": "circuit", "in": "query", "required": true, "schema": { "type": "string" } }],
                "requestBody": { "required": true, "content": { "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } } },
                "responses": { "202": { "description": "{\"id\": n, ...}" }, "429": error(), "4XX": error() } } },
            "/v1/jobs/{id}": { "get": { "summary": "Job status",
                "parameters": [
                    { "name": "id", "in": "path", "required": true, "schema": { "type": "integer" } },
                    { "name": "wait_ms", "in": "query", "schema": { "type": "integer" }, "description": "long-poll up to this long (max 60000)" }
                ],
                "responses": { "200": { "description": "job" }, "404": error() } } },
            "/v1/jobs/{id}/proof": { "get": { "summary": "The proof as snarkjs JSON, Solidity calldata or ABI hex",
                "parameters": [
                    { "name": "id", "in": "path", "required": true, "schema": { "type": "integer" } },
                    { "name": "format", "in": "query", "schema": { "type": "string", "enum": ["snarkjs", "calldata", "abi"] } },
                    { "name": "g2_order", "in": "query", "schema": { "type": "string", "enum": ["imaginary-first", "real-first"] } }
                ],
                "responses": { "200": { "description": "proof" }, "409": error(), "422": error(), "404": error() } } },
            "/v1/circuits": {
                "get": { "summary": "Circuits served", "responses": { "200": { "description": "{\"circuits\": [...]}" } } },
                "post": { "summary": "Register a circuit (operator-signed request: X-Operator-Timestamp, X-Operator-Signature, X-Operator-Content-Sha256)",
                    "parameters": operator,
                    "requestBody": { "required": true, "content": { "multipart/form-data": { "schema": {
                        "type": "object", "required": ["id", "zkey", "wasm"],
                        "properties": { "id": { "type": "string" }, "zkey": { "type": "string", "format": "binary" }, "wasm": { "type": "string", "format": "binary" } } } } } },
                    "responses": { "201": { "description": "registered" }, "401": error(), "4XX": error() } } },
            "/healthz": { "get": { "summary": "Health", "responses": { "200": { "description": "ok" }, "503": { "description": "draining, the job store failing, or the device faulting on several jobs in a row (restart the appliance)" } } } },
            "/metrics": { "get": { "summary": "Prometheus metrics", "responses": { "200": { "description": "text/plain" } } } }
        }
    }))
}
