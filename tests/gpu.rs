//! The GPU backends as the appliance opens them (through `appliance::registry`): the
//! Groth16 fixtures proved on OpenCL (PoCL's CPU device in CI) give exactly the CPU
//! backend's proofs, and every missing-device path is a clean error, never a panic.
// Built without one of the GPU features, some helpers below have no user.
#![cfg_attr(not(all(feature = "opencl", feature = "cuda")), allow(unused))]

use std::path::{Path, PathBuf};

use ark_bn254::{Bn254, Fr};
use ark_ff::UniformRand;
use kernels_accel::{AccelError, Accelerator, BackendKind};
use prover_groth16::{
    prove_with_randomness, public_signals, read_wtns, verify, verifying_key_from_json, CircuitKey,
    PhaseTimings, ProvingKey,
};

const CIRCUITS: [&str; 3] = ["multiplier", "poseidon_chain_32", "range_check"];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/groth16")
}

/// The OpenCL backend, or `None` where `APPLIANCE_SKIP_OPENCL` says the machine has no
/// OpenCL runtime (CI installs PoCL, so there it must open).
#[cfg(feature = "opencl")]
fn opencl() -> Option<std::sync::Arc<dyn Accelerator<Bn254>>> {
    match appliance::registry(2).open(BackendKind::OpenCl, 0) {
        Ok(b) => Some(b),
        Err(e) if std::env::var_os("APPLIANCE_SKIP_OPENCL").is_some() => {
            eprintln!("skipping: {e}");
            None
        }
        Err(e) => panic!("OpenCL backend does not open (APPLIANCE_SKIP_OPENCL=1 skips): {e}"),
    }
}

#[cfg(feature = "opencl")]
#[test]
fn opencl_proves_every_fixture_exactly_as_the_cpu_does() {
    let Some(gpu) = opencl() else { return };
    let cpu = appliance::registry(2)
        .open(BackendKind::Cpu, 0)
        .expect("cpu backend");
    eprintln!("opencl device: {}", gpu.info().device);
    let mut rng = rand::thread_rng();
    for circuit in CIRCUITS {
        let dir = fixtures().join(circuit);
        let witness = read_wtns(dir.join("witness.wtns")).expect("wtns");
        let vk_text = std::fs::read_to_string(dir.join("verification_key.json")).expect("vk json");
        let vk = verifying_key_from_json(&vk_text).expect("vk");
        let load = |b: &dyn Accelerator<Bn254>| {
            let pk = ProvingKey::read(dir.join("circuit_final.zkey")).expect("zkey");
            CircuitKey::load(b, pk).expect("key loads")
        };
        let (cpu_key, gpu_key) = (load(&*cpu), load(&*gpu));
        assert_eq!(gpu_key.backend(), "opencl");
        let (r, s) = (Fr::rand(&mut rng), Fr::rand(&mut rng));
        let mut t = PhaseTimings::default();
        let want = prove_with_randomness(&*cpu, &cpu_key, &witness, r, s, &mut t).expect("cpu");
        let start = std::time::Instant::now();
        let got = prove_with_randomness(&*gpu, &gpu_key, &witness, r, s, &mut t).expect("gpu");
        eprintln!("{circuit}: OpenCL proof in {:?}", start.elapsed());
        assert_eq!(got, want, "{circuit}: OpenCL proof differs from the CPU's");
        let public = public_signals(&witness, gpu_key.header.n_public);
        assert!(verify(&vk, &public, &got).expect("verifies"), "{circuit}");
    }
}

/// A random circuit of 2^11 constraints (`bench prove --synthetic`) proved on OpenCL gives
/// ark-groth16's proof: the overlapped schedule and the witness sorted once for A, B1, B2
/// and C, on witness values the fixtures do not have.
#[cfg(feature = "opencl")]
#[test]
fn opencl_proves_a_synthetic_circuit_as_ark_groth16_does() {
    let Some(gpu) = opencl() else { return };
    let row = bench::synthetic::compare_synthetic(&*gpu, 11, 2, 1).expect("runs");
    assert_eq!(row.backend, "opencl");
    assert!(row.all_equal, "{row:?}");
}

/// The alternative field product (`APPLIANCE_GPU_FIELD_PRODUCT=nocarry`, kept for A/B runs
/// on a card) passes the conformance suite on OpenCL too; a value it does not know, and the
/// CUDA-only `chains`, are clean errors. A process of its own: the variable is read when
/// the backend opens.
#[cfg(feature = "opencl")]
#[test]
fn the_no_carry_field_product_passes_selftest_on_opencl() {
    if opencl().is_none() {
        return;
    }
    let selftest = |product: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_appliance"))
            .args(["selftest", "--backend", "opencl", "--max-log", "8"])
            .env("APPLIANCE_GPU_FIELD_PRODUCT", product)
            .output()
            .expect("runs appliance")
    };
    let ok = selftest("nocarry");
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(stdout.contains(" 0 failed"), "{stdout}");
    let stderr = String::from_utf8_lossy(&ok.stderr);
    assert!(stderr.contains("[no-carry field product]"), "{stderr}");
    let bad = selftest("fast");
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("expected cios, nocarry or chains"),
        "{stderr}"
    );
    // The carry-chain product is PTX assembly: OpenCL refuses it before building anything.
    let cuda_only = selftest("chains");
    let stderr = String::from_utf8_lossy(&cuda_only.stderr);
    assert_eq!(cuda_only.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("for CUDA only"), "{stderr}");
}

