//! `appliance`: the operator's binary.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use ark_bn254::Bn254;
use bench::{alloc_track::Counting, MsmGroup, Row};
use clap::{Args, Parser, Subcommand, ValueEnum};
use kernels_accel::{Accelerator, BackendKind};
use kernels_testkit::SuiteOptions;

#[global_allocator]
static ALLOC: Counting = Counting;

/// ZK proving appliance: proves circom Groth16 jobs fast on CPU and accelerators.
///
/// With no command it runs the default job: a quick self-test of the CPU backend followed
/// by a small benchmark table against arkworks, measured in the same process.
#[derive(Parser)]
#[command(name = "appliance", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the conformance suite on fresh random inputs; exit 1 on any mismatch.
    ///
    /// Operators run this at boot: every MSM (G1, G2) and NTT of the chosen backend is
    /// compared with arkworks / ark-poly and naive references on awkward sizes
    /// (0, 1, 2, 31, 33, 1025, 2^16), zero scalars, -1, points at infinity, duplicates.
    Selftest(SelftestArgs),
    /// Time our kernels against the reference (arkworks, ark-poly) in this process.
    ///
    /// Runs are interleaved (ours, reference, ours, ...) after a warm-up; the medians, the
    /// speedup (reference / ours), CPU time and whether both results agree are printed.
    Bench(BenchArgs),
    /// Print build facts (version, kernel-source hash, compiled backends) and the device
    /// the chosen backend opens.
    Info(BackendArgs),
}

