#![no_main]
//! snarkjs JSON and ABI decoders never panic on any input.
use libfuzzer_sys::fuzz_target;
use prover_groth16::G2Order;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = prover_groth16::proof_from_json(text);
        let _ = prover_groth16::public_from_json(text);
        let _ = prover_groth16::verifying_key_from_json(text);
    }
    let _ = prover_groth16::proof_from_abi(data, G2Order::ImaginaryFirst);
    let _ = prover_groth16::public_from_abi(data, data.len() / 32);
});
