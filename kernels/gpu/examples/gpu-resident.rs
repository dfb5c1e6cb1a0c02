//! The forward NTT, or a G1 MSM, with its data already on the device. A Groth16 proof uses
//! the NTT this way (the inverse and coset passes run back to back on one resident buffer),
//! and the MSM targets count the kernels with the bases resident. `appliance bench`
//! also times the transfers of the scalars (and the NTT's download), so it cannot show the
//! kernels' own time; this does, next to the transfer times, after checking the result
//! against ark-poly / arkworks.
//!
//! `cargo run --release -p kernels-gpu --features cuda,opencl --example gpu-resident -- \
//!     --backend cuda|opencl [--op ntt|msm] [--log-n 16,20,24] [--runs 10] [--window 19,21] \
//!     [--scatter-kib 0,49152]`

use std::process::ExitCode;
use std::time::Instant;

use ark_bn254::{Fr, G1Affine, G1Projective};
use ark_ec::VariableBaseMSM;
use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};
use rand::rngs::StdRng;
use rand::SeedableRng;

use kernels_gpu::convert::{download_fr, fr_words};
use kernels_gpu::msm::{
    load_bases, msm_device_scalars, msm_sorted, sort_scalars, upload_scalars, SCATTER_KIB_ENV,
};
use kernels_gpu::ntt::{transform, Twiddles};
use kernels_gpu::Device;

const USAGE: &str = "
usage: gpu-resident --backend cuda|opencl [--op ntt|msm] [--log-n 16,18,20,22,24] [--runs 10]
                    [--window 19,21] [--scatter-kib 0,49152]
  --op ntt        forward NTT of data resident on the device (default)
  --op msm        G1 MSM with bases and scalars resident, then of scalars sorted once
  --window        MSM window widths to time besides the default one (each result checked too)
  --scatter-kib   MSM scatter ranges (APPLIANCE_GPU_SCATTER_KIB; 0: one launch per window)
                  to time besides the default one (each result checked too)
  every size is checked against ark-poly / arkworks before it is timed";

struct Args {
    backend: String,
    msm: bool,
    log_n: Vec<u32>,
    runs: usize,
    windows: Vec<u32>,
    scatter_kib: Vec<u32>,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        backend: "cuda".into(),
        msm: false,
        log_n: vec![16, 18, 20, 22, 24],
        runs: 10,
        windows: Vec::new(),
        scatter_kib: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--backend" => args.backend = value,
            "--op" => {
                args.msm = match value.as_str() {
                    "ntt" => false,
                    "msm" => true,
                    other => return Err(format!("--op takes ntt or msm, not {other:?}")),
                }
            }
            "--log-n" => args.log_n = u32_list(&value, "log n")?,
            "--runs" => args.runs = value.parse().map_err(|_| "bad --runs".to_string())?,
            "--window" => args.windows = u32_list(&value, "window")?,
            "--scatter-kib" => args.scatter_kib = u32_list(&value, "scatter range")?,
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
fn one_ntt<D: Device>(dev: &D, log_n: u32, runs: usize) -> Result<bool, String> {
    let n = 1usize << log_n;
    let mut rng = StdRng::seed_from_u64(u64::from(log_n));
    let input: Vec<Fr> = kernels_testkit::random_scalars(n, &mut rng);
    let twiddles = Twiddles::<D>::default();
    let e = |e: kernels_gpu::GpuError| e.to_string();

    let t = Instant::now();
    let buf = dev.upload(&fr_words(&input)).map_err(e)?;
    dev.finish().map_err(e)?;
    let upload_ms = ms(t);
    transform(dev, &twiddles, &buf, log_n, false, None).map_err(e)?;
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
            transform(dev, &twiddles, &buf, log_n, false, None).map_err(e)?;
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

fn run_all<D: Device>(dev: &D, args: &Args) -> Result<bool, String> {
    println!("device: {} ({})", dev.device_name(), dev.backend());
    let mut all = true;
    for &log_n in &args.log_n {
        all &= if args.msm {
            one_msm(dev, log_n, args.runs, args)?
        } else {
            one_ntt(dev, log_n, args.runs)?
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
            .and_then(|d| run_all(&d, &args)),
        "opencl" => kernels_gpu::opencl::OpenClDevice::open(0, false)
            .map_err(|e| e.to_string())
            .and_then(|d| run_all(&d, &args)),
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
