//! Proves every snarkjs fixture circuit and checks the result against material made by
//! snarkjs itself (verification keys, reference proofs, calldata), and, when snarkjs is
//! installed, with `snarkjs groth16 verify`. The shared fixtures are joined by the small
//! edge-shape circuits of `tests/extra` (no public signals, no constraints, public inputs in
//! no constraint, a domain filled exactly): see `tests/extra/README.md`.

use std::path::{Path, PathBuf};
use std::process::Command;

use ark_bn254::{Fr, G1Affine};
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{One, Zero};
use kernels_cpu::CpuBackend;
use prover_groth16::*;

const SHARED: [&str; 3] = ["multiplier", "poseidon_chain_32", "range_check"];
/// In `tests/extra`, kept with the crate.
const EXTRA: [&str; 4] = [
    "no_constraints",
    "no_public",
    "unused_public",
    "full_domain",
];
const CIRCUITS: [&str; 7] = [
    SHARED[0], SHARED[1], SHARED[2], EXTRA[0], EXTRA[1], EXTRA[2], EXTRA[3],
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/groth16")
}

/// The folder of a shared or an extra fixture.
fn dir(circuit: &str) -> PathBuf {
    if EXTRA.contains(&circuit) {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/extra")
            .join(circuit)
    } else {
        fixtures().join(circuit)
    }
}

