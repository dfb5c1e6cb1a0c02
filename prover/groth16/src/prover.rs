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
use ark_ff::{FftField, One, UniformRand};
use kernels_accel::{Accelerator, Bases, MsmConfig};
use rand::{CryptoRng, RngCore};

use crate::matrix::{evaluate_pair, SparseRows};
use crate::verifier::{Proof, VerifyingKey};
use crate::zkey::{ProvingKey, ZkeyHeader};
use crate::{Groth16Error, Result};

/// A proving key made resident in one backend: its bases are uploaded (and preprocessed)
/// once and reused by every proof of the circuit.
pub struct CircuitKey {
    pub header: ZkeyHeader,
    pub vk: VerifyingKey,
    rows_a: SparseRows,
    rows_b: SparseRows,
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
        let rows_a = SparseRows::new(&coefs_a, header.domain_size, header.n_vars)?;
        drop(coefs_a);
        let rows_b = SparseRows::new(&coefs_b, header.domain_size, header.n_vars)?;
        drop(coefs_b);
        let load1 =
            |p: Vec<G1Affine>| kernels_accel::load_bases::<G1Projective, _>(backend, &p, &config);
        let h = load1(h)?;
        // C's points start at the first private signal. With as many points at infinity
        // in front as there are public signals (and the constant), C multiplies the whole
        // witness like A, B1 and B2, so a backend can prepare the witness once for all four.
        let c = {
            let mut padded = vec![G1Affine::zero(); header.n_public + 1];
            padded.extend_from_slice(&c);
            drop(c);
            load1(padded)?
        };
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
            rows_a,
            rows_b,
            backend: backend.info().name,
        })
    }

    /// The backend holding the bases (proofs must run on it).
    pub fn backend(&self) -> &'static str {
        self.backend
    }
}

/// Wall time of each phase of one proof, in order. On a backend that overlaps host work
/// (see [`prove_with_randomness`]), the quotient and the witness MSMs ran at the same time:
/// a phase named `wall: ...` then gives their joint time, and the phases do not add up.
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
///
/// On a backend that computes apart from the host (see
/// [`kernels_accel::Backend::overlaps_host_work`]), the quotient runs beside the witness
/// MSMs A, B1, B2 and C instead of before them: its host work (A·w, B·w, their product,
/// the final combination) overlaps the device's MSMs, while its NTTs and their transfers
/// take turns with the MSMs' on the device's one queue. The proof is the same either way.
pub fn prove_with_randomness(
    backend: &dyn Accelerator<Bn254>,
    key: &CircuitKey,
    witness: &[Fr],
    r: Fr,
    s: Fr,
    timings: &mut PhaseTimings,
) -> Result<Proof> {
    let overlap = backend.overlaps_host_work();
    prove_scheduled(backend, key, witness, (r, s), timings, overlap)
}

const QUOTIENT: &str = "quotient and msm H (A·w, B·w, 6 NTTs, G1)";

fn prove_scheduled(
    backend: &dyn Accelerator<Bn254>,
    key: &CircuitKey,
    witness: &[Fr],
    (r, s): (Fr, Fr),
    timings: &mut PhaseTimings,
    overlap: bool,
) -> Result<Proof> {
    check_witness(&key.header, witness)?;
    let (msm_h, sums) = if overlap {
        let started = Instant::now();
        let mut beside = PhaseTimings::default();
        let (msm_h, sums) = std::thread::scope(|scope| {
            // Its own thread, not a rayon task: it mostly waits on the device, and a rayon
            // join could run it after the quotient on this thread. Without a thread (the OS
            // refused one) the MSMs run after the quotient.
            let msms = std::thread::Builder::new()
                .name("witness-msms".into())
                .spawn_scoped(scope, || witness_msms(backend, key, witness, &mut beside));
            let msm_h = timings.time(QUOTIENT, || quotient_msm(backend, key, witness));
            let sums = match msms {
                Ok(thread) => thread
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                Err(_) => witness_msms(backend, key, witness, timings),
            };
            (msm_h, sums)
        });
        timings.phases.extend(beside.phases);
        timings.phases.push((
            "wall: quotient and msm H beside msm A..C",
            started.elapsed(),
        ));
        (msm_h?, sums?)
    } else {
        let msm_h = timings.time(QUOTIENT, || quotient_msm(backend, key, witness))?;
        (msm_h, witness_msms(backend, key, witness, timings)?)
    };

    let hd = &key.header;
    let pi_a = hd.alpha1.into_group() + sums.a + hd.delta1 * r;
    let pi_b = hd.beta2.into_group() + sums.b2 + hd.delta2 * s;
    let pib1 = hd.beta1.into_group() + sums.b1 + hd.delta1 * s;
    let pi_c = sums.c + msm_h + pi_a * s + pib1 * r - hd.delta1 * (r * s);
    Ok(Proof {
        a: pi_a.into_affine(),
        b: pi_b.into_affine(),
        c: pi_c.into_affine(),
    })
}

