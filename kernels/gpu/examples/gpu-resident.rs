//! The forward NTT, or a G1 MSM, with its data already on the device. A Groth16 proof uses
//! the NTT this way (the inverse and coset passes run back to back on one resident buffer),
//! and the MSM targets count the kernels with the bases resident. `appliance bench`
//! also times the transfers of the scalars (and the NTT's download), so it cannot show the
//! kernels' own time; this does, next to the transfer times, after checking the result
//! against ark-poly / arkworks.
//!
//! `cargo run --release -p kernels-gpu --features cuda,opencl --example gpu-resident -- \
//!     --backend cuda|opencl [--op ntt|msm|oom] [--log-n 16,20,24] [--runs 10] [--window 19,21] \
//!     [--scatter-kib 0,49152] [--headroom-mib 3072] [--fill-mib N]`
//!
//! `--op oom` checks the out-of-memory paths on a real driver, which the tests can only
//! reach through a device double (`tests/opencl.rs`, `Limited`): it fills the device until
//! the driver refuses, hands back `--headroom-mib`, and runs MSMs and NTTs through the
//! backend, which must split them or move them to the CPU and still give arkworks' sums.

use std::process::ExitCode;
use std::time::Instant;

use ark_bn254::{Fr, G1Affine, G1Projective};
use ark_ec::VariableBaseMSM;
use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};
use rand::rngs::StdRng;
use rand::SeedableRng;

use kernels_accel::{Msm, MsmConfig, Ntt, NttConfig};
use kernels_gpu::convert::{download_fr, fr_words};
use kernels_gpu::msm::{
    load_bases, msm_device_scalars, msm_sorted, sort_scalars, upload_scalars, SCATTER_KIB_ENV,
};
use kernels_gpu::ntt::{transform, TwiddleProduct, Twiddles};
use kernels_gpu::{Device, GpuBackend, GpuError};

const USAGE: &str = "
usage: gpu-resident --backend cuda|opencl [--op ntt|msm|oom] [--log-n 16,18,20,22,24] [--runs 10]
                    [--window 19,21] [--scatter-kib 0,49152] [--headroom-mib 3072] [--fill-mib N]
  --op ntt        forward NTT of data resident on the device (default)
  --op msm        G1 MSM with bases and scalars resident, then of scalars sorted once
  --op oom        fill the device until the driver refuses, free --headroom-mib of it, then
                  per size a G1 MSM (host scalars, then scalars sorted once), a forward NTT
                  and a Groth16 quotient through the backend, which must split them or fall
                  back to the CPU: each result checked, each time printed (--runs ignored)
  --fill-mib      stop filling at this much (default: until the driver refuses)
  --window        MSM window widths to time besides the default one (each result checked too)
  --scatter-kib   MSM scatter ranges (APPLIANCE_GPU_SCATTER_KIB; 0: one launch per window)
                  to time besides the default one (each result checked too)
  every size is checked against ark-poly / arkworks before it is timed";

struct Args {
    backend: String,
    op: Op,
    log_n: Vec<u32>,
    runs: usize,
    windows: Vec<u32>,
    scatter_kib: Vec<u32>,
    headroom_mib: usize,
    fill_mib: usize,
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Ntt,
    Msm,
    OutOfMemory,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        backend: "cuda".into(),
        op: Op::Ntt,
        log_n: vec![16, 18, 20, 22, 24],
        runs: 10,
        windows: Vec::new(),
        scatter_kib: Vec::new(),
        headroom_mib: 3072,
        fill_mib: usize::MAX,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--backend" => args.backend = value,
            "--op" => {
                args.op = match value.as_str() {
                    "ntt" => Op::Ntt,
                    "msm" => Op::Msm,
                    "oom" => Op::OutOfMemory,
                    other => return Err(format!("--op takes ntt, msm or oom, not {other:?}")),
                }
            }
            "--log-n" => args.log_n = u32_list(&value, "log n")?,
            "--runs" => args.runs = value.parse().map_err(|_| "bad --runs".to_string())?,
            "--window" => args.windows = u32_list(&value, "window")?,
            "--scatter-kib" => args.scatter_kib = u32_list(&value, "scatter range")?,
            "--headroom-mib" => {
                args.headroom_mib = value
                    .parse()
                    .map_err(|_| "bad --headroom-mib".to_string())?
            }
            "--fill-mib" => {
                args.fill_mib = value.parse().map_err(|_| "bad --fill-mib".to_string())?
            }
            _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
        }
    }
    Ok(args)
}

