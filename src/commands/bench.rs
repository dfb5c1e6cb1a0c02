//! `appliance bench`: our kernels and prover against the references, in one process.

use std::process::ExitCode;

use anyhow::{Context, Result};
use ark_bn254::Bn254;
use bench::{MsmGroup, Row};
use kernels_accel::{Accelerator, MsmConfig};
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use super::{open, BackendArgs};

#[derive(Clone, Copy, ValueEnum)]
pub enum Group {
    G1,
    G2,
}

#[derive(Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    what: BenchWhat,
}

#[derive(Subcommand)]
enum BenchWhat {
    /// Multi-scalar multiplication against arkworks' VariableBaseMSM (bases resident).
    Msm(KernelArgs),
    /// Forward NTT over the BN254 scalar field against ark-poly's Radix2EvaluationDomain.
    Ntt(KernelArgs),
    /// A whole Groth16 proof against ark-circom + ark-groth16 (same process) and the
    /// snarkjs CLI (subprocess, when installed), with our per-phase breakdown.
    Prove(ProveBenchArgs),
    /// Server overhead: the same proof as an HTTP job against a direct prove (key resident
    /// in both, interleaved), then process memory before and after many sequential jobs.
    Serve(ServeBenchArgs),
}

#[derive(Args)]
struct ServeBenchArgs {
    /// Proving key (snarkjs .zkey).
    #[arg(long)]
    zkey: PathBuf,
    /// The circuit's witness generator (circuit_js/circuit.wasm).
    #[arg(long)]
    wasm: PathBuf,
    /// Witness (.wtns) sent with each job.
    #[arg(long)]
    witness: PathBuf,
    #[command(flatten)]
    backend: BackendArgs,
    /// Timed runs per side.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Sequential sample jobs for the memory check.
    #[arg(long, default_value_t = 1000)]
    memory_jobs: usize,
    /// One JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct KernelArgs {
    /// Sizes as log2, comma separated (e.g. 16,18,20).
    #[arg(long, value_delimiter = ',', default_value = "16")]
    log_n: Vec<u32>,
    /// MSM group (ignored by ntt).
    #[arg(long, value_enum, default_value = "g1")]
    group: Group,
    /// MSM window width in bits, for tuning (default: the backend chooses from the size;
    /// the CPU backend takes 2..=16, the GPU backends 2..=20).
    #[arg(long)]
    window: Option<u32>,
    /// MSM precompute factor: shifted copies of the bases kept resident, so that an MSM
    /// reduces fewer windows (default 1: none; used by the GPU backends).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=64))]
    precompute: Option<u32>,
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

#[derive(Args)]
struct ProveBenchArgs {
    /// Proving key (snarkjs .zkey).
    #[arg(
        long,
        required_unless_present = "synthetic",
        conflicts_with = "synthetic"
    )]
    zkey: Option<PathBuf>,
    /// Witness (.wtns).
    #[arg(
        long,
        required_unless_present = "synthetic",
        conflicts_with = "synthetic"
    )]
    witness: Option<PathBuf>,
    /// Instead of a zkey: random circuits of 2^N constraints (comma-separated sizes, e.g.
    /// 16,18,20), proved by us and by ark-groth16 with the same key and randomness; the
    /// proofs must be equal (random keys verify against nothing). For sizes the fixtures
    /// do not reach.
    #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u32).range(4..=24))]
    synthetic: Vec<u32>,
    #[command(flatten)]
    backend: BackendArgs,
    /// Timed runs per side (after one warm-up each); snarkjs runs at most 3 times.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// snarkjs executable (default: ./node_modules/.bin/snarkjs, then snarkjs on PATH;
    /// "none" skips it).
    #[arg(long)]
    snarkjs: Option<String>,
    /// One JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn bench_cmd(args: &BenchArgs) -> Result<ExitCode> {
    match &args.what {
        BenchWhat::Msm(k) => kernels(k, false),
        BenchWhat::Ntt(k) => kernels(k, true),
        BenchWhat::Prove(p) => prove(p),
        BenchWhat::Serve(s) => serve(s),
    }
}

