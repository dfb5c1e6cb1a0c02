//! `appliance prove` and `appliance verify`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use ark_bn254::Fr;
use clap::{Args, ValueEnum};
use prover_groth16::{
    proof_from_json, proof_to_abi, proof_to_json, public_from_json, public_signals, public_to_abi,
    public_to_json, solidity_calldata, verify, verifying_key_from_json, CircuitKey, G2Order,
    PhaseTimings, ProvingKey,
};

use super::{open, BackendArgs};

/// How `prove` writes its outputs.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum OutputFormat {
    /// proof.json and public.json exactly as snarkjs writes them.
    Snarkjs,
    /// --proof gets the `snarkjs zkey export soliditycalldata` text; --public gets public.json.
    Calldata,
    /// --proof gets abi.encode(uint[2], uint[2][2], uint[2]) (256 bytes); --public gets
    /// abi.encode(uint[N]) (N x 32 bytes), as Kalypso markets exchange them.
    Abi,
}

/// Order of the Fq2 halves of G2 coordinates in ABI output.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum G2OrderArg {
    /// x.c1, x.c0 (snarkjs's Solidity verifier; the default).
    ImaginaryFirst,
    /// x.c0, x.c1 (e.g. Kalypso's zkBob verifier).
    RealFirst,
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("witness_source").required(true).args(["witness", "wasm"])))]
pub struct ProveArgs {
    /// Proving key (snarkjs .zkey, Groth16, BN254).
    #[arg(long)]
    zkey: PathBuf,
    /// Witness file (.wtns from circom/snarkjs).
    #[arg(long, conflicts_with_all = ["wasm", "input"])]
    witness: Option<PathBuf>,
    /// Witness generator (circuit_js/circuit.wasm); needs --input.
    #[arg(long, requires = "input")]
    wasm: Option<PathBuf>,
    /// Circuit input JSON for --wasm.
    #[arg(long, requires = "wasm")]
    input: Option<PathBuf>,
    /// The circuit's .sym file (circom --sym), for --wasm: errors about missing inputs then
    /// name the signals (the wasm alone knows only their hashes).
    #[arg(long, requires = "wasm")]
    sym: Option<PathBuf>,
    /// Where to write the proof.
    #[arg(long, default_value = "proof.json")]
    proof: PathBuf,
    /// Where to write the public signals.
    #[arg(long, default_value = "public.json")]
    public: PathBuf,
    /// Output encoding.
    #[arg(long, value_enum, default_value = "snarkjs")]
    format: OutputFormat,
    /// G2 coordinate order for --format abi.
    #[arg(long, value_enum, default_value = "imaginary-first")]
    g2_order: G2OrderArg,
    /// Skip checking the proof against the key's verifying key before writing it.
    #[arg(long)]
    no_verify: bool,
    #[command(flatten)]
    backend: BackendArgs,
    /// Print phase timings to stderr.
    #[arg(short, long)]
    verbose: bool,
}