/// A comma-separated list of numbers (`what` names them in the error).
fn u32_list(value: &str, what: &str) -> Result<Vec<u32>, String> {
    value
        .split(',')
        .map(|s| s.trim().parse().map_err(|_| format!("bad {what} {s:?}")))
        .collect()
}

/// "resident MEDIAN ms (min MIN)" of the timed runs.
fn resident_times(times: &[f64]) -> String {
    let mut sorted = times.to_vec();
    sorted.sort_by(f64::total_cmp);
    format!(
        "resident {:>9.3} ms (min {:>9.3})",
        sorted[sorted.len() / 2],
        sorted[0]
    )
}

fn ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1e3
}

/// One size: checks the transform against ark-poly, then prints the median resident time
/// and the transfer times. Returns false on a mismatch.
fn one_ntt<D: Device>(
    dev: &D,
    twiddles: &Twiddles<D>,
    log_n: u32,
    runs: usize,
) -> Result<bool, String> {
    let n = 1usize << log_n;
    let mut rng = StdRng::seed_from_u64(u64::from(log_n));
    let input: Vec<Fr> = kernels_testkit::random_scalars(n, &mut rng);
    let e = |e: kernels_gpu::GpuError| e.to_string();

    let t = Instant::now();
    let buf = dev.upload(&fr_words(&input)).map_err(e)?;
    dev.finish().map_err(e)?;
    let upload_ms = ms(t);
    transform(dev, twiddles, &buf, log_n, false, None).map_err(e)?;
    dev.finish().map_err(e)?;
    // Into memory already touched, as a prover's vectors are.
    let mut ours = vec![Fr::from(1u64); n];
    let t = Instant::now();
    download_fr(dev, &buf, &mut ours).map_err(e)?;
    let download_ms = ms(t);
    let domain = Radix2EvaluationDomain::<Fr>::new(n).ok_or("no domain")?;
    let mut want = input;
    domain.fft_in_place(&mut want);
    let same = ours == want;

    // The download above waited for the queue; launches do not wait, so `finish` makes the
    // host clock bracket each transform's device work.
    let times: Vec<f64> = (0..runs.max(1))
        .map(|_| {
            let t = Instant::now();
            transform(dev, twiddles, &buf, log_n, false, None).map_err(e)?;
            dev.finish().map_err(e)?;
            Ok(ms(t))
        })
        .collect::<Result<_, String>>()?;
    println!(
        "ntt 2^{log_n:<2}  {}  upload {upload_ms:>8.2} ms  download {download_ms:>8.2} ms  equal to ark-poly: {same}",
        resident_times(&times)
    );
    Ok(same)
}