fn kernels(args: &KernelArgs, ntt: bool) -> Result<ExitCode> {
    let (backend, threads) = open(&args.backend)?;
    let group = match args.group {
        Group::G1 => MsmGroup::G1,
        Group::G2 => MsmGroup::G2,
    };
    let config = MsmConfig {
        window_bits: args.window,
        precompute_factor: args.precompute,
    };
    let mut rows = Vec::new();
    for &log_n in &args.log_n {
        let label = if ntt {
            "ntt".to_string()
        } else {
            format!("msm-{group:?}").to_lowercase()
        };
        eprintln!(
            "bench {label} 2^{log_n} on {} [{}] ({threads} threads, {} runs)...",
            backend.info().name,
            backend.info().device,
            args.runs
        );
        let row = if ntt {
            bench::compare_ntt(&*backend, log_n, threads, args.runs, args.seed)
        } else {
            bench::compare_msm(
                &*backend, group, log_n, &config, threads, args.runs, args.seed,
            )
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

fn find_snarkjs(arg: Option<&str>) -> Option<PathBuf> {
    match arg {
        Some("none") => None,
        Some(p) => Some(PathBuf::from(p)),
        None => {
            let local = PathBuf::from("node_modules/.bin/snarkjs");
            if local.exists() {
                return Some(local);
            }
            std::process::Command::new("snarkjs")
                .arg("--version")
                .output()
                .ok()
                .map(|_| PathBuf::from("snarkjs"))
        }
    }
}

fn prove(args: &ProveBenchArgs) -> Result<ExitCode> {
    let (backend, threads) = open(&args.backend)?;
    let (Some(zkey), Some(witness)) = (&args.zkey, &args.witness) else {
        return prove_synthetic(args, &*backend, threads);
    };
    let snarkjs = find_snarkjs(args.snarkjs.as_deref());
    eprintln!(
        "bench prove {} on {} [{}] ({threads} threads, {} runs; snarkjs: {})...",
        zkey.display(),
        backend.info().name,
        backend.info().device,
        args.runs,
        snarkjs
            .as_ref()
            .map_or("not found".into(), |p| p.display().to_string())
    );
    let row = bench::prove::compare_prove(
        &*backend,
        zkey,
        witness,
        threads,
        args.runs,
        snarkjs.as_deref(),
    )?;
    if args.json {
        println!("{}", serde_json::to_string(&row)?);
    } else {
        println!(
            "{} on {} ({} threads, median of {} runs)",
            row.zkey, row.backend, row.threads, row.runs
        );
        println!(
            "  ours, whole (read zkey + load + prove + write)  {:>9.1} ms",
            row.ours_whole_ms
        );
        println!(
            "  ours, prove with resident key                   {:>9.1} ms",
            row.ours_prove_ms
        );
        println!(
            "  ark-circom + ark-groth16, whole                 {:>9.1} ms   speedup {:.2}x",
            row.ark_circom_whole_ms, row.speedup_vs_ark_circom
        );
        println!(
            "  ark-groth16, prove only                         {:>9.1} ms",
            row.ark_circom_prove_ms
        );
        match (row.snarkjs_ms, row.speedup_vs_snarkjs) {
            (Some(ms), Some(x)) => println!(
                "  snarkjs groth16 prove (CLI process)             {ms:>9.1} ms   speedup {x:.2}x"
            ),
            _ => println!("  snarkjs                                         not installed"),
        }
        println!("  our phases (resident key):");
        for (name, ms) in &row.phases_ms {
            println!("    {name:<40} {ms:>9.1} ms");
        }
        println!("  all proofs verified: {}", row.all_verified);
    }
    Ok(if row.all_verified {
        ExitCode::SUCCESS
    } else {
        eprintln!("error: a proof failed to verify");
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

/// `bench prove --synthetic`: one random circuit per size, ours against ark-groth16.
fn prove_synthetic(
    args: &ProveBenchArgs,
    backend: &dyn Accelerator<Bn254>,
    threads: usize,
) -> Result<ExitCode> {
    let info = backend.info();
    let mut all_equal = true;
    for &log_n in &args.synthetic {
        eprintln!(
            "bench prove --synthetic 2^{log_n} on {} [{}] ({threads} threads, {} runs): making the circuit...",
            info.name, info.device, args.runs
        );
        let row = bench::synthetic::compare_synthetic(backend, log_n, threads, args.runs)?;
        all_equal &= row.all_equal;
        if args.json {
            println!("{}", serde_json::to_string(&row)?);
            continue;
        }
        println!(
            "synthetic 2^{} on {} ({} threads, median of {} runs)",
            row.log_n, row.backend, row.threads, row.runs
        );
        println!(
            "  ours, prove with resident key                   {:>9.1} ms",
            row.ours_prove_ms
        );
        println!(
            "  ark-groth16 (CircomReduction), prove            {:>9.1} ms   speedup {:.2}x",
            row.ark_groth16_prove_ms, row.speedup
        );
        println!("  our phases:");
        for (name, ms) in &row.phases_ms {
            println!("    {name:<40} {ms:>9.1} ms");
        }
        println!("  every proof equal to ark-groth16's: {}", row.all_equal);
    }
    Ok(if all_equal {
        ExitCode::SUCCESS
    } else {
        eprintln!("error: a proof differs from ark-groth16's");
        ExitCode::from(1)
    })
}

fn serve(args: &ServeBenchArgs) -> Result<ExitCode> {
    let (backend, threads) = open(&args.backend)?;
    eprintln!(
        "bench serve {} on {} ({threads} threads, {} runs, then {} sample jobs)...",
        args.zkey.display(),
        backend.info().name,
        args.runs,
        args.memory_jobs
    );
    let row = bench::serve::compare_serve(
        backend,
        &args.zkey,
        &args.wasm,
        &args.witness,
        args.runs,
        args.memory_jobs,
    )?;
    if args.json {
        println!("{}", serde_json::to_string(&row)?);
    } else {
        println!("{} (median of {} runs)", row.zkey, row.runs);
        println!(
            "  HTTP job (submit, poll, fetch)   {:>9.1} ms",
            row.server_job_ms
        );
        println!(
            "  direct prove + verify, resident  {:>9.1} ms",
            row.direct_prove_ms
        );
        println!(
            "  server overhead                  {:>9.1} %",
            row.overhead_percent
        );
        println!(
            "  RSS over {} sequential jobs: {:.1} MiB -> {:.1} MiB",
            row.memory_jobs,
            row.rss_start_bytes as f64 / (1 << 20) as f64,
            row.rss_end_bytes as f64 / (1 << 20) as f64
        );
    }
    Ok(ExitCode::SUCCESS)
}
