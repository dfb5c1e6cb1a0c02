use ark_bn254::{Bn254, Fr, G1Projective, G2Projective};
use ark_ec::{AffineRepr, CurveGroup, VariableBaseMSM};
use ark_ff::{One, PrimeField, UniformRand, Zero};
use kernels_accel::{AccelError, Accelerator, Msm, MsmConfig};
use rand::rngs::StdRng;
use rand::Rng;

use crate::inputs::{random_bases, random_scalars};
use crate::{Report, SuiteOptions};

/// The awkward sizes every backend must get right, plus the largest size asked for.
/// A named MSM input: bases and scalars.
type Case<G> = (&'static str, Vec<<G as CurveGroup>::Affine>, Vec<Fr>);

fn sizes(max_log: u32) -> Vec<usize> {
    let mut s = vec![0, 1, 2, 31, 33, 1025];
    if max_log > 10 {
        s.push(1 << max_log);
    }
    s
}

pub(crate) fn run(
    backend: &dyn Accelerator<Bn254>,
    options: &SuiteOptions,
    rng: &mut StdRng,
    report: &mut Report,
    progress: &mut dyn FnMut(&str),
) {
    group_checks::<G1Projective, _>("g1", backend, options.max_log_msm, rng, report, progress);
    group_checks::<G2Projective, _>("g2", backend, options.max_log_msm_g2, rng, report, progress);
}

fn group_checks<G, A>(
    label: &str,
    backend: &A,
    max_log: u32,
    rng: &mut StdRng,
    report: &mut Report,
    progress: &mut dyn FnMut(&str),
) where
    G: CurveGroup<ScalarField = Fr> + VariableBaseMSM,
    A: Msm<G> + ?Sized,
{
    for n in sizes(max_log) {
        let bases = random_bases::<G>(n, rng);
        let scalars = random_scalars(n, rng);
        let cases: Vec<Case<G>> = vec![
            ("random", bases.clone(), scalars.clone()),
            ("edge", edge_bases::<G>(&bases), edge_scalars(n, rng)),
            ("zeros", bases.clone(), vec![Fr::zero(); n]),
            ("ones", bases.clone(), vec![Fr::one(); n]),
            ("minus-ones", bases.clone(), vec![-Fr::one(); n]),
            ("short", bases.clone(), scalars[..n / 2].to_vec()),
        ];
        for (case, b, s) in cases {
            let name = format!("msm {label} n={n} {case}");
            progress(&name);
            report.record(name, check_msm::<G, A>(backend, &b, &s));
        }
    }
    let name = format!("msm {label} rejects more scalars than bases");
    progress(&name);
    report.record(name, check_too_many_scalars::<G, A>(backend, rng));
    let name = format!("msm {label} forced windows");
    progress(&name);
    report.record(name, check_forced_windows::<G, A>(backend, rng));
}

/// Infinity, duplicated and negated bases mixed in.
fn edge_bases<G: CurveGroup>(bases: &[G::Affine]) -> Vec<G::Affine> {
    let mut out = bases.to_vec();
    for i in 1..out.len() {
        match i % 11 {
            3 => out[i] = G::Affine::zero(),
            5 => out[i] = out[i - 1],
            7 => out[i] = -out[i - 1],
            _ => {}
        }
    }
    out
}

/// 0, 1, -1, 2, small, random, and the same scalar twice in a row.
fn edge_scalars(n: usize, rng: &mut StdRng) -> Vec<Fr> {
    (0..n)
        .map(|i| match i % 7 {
            0 => Fr::zero(),
            1 => Fr::one(),
            2 => -Fr::one(),
            3 => Fr::from(2u64),
            4 => Fr::from(rng.gen::<u32>()),
            5 => -Fr::from(rng.gen::<u64>()),
            _ => Fr::rand(rng),
        })
        .collect()
}

fn reference<G: CurveGroup<ScalarField = Fr> + VariableBaseMSM>(
    bases: &[G::Affine],
    scalars: &[Fr],
) -> G {
    if scalars.len() <= 64 {
        // Naive double-and-add: too simple to share a bug with any Pippenger.
        scalars
            .iter()
            .zip(bases)
            .map(|(s, b)| b.mul_bigint(s.into_bigint()))
            .sum()
    } else {
        G::msm_unchecked(&bases[..scalars.len()], scalars)
    }
}

fn check_msm<G, A>(backend: &A, bases: &[G::Affine], scalars: &[Fr]) -> Result<(), String>
where
    G: CurveGroup<ScalarField = Fr> + VariableBaseMSM,
    A: Msm<G> + ?Sized,
{
    let config = MsmConfig::default();
    let loaded = kernels_accel::load_bases::<G, _>(backend, bases, &config)
        .map_err(|e| format!("load_bases: {e}"))?;
    let got = kernels_accel::msm::<G, _>(backend, &loaded, scalars, &config)
        .map_err(|e| format!("msm: {e}"))?;
    let want = reference::<G>(bases, scalars);
    if got != want {
        return Err(format!(
            "result differs from reference: got {}, want {}",
            got.into_affine(),
            want.into_affine()
        ));
    }
    // The batch entry point must agree with single calls, and reuse the resident bases.
    let half = &scalars[..scalars.len() / 2];
    let batch = kernels_accel::msm_batch::<G, _>(backend, &loaded, &[scalars, half], &config)
        .map_err(|e| format!("msm_batch: {e}"))?;
    let want_half = reference::<G>(bases, half);
    if batch != [want, want_half] {
        return Err("msm_batch differs from single MSMs".into());
    }
    Ok(())
}

fn check_too_many_scalars<G, A>(backend: &A, rng: &mut StdRng) -> Result<(), String>
where
    G: CurveGroup<ScalarField = Fr> + VariableBaseMSM,
    A: Msm<G> + ?Sized,
{
    let bases = random_bases::<G>(4, rng);
    let scalars = random_scalars(5, rng);
    let config = MsmConfig::default();
    let loaded = kernels_accel::load_bases::<G, _>(backend, &bases, &config)
        .map_err(|e| format!("load_bases: {e}"))?;
    match kernels_accel::msm::<G, _>(backend, &loaded, &scalars, &config) {
        Err(AccelError::LengthMismatch { .. }) => Ok(()),
        Err(e) => Err(format!("wrong error: {e}")),
        Ok(_) => Err("accepted 5 scalars against 4 bases".into()),
    }
}

/// A window width asked for (a tuning knob) gives the same sum at every width a backend
/// takes, down to c = 2, and a width none takes (0, 1: no signed digit 1 fits one bit; 21
/// and up) is refused as invalid input, not silently replaced or summed wrong.
fn check_forced_windows<G, A>(backend: &A, rng: &mut StdRng) -> Result<(), String>
where
    G: CurveGroup<ScalarField = Fr> + VariableBaseMSM,
    A: Msm<G> + ?Sized,
{
    let n = 100;
    let bases = edge_bases::<G>(&random_bases::<G>(n, rng));
    let scalars = edge_scalars(n, rng);
    let want = reference::<G>(&bases, &scalars);
    for c in [2, 3, 7, 13, 16] {
        let config = MsmConfig {
            window_bits: Some(c),
            ..MsmConfig::default()
        };
        let loaded = kernels_accel::load_bases::<G, _>(backend, &bases, &config)
            .map_err(|e| format!("load_bases with c = {c}: {e}"))?;
        let got = kernels_accel::msm::<G, _>(backend, &loaded, &scalars, &config)
            .map_err(|e| format!("msm with c = {c}: {e}"))?;
        if got != want {
            return Err(format!("c = {c}: result differs from reference"));
        }
    }
    let loaded = kernels_accel::load_bases::<G, _>(backend, &bases, &MsmConfig::default())
        .map_err(|e| format!("load_bases: {e}"))?;
    for c in [0, 1, 21, 64] {
        let config = MsmConfig {
            window_bits: Some(c),
            ..MsmConfig::default()
        };
        match kernels_accel::msm::<G, _>(backend, &loaded, &scalars, &config) {
            Err(AccelError::InvalidInput(_)) => {}
            Err(e) => return Err(format!("c = {c}: wrong error: {e}")),
            Ok(_) => return Err(format!("c = {c}: accepted")),
        }
    }
    Ok(())
}
