//! Whole-proof comparison: our prover against ark-circom (its zkey reader plus ark-groth16
//! with `CircomReduction`) in this process, and against the snarkjs CLI as a subprocess when
//! it is installed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use ark_bn254::{Bn254, Fr};
use ark_circom::CircomReduction;
use ark_groth16::Groth16;
use ark_std::UniformRand;
use kernels_accel::Accelerator;
use prover_groth16::{
    proof_to_json, public_signals, public_to_json, read_wtns, verify, CircuitKey, PhaseTimings,
    Proof, ProvingKey,
};
use serde::Serialize;

use crate::median;

/// One row of `appliance bench prove`.
#[derive(Clone, Debug, Serialize)]
pub struct ProveRow {
    pub zkey: String,
    pub backend: String,
    pub threads: usize,
    pub runs: usize,
    /// Read the zkey, make it resident, read the witness, prove, serialise: what a one-shot
    /// CLI run does (minus process start-up).
    pub ours_whole_ms: f64,
    /// Prove only, with the key already resident (what the server does per job).
    pub ours_prove_ms: f64,
    /// ark-circom `read_zkey` + ark-groth16 `create_proof_with_reduction_and_matrices`.
    pub ark_circom_whole_ms: f64,
    /// ark-groth16 proving alone, key already parsed.
    pub ark_circom_prove_ms: f64,
    /// `ark_circom_whole_ms / ours_whole_ms`.
    pub speedup_vs_ark_circom: f64,
    /// `snarkjs groth16 prove` wall time (whole process), when snarkjs is available.
    pub snarkjs_ms: Option<f64>,
    pub speedup_vs_snarkjs: Option<f64>,
    /// Median of each phase of our prover.
    pub phases_ms: Vec<(String, f64)>,
    /// Our proofs and ark-circom's all verified against the key.
    pub all_verified: bool,
}

/// Errors of the prove benchmark (it reads files and runs two provers).
#[derive(Debug, thiserror::Error)]
pub enum ProveBenchError {
    #[error(transparent)]
    Groth16(#[from] prover_groth16::Groth16Error),
    #[error("ark-circom: {0}")]
    ArkCircom(String),
    #[error("snarkjs: {0}")]
    Snarkjs(String),
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// Runs both provers `runs` times, interleaved, after one warm-up each.
pub fn compare_prove(
    backend: &dyn Accelerator<Bn254>,
    zkey: &Path,
    wtns: &Path,
    threads: usize,
    runs: usize,
    snarkjs: Option<&Path>,
) -> Result<ProveRow, ProveBenchError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| ProveBenchError::ArkCircom(format!("thread pool: {e}")))?;
    let mut rng = rand::thread_rng();
    let mut all_verified = true;

    let ours_whole = |rng: &mut rand::rngs::ThreadRng| -> Result<(Proof, Vec<Fr>, CircuitKey, PhaseTimings), ProveBenchError> {
        let key = CircuitKey::load(backend, ProvingKey::read(zkey)?)?;
        let witness = read_wtns(wtns)?;
        let mut t = PhaseTimings::default();
        let proof = prover_groth16::prove(backend, &key, &witness, rng, &mut t)?;
        let public = public_signals(&witness, key.header.n_public);
        std::hint::black_box((proof_to_json(&proof), public_to_json(&public)));
        Ok((proof, public, key, t))
    };
    let ark_whole =
        |rng: &mut rand::rngs::ThreadRng| -> Result<ark_groth16::Proof<Bn254>, ProveBenchError> {
            let mut file = std::fs::File::open(zkey).map_err(|source| ProveBenchError::Io {
                path: zkey.display().to_string(),
                source,
            })?;
            let (pk, matrices) = ark_circom::read_zkey(&mut file)
                .map_err(|e| ProveBenchError::ArkCircom(e.to_string()))?;
            let witness = read_wtns(wtns)?;
            let rs = (Fr::rand(rng), Fr::rand(rng));
            ark_prove(&pool, &pk, &ArkMatrices::from(matrices), &witness, rs)
        };

    // Warm-up, and the correctness check of both sides.
    let (proof, public, key, _) = ours_whole(&mut rng)?;
    all_verified &= verify(&key.vk, &public, &proof)?;
    let ark = ark_whole(&mut rng)?;
    all_verified &= verify(
        &key.vk,
        &public,
        &Proof {
            a: ark.a,
            b: ark.b,
            c: ark.c,
        },
    )?;
    drop(key);

    let (mut ours_w, mut ours_p, mut ark_w, mut ark_p) = (vec![], vec![], vec![], vec![]);
    let mut phases = Vec::new();
    let (pk, matrices) = {
        let mut file = std::fs::File::open(zkey).map_err(|source| ProveBenchError::Io {
            path: zkey.display().to_string(),
            source,
        })?;
        let (pk, matrices) = ark_circom::read_zkey(&mut file)
            .map_err(|e| ProveBenchError::ArkCircom(e.to_string()))?;
        (pk, ArkMatrices::from(matrices))
    };
    let resident = CircuitKey::load(backend, ProvingKey::read(zkey)?)?;
    let witness = read_wtns(wtns)?;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let (proof, public, key, _) = ours_whole(&mut rng)?;
        ours_w.push(ms(t));
        all_verified &= verify(&key.vk, &public, &proof)?;
        drop(key);

