//! snarkjs `.zkey` (Groth16, BN254) reader.
//!
//! Loading is fast because nothing is converted: points are stored in Montgomery form with
//! the same radix arkworks uses, so each coordinate is copied as it is, in parallel, with
//! only a range check and an on-curve check. (ark-circom's reader goes through arkworks'
//! validating deserialisation and takes seconds on keys this reads in milliseconds.)

use std::path::Path;

use ark_bn254::{Fq, Fr, G1Affine, G2Affine};
use ark_ec::short_weierstrass::{Affine, SWCurveConfig};
use ark_ec::AffineRepr;
use ark_ff::{Field, PrimeField};
use rayon::prelude::*;

use crate::binfile::{BinFile, Reader};
use crate::encoding::{fr_mont, g1_mont, g2_mont, N8};
use crate::verifier::VerifyingKey;
use crate::{Groth16Error, Result};

const FILE: &str = "zkey";
const G1_BYTES: usize = 2 * N8;
const G2_BYTES: usize = 4 * N8;

/// One non-zero entry of the A or B matrix: `matrix[constraint][signal] = value`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Coef {
    pub constraint: u32,
    pub signal: u32,
    pub value: Fr,
}

/// Sizes and the fixed elements of a Groth16 key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZkeyHeader {
    /// Number of signals (witness length), including the constant 1.
    pub n_vars: usize,
    /// Number of public signals (outputs then public inputs), excluding the constant.
    pub n_public: usize,
    /// QAP domain size (a power of two).
    pub domain_size: usize,
    pub alpha1: G1Affine,
    pub beta1: G1Affine,
    pub beta2: G2Affine,
    pub gamma2: G2Affine,
    pub delta1: G1Affine,
    pub delta2: G2Affine,
}

/// A whole proving key.
#[derive(Clone, Debug)]
pub struct ProvingKey {
    pub header: ZkeyHeader,
    /// Verifier points for the constant and each public signal.
    pub ic: Vec<G1Affine>,
    pub coefs_a: Vec<Coef>,
    pub coefs_b: Vec<Coef>,
    pub a: Vec<G1Affine>,
    pub b1: Vec<G1Affine>,
    pub b2: Vec<G2Affine>,
    /// For the private signals only (`n_public + 1 ..`).
    pub c: Vec<G1Affine>,
    /// Lagrange bases on the odd coset, for snarkjs's quotient.
    pub h: Vec<G1Affine>,
}

impl ProvingKey {
    /// Reads a `.zkey` file through a memory map (no copy of the file into the heap).
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let io = |source| Groth16Error::Io {
            path: path.display().to_string(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        // A directory opens, and then fails to map with ENODEV ("No such device"): say
        // what is wrong instead.
        if file.metadata().map_err(io)?.is_dir() {
            return Err(io(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "is a directory, not a .zkey file",
            )));
        }
        // SAFETY: the map is read-only and dropped before returning; if another process
        // truncates the file meanwhile we may fault, as every mmap reader may. Keys are
        // operator-supplied files that are not modified while loading.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
        Self::from_bytes(&map)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let bin = BinFile::parse(bytes, FILE, "zkey", &[1], "1")?;
        let mut r = bin.reader(1)?;
        let protocol = r.u32()?;
        if protocol != 1 {
            return Err(Groth16Error::NotGroth16(protocol));
        }
        let header = read_header(&mut bin.reader(2)?)?;
        let n_vars = header.n_vars;
        let n_public = header.n_public;
        let private = n_vars - n_public - 1;

        let ic = g1_points(
            bin.sized_section(3, ((n_public + 1) * G1_BYTES) as u64)?,
            "IC point",
        )?;
        let (coefs_a, coefs_b) = read_coefs(&bin, &header)?;
        let a = g1_points(bin.sized_section(5, (n_vars * G1_BYTES) as u64)?, "A point")?;
        let b1 = g1_points(
            bin.sized_section(6, (n_vars * G1_BYTES) as u64)?,
            "B1 point",
        )?;
        let b2 = g2_points(
            bin.sized_section(7, (n_vars * G2_BYTES) as u64)?,
            "B2 point",
        )?;
        let c = g1_points(
            bin.sized_section(8, (private * G1_BYTES) as u64)?,
            "C point",
        )?;
        let h = g1_points(
            bin.sized_section(9, (header.domain_size * G1_BYTES) as u64)?,
            "H point",
        )?;
        Ok(Self {
            header,
            ic,
            coefs_a,
            coefs_b,
            a,
            b1,
            b2,
            c,
            h,
        })
    }

    /// The verifying key embedded in the proving key.
    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey {
            alpha1: self.header.alpha1,
            beta2: self.header.beta2,
            gamma2: self.header.gamma2,
            delta2: self.header.delta2,
            ic: self.ic.clone(),
        }
    }
}