#[derive(Args)]
pub struct VerifyArgs {
    /// snarkjs verification_key.json.
    #[arg(long)]
    vkey: PathBuf,
    /// snarkjs public.json.
    #[arg(long)]
    public: PathBuf,
    /// snarkjs proof.json.
    #[arg(long)]
    proof: PathBuf,
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Computes the witness from `--witness` or `--wasm` + `--input` (`constraints`: the
/// zkey's domain size).
fn witness(args: &ProveArgs, constraints: u64) -> Result<Vec<Fr>> {
    if let Some(w) = &args.witness {
        return Ok(prover_groth16::read_wtns(w)?);
    }
    match (&args.wasm, &args.input) {
        (Some(wasm), Some(input)) => {
            crate::witness::from_wasm(wasm, args.sym.as_deref(), &read_text(input)?, constraints)
        }
        _ => bail!("give --witness W.wtns, or --wasm C.wasm with --input I.json"),
    }
}

pub fn prove(args: &ProveArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let mut phases: Vec<(&str, std::time::Duration)> = Vec::new();
    let mut step = |name: &'static str, t: Instant| phases.push((name, t.elapsed()));

    let t = Instant::now();
    let (backend, _) = open(&args.backend)?;
    step("open backend", t);
    let t = Instant::now();
    let pk = ProvingKey::read(&args.zkey)
        .with_context(|| format!("cannot load proving key {}", args.zkey.display()))?;
    step("read zkey", t);
    let constraints = pk.header.domain_size as u64;
    let t = Instant::now();
    let key = CircuitKey::load(&*backend, pk)?;
    step("make key resident", t);
    let t = Instant::now();
    let witness = witness(args, constraints)?;
    step("witness", t);

    let mut timings = PhaseTimings::default();
    let proof = prover_groth16::prove(
        &*backend,
        &key,
        &witness,
        &mut rand::rngs::OsRng,
        &mut timings,
    )?;
    let public = public_signals(&witness, key.header.n_public);
    if !args.no_verify {
        let t = Instant::now();
        if !verify(&key.vk, &public, &proof)? {
            let info = backend.info();
            let hint = if info.is_cpu() {
                String::new()
            } else {
                format!(
                    "; if `--backend cpu` proves it, the {} backend computed wrongly",
                    info.name
                )
            };
            bail!(
                "the proof does not verify against the key, so nothing was written: most likely \
                 the witness does not satisfy this circuit's constraints (a witness of the same \
                 length for another circuit, or an edited one){hint}"
            );
        }
        step("verify", t);
    }
    let t = Instant::now();
    let order = match args.g2_order {
        G2OrderArg::ImaginaryFirst => G2Order::ImaginaryFirst,
        G2OrderArg::RealFirst => G2Order::RealFirst,
    };
    let (proof_bytes, public_bytes) = match args.format {
        OutputFormat::Snarkjs => (
            proof_to_json(&proof).into_bytes(),
            public_to_json(&public).into_bytes(),
        ),
        OutputFormat::Calldata => (
            // With the newline the snarkjs CLI prints, so the file equals its redirected output.
            (solidity_calldata(&proof, &public) + "\n").into_bytes(),
            public_to_json(&public).into_bytes(),
        ),
        OutputFormat::Abi => (proof_to_abi(&proof, order), public_to_abi(&public)),
    };
    write(&args.proof, &proof_bytes)?;
    write(&args.public, &public_bytes)?;
    step("write", t);

    if args.verbose {
        let info = backend.info();
        eprintln!("backend {} on {}", info.name, info.device);
        let show = |name: &str, d: std::time::Duration| {
            eprintln!("  {name:<34} {:>9.2} ms", d.as_secs_f64() * 1e3)
        };
        // The phases before the proof's own (open, read, load, witness), then its own, then
        // verify and write.
        const BEFORE_PROOF: usize = 4;
        for (name, d) in phases.iter().take(BEFORE_PROOF) {
            show(name, *d);
        }
        for (name, d) in &timings.phases {
            show(name, *d);
        }
        for (name, d) in phases.iter().skip(BEFORE_PROOF) {
            show(name, *d);
        }
        show("total", started.elapsed());
        if bench::alloc_track::active() {
            eprintln!(
                "  peak heap                          {:>9.1} MiB",
                bench::alloc_track::peak() as f64 / (1 << 20) as f64
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

pub fn verify_cmd(args: &VerifyArgs) -> Result<ExitCode> {
    let vk = verifying_key_from_json(&read_text(&args.vkey)?)
        .with_context(|| format!("{}", args.vkey.display()))?;
    let public = public_from_json(&read_text(&args.public)?)
        .with_context(|| format!("{}", args.public.display()))?;
    let proof = proof_from_json(&read_text(&args.proof)?)
        .with_context(|| format!("{}", args.proof.display()))?;
    if verify(&vk, &public, &proof)? {
        println!("OK: the proof is valid");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("INVALID: the proof does not verify");
        Ok(ExitCode::from(1))
    }
}
