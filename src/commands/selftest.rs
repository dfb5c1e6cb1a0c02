//! `appliance selftest`: the conformance suite on fresh random inputs.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use kernels_testkit::SuiteOptions;

use super::{open, BackendArgs};

#[derive(Args)]
pub struct SelftestArgs {
    #[command(flatten)]
    pub backend: BackendArgs,
    /// Seed of the random inputs (default: fresh from the clock); printed for replay.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Largest G1 MSM and NTT size, as log2.
    #[arg(long, default_value_t = 16)]
    pub max_log: u32,
    /// Print every check, not only failures.
    #[arg(short, long)]
    pub verbose: bool,
}

pub fn selftest(args: &SelftestArgs) -> Result<ExitCode> {
    let (backend, _) = open(&args.backend)?;
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    let options = SuiteOptions {
        max_log_msm: Some(args.max_log),
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
