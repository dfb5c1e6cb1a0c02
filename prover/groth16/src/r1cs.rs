//! circom `.r1cs` (version 1) reader: the constraints, for tests that check a witness
//! against them independently of the zkey. (The prover needs no r1cs: a witness that breaks
//! a constraint gives a proof that fails the self-check against the key's verifying key,
//! and nothing is returned.)

use std::path::Path;

use ark_bn254::Fr;
use ark_ff::Zero;

use crate::binfile::{BinFile, Reader};
use crate::encoding::{fr_standard, N8};
use crate::{Groth16Error, Result};

const FILE: &str = "r1cs";

/// A sparse linear combination: (signal, coefficient).
pub type LinearCombination = Vec<(u32, Fr)>;

/// A parsed constraint system `A·w ∘ B·w = C·w`.
#[derive(Clone, Debug)]
pub struct R1cs {
    pub n_wires: usize,
    pub n_pub_out: usize,
    pub n_pub_in: usize,
    /// As circom declares it: may count private inputs that are in no constraint and so
    /// are no wire (then `1 + n_pub_out + n_pub_in + n_prv_in > n_wires`).
    pub n_prv_in: usize,
    pub constraints: Vec<[LinearCombination; 3]>,
}

impl R1cs {
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Groth16Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_bytes(&bytes)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let bin = BinFile::parse(bytes, FILE, "r1cs", &[1], "1")?;
        let mut h = bin.reader(1)?;
        h.expect_field::<Fr>("scalar field")?;
        let n_wires = h.u32()? as usize;
        let n_pub_out = h.u32()? as usize;
        let n_pub_in = h.u32()? as usize;
        let n_prv_in = h.u32()? as usize;
        let _n_labels = h.u64()?;
        let m = h.u32()? as usize;
        // Only the public signals are sure to be wires (1..=nPubOut+nPubIn). circom drops a
        // private input that appears in no constraint from the wires yet still counts it in
        // nPrvIn (`signal input pad;` unused: 3 private inputs, 2 of them wires), so nPrvIn
        // may exceed the wires left.
        if 1 + n_pub_out + n_pub_in > n_wires {
            return Err(Groth16Error::InvalidHeader {
                file: FILE,
                what: format!("{n_wires} wires cannot hold the declared public signals"),
            });
        }
        let mut r = bin.reader(2)?;
        // Each constraint needs at least 12 bytes: refuse counts the section cannot hold
        // before allocating for them.
        if m.saturating_mul(12) > r.remaining() {
            return Err(Groth16Error::Truncated {
                file: FILE,
                what: format!("constraints section for {m} constraints"),
                needed: (m as u64) * 12,
                available: r.remaining() as u64,
            });
        }
        let mut constraints = Vec::with_capacity(m);
        for _ in 0..m {
            let a = read_lc(&mut r, n_wires)?;
            let b = read_lc(&mut r, n_wires)?;
            let c = read_lc(&mut r, n_wires)?;
            constraints.push([a, b, c]);
        }
        Ok(Self {
            n_wires,
            n_pub_out,
            n_pub_in,
            n_prv_in,
            constraints,
        })
    }

    /// Public signals (outputs then public inputs), excluding the constant.
    pub fn n_public(&self) -> usize {
        self.n_pub_out + self.n_pub_in
    }

    /// The index of the first unsatisfied constraint, if any.
    pub fn first_unsatisfied(&self, witness: &[Fr]) -> Result<Option<usize>> {
        if witness.len() != self.n_wires {
            return Err(Groth16Error::WitnessLength {
                expected: self.n_wires,
                got: witness.len(),
            });
        }
        let eval = |lc: &LinearCombination| -> Fr {
            lc.iter().map(|(s, c)| witness[*s as usize] * c).sum()
        };
        Ok(self
            .constraints
            .iter()
            .position(|[a, b, c]| !(eval(a) * eval(b) - eval(c)).is_zero()))
    }
}

fn read_lc(r: &mut Reader<'_>, n_wires: usize) -> Result<LinearCombination> {
    let terms = r.u32()? as usize;
    if terms.saturating_mul(4 + N8) > r.remaining() {
        return Err(Groth16Error::Truncated {
            file: FILE,
            what: format!("linear combination of {terms} terms"),
            needed: (terms * (4 + N8)) as u64,
            available: r.remaining() as u64,
        });
    }
    let mut lc = Vec::with_capacity(terms);
    for index in 0..terms {
        let wire = r.u32()?;
        if wire as usize >= n_wires {
            return Err(Groth16Error::InvalidHeader {
                file: FILE,
                what: format!("term refers to wire {wire} of {n_wires}"),
            });
        }
        let coef = fr_standard(r.bytes(N8)?).ok_or(Groth16Error::NonCanonical {
            file: FILE,
            what: "coefficient",
            index,
        })?;
        lc.push((wire, coef));
    }
    Ok(lc)
}
