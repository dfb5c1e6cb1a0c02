//! `appliance serve`: the HTTP service (Kalypso prover API + native job API).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use kernels_accel::BackendKind;
use prover_server::jobs::FallbackOpener;
use prover_server::{AppState, Config};

use super::{open, BackendArgs};

#[derive(Args)]
pub struct ServeArgs {
    /// Configuration file (TOML); every key is optional. Without it: the bundled sample
    /// circuit served to market 1, data in ./appliance-data, backend auto.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Listen address (overrides the config), e.g. 127.0.0.1:8080.
    #[arg(long)]
    pub listen: Option<String>,
    /// Data directory: job store, registered circuits, appliance key (overrides the config).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Backend (overrides the config): auto, cpu, cuda, opencl, fpga.
    #[arg(long)]
    pub backend: Option<String>,
    /// Device index for a GPU or FPGA backend (overrides the config).
    #[arg(long)]
    pub device: Option<usize>,
    /// CPU threads (overrides the config; 0: every core).
    #[arg(long)]
    pub threads: Option<usize>,
}

impl ServeArgs {
    /// `appliance` with no command.
    pub fn default_args() -> Self {
        Self {
            config: None,
            listen: None,
            data_dir: None,
            backend: None,
            device: None,
            threads: None,
        }
    }
}

pub fn serve(args: &ServeArgs) -> Result<ExitCode> {
    let mut config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    if let Some(l) = &args.listen {
        config.listen = l.clone();
    }
    if let Some(d) = &args.data_dir {
        config.data_dir = d.clone();
    }
    if let Some(b) = &args.backend {
        config.backend = b.clone();
    }
    if let Some(d) = args.device {
        config.device = d;
    }
    if let Some(t) = args.threads {
        config.threads = t;
    }
    // The service's log (job failures, store errors, shutdown) on stderr; RUST_LOG filters.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    let (backend, threads) = open(&BackendArgs {
        backend: config.backend.clone(),
        device: config.device,
        threads: config.threads,
    })?;
    let info = backend.info();
    eprintln!("backend {} on {}", info.name, info.device);
    let listen = config.listen.clone();
    // Jobs a GPU or FPGA fails on its device are proved again on the CPU (`cpu_fallback`).
    let fallback = (!info.is_cpu()).then(|| {
        let open: FallbackOpener =
            Arc::new(move || appliance::registry(threads).open(BackendKind::Cpu, 0));
        open
    });
    let state = AppState::with_build_info(config, backend, fallback, appliance::build_info::info())
        .context("cannot start the appliance")?;
    if !info.is_cpu() {
        eprintln!(
            "cpu fallback: {}",
            if state.fallback.is_some() {
                "on (a job the device fails is proved again on the CPU)"
            } else {
                "off (cpu_fallback = false: a job the device fails fails)"
            }
        );
    }
    let enclave = &state.enclave;
    eprintln!(
        "appliance key {} ({}); attestation: {}",
        prover_attest::key::address_hex(&enclave.key.address()),
        enclave
            .key_path
            .as_ref()
            .map_or("in enclave memory only".to_string(), |p| p
                .display()
                .to_string()),
        enclave.attester.name()
    );
    match &enclave.generated_operator_key {
        Some(path) => eprintln!(
            "operator: generated a key in {} (address {}); move it off this box and set operator_address in the config",
            path.display(),
            prover_attest::key::address_hex(&enclave.operator.address())
        ),
        None => eprintln!(
            "operator: {}",
            prover_attest::key::address_hex(&enclave.operator.address())
        ),
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let served = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        eprintln!(
            "serving on http://{} (circuits: {})",
            listener
                .local_addr()
                .map_or(listen.clone(), |a| a.to_string()),
            state.circuits.ids().join(", "),
        );
        prover_server::serve(state, listener).await?;
        eprintln!("stopped");
        Ok::<_, anyhow::Error>(())
    });
    stop_runtime(runtime);
    served?;
    Ok(ExitCode::SUCCESS)
}

/// Drops the runtime without waiting for its blocking threads, and ends the connections
/// still open. `serve` returns once requests and the job in progress have finished, or
/// `prover_server::DRAIN` after that job; a thread still running then is a device attempt
/// abandoned by a job that ran out of time (a hung kernel cannot be stopped), and dropping
/// the runtime would wait for it forever: a SIGTERM would never end the process.
fn stop_runtime(runtime: tokio::runtime::Runtime) {
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use super::stop_runtime;

    #[test]
    fn a_blocking_thread_that_never_returns_does_not_hold_the_process() {
        static RELEASED: AtomicBool = AtomicBool::new(false);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .expect("runtime");
        runtime.spawn_blocking(|| {
            while !RELEASED.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        let (done, stopped) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            stop_runtime(runtime);
            let _ = done.send(());
        });
        let outcome = stopped.recv_timeout(Duration::from_secs(30));
        RELEASED.store(true, Ordering::SeqCst);
        outcome.expect("the runtime stopped although a blocking thread still ran");
    }
}
