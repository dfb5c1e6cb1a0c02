//! The calculator against real circom/snarkjs output (shared/fixtures/groth16): the witness must
//! be byte-identical to the `witness.wtns` that `node generate_witness.js` wrote, and every
//! failure must be a clear `WitnessError`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ark_bn254::Fr;
use ark_ff::{One, PrimeField};
use prover_witness::{
    parse_inputs, read_wtns, write_wtns, Limits, WitnessCalculator, WitnessError,
};

const CIRCUITS: [&str; 3] = ["multiplier", "poseidon_chain_32", "range_check"];

fn fixture(circuit: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/groth16")
        .join(circuit)
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

fn read_text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// Compiling poseidon_chain_32's 1.8 MB wasm takes about a second: do it once per test binary.
fn calculator(circuit: &str) -> &'static WitnessCalculator {
    static CALCS: OnceLock<Vec<WitnessCalculator>> = OnceLock::new();
    let calcs = CALCS.get_or_init(|| {
        std::thread::scope(|s| {
            let handles: Vec<_> = CIRCUITS
                .iter()
                .map(|c| {
                    s.spawn(move || {
                        WitnessCalculator::from_file(fixture(c).join("circuit_js/circuit.wasm"))
                            .unwrap_or_else(|e| panic!("{c}: {e}"))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("compile thread"))
                .collect()
        })
    });
    let i = CIRCUITS
        .iter()
        .position(|c| *c == circuit)
        .expect("known circuit");
    &calcs[i]
}

fn fixture_input(circuit: &str) -> serde_json::Value {
    serde_json::from_str(&read_text(&fixture(circuit).join("input.json"))).expect("input.json")
}

#[test]
fn witness_is_byte_identical_to_snarkjs() {
    for circuit in CIRCUITS {
        let dir = fixture(circuit);
        let calc = calculator(circuit);
        let inputs = parse_inputs(&read_text(&dir.join("input.json"))).unwrap();
        let reference = read(&dir.join("witness.wtns"));

        let wtns = calc.calculate_wtns_bytes(&inputs).unwrap();
        assert_eq!(wtns.len(), reference.len(), "{circuit}: .wtns length");
        assert!(wtns == reference, "{circuit}: .wtns differs from snarkjs's");

        let witness = calc.calculate(&inputs).unwrap();
        assert_eq!(witness.len(), calc.witness_size());
        assert_eq!(witness, read_wtns(&reference).unwrap(), "{circuit}");
        assert_eq!(write_wtns(&witness), reference, "{circuit}: writer");
        assert!(witness[0].is_one(), "{circuit}: witness[0] must be 1");

        let public: Vec<String> =
            serde_json::from_str(&read_text(&dir.join("public.json"))).unwrap();
        for (k, p) in public.iter().enumerate() {
            let expected: Fr = p.parse().unwrap_or_else(|_| panic!("public.json {p}"));
            assert_eq!(witness[k + 1], expected, "{circuit}: public signal {k}");
        }
    }
}

#[test]
fn metadata_is_read_from_the_wasm() {
    let calc = calculator("multiplier");
    assert_eq!(calc.circom_version(), (2, 2, 3));
    assert_eq!(calc.witness_size(), 7);
    assert_eq!(calc.input_size(), Some(3));
    assert_eq!(calculator("range_check").input_size(), Some(256));
}

#[test]
fn calculator_is_reusable_and_isolated() {
    let calc = calculator("multiplier");
    let good = parse_inputs(r#"{"a": 3, "b": "0xb", "c": "7"}"#).unwrap();
    let first = calc.calculate(&good).unwrap();
    // A run that failed after setting some signals must leave nothing behind for the next one
    // (a reused instance would answer "signal already set").
    assert!(calc
        .calculate(&parse_inputs(r#"{"a": 3, "b": 11}"#).unwrap())
        .is_err());
    assert!(calculator("range_check")
        .calculate_json(r#"{"values": ["18446744073709551616"]}"#)
        .is_err());
    assert_eq!(calc.calculate(&good).unwrap(), first);
    let reference = read_wtns(&read(&fixture("multiplier").join("witness.wtns"))).unwrap();
    assert_eq!(first, reference);
    // Shared across threads.
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| assert_eq!(calc.calculate(&good).unwrap(), first));
        }
    });
}

#[test]
fn negative_inputs_are_reduced_mod_p() {
    let calc = calculator("multiplier");
    // out = a*b*c + a with a = -1: -(11*7) - 1 = -78.
    let w = calc
        .calculate_json(r#"{"a": -1, "b": "11", "c": "7"}"#)
        .unwrap();
    assert_eq!(w[1], -Fr::from(78u64));
    assert_eq!(w[3], -Fr::one());
}

#[test]
fn missing_input_is_counted_and_named_with_sym() {
    let err = calculator("multiplier")
        .calculate_json(r#"{"a": "3", "b": "11"}"#)
        .unwrap_err();
    assert!(
        matches!(
            err,
            WitnessError::MissingInputs {
                set: 2,
                expected: 3,
                missing: None
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("1 missing"), "{err}");

    let wasm = read(&fixture("multiplier").join("circuit_js/circuit.wasm"));
    let calc = WitnessCalculator::from_bytes(&wasm)
        .unwrap()
        .with_sym_file(Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/multiplier.sym"))
        .unwrap();
    let err = calc.calculate_json(r#"{"b": "11"}"#).unwrap_err();
    match &err {
        WitnessError::MissingInputs {
            missing: Some(names),
            ..
        } => assert_eq!(names, &["c", "a"]),
        other => panic!("unexpected {other}"),
    }
    assert!(err.to_string().contains("missing signals: c, a"), "{err}");
}

#[test]
fn unknown_input_is_named() {
    let err = calculator("multiplier")
        .calculate_json(r#"{"a": "3", "b": "11", "c": "7", "d": "1"}"#)
        .unwrap_err();
    assert!(
        matches!(&err, WitnessError::UnknownSignal { signal } if signal == "d"),
        "{err}"
    );
    assert!(err.to_string().contains("`d`"));
}

#[test]
fn wrong_array_length_is_reported() {
    let err = calculator("multiplier")
        .calculate_json(r#"{"a": ["3", "4"], "b": "11", "c": "7"}"#)
        .unwrap_err();
    assert!(
        matches!(&err, WitnessError::WrongLength { signal, expected: 1, got: 2 } if signal == "a"),
        "{err}"
    );

    let mut input = fixture_input("range_check");
    let values = input["values"].as_array_mut().expect("values array");
    values.pop();
    let err = calculator("range_check")
        .calculate(&prover_witness::Inputs::from_value(&input).unwrap())
        .unwrap_err();
    assert!(
        matches!(&err, WitnessError::WrongLength { signal, expected: 256, got: 255 } if signal == "values"),
        "{err}"
    );
}

#[test]
fn non_numeric_value_is_refused() {
    let err = calculator("multiplier")
        .calculate_json(r#"{"a": "three", "b": "11", "c": "7"}"#)
        .unwrap_err();
    assert!(
        matches!(&err, WitnessError::InvalidValue { signal, .. } if signal == "a"),
        "{err}"
    );
    let err = calculator("multiplier")
        .calculate_json(r#"{"a": 1.5, "b": "11", "c": "7"}"#)
        .unwrap_err();
    assert!(matches!(err, WitnessError::InvalidValue { .. }), "{err}");
    let err = calculator("multiplier")
        .calculate_json("{\"a\": ")
        .unwrap_err();
    assert!(matches!(err, WitnessError::InvalidJson(_)), "{err}");
}

#[test]
fn constraint_violation_reports_circom_message() {
    // Num2Bits(64) cannot represent 2^64, so its `lc1 === in` assert fails.
    let mut input = fixture_input("range_check");
    input["values"][5] = serde_json::Value::String("18446744073709551616".into());
    let err = calculator("range_check")
        .calculate(&prover_witness::Inputs::from_value(&input).unwrap())
        .unwrap_err();
    match &err {
        WitnessError::AssertFailed { message, .. } => {
            assert!(message.contains("Num2Bits"), "{message}");
            assert!(message.contains("line: 38"), "{message}");
            assert!(message.contains("RangeCheckSum"), "{message}");
        }
        other => panic!("expected AssertFailed, got {other}"),
    }
    // Same for a negative value: p - 1 is far beyond 64 bits.
    input["values"][5] = serde_json::Value::String("-1".into());
    let err = calculator("range_check")
        .calculate(&prover_witness::Inputs::from_value(&input).unwrap())
        .unwrap_err();
    assert!(matches!(err, WitnessError::AssertFailed { .. }), "{err}");
}

#[test]
fn garbage_wasm_is_refused() {
    for bytes in [
        &b""[..],
        b"not a wasm module at all",
        // A valid, empty wasm module: no circom exports.
        b"\0asm\x01\0\0\0",
    ] {
        let err = WitnessCalculator::from_bytes(bytes).unwrap_err();
        assert!(matches!(err, WitnessError::InvalidWasm(_)), "{err}");
    }
    let mut truncated = read(&fixture("multiplier").join("circuit_js/circuit.wasm"));
    truncated.truncate(truncated.len() / 2);
    let err = WitnessCalculator::from_bytes(&truncated).unwrap_err();
    assert!(matches!(err, WitnessError::InvalidWasm(_)), "{err}");
    let err = WitnessCalculator::from_file("/nonexistent/circuit.wasm").unwrap_err();
    assert!(matches!(err, WitnessError::Io { .. }), "{err}");
}

#[test]
fn other_primes_are_refused() {
    // Swap the BN254 prime embedded in the wasm's data for the BLS12-381 scalar prime.
    let mut wasm = read(&fixture("multiplier").join("circuit_js/circuit.wasm"));
    let bn254: Vec<u8> = Fr::MODULUS.0.iter().flat_map(|l| l.to_le_bytes()).collect();
    let bls = [
        0xffff_ffff_0000_0001u64,
        0x53bd_a402_fffe_5bfe,
        0x3339_d808_09a1_d805,
        0x73ed_a753_299d_7d48,
    ];
    let bls: Vec<u8> = bls.iter().flat_map(|l| l.to_le_bytes()).collect();
    let mut replaced = 0;
    let mut i = 0;
    while i + 32 <= wasm.len() {
        if wasm[i..i + 32] == bn254[..] {
            wasm[i..i + 32].copy_from_slice(&bls);
            replaced += 1;
            i += 32;
        } else {
            i += 1;
        }
    }
    assert!(replaced > 0, "prime not found in the wasm data");
    let err = WitnessCalculator::from_bytes(&wasm).unwrap_err();
    match &err {
        WitnessError::WrongPrime { found } => assert_eq!(
            found,
            "52435875175126190479447740508185965837690552500527637822603658699938581184513"
        ),
        other => panic!("expected WrongPrime, got {other}"),
    }
}

#[test]
fn fuel_bound_stops_long_runs() {
    let wasm = read(&fixture("poseidon_chain_32").join("circuit_js/circuit.wasm"));
    let limits = Limits {
        fuel: 200_000,
        ..Limits::default()
    };
    let calc = WitnessCalculator::with_limits(&wasm, limits).unwrap();
    let err = calc
        .calculate(
            &parse_inputs(&read_text(&fixture("poseidon_chain_32").join("input.json"))).unwrap(),
        )
        .unwrap_err();
    assert!(
        matches!(err, WitnessError::FuelExhausted { limit: 200_000 }),
        "{err}"
    );
}

#[test]
fn memory_bound_is_enforced() {
    let wasm = read(&fixture("multiplier").join("circuit_js/circuit.wasm"));
    let limits = Limits {
        memory_bytes: 64 * 1024,
        ..Limits::default()
    };
    let err = WitnessCalculator::with_limits(&wasm, limits).unwrap_err();
    assert!(
        matches!(err, WitnessError::OutOfMemory { limit_bytes: 65536 }),
        "{err}"
    );
}

/// The edge-shape circuits kept with prover-groth16 (`prover/groth16/tests/extra`): no public
/// signals, no constraints (an input that is no wire at all), public inputs in no constraint
/// given as p-1 and 0, and a domain filled exactly. Byte-identical to snarkjs's `.wtns`.
#[test]
fn edge_shape_witnesses_are_byte_identical_to_snarkjs() {
    for circuit in [
        "no_constraints",
        "no_public",
        "unused_public",
        "full_domain",
    ] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../groth16/tests/extra")
            .join(circuit);
        let calc = WitnessCalculator::from_file(dir.join("circuit_js/circuit.wasm"))
            .unwrap_or_else(|e| panic!("{circuit}: {e}"));
        let inputs = parse_inputs(&read_text(&dir.join("input.json"))).unwrap();
        let reference = read(&dir.join("witness.wtns"));
        let wtns = calc
            .calculate_wtns_bytes(&inputs)
            .unwrap_or_else(|e| panic!("{circuit}: {e}"));
        assert!(wtns == reference, "{circuit}: .wtns differs from snarkjs's");
        let witness = read_wtns(&reference).unwrap();
        assert_eq!(witness.len(), calc.witness_size(), "{circuit}");
        let public: Vec<String> =
            serde_json::from_str(&read_text(&dir.join("public.json"))).unwrap();
        for (k, p) in public.iter().enumerate() {
            let expected: Fr = p.parse().unwrap_or_else(|_| panic!("public.json {p}"));
            assert_eq!(witness[k + 1], expected, "{circuit}: public signal {k}");
        }
    }
}
