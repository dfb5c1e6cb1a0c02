#![no_main]
//! Any bytes given to the zkey reader give a key or an error, never a panic or a hang.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = prover_groth16::ProvingKey::from_bytes(data);
});
