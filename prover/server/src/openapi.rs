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
            "/api/generateProof": { "post": { "summary": "Prove an ask (Kalypso InputPayload) and return the proof bytes in the market's ABI layout",
                "parameters": market,
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
                "post": { "summary": "Register a circuit (operator token: Authorization: Bearer ...)",
                    "requestBody": { "required": true, "content": { "multipart/form-data": { "schema": {
                        "type": "object", "required": ["id", "zkey", "wasm"],
                        "properties": { "id": { "type": "string" }, "zkey": { "type": "string", "format": "binary" }, "wasm": { "type": "string", "format": "binary" } } } } } },
                    "responses": { "201": { "description": "registered" }, "401": error(), "4XX": error() } } },
            "/healthz": { "get": { "summary": "Health", "responses": { "200": { "description": "ok" }, "503": { "description": "draining" } } } },
            "/metrics": { "get": { "summary": "Prometheus metrics", "responses": { "200": { "description": "text/plain" } } } }
        }
    }))
}