/// A witness prepared by one backend is refused by another, both ways, with an error that
/// names both: its device-side sort means nothing to the other backend.
#[cfg(feature = "opencl")]
#[test]
fn scalars_prepared_by_another_backend_are_refused() {
    use ark_bn254::G1Projective;
    use kernels_accel::MsmConfig;

    let Some(gpu) = opencl() else { return };
    let cpu = appliance::registry(1)
        .open(BackendKind::Cpu, 0)
        .expect("cpu backend");
    let mut rng = rand::thread_rng();
    let scalars: Vec<Fr> = (0..40).map(|_| Fr::rand(&mut rng)).collect();
    let bases = kernels_testkit::random_g1_bases(40, &mut rng);
    let config = MsmConfig::default();
    for (preparer, user) in [(&cpu, &gpu), (&gpu, &cpu)] {
        let prepared =
            kernels_accel::prepare_scalars::<G1Projective, _>(&**preparer, &scalars, &config)
                .expect("prepares");
        let loaded =
            kernels_accel::load_bases::<G1Projective, _>(&**user, &bases, &config).expect("loads");
        let err =
            kernels_accel::msm_prepared::<G1Projective, _>(&**user, &loaded, &prepared, &config)
                .expect_err("foreign scalars");
        assert!(matches!(err, AccelError::ForeignScalars { .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains("cpu") && text.contains("opencl"), "{text}");
    }
}

/// `auto` never prefers a CPU OpenCL device (PoCL) over the tuned CPU backend, and on a
/// machine without a GPU it falls back to the CPU.
#[test]
fn auto_falls_back_to_the_cpu_without_a_gpu() {
    let registry = appliance::registry(1);
    let backend = registry.open(BackendKind::Auto, 0).expect("auto opens");
    let info = backend.info();
    if !info.is_cpu() {
        // A real accelerator is present: it must not be a host-CPU device.
        assert!(!backend.runs_on_host_cpu(), "auto chose {}", info.device);
    }
}

/// On a machine without the NVIDIA driver, CUDA gives a clean device error.
#[cfg(feature = "cuda")]
#[test]
fn cuda_without_a_driver_is_a_clean_error() {
    if kernels_gpu::cuda::driver_present() {
        eprintln!("libcuda present: nothing to check here");
        return;
    }
    let err = appliance::registry(1)
        .open(BackendKind::Cuda, 0)
        .err()
        .expect("no driver, no backend");
    assert!(err.is_device_fault(), "{err}");
    assert!(
        matches!(
            err,
            AccelError::DeviceNotFound {
                backend: "cuda",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("libcuda"), "{err}");
}

/// A device index past the last device names the backend and the index.
#[cfg(feature = "opencl")]
#[test]
fn a_missing_opencl_device_index_is_a_clean_error() {
    let err = appliance::registry(1)
        .open(BackendKind::OpenCl, 999)
        .err()
        .expect("no device 999");
    assert!(err.is_device_fault(), "{err}");
    let text = err.to_string();
    assert!(text.contains("opencl"), "{text}");
}

/// With no OpenCL platform at all (the ICD loader pointed at an empty vendor directory),
/// `--backend opencl` is a clean error with exit code 2 and `auto` still runs on the CPU.
#[cfg(feature = "opencl")]
#[test]
fn no_opencl_platform_is_a_clean_error_and_auto_uses_the_cpu() {
    let empty = std::env::temp_dir().join(format!("no-opencl-vendors-{}", std::process::id()));
    std::fs::create_dir_all(&empty).expect("temp dir");
    let run = |backend: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_appliance"))
            .args(["info", "--backend", backend])
            .env("OCL_ICD_VENDORS", &empty)
            .env("OCL_ICD_FILENAMES", "")
            .output()
            .expect("runs appliance")
    };
    let opencl = run("opencl");
    let stderr = String::from_utf8_lossy(&opencl.stderr);
    assert_eq!(opencl.status.code(), Some(2), "stderr: {stderr}");
    assert!(stderr.contains("opencl"), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
    let auto = run("auto");
    let stdout = String::from_utf8_lossy(&auto.stdout);
    assert!(
        auto.status.success(),
        "{}",
        String::from_utf8_lossy(&auto.stderr)
    );
    assert!(stdout.contains("backend: cpu"), "stdout: {stdout}");
    let _ = std::fs::remove_dir(&empty);
}
