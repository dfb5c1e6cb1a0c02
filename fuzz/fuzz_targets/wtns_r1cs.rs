#![no_main]
//! The witness and constraint-system readers never panic on any input.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = prover_groth16::parse_wtns(data);
    let _ = prover_groth16::R1cs::from_bytes(data);
});
