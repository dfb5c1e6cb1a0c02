//! Witness generation for `prove --wasm`.

use std::path::Path;

use anyhow::{bail, Result};
use ark_bn254::Fr;

pub fn from_wasm(_wasm: &Path, _input_json: &str) -> Result<Vec<Fr>> {
    bail!("witness generation from wasm is not available in this build yet: pass --witness")
}
