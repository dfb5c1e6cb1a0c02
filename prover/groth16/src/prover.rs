//! The Groth16 prover for snarkjs keys, generic over the [`Accelerator`] doing the heavy
//! work (6 NTTs and 5 MSMs per proof).
//!
//! The quotient follows snarkjs (and ark-circom's `CircomReduction`): A·w, B·w and their
//! product are interpolated on the domain, re-evaluated on the odd coset of the 2n-th roots
//! of unity, and `A·B - C` there is the scalar vector for the zkey's H points. The standard
//! arkworks reduction divides by Z instead and would not verify against snarkjs keys.

use std::time::{Duration, Instant};

use ark_bn254::{Bn254, Fr, G1Affine, G1Projective, G2Projective};
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{FftField, One, UniformRand, Zero};
use kernels_accel::{Accelerator, Bases, MsmConfig};
use rand::{CryptoRng, RngCore};
use rayon::prelude::*;

use crate::verifier::{Proof, VerifyingKey};
use crate::zkey::{Coef, ProvingKey, ZkeyHeader};
use crate::{Groth16Error, Result};

/// A proving key made resident in one backend: its bases are uploaded (and preprocessed)
/// once and reused by every proof of the circuit.
pub struct CircuitKey {
    pub header: ZkeyHeader,
    pub vk: VerifyingKey,
    coefs_a: Vec<Coef>,
    coefs_b: Vec<Coef>,
    a: Bases<G1Projective>,
    b1: Bases<G1Projective>,
    b2: Bases<G2Projective>,
    c: Bases<G1Projective>,
    h: Bases<G1Projective>,
    backend: &'static str,
}

impl CircuitKey {
    /// Loads `pk`'s bases into `backend`. Each host vector of points is dropped as soon as
    /// it is resident, so the peak is the resident form plus one vector, not two full keys.
    pub fn load(backend: &dyn Accelerator<Bn254>, pk: ProvingKey) -> Result<Self> {
        let config = MsmConfig::default();
        let vk = pk.verifying_key();
        let ProvingKey {
            header,
            coefs_a,
            coefs_b,
            a,
            b1,
            b2,
            c,
            h,
            ..
        } = pk;
        let load1 =
            |p: Vec<G1Affine>| kernels_accel::load_bases::<G1Projective, _>(backend, &p, &config);
        let h = load1(h)?;
        let c = load1(c)?;
        let b2 = {
            let points = b2;
            kernels_accel::load_bases::<G2Projective, _>(backend, &points, &config)?
        };
        Ok(Self {
            a: load1(a)?,
            b1: load1(b1)?,
            b2,
            c,
            h,
            header,
            vk,
            coefs_a,
            coefs_b,
            backend: backend.info().name,
        })
    }

    /// The backend holding the bases (proofs must run on it).
    pub fn backend(&self) -> &'static str {
        self.backend
    }
}

/// Wall time of each phase of one proof, in order.
#[derive(Clone, Debug, Default)]
pub struct PhaseTimings {
    pub phases: Vec<(&'static str, Duration)>,
}

impl PhaseTimings {
    fn time<R>(&mut self, name: &'static str, f: impl FnOnce() -> R) -> R {
        let t = Instant::now();
        let r = f();
        self.phases.push((name, t.elapsed()));
        r
    }

