//! `appliance prove` from the command line: output files, and bad input (exit 2, a
//! message naming the cause, no output file).
use std::path::{Path, PathBuf};
use std::process::Command;

fn multiplier() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/groth16/multiplier")
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("prove-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// `appliance prove --backend cpu --threads 1 ARGS`: its exit code and stderr.
fn run_prove<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_appliance"))
        .args(["prove", "--backend", "cpu", "--threads", "1"])
        .args(args)
        .output()
        .expect("run appliance");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code().unwrap_or(-1), stderr)
}

fn prove(witness: &Path, out: &Path, format: &str) -> (i32, String) {
    let dir = multiplier();
    run_prove(&[
        Path::new("--format"),
        Path::new(format),
        Path::new("--zkey"),
        &dir.join("circuit_final.zkey"),
        Path::new("--witness"),
        witness,
        Path::new("--proof"),
        &out.join("proof.json"),
        Path::new("--public"),
        &out.join("public.json"),
    ])
}

#[test]
fn a_witness_that_breaks_a_constraint_is_named_and_nothing_is_written() {
    let out = temp("edited");
    let mut wtns = std::fs::read(multiplier().join("witness.wtns")).expect("fixture witness");
    // The last wire is a private signal; flipping its low bit keeps it a field element.
    let last = wtns.len() - 32;
    wtns[last] ^= 1;
    let bad = out.join("edited.wtns");
    std::fs::write(&bad, &wtns).expect("write witness");
    let (code, stderr) = prove(&bad, &out, "snarkjs");
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("does not satisfy"), "{stderr}");
    assert!(!out.join("proof.json").exists());
    assert!(!out.join("public.json").exists());
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_missing_file_names_the_os_error_once() {
    let out = temp("missing");
    let (code, stderr) = prove(&out.join("absent.wtns"), &out, "snarkjs");
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("absent.wtns"), "{stderr}");
    assert_eq!(stderr.matches("No such file").count(), 1, "{stderr}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_directory_as_the_key_and_missing_inputs_are_named() {
    let out = temp("dir-key");
    let (code, stderr) = run_prove(&[
        Path::new("--zkey"),
        &out,
        Path::new("--witness"),
        &multiplier().join("witness.wtns"),
        Path::new("--proof"),
        &out.join("proof.json"),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("is a directory"), "{stderr}");
    // An input JSON that leaves signals out: with --sym the message names them.
    let input = out.join("input.json");
    std::fs::write(&input, r#"{"b": "11"}"#).expect("write input");
    let sym = Path::new(env!("CARGO_MANIFEST_DIR")).join("prover/witness/testdata/multiplier.sym");
    let (code, stderr) = run_prove(&[
        Path::new("--zkey"),
        &multiplier().join("circuit_final.zkey"),
        Path::new("--wasm"),
        &multiplier().join("circuit_js/circuit.wasm"),
        Path::new("--input"),
        &input,
        Path::new("--sym"),
        &sym,
        Path::new("--proof"),
        &out.join("proof.json"),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("missing signals: c, a"), "{stderr}");
    let _ = std::fs::remove_dir_all(&out);
}

/// The calldata file is what `snarkjs zkey export soliditycalldata > file` writes: one line
/// and its newline (as the fixtures' calldata.txt).
#[test]
fn calldata_file_is_the_snarkjs_line() {
    let out = temp("calldata");
    let (code, stderr) = prove(&multiplier().join("witness.wtns"), &out, "calldata");
    assert_eq!(code, 0, "{stderr}");
    let text = std::fs::read_to_string(out.join("proof.json")).expect("calldata written");
    assert!(text.starts_with("[\"0x") && text.ends_with("]\n"), "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");
    let _ = std::fs::remove_dir_all(&out);
}

/// `-v` names every phase that `total` counts, opening the backend first, in order.
#[test]
fn verbose_phases_start_with_opening_the_backend_and_add_up_to_at_most_the_total() {
    let out = temp("verbose");
    let dir = multiplier();
    let (code, stderr) = run_prove(&[
        Path::new("-v"),
        Path::new("--zkey"),
        &dir.join("circuit_final.zkey"),
        Path::new("--witness"),
        &dir.join("witness.wtns"),
        Path::new("--proof"),
        &out.join("proof.json"),
        Path::new("--public"),
        &out.join("public.json"),
    ]);
    assert_eq!(code, 0, "{stderr}");
    // "  name   12.34 ms" lines; "wall:" lines restate overlapping phases (GPU only).
    let phases: Vec<(String, f64)> = stderr
        .lines()
        .filter_map(|l| {
            let ms = l.strip_suffix(" ms")?;
            let (name, value) = ms.trim().rsplit_once(' ')?;
            Some((name.trim().to_string(), value.parse().ok()?))
        })
        .filter(|(name, _)| !name.starts_with("wall:"))
        .collect();
    let names: Vec<&str> = phases.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names[..4],
        ["open backend", "read zkey", "make key resident", "witness"],
        "{stderr}"
    );
    assert_eq!(
        names[names.len() - 3..],
        ["verify", "write", "total"],
        "{stderr}"
    );
    let total = phases[phases.len() - 1].1;
    let sum: f64 = phases[..phases.len() - 1].iter().map(|(_, ms)| ms).sum();
    assert!(
        sum <= total * 1.01 + 0.5,
        "phases {sum} ms > total {total} ms: {stderr}"
    );
    let _ = std::fs::remove_dir_all(&out);
}
