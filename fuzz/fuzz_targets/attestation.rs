#![no_main]
//! Any bytes given to the attestation verifier give an attestation or an error, never a
//! panic or a hang: the COSE envelope, the CBOR payload, every certificate and both
//! signature checks see attacker-chosen input. Development documents are allowed so the
//! fuzzer also reaches the chain and signature checks on self-signed chains.
use libfuzzer_sys::fuzz_target;
use prover_attest::VerifyOptions;

fuzz_target!(|data: &[u8]| {
    let strict = VerifyOptions::default();
    let _ = prover_attest::verify(data, &strict);
    let lenient = VerifyOptions {
        allow_dev: true,
        max_age_ms: Some(1),
        now_ms: Some(0),
        ..Default::default()
    };
    let _ = prover_attest::verify(data, &lenient);
    let _ = prover_attest::abi::decode_bytes(data, 3);
});