    pub fn total(&self) -> Duration {
        self.phases.iter().map(|(_, d)| *d).sum()
    }
}

/// Checks that `witness` fits the key: the right length and the constant signal 1.
pub fn check_witness(header: &ZkeyHeader, witness: &[Fr]) -> Result<()> {
    if witness.len() != header.n_vars {
        return Err(Groth16Error::WitnessLength {
            expected: header.n_vars,
            got: witness.len(),
        });
    }
    if !witness[0].is_one() {
        return Err(Groth16Error::WitnessConstant(witness[0].to_string()));
    }
    Ok(())
}

/// Proves with fresh randomness `r`, `s` from `rng`.
pub fn prove<R: RngCore + CryptoRng>(
    backend: &dyn Accelerator<Bn254>,
    key: &CircuitKey,
    witness: &[Fr],
    rng: &mut R,
    timings: &mut PhaseTimings,
) -> Result<Proof> {
    check_witness(&key.header, witness)?;
    let r = Fr::rand(rng);
    let s = Fr::rand(rng);
    prove_with_randomness(backend, key, witness, r, s, timings)
}

/// Proves with given `r`, `s` (deterministic: for tests and cross-backend comparisons).
pub fn prove_with_randomness(
    backend: &dyn Accelerator<Bn254>,
    key: &CircuitKey,
    witness: &[Fr],
    r: Fr,
    s: Fr,
    timings: &mut PhaseTimings,
) -> Result<Proof> {
    check_witness(&key.header, witness)?;
    let h = timings.time("quotient (3 iNTT + 3 coset NTT)", || {
        quotient(backend, key, witness)
    })?;
    let config = MsmConfig::default();
    let n_public = key.header.n_public;
    let msm_a = timings.time("msm A (G1)", || {
        kernels_accel::msm::<G1Projective, _>(backend, &key.a, witness, &config)
    })?;
    let msm_b1 = timings.time("msm B1 (G1)", || {
        kernels_accel::msm::<G1Projective, _>(backend, &key.b1, witness, &config)
    })?;
    let msm_b2 = timings.time("msm B2 (G2)", || {
        kernels_accel::msm::<G2Projective, _>(backend, &key.b2, witness, &config)
    })?;
    let msm_c = timings.time("msm C (G1)", || {
        kernels_accel::msm::<G1Projective, _>(backend, &key.c, &witness[n_public + 1..], &config)
    })?;
    let msm_h = timings.time("msm H (G1)", || {
        kernels_accel::msm::<G1Projective, _>(backend, &key.h, &h, &config)
    })?;

    let hd = &key.header;
    let pi_a = hd.alpha1.into_group() + msm_a + hd.delta1 * r;
    let pi_b = hd.beta2.into_group() + msm_b2 + hd.delta2 * s;
    let pib1 = hd.beta1.into_group() + msm_b1 + hd.delta1 * s;
    let pi_c = msm_c + msm_h + pi_a * s + pib1 * r - hd.delta1 * (r * s);
    Ok(Proof {
        a: pi_a.into_affine(),
        b: pi_b.into_affine(),
        c: pi_c.into_affine(),
    })
}

/// snarkjs's H scalars: `(A·B - C)` evaluated on the odd coset of the 2n-th roots.
fn quotient(backend: &dyn Accelerator<Bn254>, key: &CircuitKey, witness: &[Fr]) -> Result<Vec<Fr>> {
    let n = key.header.domain_size;
    let (mut a, mut b) = rayon::join(
        || evaluate(&key.coefs_a, witness, n),
        || evaluate(&key.coefs_b, witness, n),
    );
    let mut c: Vec<Fr> = a.par_iter().zip(&b).map(|(x, y)| *x * y).collect();
    let odd_coset = Fr::get_root_of_unity(2 * n as u64).ok_or_else(|| {
        kernels_accel::AccelError::NttSizeTooLarge {
            log_n: (2 * n).trailing_zeros(),
            two_adicity: Fr::TWO_ADICITY,
        }
    })?;
    {
        let mut all: [&mut [Fr]; 3] = [&mut a, &mut b, &mut c];
        kernels_accel::intt_then_coset_ntt(backend, &mut all, odd_coset)?;
    }
    // In place: a fourth domain-sized vector would be the proof's largest transient.
    a.par_iter_mut()
        .zip(&b)
        .zip(&c)
        .for_each(|((x, y), z)| *x = *x * y - z);
    Ok(a)
}

/// `M·w` for a sparse matrix given as coefficients, as a vector over the domain.
fn evaluate(coefs: &[Coef], witness: &[Fr], n: usize) -> Vec<Fr> {
    let mut out = vec![Fr::zero(); n];
    for c in coefs {
        out[c.constraint as usize] += c.value * witness[c.signal as usize];
    }
    out
}
