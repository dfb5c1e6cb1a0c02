//! iden3 `.wtns` reader (versions 1 and 2) and writer (version 2): header (n8, prime, count) then the values in
//! standard form, little-endian.

use std::path::Path;

use ark_bn254::Fr;

use crate::binfile::{self, BinFile};
use crate::encoding::{fr_standard, fr_to_standard, modulus_bytes, N8};
use crate::{Groth16Error, Result};

const FILE: &str = "wtns";

/// Reads a witness file.
pub fn read_wtns(path: impl AsRef<Path>) -> Result<Vec<Fr>> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| Groth16Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse_wtns(&bytes)
}

/// Parses a witness from bytes.
pub fn parse_wtns(bytes: &[u8]) -> Result<Vec<Fr>> {
    // snarkjs and rapidsnark read every version up to 2 with the same header.
    let bin = BinFile::parse(bytes, FILE, "wtns", &[1, 2], "1 or 2")?;
    let mut r = bin.reader(1)?;
    r.expect_field::<Fr>("scalar field")?;
    let count = r.u32()? as usize;
    let values = bin.sized_section(2, (count * N8) as u64)?;
    values
        .chunks_exact(N8)
        .enumerate()
        .map(|(index, b)| {
            fr_standard(b).ok_or(Groth16Error::NonCanonical {
                file: FILE,
                what: "witness value",
                index,
            })
        })
        .collect()
}

/// Serialises a witness exactly as circom's `generate_witness.js` writes it.
pub fn write_wtns(witness: &[Fr]) -> Vec<u8> {
    let mut header = Vec::with_capacity(8 + N8);
    header.extend_from_slice(&(N8 as u32).to_le_bytes());
    header.extend_from_slice(&modulus_bytes::<Fr>());
    header.extend_from_slice(&(witness.len() as u32).to_le_bytes());
    let mut values = Vec::with_capacity(witness.len() * N8);
    for w in witness {
        values.extend_from_slice(&fr_to_standard(w));
    }
    binfile::write("wtns", 2, &[(1, header), (2, values)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::UniformRand;

    #[test]
    fn round_trip() {
        let mut rng = ark_std::test_rng();
        let w: Vec<Fr> = (0..17).map(|_| Fr::rand(&mut rng)).collect();
        assert_eq!(parse_wtns(&write_wtns(&w)).expect("parses"), w);
    }

    #[test]
    fn reads_versions_1_and_2_and_no_other() {
        let w = [Fr::from(1u64), Fr::from(5u64)];
        let mut bytes = write_wtns(&w);
        // The version word follows the 4-byte magic.
        for version in [1u32, 2] {
            bytes[4..8].copy_from_slice(&version.to_le_bytes());
            assert_eq!(parse_wtns(&bytes).expect("parses"), w, "version {version}");
        }
        bytes[4..8].copy_from_slice(&3u32.to_le_bytes());
        assert!(parse_wtns(&bytes).is_err());
    }

    #[test]
    fn rejects_a_value_above_the_modulus() {
        let mut bytes = write_wtns(&[Fr::from(1u64), Fr::from(2u64)]);
        let len = bytes.len();
        bytes[len - N8..].copy_from_slice(&[0xff; N8]);
        assert!(matches!(
            parse_wtns(&bytes),
            Err(Groth16Error::NonCanonical { index: 1, .. })
        ));
    }
}
