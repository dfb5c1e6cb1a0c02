//! `appliance attest` and `appliance operator` as operators run them: exit codes 0 (valid),
//! 1 (invalid, with the reason), 2 (error), and JSON output.

use std::path::PathBuf;
use std::process::{Command, Output};

fn appliance(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_appliance"))
        .args(args)
        .output()
        .expect("appliance runs")
}

/// A fresh directory, removed when the test is done with it.
struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp(name: &str) -> TempDir {
    let d = std::env::temp_dir().join(format!("attest-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    TempDir(d)
}

const AWS_BIN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/prover/attest/testdata/aws.bin"
);

#[test]
fn verify_exit_codes() {
    let ok = appliance(&["attest", "verify", AWS_BIN, "--json"]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&ok.stdout).expect("json");
    assert_eq!(v["valid"], true);
    assert_eq!(
        v["image_id_oyster"],
        "a6b0824d3c47f51542b3a18e6245c408490bef88ddc8d5e1bf8b95ec7eba1602"
    );
    assert_eq!(v["timestamp_ms"], 1734075478960u64);

    let stale = appliance(&[
        "attest",
        "verify",
        AWS_BIN,
        "--max-age-ms",
        "1000",
        "--now-ms",
        "1734075488960",
    ]);
    assert_eq!(stale.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&stale.stdout).contains("old"));

    let dir = temp("verify");
    let mut doc = std::fs::read(AWS_BIN).expect("fixture");
    let n = doc.len();
    doc[n - 5] ^= 1;
    let tampered = dir.join("tampered.bin");
    std::fs::write(&tampered, &doc).expect("write");
    let bad = appliance(&["attest", "verify", tampered.to_str().expect("path")]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stdout).starts_with("INVALID"));

    // Hex text is accepted as /attestation/hex serves it.
    let hex_file = dir.join("doc.hex");
    std::fs::write(
        &hex_file,
        hex::encode(std::fs::read(AWS_BIN).expect("fixture")),
    )
    .expect("write");
    let pcr0 = "0=189038eccf28a3a098949e402f3b3d86a876f4915c5b02d546abb5d8c507ceb1755b8192d8cfca66e8f226160ca4c7a6";
    let hex_ok = appliance(&[
        "attest",
        "verify",
        hex_file.to_str().expect("path"),
        "--pcr",
        pcr0,
    ]);
    assert_eq!(hex_ok.status.code(), Some(0));
    let wrong_pcr = appliance(&["attest", "verify", AWS_BIN, "--pcr", "1=00"]);
    assert_eq!(wrong_pcr.status.code(), Some(1));
    // The same index twice: the same value is fine, another value is a usage error.
    let pcr0_zero = format!("0={}", "00".repeat(48));
    let twice = appliance(&["attest", "verify", AWS_BIN, "--pcr", pcr0, "--pcr", pcr0]);
    assert_eq!(twice.status.code(), Some(0));
    for pair in [[pcr0, pcr0_zero.as_str()], [pcr0_zero.as_str(), pcr0]] {
        let conflict = appliance(&[
            "attest", "verify", AWS_BIN, "--pcr", pair[0], "--pcr", pair[1],
        ]);
        assert_eq!(conflict.status.code(), Some(2), "{pair:?}");
        assert!(String::from_utf8_lossy(&conflict.stderr).contains("twice"));
    }
    // Hex wrapped over lines with an upper-case 0X verifies; hex text that does not decode
    // is reported as such.
    let hex_text = hex::encode(std::fs::read(AWS_BIN).expect("fixture"));
    let wrapped: Vec<&str> = hex_text
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).expect("ascii"))
        .collect();
    std::fs::write(&hex_file, format!("0X{}\n", wrapped.join("\n"))).expect("write");
    let ok = appliance(&["attest", "verify", hex_file.to_str().expect("path")]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    // Without --max-age-ms the output says that the age was not checked.
    assert!(String::from_utf8_lossy(&ok.stdout).contains("age was not checked"));
    std::fs::write(&hex_file, &hex_text[1..]).expect("write");
    let odd = appliance(&["attest", "verify", hex_file.to_str().expect("path")]);
    assert_eq!(odd.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&odd.stderr).contains("hex"));

    let missing = appliance(&["attest", "verify", dir.join("nope").to_str().expect("path")]);
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn show_produces_a_development_document_bound_to_the_key() {
    let dir = temp("show");
    let data = dir.join("data");
    let doc = dir.join("doc.bin");
    let out = appliance(&[
        "attest",
        "show",
        "--json",
        "--data-dir",
        data.to_str().expect("path"),
        "--out",
        doc.to_str().expect("path"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["hardware"], false);
    assert_eq!(v["module_id"], "appliance-dev-NOT-HARDWARE");
    assert!(data.join("enclave.key").exists());
    let address = v["address"].as_str().expect("address").to_string();
    // The same key next time.
    let again = appliance(&[
        "attest",
        "show",
        "--json",
        "--data-dir",
        data.to_str().expect("path"),
    ]);
    let w: serde_json::Value = serde_json::from_slice(&again.stdout).expect("json");
    assert_eq!(w["address"], address.as_str());
    // Development documents are refused unless allowed.
    let strict = appliance(&["attest", "verify", doc.to_str().expect("path")]);
    assert_eq!(strict.status.code(), Some(1));
    let lenient = appliance(&[
        "attest",
        "verify",
        doc.to_str().expect("path"),
        "--allow-dev",
        "--json",
    ]);
    assert_eq!(lenient.status.code(), Some(0));
    let l: serde_json::Value = serde_json::from_slice(&lenient.stdout).expect("json");
    assert_eq!(l["address"], address.as_str());
}

#[test]
fn operator_key_and_sign() {
    let dir = temp("operator");
    let key = dir.join("op.key");
    let out = appliance(&["operator", "key", "--out", key.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let address = text
        .lines()
        .find_map(|l| l.strip_prefix("operator_address = \""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("address line")
        .to_string();
    // Refuses to overwrite a key.
    assert_ne!(
        appliance(&["operator", "key", "--out", key.to_str().expect("path")])
            .status
            .code(),
        Some(0)
    );
    let signed = appliance(&[
        "operator",
        "sign",
        "--key",
        key.to_str().expect("path"),
        "--method",
        "GET",
        "--path",
        "/v1/config",
        "--timestamp-ms",
        "1700000000000",
    ]);
    assert_eq!(signed.status.code(), Some(0));
    let headers = String::from_utf8_lossy(&signed.stdout).to_string();
    let sig = headers
        .lines()
        .find_map(|l| l.strip_prefix("x-operator-signature: "))
        .expect("signature header");
    let digest =
        prover_attest::operator::request_digest("GET", "/v1/config", 1_700_000_000_000, b"");
    let sig = hex::decode(sig.trim_start_matches("0x")).expect("hex");
    let signer = prover_attest::key::recover_eip191(&digest, &sig).expect("recover");
    assert_eq!(prover_attest::key::address_hex(&signer), address);
}