/// One G1 MSM size: bases and scalars resident, checked against arkworks, then the median
/// time of the MSM alone and the scalars' upload time. Returns false on a mismatch.
fn one_msm<D: Device>(dev: &D, log_n: u32, runs: usize, args: &Args) -> Result<bool, String> {
    let n = 1usize << log_n;
    let mut rng = StdRng::seed_from_u64(u64::from(log_n));
    let bases: Vec<G1Affine> = kernels_testkit::random_g1_bases(n, &mut rng);
    let scalars: Vec<Fr> = kernels_testkit::random_scalars(n, &mut rng);
    let e = |e: kernels_gpu::GpuError| e.to_string();

    let resident = load_bases::<D, ark_bn254::g1::Config>(dev, &bases, None, None).map_err(e)?;
    let t = Instant::now();
    let on_device = upload_scalars(dev, &scalars).map_err(e)?;
    dev.finish().map_err(e)?;
    let upload_ms = ms(t);
    let ours = msm_device_scalars(dev, &resident, &on_device, None).map_err(e)?;
    let same = ours == G1Projective::msm_unchecked(&bases, &scalars);

    let times = timed_msms(runs, ours, || {
        msm_device_scalars(dev, &resident, &on_device, None).map(Some)
    })?;
    println!(
        "msm g1 2^{log_n:<2}  {}  scalar upload {upload_ms:>8.2} ms  equal to arkworks: {same}",
        resident_times(&times)
    );
    for &c in &args.windows {
        let times = timed_msms(runs, ours, || {
            msm_device_scalars(dev, &resident, &on_device, Some(c)).map(Some)
        })?;
        println!(
            "msm g1 2^{log_n:<2}  {}  window {c}",
            resident_times(&times)
        );
    }
    // The scatter reads its setting at every MSM; this program's only thread sets it.
    let setting = std::env::var_os(SCATTER_KIB_ENV);
    for &kib in &args.scatter_kib {
        std::env::set_var(SCATTER_KIB_ENV, kib.to_string());
        let times = timed_msms(runs, ours, || {
            msm_device_scalars(dev, &resident, &on_device, None).map(Some)
        });
        match &setting {
            Some(v) => std::env::set_var(SCATTER_KIB_ENV, v),
            None => std::env::remove_var(SCATTER_KIB_ENV),
        }
        println!(
            "msm g1 2^{log_n:<2}  {}  scatter ranges of {kib} KiB",
            resident_times(&times?)
        );
    }

    // A Groth16 witness is sorted once for four MSMs: the sort, then one MSM of it.
    let t = Instant::now();
    let sorted = sort_scalars(dev, &scalars, None)
        .map_err(e)?
        .ok_or("too many scalars for one sort")?;
    dev.finish().map_err(e)?;
    let sort_ms = ms(t);
    let times = timed_msms(runs, ours, || msm_sorted(dev, &resident, &sorted, None))?;
    println!(
        "msm g1 2^{log_n:<2}  {}  of scalars sorted once (upload, digits, sort: {sort_ms:>8.2} ms)",
        resident_times(&times)
    );
    Ok(same)
}

/// Times `runs` calls of `msm` (`None`: it declined), each of which must give `want`.
fn timed_msms(
    runs: usize,
    want: G1Projective,
    msm: impl Fn() -> kernels_gpu::Result<Option<G1Projective>>,
) -> Result<Vec<f64>, String> {
    (0..runs.max(1))
        .map(|_| {
            let t = Instant::now();
            let got = msm().map_err(|e| e.to_string())?;
            let elapsed = ms(t);
            if got != Some(want) {
                return Err("a timed MSM differs from the first".to_string());
            }
            Ok(elapsed)
        })
        .collect()
}

/// Fills the device in 256 MiB buffers until the driver refuses (or `fill_mib`), then
/// frees buffers until `headroom_mib` is free again; the rest is held until dropped.
fn ballast<D: Device>(dev: &D, args: &Args) -> Result<Vec<D::Buffer>, String> {
    const CHUNK_MIB: usize = 256;
    let mut held = Vec::new();
    let refusal = loop {
        if held.len() * CHUNK_MIB >= args.fill_mib {
            break None;
        }
        match dev.alloc_zeroed(CHUNK_MIB << 18) {
            Ok(b) => held.push(b),
            Err(e @ GpuError::OutOfMemory { .. }) => break Some(e),
            Err(e) => return Err(format!("filling the device: {e}")),
        }
    };
    let taken = held.len() * CHUNK_MIB;
    held.truncate(
        held.len()
            .saturating_sub(args.headroom_mib.div_ceil(CHUNK_MIB)),
    );
    dev.finish().map_err(|e| e.to_string())?;
    println!(
        "ballast: {taken} MiB taken ({}), {} MiB freed again, {} MiB held",
        refusal.map_or("--fill-mib reached".to_string(), |e| format!("then: {e}")),
        taken - held.len() * CHUNK_MIB,
        held.len() * CHUNK_MIB
    );
    Ok(held)
}

