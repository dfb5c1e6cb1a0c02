//! `appliance`: the operator's binary.

use std::process::ExitCode;

use bench::alloc_track::Counting;
use clap::{Parser, Subcommand};

mod commands;
mod witness;

use commands::bench::BenchArgs;
use commands::prove::{ProveArgs, VerifyArgs};
use commands::selftest::SelftestArgs;
use commands::serve::ServeArgs;
use commands::BackendArgs;

#[global_allocator]
static ALLOC: Counting = Counting;

/// ZK proving appliance: proves circom Groth16 jobs fast on CPU and accelerators.
///
/// With no command it serves (`appliance serve` with its defaults): the bundled sample
/// circuit on http://127.0.0.1:8080, Kalypso market 1, job store in ./appliance-data.
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
    /// Serve the Kalypso prover API and the native job API over HTTP (the default).
    ///
    /// Without a config file it serves the bundled sample circuit to Kalypso market 1, keeps
    /// its job store in ./appliance-data and picks the best backend (auto).
    Serve(ServeArgs),
    /// Prove a circom circuit: zkey + witness (or wasm + input JSON) in, proof out.
    ///
    /// The proof is checked against the key's verifying key before it is written (a
    /// backend fault never yields a bad proof file). Exit 0 on success, 2 on any error.
    Prove(ProveArgs),
    /// Verify a snarkjs proof.json against verification_key.json and public.json.
    ///
    /// Exit 0: valid; 1: invalid; 2: unreadable or malformed input.
    Verify(VerifyArgs),
    /// Print build facts (version, kernel-source hash, compiled backends) and the device
    /// the chosen backend opens.
    Info(BackendArgs),
    /// TEE attestation: show this box's document, or verify one (AWS Nitro format).
    ///
    /// Documents bind the appliance's secp256k1 key (public_key, 64 bytes x||y) and
    /// sha256 of the build info (user_data); markets trust results signed by that key.
    #[command(subcommand)]
    Attest(commands::attest::AttestCommand),
    /// The operator's key and signed control requests (registering circuits, changing
    /// markets, reading the configuration): generate a key, sign a request, or send one.
    #[command(subcommand)]
    Operator(commands::operator::OperatorCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        None => commands::serve::serve(&ServeArgs::default_args()),
        Some(Command::Serve(args)) => commands::serve::serve(&args),
        Some(Command::Selftest(args)) => commands::selftest::selftest(&args),
        Some(Command::Bench(args)) => commands::bench::bench_cmd(&args),
        Some(Command::Prove(args)) => commands::prove::prove(&args),
        Some(Command::Verify(args)) => commands::prove::verify_cmd(&args),
        Some(Command::Info(args)) => commands::info(&args),
        Some(Command::Attest(c)) => commands::attest::attest(&c),
        Some(Command::Operator(c)) => commands::operator::operator(&c),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", report(&e));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes, joined by ": " as anyhow's `{:#}` does, leaving out a cause
/// whose text already ends the message. Why: our library errors wrap others as
/// `"circuit: {0}"` and also chain them as the source (so callers can match the inner error),
/// which `{:#}` printed twice ("circuit: zkey: wrong magic ...: zkey: wrong magic ...").
fn report(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !text.ends_with(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::report;
    use anyhow::Context;

    #[test]
    fn report_names_each_cause_once() {
        let inner = prover_groth16::Groth16Error::SelfCheckFailed;
        let wrapped = prover_server::ServerError::from(inner);
        let e = Err::<(), _>(wrapped)
            .context("cannot start the appliance")
            .expect_err("an error");
        let want = "cannot start the appliance: circuit: \
                    the proof just produced does not verify: refusing to return it";
        assert_eq!(report(&e), want);
        // anyhow's own rendering repeats the wrapped error; ours must not.
        assert_ne!(format!("{e:#}"), want);
    }
}
