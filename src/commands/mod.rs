//! The CLI's subcommands, one module each.

pub mod attest;
pub mod bench;
pub mod operator;
pub mod prove;
pub mod selftest;
pub mod serve;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use ark_bn254::Bn254;
use clap::Args;
use kernels_accel::{Accelerator, BackendKind};

#[derive(Args, Clone)]
pub struct BackendArgs {
    /// Backend: auto (first working accelerator, else cpu), cpu, cuda, opencl, fpga.
    #[arg(long, default_value = "auto")]
    pub backend: String,
    /// Device index for accelerator backends.
    #[arg(long, default_value_t = 0)]
    pub device: usize,
    /// Worker threads for CPU work (0: every core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

/// Opens the backend the user asked for; returns it with the thread count in use.
pub fn open(args: &BackendArgs) -> Result<(Arc<dyn Accelerator<Bn254>>, usize)> {
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

/// `appliance info`.
pub fn info(args: &BackendArgs) -> Result<ExitCode> {
    use appliance::build_info::*;
    println!("appliance {VERSION}");
    println!("kernel source sha256: {KERNEL_SOURCE_HASH}");
    println!("compiled backends: {BACKENDS}");
    println!(
        "attested build-info sha256 (user_data): {}",
        hex::encode(info().user_data())
    );
    let (backend, _) = open(args)?;
    let info = backend.info();
    println!("backend: {} on {}", info.name, info.device);
    Ok(ExitCode::SUCCESS)
}