#[derive(Args, Clone)]
struct BackendArgs {
    /// Backend: auto (first working accelerator, else cpu), cpu, cuda, opencl, fpga.
    #[arg(long, default_value = "auto")]
    backend: String,
    /// Device index for accelerator backends.
    #[arg(long, default_value_t = 0)]
    device: usize,
    /// Worker threads for CPU work (0: every core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

#[derive(Args)]
struct SelftestArgs {
    #[command(flatten)]
    backend: BackendArgs,
    /// Seed of the random inputs (default: fresh from the clock); printed for replay.
    #[arg(long)]
    seed: Option<u64>,
    /// Largest G1 MSM and NTT size, as log2.
    #[arg(long, default_value_t = 16)]
    max_log: u32,
    /// Print every check, not only failures.
    #[arg(short, long)]
    verbose: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum BenchOp {
    /// Multi-scalar multiplication (pick the group with --group).
    Msm,
    /// Forward NTT over the BN254 scalar field.
    Ntt,
}

#[derive(Clone, Copy, ValueEnum)]
enum Group {
    G1,
    G2,
}

#[derive(Args)]
struct BenchArgs {
    /// What to time.
    op: BenchOp,
    /// Sizes as log2, comma separated (e.g. 16,18,20).
    #[arg(long, value_delimiter = ',', default_value = "16")]
    log_n: Vec<u32>,
    /// MSM group.
    #[arg(long, value_enum, default_value = "g1")]
    group: Group,
    #[command(flatten)]
    backend: BackendArgs,
    /// Timed runs per side (after one warm-up each).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Seed of the random inputs.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        None => default_job(),
        Some(Command::Selftest(args)) => selftest(&args),
        Some(Command::Bench(args)) => bench_cmd(&args),
        Some(Command::Info(args)) => info(&args),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn open(args: &BackendArgs) -> Result<(Arc<dyn Accelerator<Bn254>>, usize)> {
    let kind: BackendKind = args.backend.parse()?;
    let threads = if args.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        args.threads
    };
    let backend = appliance::registry(threads)
        .open(kind, args.device)
        .with_context(|| format!("cannot open backend `{kind}`"))?;
    Ok((backend, threads))
}

fn info(args: &BackendArgs) -> Result<ExitCode> {
    use appliance::build_info::*;
    println!("appliance {VERSION}");
    println!("kernel source sha256: {KERNEL_SOURCE_HASH}");
    println!("compiled backends: {BACKENDS}");
    let (backend, _) = open(args)?;
    let info = backend.info();
    println!("backend: {} on {}", info.name, info.device);
    Ok(ExitCode::SUCCESS)
}

fn selftest(args: &SelftestArgs) -> Result<ExitCode> {
    let (backend, _) = open(&args.backend)?;
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    let options = SuiteOptions {
        max_log_msm: args.max_log,
        max_log_ntt: args.max_log,
        seed,
        ..SuiteOptions::default()
    };
    let info = backend.info();
    eprintln!(
        "selftest: backend {} on {}, seed {seed:#x}",
        info.name, info.device
    );
    let mut count = 0usize;
    let report = kernels_testkit::run_suite(&*backend, &options, &mut |name| {
        count += 1;
        eprint!("\r\x1b[2K  [{count}] {name}");
        let _ = std::io::stderr().flush();
    });
    eprintln!("\r\x1b[2K");
    for c in &report.checks {
        if !c.passed {
            println!("FAIL  {}: {}", c.name, c.detail);
        } else if args.verbose {
            println!("ok    {}", c.name);
        }
    }
    let failed = report.failures().count();
    println!(
        "selftest: {} passed, {} failed (backend {}, seed {seed:#x})",
        report.checks.len() - failed,
        failed,
        report.backend
    );
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn bench_cmd(args: &BenchArgs) -> Result<ExitCode> {
    let (backend, threads) = open(&args.backend)?;
    let mut rows = Vec::new();
    for &log_n in &args.log_n {
        let (op, label) = match (args.op, args.group) {
            (BenchOp::Ntt, _) => ("ntt", "ntt"),
            (BenchOp::Msm, Group::G1) => ("msm", "msm-g1"),
            (BenchOp::Msm, Group::G2) => ("msm", "msm-g2"),
        };
        eprintln!(
            "bench {label} 2^{log_n} on {} ({threads} threads, {} runs)...",
            backend.info().name,
            args.runs
        );
        let row = match (op, args.group) {
            ("ntt", _) => bench::compare_ntt(&*backend, log_n, threads, args.runs, args.seed),
            (_, Group::G1) => bench::compare_msm(
                &*backend,
                MsmGroup::G1,
                log_n,
                threads,
                args.runs,
                args.seed,
            ),
            (_, Group::G2) => bench::compare_msm(
                &*backend,
                MsmGroup::G2,
                log_n,
                threads,
                args.runs,
                args.seed,
            ),
        }
        .with_context(|| format!("{label} at 2^{log_n}"))?;
        if args.json {
            println!("{}", serde_json::to_string(&row)?);
        }
        rows.push(row);
    }
    if !args.json {
        print_table(&rows);
    }
    Ok(if rows.iter().all(|r| r.same_result) {
        ExitCode::SUCCESS
    } else {
        eprintln!("error: our result differs from the reference's");
        ExitCode::from(1)
    })
}

fn print_table(rows: &[Row]) {
    println!(
        "{:<7} {:>5} {:<7} {:>7} {:>11} {:>12} {:>8} {:>12} {:>11} {:>5}",
        "op",
        "log_n",
        "backend",
        "threads",
        "ours_ms",
        "reference_ms",
        "speedup",
        "ours_cpu_ms",
        "extra_MiB",
        "same"
    );
    for r in rows {
        let extra = r.extra_alloc_bytes.map_or("-".to_string(), |b| {
            format!("{:.1}", b as f64 / (1 << 20) as f64)
        });
        println!(
            "{:<7} {:>5} {:<7} {:>7} {:>11.2} {:>12.2} {:>7.2}x {:>12.1} {:>11} {:>5}",
            r.op,
            r.log_n,
            r.backend,
            r.threads,
            r.ours_ms,
            r.reference_ms,
            r.speedup,
            r.ours_cpu_ms,
            extra,
            r.same_result
        );
    }
}

/// The embedded default: what `cargo run --release` does on a fresh machine.
fn default_job() -> Result<ExitCode> {
    let args = SelftestArgs {
        backend: BackendArgs {
            backend: "cpu".into(),
            device: 0,
            threads: 0,
        },
        seed: None,
        max_log: 14,
        verbose: false,
    };
    let code = selftest(&args)?;
    if code != ExitCode::SUCCESS {
        return Ok(code);
    }
    let (backend, threads) = open(&args.backend)?;
    let mut rows = Vec::new();
    for (group, log_n) in [(MsmGroup::G1, 12), (MsmGroup::G1, 16), (MsmGroup::G2, 12)] {
        eprintln!("bench msm {group:?} 2^{log_n}...");
        rows.push(bench::compare_msm(&*backend, group, log_n, threads, 3, 1)?);
    }
    for log_n in [12, 16] {
        eprintln!("bench ntt 2^{log_n}...");
        rows.push(bench::compare_ntt(&*backend, log_n, threads, 3, 1)?);
    }
    print_table(&rows);
    Ok(ExitCode::SUCCESS)
}
