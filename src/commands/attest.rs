//! `appliance attest show` and `appliance attest verify`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use prover_attest::key::address_hex;
use prover_attest::{Attestation, VerifyOptions};

#[derive(Subcommand)]
pub enum AttestCommand {
    /// This box's attestation: the appliance key it binds (public key, address), the
    /// build-info hash in user_data, the image ids, and whether it is hardware-backed.
    ///
    /// Inside a Nitro enclave (/dev/nsm present) the document comes from the Nitro Secure
    /// Module; elsewhere from the development attester, whose documents are marked
    /// `appliance-dev-NOT-HARDWARE` and refused by verifiers unless --allow-dev. The key is
    /// the one `serve` uses with the same --data-dir (created there at first boot); inside
    /// an enclave the server's key lives only in its memory: fetch the running appliance's
    /// GET /attestation/raw instead.
    Show(ShowArgs),
    /// Verify an attestation document (raw COSE_Sign1 bytes or hex text, as served by
    /// /attestation/raw or /attestation/hex).
    ///
    /// Checks ES384 over the document with the leaf certificate, the chain from the pinned
    /// AWS Nitro root with every certificate valid at the document's own timestamp, and the
    /// optional age and PCR expectations. Exit 0: valid; 1: invalid (the reason is
    /// printed); 2: error (e.g. unreadable file).
    Verify(VerifyArgs),
}

#[derive(Args)]
pub struct ShowArgs {
    /// Data directory holding the appliance key (as for `serve`).
    #[arg(long, default_value = "appliance-data")]
    data_dir: PathBuf,
    /// Also write the raw document here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// One JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct VerifyArgs {
    /// The document: raw bytes or hex text.
    file: PathBuf,
    /// Refuse documents older than this many milliseconds (relative to --now-ms).
    #[arg(long)]
    max_age_ms: Option<u64>,
    /// "Now" for --max-age-ms, Unix milliseconds (default: the system clock).
    #[arg(long, requires = "max_age_ms")]
    now_ms: Option<u64>,
    /// Accept development (non-hardware) documents. They prove nothing about an enclave.
    #[arg(long)]
    allow_dev: bool,
    /// Expected PCR value, INDEX=HEX (repeatable, one value per index), e.g. --pcr 0=1890...
    #[arg(long = "pcr", value_parser = parse_pcr)]
    pcrs: Vec<(u16, Vec<u8>)>,
    /// One JSON object instead of text.
    #[arg(long)]
    json: bool,
}

fn parse_pcr(s: &str) -> Result<(u16, Vec<u8>), String> {
    let (i, h) = s.split_once('=').ok_or("expected INDEX=HEX")?;
    let i: u16 = i.parse().map_err(|_| format!("PCR index `{i}`"))?;
    let v = hex::decode(without_0x(h.trim())).map_err(|e| format!("PCR{i} value: {e}"))?;
    Ok((i, v))
}

fn without_0x(h: &str) -> &str {
    h.strip_prefix("0x")
        .or_else(|| h.strip_prefix("0X"))
        .unwrap_or(h)
}

/// The expected PCRs, one value per index: a repeated index with another value is a
/// mistake to report, not one to settle by keeping the last.
fn expected_pcrs(pcrs: &[(u16, Vec<u8>)]) -> Result<BTreeMap<u16, Vec<u8>>> {
    let mut map = BTreeMap::new();
    for (i, v) in pcrs {
        if let Some(old) = map.insert(*i, v.clone()) {
            if old != *v {
                anyhow::bail!("--pcr {i} is given twice with different values");
            }
        }
    }
    Ok(map)
}

/// The document in `raw`: hex text (as /attestation/hex serves it, possibly wrapped over
/// lines, with or without 0x) or the raw COSE bytes. Text that is all hex digits must
/// decode: a damaged hex file is reported as such, not verified as bytes.
fn document_bytes(raw: Vec<u8>) -> Result<Vec<u8>> {
    let Ok(text) = std::str::from_utf8(&raw) else {
        return Ok(raw);
    };
    let digits: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let digits = without_0x(&digits);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(raw);
    }
    hex::decode(digits).context("the document looks like hex text but does not decode")
}