fn read_header(r: &mut Reader<'_>) -> Result<ZkeyHeader> {
    r.expect_field::<Fq>("base field")?;
    r.expect_field::<Fr>("scalar field")?;
    let n_vars = r.u32()? as usize;
    let n_public = r.u32()? as usize;
    let domain_size = r.u32()? as usize;
    let bad = |what: String| Groth16Error::InvalidHeader { file: FILE, what };
    if n_vars < n_public + 1 {
        return Err(bad(format!(
            "{n_vars} signals cannot hold the constant and {n_public} public signals"
        )));
    }
    if !domain_size.is_power_of_two() || domain_size < n_public + 1 {
        return Err(bad(format!(
            "domain size {domain_size} is not a usable power of two"
        )));
    }
    kernels_accel::check_ntt_size::<Fr>(2 * domain_size)
        .map_err(|e| bad(format!("domain size {domain_size}: {e}")))?;
    let g1 = |r: &mut Reader<'_>, what: &'static str| -> Result<G1Affine> {
        point(g1_mont(r.bytes(G1_BYTES)?), what, 0)
    };
    let g2 = |r: &mut Reader<'_>, what: &'static str| -> Result<G2Affine> {
        point(g2_mont(r.bytes(G2_BYTES)?), what, 0)
    };
    Ok(ZkeyHeader {
        n_vars,
        n_public,
        domain_size,
        alpha1: g1(r, "alpha1")?,
        beta1: g1(r, "beta1")?,
        beta2: g2(r, "beta2")?,
        gamma2: g2(r, "gamma2")?,
        delta1: g1(r, "delta1")?,
        delta2: g2(r, "delta2")?,
    })
}

fn point<P: SWCurveConfig>(
    p: Option<Affine<P>>,
    what: &'static str,
    index: usize,
) -> Result<Affine<P>> {
    let p = p.ok_or(Groth16Error::NonCanonical {
        file: FILE,
        what,
        index,
    })?;
    // Infinity is allowed (signals absent from a matrix have zero points).
    if !(p.is_zero() || p.is_on_curve()) {
        return Err(Groth16Error::NotOnCurve {
            file: FILE,
            what,
            index,
        });
    }
    Ok(p)
}

fn g1_points(bytes: &[u8], what: &'static str) -> Result<Vec<G1Affine>> {
    bytes
        .par_chunks_exact(G1_BYTES)
        .enumerate()
        .map(|(i, b)| point(g1_mont(b), what, i))
        .collect()
}

fn g2_points(bytes: &[u8], what: &'static str) -> Result<Vec<G2Affine>> {
    bytes
        .par_chunks_exact(G2_BYTES)
        .enumerate()
        .map(|(i, b)| point(g2_mont(b), what, i))
        .collect()
}

/// The A and B matrices. snarkjs stores each value as `v * R^2` (Montgomery form applied
/// twice), so the value read as a Montgomery element is `v * R` and one multiplication by
/// `R^-1` recovers `v`.
fn read_coefs(bin: &BinFile<'_>, header: &ZkeyHeader) -> Result<(Vec<Coef>, Vec<Coef>)> {
    let mut r = bin.reader(4)?;
    let count = r.u32()? as usize;
    const ENTRY: usize = 12 + N8;
    if r.remaining() != count * ENTRY {
        return Err(Groth16Error::SectionSize {
            file: FILE,
            section: 4,
            expected: (4 + count * ENTRY) as u64,
            got: (4 + r.remaining()) as u64,
        });
    }
    let body = r.bytes(count * ENTRY)?;
    let r_inv = Fr::from_bigint(Fr::R)
        .and_then(|r| r.inverse())
        .unwrap_or(Fr::ONE);
    let parsed: Vec<(u32, Coef)> = body
        .par_chunks_exact(ENTRY)
        .enumerate()
        .map(|(index, e)| {
            let word = |o: usize| u32::from_le_bytes([e[o], e[o + 1], e[o + 2], e[o + 3]]);
            let (matrix, constraint, signal) = (word(0), word(4), word(8));
            let bad = |what: String| Groth16Error::BadCoefficient { index, what };
            if matrix > 1 {
                return Err(bad(format!("matrix {matrix} is neither A (0) nor B (1)")));
            }
            if constraint as usize >= header.domain_size {
                return Err(bad(format!(
                    "constraint {constraint} outside the domain of {}",
                    header.domain_size
                )));
            }
            if signal as usize >= header.n_vars {
                return Err(bad(format!(
                    "signal {signal} outside the {} signals",
                    header.n_vars
                )));
            }
            let value = fr_mont(&e[12..]).ok_or_else(|| bad("value not canonical".into()))?;
            Ok((
                matrix,
                Coef {
                    constraint,
                    signal,
                    value: value * r_inv,
                },
            ))
        })
        .collect::<Result<_>>()?;
    let (a, b): (Vec<_>, Vec<_>) = parsed.into_iter().partition(|(m, _)| *m == 0);
    Ok((
        a.into_iter().map(|(_, c)| c).collect(),
        b.into_iter().map(|(_, c)| c).collect(),
    ))
}
