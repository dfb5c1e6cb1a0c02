//! Random circuits of any size for `appliance bench prove --synthetic`: the shipped
//! fixtures stop at 2^15 constraints, and a proof of that size is too small to show a GPU.
//!
//! The key is random points in snarkjs's layout, not the output of a trusted setup, so its
//! proofs verify against nothing; they are checked instead against ark-groth16 with
//! ark-circom's `CircomReduction`, given the same key, witness and randomness: the two
//! proofs must be equal, point for point. The circuit's shape follows circom's: about 1.5
//! A and 1 B coefficients per constraint over nearby signals, the public signals' identity
//! rows at the end of A, and a witness half bits, half random field elements.

use std::time::Instant;

use ark_bn254::{Bn254, Fr, G1Projective, G2Projective};
use ark_circom::index::NPIndex;
use ark_ec::CurveGroup;
use ark_ff::{One, UniformRand};
use kernels_accel::Accelerator;
use kernels_testkit::inputs::random_bases;
use prover_groth16::{
    prove_with_randomness, CircuitKey, Coef, PhaseTimings, ProvingKey, ZkeyHeader,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::median;
use crate::prove::{ark_prove, median_phases, ArkMatrices, ProveBenchError};

/// Public signals of every synthetic circuit (outputs and inputs).
const N_PUBLIC: usize = 2;

/// One random circuit with its key in our form and in ark-groth16's.
pub struct SyntheticCircuit {
    pub key: ProvingKey,
    pub witness: Vec<Fr>,
    pub reference: ArkReference,
}

/// The same circuit as ark-groth16 takes it.
pub struct ArkReference {
    key: ark_groth16::ProvingKey<Bn254>,
    matrices: ArkMatrices,
}

/// A circuit filling the domain of 2^log_n: 2^log_n - 3 constraints, as many signals.
pub fn synthetic_circuit(log_n: u32, seed: u64) -> SyntheticCircuit {
    let mut rng = StdRng::seed_from_u64(seed);
    let domain = 1usize << log_n;
    let constraints = domain - (N_PUBLIC + 1);
    let n_vars = domain;
    let value = |rng: &mut StdRng| match rng.gen_range(0..4) {
        0 => Fr::one(),
        1 => -Fr::one(),
        2 => Fr::from(rng.gen::<u16>()),
        _ => Fr::rand(rng),
    };
    let near = |rng: &mut StdRng, row: usize| ((row + rng.gen_range(0..64)) % n_vars) as u32;
    let mut coefs_a = Vec::with_capacity(constraints * 3 / 2 + N_PUBLIC + 1);
    let mut coefs_b = Vec::with_capacity(constraints);
    for row in 0..constraints {
        let constraint = row as u32;
        for _ in 0..1 + (row % 2) {
            let (signal, value) = (near(&mut rng, row), value(&mut rng));
            coefs_a.push(Coef {
                constraint,
                signal,
                value,
            });
        }
        let (signal, value) = (near(&mut rng, row), value(&mut rng));
        coefs_b.push(Coef {
            constraint,
            signal,
            value,
        });
    }
    // snarkjs binds each public signal (and the constant) by an identity row of A.
    for i in 0..=N_PUBLIC {
        coefs_a.push(Coef {
            constraint: (constraints + i) as u32,
            signal: i as u32,
            value: Fr::one(),
        });
    }
    let witness: Vec<Fr> = std::iter::once(Fr::one())
        .chain((1..n_vars).map(|_| {
            if rng.gen() {
                Fr::from(rng.gen::<bool>() as u64)
            } else {
                Fr::rand(&mut rng)
            }
        }))
        .collect();

    let g1 = |n: usize, rng: &mut StdRng| random_bases::<G1Projective>(n, rng);
    let header = ZkeyHeader {
        n_vars,
        n_public: N_PUBLIC,
        domain_size: domain,
        alpha1: G1Projective::rand(&mut rng).into_affine(),
        beta1: G1Projective::rand(&mut rng).into_affine(),
        beta2: G2Projective::rand(&mut rng).into_affine(),
        gamma2: G2Projective::rand(&mut rng).into_affine(),
        delta1: G1Projective::rand(&mut rng).into_affine(),
        delta2: G2Projective::rand(&mut rng).into_affine(),
    };
    let key = ProvingKey {
        ic: g1(N_PUBLIC + 1, &mut rng),
        a: g1(n_vars, &mut rng),
        b1: g1(n_vars, &mut rng),
        b2: random_bases::<G2Projective>(n_vars, &mut rng),
        c: g1(n_vars - N_PUBLIC - 1, &mut rng),
        h: g1(domain, &mut rng),
        coefs_a,
        coefs_b,
        header,
    };

    let rows = |coefs: &[Coef]| {
        let mut m = vec![Vec::new(); constraints];
        for c in coefs
            .iter()
            .filter(|c| (c.constraint as usize) < constraints)
        {
            m[c.constraint as usize].push((c.value, c.signal as usize));
        }
        m
    };
    let (a, b) = (rows(&key.coefs_a), rows(&key.coefs_b));
    let matrices = NPIndex {
        num_instance_variables: N_PUBLIC + 1,
        num_witness_variables: n_vars - N_PUBLIC,
        num_constraints: constraints,
        a_num_non_zero: a.iter().map(Vec::len).sum(),
        b_num_non_zero: b.iter().map(Vec::len).sum(),
        c_num_non_zero: 0,
        a,
        b,
        c: Vec::new(),
    };
    let h = &key.header;
    let ark_key = ark_groth16::ProvingKey {
        vk: ark_groth16::VerifyingKey {
            alpha_g1: h.alpha1,
            beta_g2: h.beta2,
            gamma_g2: h.gamma2,
            delta_g2: h.delta2,
            gamma_abc_g1: key.ic.clone(),
        },
        beta_g1: h.beta1,
        delta_g1: h.delta1,
        a_query: key.a.clone(),
        b_g1_query: key.b1.clone(),
        b_g2_query: key.b2.clone(),
        h_query: key.h.clone(),
        l_query: key.c.clone(),
    };
    SyntheticCircuit {
        key,
        witness,
        reference: ArkReference {
            key: ark_key,
            matrices: ArkMatrices::from(matrices),
        },
    }
}

/// One size of `appliance bench prove --synthetic`.
#[derive(Clone, Debug, Serialize)]
pub struct SyntheticRow {
    pub log_n: u32,
    pub backend: String,
    pub threads: usize,
    pub runs: usize,
    /// Our prover, key resident.
    pub ours_prove_ms: f64,
    /// ark-groth16 + `CircomReduction`, on the same key.
    pub ark_groth16_prove_ms: f64,
    /// `ark_groth16_prove_ms / ours_prove_ms`.
    pub speedup: f64,
    /// Median of each phase of our prover.
    pub phases_ms: Vec<(String, f64)>,
    /// Every timed proof of ours equal to ark-groth16's with the same randomness.
    pub all_equal: bool,
}

/// Proves a random circuit of 2^log_n constraints `runs` times on each side, interleaved,
/// with the same randomness on both sides, after one warm-up each.
pub fn compare_synthetic(
    backend: &dyn Accelerator<Bn254>,
    log_n: u32,
    threads: usize,
    runs: usize,
) -> Result<SyntheticRow, ProveBenchError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| ProveBenchError::ArkCircom(format!("thread pool: {e}")))?;
    let SyntheticCircuit {
        key,
        witness,
        reference,
    } = synthetic_circuit(log_n, u64::from(log_n));
    // Moved, not cloned: at 2^24 a copy of the key is gigabytes.
    let key = CircuitKey::load(backend, key)?;
    let mut rng = StdRng::seed_from_u64(1);
    let (mut ours, mut ark, mut phases) = (Vec::new(), Vec::new(), Vec::new());
    let mut all_equal = true;
    for run in 0..=runs.max(1) {
        let (r, s) = (Fr::rand(&mut rng), Fr::rand(&mut rng));
        let mut timings = PhaseTimings::default();
        let t = Instant::now();
        let proof = prove_with_randomness(backend, &key, &witness, r, s, &mut timings)?;
        let ours_ms = t.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        let want = ark_prove(&pool, &reference.key, &reference.matrices, &witness, (r, s))?;
        let ark_ms = t.elapsed().as_secs_f64() * 1e3;
        all_equal &= (proof.a, proof.b, proof.c) == (want.a, want.b, want.c);
        if run > 0 {
            ours.push(ours_ms);
            ark.push(ark_ms);
            phases.push(timings);
        }
    }
    let phases_ms = median_phases(&phases);
    let (ours_prove_ms, ark_groth16_prove_ms) = (median(&ours), median(&ark));
    Ok(SyntheticRow {
        log_n,
        backend: backend.info().name.to_string(),
        threads,
        runs: ours.len(),
        ours_prove_ms,
        ark_groth16_prove_ms,
        speedup: ark_groth16_prove_ms / ours_prove_ms,
        phases_ms,
        all_equal,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Our prover and ark-groth16 give the same proof of a random circuit (on the CPU
    /// backend; `tests/gpu.rs` does the same on OpenCL).
    #[test]
    fn ours_and_ark_groth16_give_the_same_proof() {
        let cpu = kernels_cpu::CpuBackend::new(2).expect("cpu backend");
        let row = compare_synthetic(&cpu, 10, 2, 1).expect("runs");
        assert!(row.all_equal, "{row:?}");
        assert_eq!(row.runs, 1);
        assert!(row
            .phases_ms
            .iter()
            .any(|(n, _)| n.starts_with("quotient and msm H")));
    }
}