        let t = Instant::now();
        ark_whole(&mut rng)?;
        ark_w.push(ms(t));

        let t = Instant::now();
        let mut timings = PhaseTimings::default();
        prover_groth16::prove(backend, &resident, &witness, &mut rng, &mut timings)?;
        ours_p.push(ms(t));
        phases.push(timings);

        let t = Instant::now();
        let rs = (Fr::rand(&mut rng), Fr::rand(&mut rng));
        ark_prove(&pool, &pk, &matrices, &witness, rs)?;
        ark_p.push(ms(t));
    }
    let phases_ms = median_phases(&phases);

    let snarkjs_ms = snarkjs
        .map(|s| snarkjs_prove_ms(s, zkey, wtns, runs.clamp(1, 3)))
        .transpose()?;
    let info = backend.info();
    let ours_whole_ms = median(&ours_w);
    let ark_circom_whole_ms = median(&ark_w);
    Ok(ProveRow {
        zkey: zkey.display().to_string(),
        backend: info.name.to_string(),
        threads,
        runs: ours_w.len(),
        ours_whole_ms,
        ours_prove_ms: median(&ours_p),
        ark_circom_whole_ms,
        ark_circom_prove_ms: median(&ark_p),
        speedup_vs_ark_circom: ark_circom_whole_ms / ours_whole_ms,
        snarkjs_ms,
        speedup_vs_snarkjs: snarkjs_ms.map(|s| s / ours_whole_ms),
        phases_ms,
        all_verified,
    })
}

/// The median of each phase over several proofs' timings, in the first proof's order and
/// milliseconds.
pub(crate) fn median_phases(runs: &[PhaseTimings]) -> Vec<(String, f64)> {
    let Some(first) = runs.first() else {
        return Vec::new();
    };
    first
        .phases
        .iter()
        .enumerate()
        .map(|(i, (name, _))| {
            let samples: Vec<f64> = runs
                .iter()
                .filter_map(|t| t.phases.get(i).map(|p| p.1.as_secs_f64() * 1e3))
                .collect();
            (name.to_string(), median(&samples))
        })
        .collect()
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

/// ark-circom's matrices as ark-groth16 takes them, made by moving (as ark-circom's own
/// users do), so that no copy lands in the reference's timed proofs.
pub(crate) struct ArkMatrices {
    pub(crate) abc: [Vec<Vec<(Fr, usize)>>; 3],
    pub(crate) num_instance_variables: usize,
    pub(crate) num_constraints: usize,
}

impl From<ark_circom::index::NPIndex<Fr>> for ArkMatrices {
    fn from(m: ark_circom::index::NPIndex<Fr>) -> Self {
        Self {
            num_instance_variables: m.num_instance_variables,
            num_constraints: m.num_constraints,
            abc: [m.a, m.b, m.c],
        }
    }
}

/// ark-groth16 with ark-circom's `CircomReduction` and randomness `r`, `s`: the reference
/// prover, on `pool`'s threads.
pub(crate) fn ark_prove(
    pool: &rayon::ThreadPool,
    pk: &ark_groth16::ProvingKey<Bn254>,
    matrices: &ArkMatrices,
    witness: &[Fr],
    (r, s): (Fr, Fr),
) -> Result<ark_groth16::Proof<Bn254>, ProveBenchError> {
    pool.install(|| {
        Groth16::<Bn254, CircomReduction>::create_proof_with_reduction_and_matrices(
            pk,
            r,
            s,
            &matrices.abc,
            matrices.num_instance_variables,
            matrices.num_constraints,
            witness,
        )
    })
    .map_err(|e| ProveBenchError::ArkCircom(e.to_string()))
}

/// Median wall time of `snarkjs groth16 prove` (the whole CLI process, as users run it).
fn snarkjs_prove_ms(
    snarkjs: &Path,
    zkey: &Path,
    wtns: &Path,
    runs: usize,
) -> Result<f64, ProveBenchError> {
    let dir: PathBuf = std::env::temp_dir().join(format!("bench-snarkjs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|source| ProveBenchError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let mut samples = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let status = Command::new(snarkjs)
            .args(["groth16", "prove"])
            .arg(zkey)
            .arg(wtns)
            .arg(dir.join("proof.json"))
            .arg(dir.join("public.json"))
            .output()
            .map_err(|source| ProveBenchError::Io {
                path: snarkjs.display().to_string(),
                source,
            })?;
        if !status.status.success() {
            return Err(ProveBenchError::Snarkjs(format!(
                "groth16 prove failed: {}",
                String::from_utf8_lossy(&status.stderr)
            )));
        }
        samples.push(ms(t));
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(median(&samples))
}
