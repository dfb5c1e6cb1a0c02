//! Witness generation for `prove --wasm --input`.

use std::path::Path;

use anyhow::{Context, Result};
use ark_bn254::Fr;
use prover_witness::{Limits, WitnessCalculator};

/// Runs the circuit's wasm on the input JSON (in process, as snarkjs's
/// `generate_witness.js` would); `sym` names the signals in errors. `constraints` (the
/// zkey's domain size) sizes the calculation's fuel.
pub fn from_wasm(
    wasm: &Path,
    sym: Option<&Path>,
    input_json: &str,
    constraints: u64,
) -> Result<Vec<Fr>> {
    let mut calculator =
        WitnessCalculator::from_file_with_limits(wasm, Limits::for_constraints(constraints))
            .with_context(|| format!("cannot load witness generator {}", wasm.display()))?;
    if let Some(sym) = sym {
        calculator = calculator
            .with_sym_file(sym)
            .with_context(|| format!("cannot read {}", sym.display()))?;
    }
    calculator
        .calculate_json(input_json)
        .context("cannot compute the witness")
}
