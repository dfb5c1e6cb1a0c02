use std::time::Instant;

use ark_bn254::{Bn254, Fr, G1Projective, G2Projective};
use ark_ec::{CurveGroup, VariableBaseMSM};
use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};
use kernels_accel::{AccelError, Accelerator, Msm, MsmConfig, NttConfig};
use kernels_testkit::inputs::{random_bases, random_scalars};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::Serialize;

use crate::{alloc_track, cpu_time, median};

/// Which group an MSM runs over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MsmGroup {
    G1,
    G2,
}

/// One line of a comparison table (also the `--json` object).
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub op: String,
    pub log_n: u32,
    pub backend: String,
    pub device: String,
    pub threads: usize,
    pub runs: usize,
    /// Median wall time of our backend.
    pub ours_ms: f64,
    /// Median wall time of the reference, measured interleaved with ours.
    pub reference_ms: f64,
    /// `reference_ms / ours_ms`: above 1 means we are faster.
    pub speedup: f64,
    /// Both sides produced the same result on the same inputs.
    pub same_result: bool,
    /// CPU time (all threads) per run of ours and of the reference.
    pub ours_cpu_ms: f64,
    pub reference_cpu_ms: f64,
    /// MSM only: one-off time to make the bases resident (not in `ours_ms`).
    pub load_ms: Option<f64>,
    /// Size of the inputs (bases + scalars, or the vector), bytes.
    pub input_bytes: usize,
    /// Peak bytes our call allocated beyond what was live before it (needs the counting
    /// allocator; absent otherwise).
    pub extra_alloc_bytes: Option<usize>,
}

struct Samples {
    wall_ms: Vec<f64>,
    cpu_ms: f64,
}

fn time<R>(f: impl FnOnce() -> R) -> (R, f64, f64) {
    let (c0, t0) = (cpu_time(), Instant::now());
    let r = f();
    let wall = t0.elapsed().as_secs_f64() * 1e3;
    let cpu = (cpu_time() - c0).as_secs_f64() * 1e3;
    (r, wall, cpu)
}

/// Runs ours and the reference alternately, after one warm-up each; returns both medians
/// and whether every pair of results agreed.
fn interleave<R: PartialEq>(
    runs: usize,
    mut ours: impl FnMut() -> Result<R, AccelError>,
    mut reference: impl FnMut() -> R,
) -> Result<(Samples, Samples, bool), AccelError> {
    let mut same = ours()? == reference();
    let mut o = Samples {
        wall_ms: Vec::new(),
        cpu_ms: 0.0,
    };
    let mut r = Samples {
        wall_ms: Vec::new(),
        cpu_ms: 0.0,
    };
    for _ in 0..runs.max(1) {
        let (a, wall, cpu) = time(&mut ours);
        let a = a?;
        o.wall_ms.push(wall);
        o.cpu_ms += cpu;
        let (b, wall, cpu) = time(&mut reference);
        r.wall_ms.push(wall);
        r.cpu_ms += cpu;
        same &= a == b;
    }
    o.cpu_ms /= o.wall_ms.len() as f64;
    r.cpu_ms /= r.wall_ms.len() as f64;
    Ok((o, r, same))
}

fn reference_pool(threads: usize) -> Result<rayon::ThreadPool, AccelError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| AccelError::InvalidInput(format!("cannot start reference pool: {e}")))
}

/// Our MSM against arkworks' `VariableBaseMSM::msm` on `2^log_n` random bases and scalars,
/// with `config`'s window and precomputation (the defaults let the backend choose).
pub fn compare_msm(
    backend: &dyn Accelerator<Bn254>,
    group: MsmGroup,
    log_n: u32,
    config: &MsmConfig,
    threads: usize,
    runs: usize,
    seed: u64,
) -> Result<Row, AccelError> {
    let sizes = (log_n, threads, runs, seed);
    match group {
        MsmGroup::G1 => compare_msm_in::<G1Projective, _>("msm-g1", backend, config, sizes),
        MsmGroup::G2 => compare_msm_in::<G2Projective, _>("msm-g2", backend, config, sizes),
    }
}

