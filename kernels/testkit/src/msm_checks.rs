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
    let Some(max_log_msm) = options.max_log_msm else {
        return;
    };
    group_checks::<G1Projective, _>("g1", backend, max_log_msm, rng, report, progress);
    group_checks::<G2Projective, _>("g2", backend, options.max_log_msm_g2, rng, report, progress);
    for n in [0, 1, 33, 1025] {
        let name = format!("msm prepared scalars n={n} (G1 x 2, G2, fallbacks)");
        progress(&name);
        report.record(name, check_prepared(backend, n, rng));
    }
}

/// Scalars prepared once (a Groth16 witness) against two G1 base sets, a G2 set, G1 bases
/// with precomputed copies and a forced window width: every sum equals the reference, and
/// reusing the preparation gives the same sums again.
fn check_prepared(
    backend: &dyn Accelerator<Bn254>,
    n: usize,
    rng: &mut StdRng,
) -> Result<(), String> {
    let scalars: Vec<Fr> = edge_scalars(n, rng);
    let g1a = edge_bases::<G1Projective>(&random_bases::<G1Projective>(n + 3, rng));
    let g1b = random_bases::<G1Projective>(n, rng);
    let g2 = edge_bases::<G2Projective>(&random_bases::<G2Projective>(n, rng));
    let config = MsmConfig::default();
    let copies = MsmConfig {
        precompute_factor: Some(2),
        ..MsmConfig::default()
    };
    let forced = MsmConfig {
        window_bits: Some(5),
        ..MsmConfig::default()
    };
    let load1 = |b: &[ark_bn254::G1Affine], c: &MsmConfig| {
        kernels_accel::load_bases::<G1Projective, _>(backend, b, c)
            .map_err(|e| format!("load_bases: {e}"))
    };
    let (a, b, a_copies) = (
        load1(&g1a, &config)?,
        load1(&g1b, &config)?,
        load1(&g1a, &copies)?,
    );
    let g2_loaded = kernels_accel::load_bases::<G2Projective, _>(backend, &g2, &config)
        .map_err(|e| format!("load_bases g2: {e}"))?;
    let prepared = kernels_accel::prepare_scalars::<G1Projective, _>(backend, &scalars, &config)
        .map_err(|e| format!("prepare_scalars: {e}"))?;
    let want_a = reference::<G1Projective>(&g1a, &scalars);
    let want_b = reference::<G1Projective>(&g1b, &scalars);
    let want_g2 = reference::<G2Projective>(&g2, &scalars);
    for round in 0..2 {
        let g1_runs = [
            ("A", &a, &config, want_a),
            ("B", &b, &config, want_b),
            ("A with copies", &a_copies, &copies, want_a),
            ("A at c = 5", &a, &forced, want_a),
        ];
        for (what, bases, c, want) in g1_runs {
            let got = kernels_accel::msm_prepared::<G1Projective, _>(backend, bases, &prepared, c)
                .map_err(|e| format!("{what}: {e}"))?;
            if got != want {
                return Err(format!("{what}, use {round}: differs from the reference"));
            }
        }
        let got =
            kernels_accel::msm_prepared::<G2Projective, _>(backend, &g2_loaded, &prepared, &config)
                .map_err(|e| format!("G2: {e}"))?;
        if got != want_g2 {
            return Err(format!("G2, use {round}: differs from the reference"));
        }
    }
    // More prepared scalars than bases are refused, as for a plain MSM.
    let longer = [scalars.clone(), vec![Fr::one(); 4]].concat();
    let too_many = kernels_accel::prepare_scalars::<G1Projective, _>(backend, &longer, &config)
        .map_err(|e| format!("prepare_scalars: {e}"))?;
    match kernels_accel::msm_prepared::<G1Projective, _>(backend, &b, &too_many, &config) {
        Err(AccelError::LengthMismatch { .. }) => Ok(()),
        Err(e) => Err(format!(
            "{} scalars against {n} bases: wrong error: {e}",
            n + 4
        )),
        Ok(_) => Err(format!("accepted {} scalars against {n} bases", n + 4)),
    }
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