/// `--op oom`, one size: the backend's G1 MSM of host scalars and of scalars sorted once,
/// its forward NTT and its Groth16 quotient (`coset_quotient` and the H MSM of it),
/// on a device left with little free memory. Returns false on a mismatch.
fn one_oom<D: Device>(backend: &GpuBackend<D>, log_n: u32) -> Result<bool, String> {
    let n = 1usize << log_n;
    let mut rng = StdRng::seed_from_u64(u64::from(log_n));
    let bases: Vec<G1Affine> = kernels_testkit::random_g1_bases(n, &mut rng);
    let scalars: Vec<Fr> = kernels_testkit::random_scalars(n, &mut rng);
    let e = |e: kernels_accel::AccelError| e.to_string();
    let config = MsmConfig::default();
    let want = G1Projective::msm_unchecked(&bases, &scalars);
    let mut all = true;
    let mut report = |what: &str, start: Instant, same: bool| {
        all &= same;
        println!(
            "oom 2^{log_n:<2}  {what:<28} {:>9.2} ms  equal: {same}",
            ms(start)
        );
    };

    let t = Instant::now();
    let loaded = match Msm::<G1Projective>::load_bases_unchecked(backend, &bases, &config) {
        Ok(b) => b,
        Err(err) => {
            println!("oom 2^{log_n:<2}  the bases do not fit: {err}");
            return Ok(true);
        }
    };
    report("load bases", t, true);
    let t = Instant::now();
    let got = backend
        .msm_unchecked(&loaded, &scalars, &config)
        .map_err(e)?;
    report("msm g1, host scalars", t, got == want);
    let t = Instant::now();
    let prepared =
        Msm::<G1Projective>::prepare_scalars_unchecked(backend, &scalars, &config).map_err(e)?;
    let got = backend
        .msm_prepared_unchecked(&loaded, &prepared, &config)
        .map_err(e)?;
    report("msm g1, scalars sorted once", t, got == want);
    drop(prepared);

    let domain = Radix2EvaluationDomain::<Fr>::new(n).ok_or("no domain")?;
    let mut ours = scalars.clone();
    let t = Instant::now();
    backend
        .ntt_unchecked(&mut [&mut ours[..]], &NttConfig::forward())
        .map_err(e)?;
    let mut theirs = scalars.clone();
    domain.fft_in_place(&mut theirs);
    report("ntt forward", t, ours == theirs);

    // The quotient of a Groth16 proof on its coset, then its H MSM, as the prover runs them.
    let g = Fr::from(7u64);
    let (mut a, mut b) = (scalars, kernels_testkit::random_scalars(n, &mut rng));
    let (mut want_h, mut b_host) = (a.clone(), b.clone());
    let cpu = kernels_cpu::CpuBackend::new(0).map_err(e)?;
    kernels_accel::coset_quotient_on_host(&cpu, &mut want_h, &mut b_host, g).map_err(e)?;
    let t = Instant::now();
    let got =
        kernels_accel::quotient_msm(backend, &loaded, &mut a, &mut b, g, &config).map_err(e)?;
    report(
        "quotient and msm h",
        t,
        got == G1Projective::msm_unchecked(&bases, &want_h),
    );
    Ok(all)
}

fn run_all<D: Device>(dev: D, args: &Args) -> Result<bool, String> {
    // As the backend chooses it: timed on a GPU unless APPLIANCE_GPU_NTT_TWIDDLES names one
    // (only the NTT uses it).
    let twiddles = match args.op {
        Op::Ntt => Twiddles::<D>::for_device(&dev, TwiddleProduct::from_env()),
        _ => Twiddles::new(Ok(TwiddleProduct::default())),
    };
    println!(
        "device: {}{} ({})",
        dev.device_name(),
        twiddles.product().map_or("", TwiddleProduct::label),
        dev.backend()
    );
    if let Some(timing) = twiddles.timing() {
        println!("{}", timing.summary());
    }
    let mut all = true;
    if args.op == Op::OutOfMemory {
        let backend = GpuBackend::new(dev);
        let held = ballast(backend.device(), args)?;
        for &log_n in &args.log_n {
            all &= one_oom(&backend, log_n)?;
        }
        drop(held);
        return Ok(all);
    }
    for &log_n in &args.log_n {
        all &= match args.op {
            Op::Msm => one_msm(&dev, log_n, args.runs, args)?,
            _ => one_ntt(&dev, &twiddles, log_n, args.runs)?,
        };
    }
    Ok(all)
}

fn main() -> ExitCode {
    if std::env::args().any(|a| a == "--help" || a == "-h") {
        println!("{}", USAGE.trim_start());
        return ExitCode::SUCCESS;
    }
    let result = parse().and_then(|args| match args.backend.as_str() {
        "cuda" => kernels_gpu::cuda::CudaDevice::open(0)
            .map_err(|e| e.to_string())
            .and_then(|d| run_all(d, &args)),
        "opencl" => kernels_gpu::opencl::OpenClDevice::open(0, false)
            .map_err(|e| e.to_string())
            .and_then(|d| run_all(d, &args)),
        other => Err(format!("unknown backend {other}")),
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("error: a result differs from ark-poly's / arkworks'");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