fn compare_msm_in<G, A>(
    op: &str,
    backend: &A,
    config: &MsmConfig,
    (log_n, threads, runs, seed): (u32, usize, usize, u64),
) -> Result<Row, AccelError>
where
    G: CurveGroup<ScalarField = Fr> + VariableBaseMSM,
    A: Msm<G> + ?Sized,
{
    let n = 1usize << log_n;
    let pool = reference_pool(threads)?;
    let mut rng = StdRng::seed_from_u64(seed);
    let (bases, scalars) =
        pool.install(|| (random_bases::<G>(n, &mut rng), random_scalars(n, &mut rng)));
    let (loaded, load_ms, _) = time(|| kernels_accel::load_bases::<G, _>(backend, &bases, config));
    let loaded = loaded?;

    let before = alloc_track::reset_peak();
    kernels_accel::msm::<G, _>(backend, &loaded, &scalars, config)?;
    let extra = alloc_track::peak().saturating_sub(before);

    let (ours, reference, same) = interleave(
        runs,
        || kernels_accel::msm::<G, _>(backend, &loaded, &scalars, config),
        || pool.install(|| G::msm_unchecked(&bases, &scalars)),
    )?;
    let info = backend.info();
    Ok(row(
        op,
        log_n,
        info,
        threads,
        (ours, reference, same),
        Some(load_ms),
        std::mem::size_of_val(bases.as_slice()) + std::mem::size_of_val(scalars.as_slice()),
        alloc_track::active().then_some(extra),
    ))
}

/// Our forward NTT against ark-poly's `Radix2EvaluationDomain::fft_in_place`.
pub fn compare_ntt(
    backend: &dyn Accelerator<Bn254>,
    log_n: u32,
    threads: usize,
    runs: usize,
    seed: u64,
) -> Result<Row, AccelError> {
    let n = 1usize << log_n;
    kernels_accel::check_ntt_size::<Fr>(n)?;
    let pool = reference_pool(threads)?;
    let mut rng = StdRng::seed_from_u64(seed);
    let input = pool.install(|| random_scalars(n, &mut rng));
    let domain = Radix2EvaluationDomain::<Fr>::new(n).ok_or(AccelError::NttSizeTooLarge {
        log_n,
        two_adicity: 28,
    })?;
    let config = NttConfig::forward();
    // Warm the plan cache once, as a prover does on its first job of a size.
    let mut warm = input.clone();
    kernels_accel::ntt(backend, &mut [&mut warm], &config)?;

    let before = alloc_track::reset_peak();
    kernels_accel::ntt(backend, &mut [&mut warm], &config)?;
    let extra = alloc_track::peak().saturating_sub(before);

    let mut ours_buf = input.clone();
    let mut ref_buf = input.clone();
    let (ours, reference, same) = interleave(
        runs,
        || {
            ours_buf.copy_from_slice(&input);
            kernels_accel::ntt(backend, &mut [&mut ours_buf], &config)?;
            Ok(ours_buf[..n.min(8)].to_vec())
        },
        || {
            ref_buf.copy_from_slice(&input);
            pool.install(|| domain.fft_in_place(&mut ref_buf));
            ref_buf[..n.min(8)].to_vec()
        },
    )?;
    let full_match = ours_buf == ref_buf;
    Ok(row(
        "ntt",
        log_n,
        backend.info(),
        threads,
        (ours, reference, same && full_match),
        None,
        std::mem::size_of_val(input.as_slice()),
        alloc_track::active().then_some(extra),
    ))
}

#[allow(clippy::too_many_arguments)]
fn row(
    op: &str,
    log_n: u32,
    info: kernels_accel::BackendInfo,
    threads: usize,
    (ours, reference, same): (Samples, Samples, bool),
    load_ms: Option<f64>,
    input_bytes: usize,
    extra_alloc_bytes: Option<usize>,
) -> Row {
    let ours_ms = median(&ours.wall_ms);
    let reference_ms = median(&reference.wall_ms);
    Row {
        op: op.to_string(),
        log_n,
        backend: info.name.to_string(),
        device: info.device,
        threads,
        runs: ours.wall_ms.len(),
        ours_ms,
        reference_ms,
        speedup: if ours_ms > 0.0 {
            reference_ms / ours_ms
        } else {
            0.0
        },
        same_result: same,
        ours_cpu_ms: ours.cpu_ms,
        reference_cpu_ms: reference.cpu_ms,
        load_ms,
        input_bytes,
        extra_alloc_bytes,
    }
}