pub fn attest(command: &AttestCommand) -> Result<ExitCode> {
    match command {
        AttestCommand::Show(args) => show(args),
        AttestCommand::Verify(args) => verify(args),
    }
}

fn describe(a: &Attestation) -> Vec<(String, String)> {
    let mut lines = vec![
        ("hardware-backed".into(), a.hardware.to_string()),
        ("module_id".into(), a.module_id.clone()),
        ("timestamp_ms".into(), a.timestamp_ms.to_string()),
        (
            "public_key".into(),
            a.public_key.as_ref().map_or("none".into(), hex::encode),
        ),
    ];
    if let Some(Ok(pk)) = a
        .public_key
        .as_ref()
        .map(|p| <[u8; 64]>::try_from(p.as_slice()))
    {
        lines.push((
            "address".into(),
            address_hex(&prover_attest::key::address_of(&pk)),
        ));
    }
    lines.push((
        "user_data".into(),
        a.user_data.as_ref().map_or("none".into(), hex::encode),
    ));
    lines.push(("image_id (oyster)".into(), hex::encode(a.image_id_oyster)));
    lines.push(("image_id (kalypso)".into(), hex::encode(a.image_id_kalypso)));
    for (i, v) in &a.pcrs {
        if *i <= 2 || v.iter().any(|b| *b != 0) {
            lines.push((format!("PCR{i}"), hex::encode(v)));
        }
    }
    lines
}

fn with_address(a: &Attestation) -> serde_json::Value {
    let mut v = serde_json::to_value(a).unwrap_or_default();
    if let Some(Ok(pk)) = a
        .public_key
        .as_ref()
        .map(|p| <[u8; 64]>::try_from(p.as_slice()))
    {
        v["address"] = address_hex(&prover_attest::key::address_of(&pk)).into();
    }
    v
}

fn show(args: &ShowArgs) -> Result<ExitCode> {
    let attester = prover_attest::detect()?;
    let (key, key_path) =
        prover_server::enclave::appliance_key(&args.data_dir, attester.is_hardware())?;
    let build = appliance::build_info::info();
    let doc = attester.attest(&key.public_key(), &build.user_data(), None)?;
    if let Some(out) = &args.out {
        std::fs::write(out, &doc).with_context(|| format!("{}", out.display()))?;
    }
    let a = prover_attest::verify(
        &doc,
        &VerifyOptions {
            allow_dev: true,
            ..Default::default()
        },
    )
    .context("this box's own document does not verify")?;
    if args.json {
        let mut v = with_address(&a);
        v["attester"] = attester.name().into();
        v["key_file"] = key_path.map(|p| p.display().to_string()).into();
        v["build_info"] = serde_json::to_value(&build)?;
        println!("{v}");
    } else {
        println!("attester: {}", attester.name());
        if let Some(p) = key_path {
            println!("key file: {}", p.display());
        }
        for (k, v) in describe(&a) {
            println!("{k}: {v}");
        }
        print!("user_data is sha256 of:\n{}", build.canonical());
    }
    Ok(ExitCode::SUCCESS)
}

fn verify(args: &VerifyArgs) -> Result<ExitCode> {
    let raw = std::fs::read(&args.file).with_context(|| format!("{}", args.file.display()))?;
    let doc = document_bytes(raw)?;
    let options = VerifyOptions {
        max_age_ms: args.max_age_ms,
        now_ms: args.now_ms,
        allow_dev: args.allow_dev,
        expected_pcrs: expected_pcrs(&args.pcrs)?,
        ..Default::default()
    };
    match prover_attest::verify(&doc, &options) {
        Ok(a) => {
            if args.json {
                let mut v = with_address(&a);
                v["valid"] = true.into();
                v["age_checked"] = args.max_age_ms.is_some().into();
                println!("{v}");
            } else {
                println!("OK: the attestation is valid");
                if args.max_age_ms.is_none() {
                    println!(
                        "note: its age was not checked (give --max-age-ms to refuse old documents)"
                    );
                }
                for (k, v) in describe(&a) {
                    println!("{k}: {v}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({ "valid": false, "reason": e.to_string() })
                );
            } else {
                println!("INVALID: {e}");
            }
            Ok(ExitCode::from(1))
        }
    }
}