/// The MSMs that need only the witness.
struct WitnessSums {
    a: G1Projective,
    b1: G1Projective,
    b2: G2Projective,
    c: G1Projective,
}

fn witness_msms(
    backend: &dyn Accelerator<Bn254>,
    key: &CircuitKey,
    witness: &[Fr],
    timings: &mut PhaseTimings,
) -> Result<WitnessSums> {
    let config = MsmConfig::default();
    let prepared = timings.time("prepare witness scalars", || {
        kernels_accel::prepare_scalars::<G1Projective, _>(backend, witness, &config)
    })?;
    Ok(WitnessSums {
        a: timings.time("msm A (G1)", || {
            kernels_accel::msm_prepared::<G1Projective, _>(backend, &key.a, &prepared, &config)
        })?,
        b1: timings.time("msm B1 (G1)", || {
            kernels_accel::msm_prepared::<G1Projective, _>(backend, &key.b1, &prepared, &config)
        })?,
        b2: timings.time("msm B2 (G2)", || {
            kernels_accel::msm_prepared::<G2Projective, _>(backend, &key.b2, &prepared, &config)
        })?,
        c: timings.time("msm C (G1)", || {
            kernels_accel::msm_prepared::<G1Projective, _>(backend, &key.c, &prepared, &config)
        })?,
    })
}

/// The H MSM of snarkjs's H scalars, `(A·B - C)` evaluated on the odd coset of the 2n-th
/// roots, in one call so that a GPU multiplies them where it made them.
fn quotient_msm(
    backend: &dyn Accelerator<Bn254>,
    key: &CircuitKey,
    witness: &[Fr],
) -> Result<G1Projective> {
    let n = key.header.domain_size;
    let (mut a, mut b) = evaluate_pair(&key.rows_a, &key.rows_b, witness)?;
    let odd_coset = Fr::get_root_of_unity(2 * n as u64).ok_or_else(|| {
        kernels_accel::AccelError::NttSizeTooLarge {
            log_n: (2 * n).trailing_zeros(),
            two_adicity: Fr::TWO_ADICITY,
        }
    })?;
    Ok(kernels_accel::quotient_msm(
        backend,
        &key.h,
        &mut a,
        &mut b,
        odd_coset,
        &MsmConfig::default(),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn the_overlapped_schedule_gives_the_sequential_proof() {
        let cpu = kernels_cpu::CpuBackend::new(2).expect("cpu backend");
        let fixtures =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/groth16");
        for circuit in ["multiplier", "poseidon_chain_32"] {
            let dir = fixtures.join(circuit);
            let pk = ProvingKey::read(dir.join("circuit_final.zkey")).expect("zkey");
            let key = CircuitKey::load(&cpu, pk).expect("key loads");
            let witness = crate::read_wtns(dir.join("witness.wtns")).expect("wtns");
            let rs = (Fr::from(5u64), -Fr::from(7u64));
            let mut apart = PhaseTimings::default();
            let mut inline = PhaseTimings::default();
            let overlapped = prove_scheduled(&cpu, &key, &witness, rs, &mut apart, true);
            let sequential = prove_scheduled(&cpu, &key, &witness, rs, &mut inline, false);
            assert_eq!(
                overlapped.expect("proves"),
                sequential.expect("proves"),
                "{circuit}"
            );
            let names = |t: &PhaseTimings| t.phases.iter().map(|p| p.0).collect::<Vec<_>>();
            assert_eq!(names(&inline).len(), 6, "{:?}", names(&inline));
            assert_eq!(names(&apart).len(), 7, "{:?}", names(&apart));
            assert!(names(&apart).iter().any(|n| n.starts_with("wall:")));
        }
    }

    #[test]
    fn a_short_witness_is_refused_by_the_overlapped_schedule() {
        let cpu = kernels_cpu::CpuBackend::new(1).expect("cpu backend");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/fixtures/groth16/multiplier");
        let key = CircuitKey::load(
            &cpu,
            ProvingKey::read(dir.join("circuit_final.zkey")).expect("zkey"),
        )
        .expect("key loads");
        let witness = crate::read_wtns(dir.join("witness.wtns")).expect("wtns");
        let short = &witness[..witness.len() - 1];
        let err = prove_scheduled(
            &cpu,
            &key,
            short,
            (Fr::one(), Fr::one()),
            &mut PhaseTimings::default(),
            true,
        );
        assert!(matches!(err, Err(Groth16Error::WitnessLength { .. })));
    }
}