fn read(circuit: &str, file: &str) -> String {
    let p = dir(circuit).join(file);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

struct Fixture {
    key: CircuitKey,
    witness: Vec<Fr>,
    vk_json: VerifyingKey,
    public: Vec<Fr>,
}

impl Fixture {
    /// A fresh proof of the fixture's witness.
    fn prove(&self, backend: &CpuBackend, rng: &mut rand::rngs::ThreadRng) -> Proof {
        prove(
            backend,
            &self.key,
            &self.witness,
            rng,
            &mut PhaseTimings::default(),
        )
        .expect("proves")
    }
}

fn load(backend: &CpuBackend, circuit: &str) -> Fixture {
    let dir = dir(circuit);
    let pk = ProvingKey::read(dir.join("circuit_final.zkey")).expect("zkey reads");
    let witness = read_wtns(dir.join("witness.wtns")).expect("wtns reads");
    let vk_json = verifying_key_from_json(&read(circuit, "verification_key.json")).expect("vk");
    let public = public_from_json(&read(circuit, "public.json")).expect("public.json");
    let key = CircuitKey::load(backend, pk).expect("key loads");
    Fixture {
        key,
        witness,
        vk_json,
        public,
    }
}

#[test]
fn every_fixture_proves_and_verifies() {
    let backend = CpuBackend::new(0).expect("cpu");
    let mut rng = rand::thread_rng();
    for circuit in CIRCUITS {
        let f = load(&backend, circuit);
        assert_eq!(
            f.key.vk, f.vk_json,
            "{circuit}: zkey's vk differs from snarkjs's"
        );
        let public = public_signals(&f.witness, f.key.header.n_public);
        assert_eq!(public, f.public, "{circuit}: witness public signals");

        let mut timings = PhaseTimings::default();
        let proof = prove(&backend, &f.key, &f.witness, &mut rng, &mut timings).expect("proves");
        assert!(
            verify(&f.vk_json, &public, &proof).expect("verifies"),
            "{circuit}: our proof rejected"
        );

        // Randomised: a second proof differs but also verifies.
        let again = prove(&backend, &f.key, &f.witness, &mut rng, &mut timings).expect("proves");
        assert_ne!(again, proof);
        assert!(verify(&f.vk_json, &public, &again).expect("verifies"));

        // Tampering is caught: every public signal is bound, including ones that appear in
        // no constraint (unused_public's `u` and `v`).
        for k in 0..public.len() {
            let mut wrong_public = public.clone();
            wrong_public[k] += Fr::one();
            assert!(
                !verify(&f.vk_json, &wrong_public, &proof).expect("runs"),
                "{circuit}: wrong public signal {k} accepted"
            );
        }
        let tampered = Proof {
            a: (proof.a + G1Affine::generator()).into_affine(),
            ..proof
        };
        assert!(
            !verify(&f.vk_json, &public, &tampered).expect("runs"),
            "{circuit}: tampered A accepted"
        );
        let swapped = Proof {
            a: proof.c,
            c: proof.a,
            ..proof
        };
        assert!(!verify(&f.vk_json, &public, &swapped).expect("runs"));
        let mut one_more = public.clone();
        one_more.push(Fr::one());
        assert!(matches!(
            verify(&f.vk_json, &one_more, &proof),
            Err(Groth16Error::PublicInputCount { .. })
        ));
        if let Some((_, fewer)) = public.split_last() {
            assert!(matches!(
                verify(&f.vk_json, fewer, &proof),
                Err(Groth16Error::PublicInputCount { .. })
            ));
        }

        // Encodings round-trip.
        assert_eq!(
            proof_from_json(&proof_to_json(&proof)).expect("json"),
            proof
        );
        assert_eq!(
            public_from_json(&public_to_json(&public)).expect("json"),
            public
        );
        for order in [G2Order::ImaginaryFirst, G2Order::RealFirst] {
            let abi = proof_to_abi(&proof, order);
            assert_eq!(abi.len(), 256);
            assert_eq!(proof_from_abi(&abi, order).expect("abi"), proof);
        }
        assert_eq!(
            public_from_abi(&public_to_abi(&public), public.len()).expect("abi"),
            public
        );
    }
}

#[test]
fn snarkjs_reference_material_matches_our_encodings_and_verifier() {
    for circuit in CIRCUITS {
        let vk = verifying_key_from_json(&read(circuit, "verification_key.json")).expect("vk");
        let proof_text = read(circuit, "proof.json");
        let public_text = read(circuit, "public.json");
        let proof = proof_from_json(&proof_text).expect("proof.json");
        let public = public_from_json(&public_text).expect("public.json");
        assert!(
            verify(&vk, &public, &proof).expect("runs"),
            "{circuit}: snarkjs's own proof rejected"
        );
        // Byte-identical writers.
        assert_eq!(
            proof_to_json(&proof),
            proof_text,
            "{circuit}: proof.json bytes"
        );
        assert_eq!(
            public_to_json(&public),
            public_text,
            "{circuit}: public.json bytes"
        );
        let calldata = dir(circuit).join("calldata.txt");
        if calldata.exists() {
            let want = std::fs::read_to_string(&calldata).expect("calldata");
            assert_eq!(
                solidity_calldata(&proof, &public),
                want.trim_end(),
                "{circuit}: calldata"
            );
        }
    }
}

#[test]
fn witness_satisfies_the_r1cs_and_a_changed_one_does_not() {
    for circuit in CIRCUITS {
        let dir = dir(circuit);
        // no_constraints's header declares 1 private input but has only the constant wire
        // (circom drops private inputs in no constraint): a valid file all the same.
        let r1cs =
            R1cs::read(dir.join("circuit.r1cs")).unwrap_or_else(|e| panic!("{circuit}: r1cs: {e}"));
        let mut witness = read_wtns(dir.join("witness.wtns")).expect("wtns");
        assert_eq!(r1cs.n_wires, witness.len());
        assert_eq!(
            r1cs.first_unsatisfied(&witness).expect("fits"),
            None,
            "{circuit}"
        );
        if circuit == "no_constraints" {
            // Nothing to break: its only wire is the constant 1.
            assert_eq!(witness.len(), 1);
            continue;
        }
        let last = witness.len() - 1;
        witness[last] += Fr::one();
        assert!(
            r1cs.first_unsatisfied(&witness).expect("fits").is_some(),
            "{circuit}"
        );
    }
}

#[test]
fn bad_witnesses_are_refused() {
    let backend = CpuBackend::new(1).expect("cpu");
    let f = load(&backend, "multiplier");
    let mut rng = rand::thread_rng();
    let mut t = PhaseTimings::default();
    let short = &f.witness[..f.witness.len() - 1];
    assert!(matches!(
        prove(&backend, &f.key, short, &mut rng, &mut t),
        Err(Groth16Error::WitnessLength { .. })
    ));
    let mut no_one = f.witness.clone();
    no_one[0] = Fr::zero();
    assert!(matches!(
        prove(&backend, &f.key, &no_one, &mut rng, &mut t),
        Err(Groth16Error::WitnessConstant(_))
    ));
    // A witness of another circuit has another length.
    let other = read_wtns(fixtures().join("range_check/witness.wtns")).expect("wtns");
    assert!(prove(&backend, &f.key, &other, &mut rng, &mut t).is_err());
}

#[test]
fn malformed_zkeys_give_errors_not_panics() {
    let bytes = std::fs::read(fixtures().join("multiplier/circuit_final.zkey")).expect("zkey");
    assert!(ProvingKey::from_bytes(&bytes).is_ok());
    for cut in (0..bytes.len()).step_by(7) {
        assert!(
            ProvingKey::from_bytes(&bytes[..cut]).is_err(),
            "cut at {cut} accepted"
        );
    }
    let mut wrong_magic = bytes.clone();
    wrong_magic[0] = b'x';
    assert!(matches!(
        ProvingKey::from_bytes(&wrong_magic),
        Err(Groth16Error::BadMagic { .. })
    ));
    // The base-field prime starts at byte 48 (after magic, version, count, section 1 and
    // the header of section 2 and n8q).
    let mut other_curve = bytes.clone();
    other_curve[48] ^= 1;
    assert!(matches!(
        ProvingKey::from_bytes(&other_curve),
        Err(Groth16Error::WrongCurve { .. })
    ));
    // Flipping bytes anywhere never panics.
    for i in (0..bytes.len()).step_by(3) {
        let mut b = bytes.clone();
        b[i] ^= 0x5a;
        let _ = ProvingKey::from_bytes(&b);
    }
}

/// `snarkjs groth16 verify` on our proof. The test script installs snarkjs and sets
/// `REQUIRE_SNARKJS=1`, so CI fails instead of skipping when it is missing.
#[test]
fn snarkjs_verifies_our_proofs() {
    let Some(snarkjs) = snarkjs() else {
        assert!(
            std::env::var_os("REQUIRE_SNARKJS").is_none(),
            "REQUIRE_SNARKJS is set but snarkjs was not found (set SNARKJS=path)"
        );
        eprintln!("snarkjs not installed: skipping (scripts/test-all.sh installs it)");
        return;
    };
    let backend = CpuBackend::new(0).expect("cpu");
    let tmp = std::env::temp_dir().join(format!("groth16-snarkjs-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("tmp");
    let mut rng = rand::thread_rng();
    for circuit in CIRCUITS {
        let f = load(&backend, circuit);
        let proof = f.prove(&backend, &mut rng);
        let public = public_signals(&f.witness, f.key.header.n_public);
        let run = |proof: &Proof, public: &[Fr]| -> bool {
            std::fs::write(tmp.join("proof.json"), proof_to_json(proof)).expect("write");
            std::fs::write(tmp.join("public.json"), public_to_json(public)).expect("write");
            let out = Command::new(&snarkjs)
                .args(["groth16", "verify"])
                .arg(dir(circuit).join("verification_key.json"))
                .arg(tmp.join("public.json"))
                .arg(tmp.join("proof.json"))
                .output()
                .expect("snarkjs runs");
            out.status.success()
        };
        assert!(
            run(&proof, &public),
            "{circuit}: snarkjs rejected our proof"
        );
        // Every public signal, including ones in no constraint.
        for k in 0..public.len() {
            let mut wrong = public.clone();
            wrong[k] += Fr::one();
            assert!(
                !run(&proof, &wrong),
                "{circuit}: snarkjs accepted a wrong public signal {k}"
            );
        }
        // A proof from another circuit's key is refused.
        if public.is_empty() {
            let other = if circuit == "no_public" {
                "no_constraints"
            } else {
                "no_public"
            };
            let g = load(&backend, other);
            assert!(
                !run(&g.prove(&backend, &mut rng), &public),
                "{circuit}: snarkjs accepted {other}'s proof"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
}

fn snarkjs() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SNARKJS") {
        return Some(PathBuf::from(p));
    }
    let local = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../node_modules/.bin/snarkjs");
    if local.exists() {
        return Some(local);
    }
    Command::new("snarkjs")
        .arg("--version")
        .output()
        .ok()
        .map(|_| PathBuf::from("snarkjs"))
}

/// Every CPU path (AVX-512 IFMA when the machine has it, and the portable scalar path)
/// proves every fixture, and all the proofs verify.
#[test]
fn both_cpu_paths_prove_every_fixture() {
    let mut rng = rand::thread_rng();
    for simd in [true, false] {
        let backend = CpuBackend::with_simd(2, simd).expect("cpu");
        for circuit in CIRCUITS {
            let f = load(&backend, circuit);
            let public = public_signals(&f.witness, f.key.header.n_public);
            let proof = f.prove(&backend, &mut rng);
            assert!(
                verify(&f.vk_json, &public, &proof).expect("verifies"),
                "{circuit}: proof from the {} path rejected",
                if simd { "SIMD" } else { "scalar" }
            );
        }
    }
}
